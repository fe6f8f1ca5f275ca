"""One report run, inside the runner's environment (a subprocess as the owner, a
container, a batch job): papermill, then the HTML rendering.

``python -m hub.services.reports.execute [SPEC]`` reads the run's spec (JSON) from the
file ``SPEC``, or from standard input without it::

    {"notebook": "/abs/input.ipynb", "output_dir": "/abs/dir", "work_dir": "/abs/dir/work",
     "parameters": {...}, "kernel": "python3", "cell_timeout": 600, "language": "fr",
     "title": "..."}

and writes into ``output_dir``: ``notebook.ipynb`` (executed, or partial with the error),
``report.html`` (succeeded runs only) and ``result.json`` (``{"status": "succeeded" |
"failed", "error": str | null}``). Exit status 0 when the run succeeded, 1 when it failed.
Its standard output and error are the run's log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from pathlib import Path

from hub.messages import text
from hub.services.reports.notebooks import NotebookProblem, check_notebook_parameters

NOTEBOOK = "notebook.ipynb"
HTML = "report.html"
RESULT = "result.json"
#: papermill's and nbconvert's own log lines, and the key saying each in the run's
#: language (named groups fill the text); the cells' output passes unchanged.
LOG_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Input Notebook: +(?P<path>.*)"), "reports_log_input"),
    (re.compile(r"Output Notebook: +(?P<path>.*)"), "reports_log_output"),
    (re.compile(r"Working directory: +(?P<path>.*)"), "reports_log_work_dir"),
    (re.compile(r"Executing notebook with kernel: +(?P<kernel>.*)"), "reports_log_kernel"),
    (re.compile(r"Executing Cell (?P<cell>\d+)-*"), "reports_log_cell_start"),
    (re.compile(r"Ending Cell (?P<cell>\d+)-*"), "reports_log_cell_end"),
    (re.compile(r"Alternative text is missing on (?P<count>\d+) image\(s\)\."), "reports_log_alt_text"),
]


class RunFailed(Exception):
    """The run failed; ``str(error)`` is the message shown with the run."""


class SaidIn(logging.Filter):
    """Rewrites the known lines of :data:`LOG_LINES` in ``language``."""

    def __init__(self, language: str):
        super().__init__()
        self.language = language

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern, key in LOG_LINES:
            found = pattern.fullmatch(message)
            if found:
                record.msg, record.args = text(self.language, key, **found.groupdict()), ()
                break
        return True


def main() -> int:
    if len(sys.argv) > 1:
        spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    else:
        spec = json.load(sys.stdin)
    language = spec.get("language", "fr")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    handler.addFilter(SaidIn(language))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    output_dir = Path(spec["output_dir"])
    try:
        execute(spec)
        result = {"status": "succeeded", "error": None}
    except RunFailed as e:
        result = {"status": "failed", "error": str(e)}
    except Exception as e:  # the run's own failure, never the service's: record it
        traceback.print_exc()
        result = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    (output_dir / RESULT).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    if result["status"] == "succeeded":
        print(text(language, "reports_log_succeeded"), flush=True)
    else:
        print(text(language, "reports_log_failed", error=result["error"]), flush=True)
    return 0 if result["status"] == "succeeded" else 1


def execute(spec: dict) -> None:
    """Check the kernelspec and the parameters, run the notebook, render it.
    Raises :class:`RunFailed` with a message in ``spec["language"]``."""
    language = spec.get("language", "fr")
    notebook = Path(spec["notebook"])
    output = Path(spec["output_dir"]) / NOTEBOOK
    _check_kernel(spec["kernel"], language)
    try:
        check_notebook_parameters(notebook, spec["parameters"])
    except NotebookProblem as problem:
        raise RunFailed(text(language, "reports_" + problem.key, **problem.values)) from None
    _run_papermill(spec, notebook, output, language)
    _render_html(output, Path(spec["output_dir"]) / HTML, spec.get("title") or notebook.stem, language)


def _check_kernel(name: str, language: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        manager.get_kernel_spec(name)
    except NoSuchKernel:
        available = ", ".join(sorted(manager.find_kernel_specs())) or "-"
        raise RunFailed(text(language, "reports_no_kernel", kernel=name, available=available)) from None


def _run_papermill(spec: dict, notebook: Path, output: Path, language: str) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=spec["parameters"],
            kernel_name=spec["kernel"],
            cwd=spec["work_dir"],
            execution_timeout=spec["cell_timeout"],
            progress_bar=False,
            log_output=True,
        )
    except PapermillExecutionError as e:
        raise RunFailed(
            text(language, "reports_cell_failed", cell=e.cell_index + 1, error=f"{e.ename}: {e.evalue}")
        ) from None
    except Exception as e:
        # the kernel died (killed, out of memory) or a cell ran past its timeout:
        # papermill saved the notebook up to there; mark the cell that was running
        message = _interruption(e, spec["cell_timeout"], language)
        cell = _mark_interrupted_cell(output, type(e).__name__, message)
        raise RunFailed(text(language, "reports_cell_failed", cell=cell, error=message)) from None


def _interruption(error: Exception, cell_timeout: int, language: str) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(error, DeadKernelError):
        return text(language, "reports_dead_kernel")
    if isinstance(error, CellTimeoutError):
        return text(language, "reports_cell_timeout", seconds=cell_timeout)
    return f"{type(error).__name__}: {error}"


def _mark_interrupted_cell(output: Path, ename: str, message: str) -> int | str:
    """Add the error to the last cell that started in the saved notebook; returns its
    1-based index ("?" when the notebook was never saved)."""
    import nbformat

    if not output.is_file():
        return "?"
    nb = nbformat.read(output, as_version=4)
    started = [i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "?"
    index = started[-1]
    cell = nb.cells[index]
    cell.metadata.papermill["status"] = "failed"
    if cell.cell_type == "code":
        cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]))
    nbformat.write(nb, output)
    return index + 1


def _render_html(notebook: Path, target: Path, title: str, language: str) -> None:
    """The executed notebook as one self-contained HTML page for readers: text and
    outputs without the code, images embedded, no script fetched from elsewhere."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", embed_images=True, exclude_input=True, exclude_input_prompt=True,
        exclude_output_prompt=True, mathjax_url="", require_js_url="", language_code=language,
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
