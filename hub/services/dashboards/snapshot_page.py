"""The page a viewer of an identity-free dashboard sees first: what the published version
drew when it was executed once as its author (:meth:`.service.DashboardService.make_preview`),
rendered by the service without a kernel, while the viewer's own live page is drawn
beside it (template ``snapshot.html``).

The executed notebook comes from the author's code, so nothing of it is kept as written:
Markdown cells are rendered with raw HTML escaped; pictures are decoded and encoded again
(PNG) or sanitized (SVG) by :mod:`.preview`; texts are escaped; an error shows the
deployment's message, never a traceback. Widgets are shown as they stood: an Output
widget's outputs (where ``interact`` draws), a box's children, a control's label and
value (inert). Code cells' sources are not shown (as in Voilà's pages). Every figure a
live page draws in an output area is in a ``jp-OutputArea-output`` element here too.
"""

from __future__ import annotations

import base64
import html
import re

import mistune

from .preview import WIDGET_STATE, dicts, png, sanitized_svg

#: Largest page kept (bytes); a larger one is not served (the viewer waits for the live page).
MAX_PAGE = 20 * 2**20
#: Largest picture size kept on the page (pixels): a figure is shown at its own size.
PAGE_PICTURE = (2400, 2400)
#: How deep widgets may nest (boxes of boxes) before the rest is left out.
MAX_DEPTH = 12
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MODEL_REFERENCE = re.compile(r"^IPY_MODEL_([0-9a-zA-Z_-]{1,64})$")
BOXES = {"VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel", "StackModel"}

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def render(notebook: dict, error_text: str) -> str | None:
    """The body of the snapshot page of ``notebook`` (nbformat 4 as a dict, executed with
    its widgets' state), or None when it shows no output at all or exceeds :data:`MAX_PAGE`."""
    if not isinstance(notebook, dict):
        return None
    metadata = notebook.get("metadata")
    widgets = metadata.get("widgets") if isinstance(metadata, dict) else None
    state = widgets.get(WIDGET_STATE) if isinstance(widgets, dict) else None
    models = state.get("state") if isinstance(state, dict) else None
    page = _Page(models if isinstance(models, dict) else {}, error_text)
    parts = []
    for cell in dicts(notebook.get("cells")):
        if cell.get("cell_type") == "markdown":
            parts.append(f'<div class="cell markdown">{_markdown(_text(cell.get("source")))}</div>')
        elif cell.get("cell_type") == "code":
            outputs = "".join(page.output(output, 0) for output in dicts(cell.get("outputs")))
            if outputs:
                parts.append(f'<div class="cell code">{outputs}</div>')
    body = "\n".join(parts)
    if not page.shown or len(body) > MAX_PAGE:
        return None
    return body


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


class _Page:
    def __init__(self, models: dict, error_text: str):
        self.models = models
        self.error_text = error_text
        self.shown = 0

    def output(self, output: dict, depth: int) -> str:
        kind = output.get("output_type")
        if kind == "stream":
            return self._shown(f'<pre class="stream">{html.escape(_text(output.get("text")))}</pre>')
        if kind == "error":
            return self._shown(f'<p class="error">{html.escape(self.error_text)}</p>')
        data = output.get("data")
        if kind not in ("display_data", "execute_result") or not isinstance(data, dict):
            return ""
        view = data.get(WIDGET_VIEW)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            return self.widget(view["model_id"], depth)
        if isinstance(data.get("image/png"), (str, list)):
            try:
                picture = png(base64.b64decode(_text(data["image/png"])), crop=False, size=PAGE_PICTURE)
            except (ValueError, OSError):
                picture = None
            if picture is not None:
                return self._picture("image/png", picture)
        if isinstance(data.get("image/svg+xml"), (str, list)):
            svg = sanitized_svg(_text(data["image/svg+xml"]))
            if svg is not None:
                return self._picture("image/svg+xml", svg)
        if isinstance(data.get("text/markdown"), (str, list)):
            return self._shown(f'<div class="markdown">{_markdown(_text(data["text/markdown"]))}</div>')
        if isinstance(data.get("text/plain"), (str, list)):
            return self._shown(f'<pre class="text">{html.escape(_text(data["text/plain"]))}</pre>')
        return ""

    def _shown(self, markup: str) -> str:
        self.shown += 1
        return f'<div class="jp-OutputArea-output">{markup}</div>'

    def _picture(self, content_type: str, data: bytes) -> str:
        uri = f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
        return self._shown(f'<img alt="" src="{uri}">')

    def widget(self, model_id: str, depth: int) -> str:
        model = self.models.get(model_id)
        if depth > MAX_DEPTH or not isinstance(model, dict) or not isinstance(model.get("state"), dict):
            return ""
        name, state = model.get("model_name"), model["state"]
        if name == "OutputModel":
            return "".join(self.output(output, depth + 1) for output in dicts(state.get("outputs")))
        if name in BOXES:
            children = [MODEL_REFERENCE.match(c) for c in state.get("children") or [] if isinstance(c, str)]
            inner = "".join(self.widget(match[1], depth + 1) for match in children if match)
            return f'<div class="widget-box">{inner}</div>' if inner else ""
        label = state.get("description")
        value = _control_value(state)
        if value is None:
            return ""
        described = f'<span class="label">{html.escape(label)}</span> ' if isinstance(label, str) and label else ""
        return f'<div class="control">{described}<span class="value">{html.escape(value)}</span></div>'


def _control_value(state: dict) -> str | None:
    """What a control shows: the label of its chosen option, or its value."""
    labels, index = state.get("_options_labels"), state.get("index")
    if isinstance(labels, list) and isinstance(index, int) and 0 <= index < len(labels):
        return str(labels[index])
    value = state.get("value")
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return str(value)
    return None
