"""A dashboard's picture for the gallery: the first image output of a notebook.

The notebook comes from its author (the outputs they published with it, or the snapshot
executed as them, see :meth:`.service.DashboardService.make_preview`), so nothing of it is
kept as sent: a PNG is decoded and encoded again by Pillow (bounded in bytes and pixels,
reduced to :data:`MAX_SIZE`); an SVG is parsed without entities and keeps only
drawing elements and attributes, no script, event handler, foreign content or link out
of the document (:func:`sanitized_svg`). Anything else is no picture.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image as PillowImage
from PIL import ImageChops

#: Largest picture kept (pixels, width and height); larger ones are reduced.
MAX_SIZE = (800, 600)
#: Pixels of a picture's plain margin kept around what is drawn.
MARGIN = 8
MAX_BYTES = 10 * 2**20
MAX_PIXELS = 40_000_000
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
#: SVG elements a drawing keeps (matplotlib's and plotly's static exports use no other).
SVG_ELEMENTS = {
    "svg", "g", "defs", "symbol", "use", "path", "rect", "circle", "ellipse", "line", "polyline",
    "polygon", "text", "tspan", "title", "desc", "clipPath", "mask", "pattern", "linearGradient",
    "radialGradient", "stop", "style", "image",
}
#: What a link inside a kept SVG may point to: an element of the same document, or an
#: embedded raster image.
LOCAL_LINK = re.compile(r"^(#[\w.:-]+|data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]*)$")
CSS_URL = re.compile(r"url\(\s*['\"]?([^)'\"]*)", re.IGNORECASE)

ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)


@dataclass(frozen=True)
class Image:
    """A picture the service may serve: its content type and bytes."""

    content_type: str
    data: bytes


def first_image(notebook: dict) -> Image | None:
    """The first PNG or SVG output of ``notebook`` (nbformat 4, as a dict) that is a valid
    picture: cells' outputs in order, then those of its Output widgets (the widget state
    an execution stored, where ``interact`` draws). None when there is none."""
    if not isinstance(notebook, dict):
        return None
    outputs = [
        output for cell in dicts(notebook.get("cells")) if cell.get("cell_type") == "code"
        for output in dicts(cell.get("outputs"))
    ]
    metadata = notebook.get("metadata")
    widgets = metadata.get("widgets") if isinstance(metadata, dict) else None
    state = widgets.get(WIDGET_STATE) if isinstance(widgets, dict) else None
    models = state.get("state") if isinstance(state, dict) else None
    for model in dicts(list(models.values()) if isinstance(models, dict) else None):
        if model.get("model_name") == "OutputModel" and isinstance(model.get("state"), dict):
            outputs += dicts(model["state"].get("outputs"))
    for output in outputs:
        data = output.get("data")
        if not isinstance(data, dict):
            continue
        for content_type in ("image/png", "image/svg+xml"):
            value = data.get(content_type)
            if isinstance(value, list):
                value = "".join(v for v in value if isinstance(v, str))
            if isinstance(value, str) and value:
                image = picture(content_type, value)
                if image is not None:
                    return image
    return None


def dicts(items) -> list[dict]:
    """The dictionaries of ``items`` when it is a list (an untrusted notebook's parts)."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def picture(content_type: str, value: str) -> Image | None:
    """An output's ``image/png`` (base64) or ``image/svg+xml`` (text) as a picture safe
    to serve, or None when it is not a valid one."""
    if len(value) > MAX_BYTES * 4 // 3 + 4:
        return None
    if content_type == "image/png":
        try:
            return Image("image/png", png(base64.b64decode(value)))
        except (binascii.Error, ValueError, OSError, PillowImage.DecompressionBombError):
            return None
    svg = sanitized_svg(value)
    return Image("image/svg+xml", svg) if svg is not None else None


def png(data: bytes, crop: bool = True, size: tuple[int, int] = MAX_SIZE) -> bytes:
    """``data`` (a PNG file) decoded and encoded again, its margins of the corner's
    colour cut when ``crop`` (a figure's white border, :data:`MARGIN` pixels kept),
    reduced to ``size``. ``ValueError`` or ``OSError`` when it is not a PNG of at most
    :data:`MAX_PIXELS`."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PillowImage.DecompressionBombWarning)
        with PillowImage.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError("too many pixels")
            image.load()
            kept = image.convert("RGBA")
    drawn = crop and ImageChops.difference(
        kept, PillowImage.new("RGBA", kept.size, kept.getpixel((0, 0)))).getbbox(alpha_only=False)
    if drawn:
        left, top, right, bottom = drawn
        kept = kept.crop((max(0, left - MARGIN), max(0, top - MARGIN),
                          min(kept.width, right + MARGIN), min(kept.height, bottom + MARGIN)))
    kept.thumbnail(size)
    out = io.BytesIO()
    kept.save(out, "PNG", optimize=True)
    return out.getvalue()


def sanitized_svg(text: str) -> bytes | None:
    """The drawing of an SVG document without what could run or load anything: no DTD
    or entity, only :data:`SVG_ELEMENTS`, no event handler nor foreign attribute, links
    and CSS ``url()`` to the document itself or embedded images only (a DOCTYPE is
    allowed, never read; an entity declaration refuses the document). None when it is
    not an SVG document."""
    try:
        root = fromstring(text.encode("utf-8"))
    except (ET.ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        return None
    _clean(root)
    return ET.tostring(root, encoding="utf-8")


def _kept(element: ET.Element) -> bool:
    namespace, _, name = element.tag.rpartition("}")
    if namespace != f"{{{SVG_NS}" or name not in SVG_ELEMENTS:
        return False
    if name == "style":
        return _safe_css(element.text or "")
    return True


def _safe_css(css: str) -> bool:
    return "@import" not in css.lower() and all(u.strip().startswith("#") for u in CSS_URL.findall(css))


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if _kept(child):
            _clean(child)
        else:
            element.remove(child)
    for name, value in list(element.attrib.items()):
        namespace, _, local = name.rpartition("}")
        if namespace in (f"{{{XLINK_NS}", ""):
            if local.lower().startswith("on") or (local == "href" and not LOCAL_LINK.match(value.strip())):
                del element.attrib[name]
            elif not _safe_css(value):
                del element.attrib[name]
        elif namespace != f"{{{XML_NS}":
            del element.attrib[name]
