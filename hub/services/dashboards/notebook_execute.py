"""A dashboard's snapshot executed once, for its gallery picture: run *as the author*
(a process of their account, or a container of the lab image without network), like
the dashboard's own kernels. Imports nothing from the hub; its kernel client is Voilà's
renders' (:class:`voila_app.WakefulKernelClient`, from the same directory), whose waits
for kernel messages cannot stall on a missed wake-up.

``python notebook_execute.py NOTEBOOK TIMEOUT``: executes the notebook (``-``: read from
standard input) with the ``python3`` kernel in an empty temporary directory, as a viewer's
page would (errors do not stop it), keeping the widgets' state (``interact`` draws in
Output widgets), and writes the executed notebook on standard output, with the modules
its kernel had imported by the end in ``metadata.datalab.kernel_modules`` (what a kernel
template imports before forking this dashboard's kernels: :mod:`kernel_template`). ``TIMEOUT``: seconds
for each cell and for the kernel's start. Exit status 2 (the reason on standard error)
when the notebook cannot be read or executed. The kernel (a process of its own session)
does not inherit standard output and error: whoever reads them sees their end when this
program ends, even if a kernel lingers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import nbformat
from nbclient import NotebookClient
from traitlets.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from voila_app import WakefulKernelClient  # noqa: E402 (beside this file)


#: Run after the notebook's cells, in its kernel: the modules imported, one per line.
LIST_MODULES = "import sys as _datalab_sys\nprint('\\n'.join(sorted(_datalab_sys.modules)))"


def execute(source: str, timeout: int) -> str:
    notebook = nbformat.reads(source, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(LIST_MODULES))
    workdir = tempfile.mkdtemp(prefix="datalab-preview-")
    try:
        config = Config()
        config.AsyncKernelManager.client_class = f"{WakefulKernelClient.__module__}.{WakefulKernelClient.__name__}"
        NotebookClient(
            notebook, timeout=timeout, startup_timeout=timeout, kernel_name="python3",
            allow_errors=True, store_widget_state=True, resources={"metadata": {"path": workdir}},
            config=config,
        ).execute()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    listing = notebook.cells.pop()
    printed = "".join(o.get("text", "") for o in listing.outputs if o.get("output_type") == "stream")
    notebook.metadata["datalab"] = {"kernel_modules": printed.split()}
    return nbformat.writes(notebook)


def keep_standard_streams() -> tuple[object, object]:
    """Standard output and error, as files this process alone keeps (descriptors closed
    on exec); descriptors 1 and 2, which children inherit, become ``/dev/null``."""
    out, err = os.fdopen(os.dup(1), "w", encoding="utf-8"), os.fdopen(os.dup(2), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    return out, err


def main(argv: list[str]) -> int:
    out, err = keep_standard_streams()
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: notebook_execute.py NOTEBOOK|- TIMEOUT", file=err)
        return 2
    try:
        if argv[0] == "-":
            source = sys.stdin.read()
        else:
            with open(argv[0], encoding="utf-8") as f:
                source = f.read()
        out.write(execute(source, int(argv[1])) + "\n")
        out.flush()
    except Exception as e:  # the reason, for the service's log
        print(f"{type(e).__name__}: {e}", file=err, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
