"""Dashboard kernels forked from a template process instead of started cold.

A cold kernel is a new Python that imports ipykernel, then the notebook's libraries
(pandas, geopandas, matplotlib: most of a view's CPU time and of a kernel's memory).
The template is one process per dashboard server, started by Voilà (:mod:`voila_app`)
as the same person, that imports all that once and then forks a kernel for every page
view: the child starts as a copy of the template, sharing the imported modules' memory
with it and with every other kernel until one writes to it (copy-on-write; the
template freezes its objects with :func:`gc.freeze` so that the collector does not
write to them).

What the template imports: the modules the notebook's code cells name (any ``import``
statement, read with :mod:`ast`, IPython syntax transformed first) and, recursively,
those named by the notebook's own modules beside it; then those a kernel of this version
had imported when the service executed it at publish (``kernel-modules.json`` beside
the notebook, :mod:`notebook_execute`): the libraries' own lazy imports, which would
otherwise cost every kernel their memory and time. An identity-dependent dashboard's
template imports only installed libraries, never the notebook's own modules (the
notebook's directory is not on its path): their code runs in each viewer's fresh
kernel, as in a cold start. No notebook cell ever runs in the template, nor the
debugger, nor matplotlib's inline backend (which hooks into the kernel's shell when
loaded). A template that finds a thread started by an import refuses to fork
(forking a threaded process copies one thread only) and every kernel starts cold.

Protocol, over the Unix socket pair (``SOCK_SEQPACKET``: one message per request or
answer) Voilà passes as ``--fd``: Voilà sends ``{"cmd": [...], "env": {...}, "cwd": "..."}`` (the kernelspec's command line,
``python -m ipykernel_launcher -f CONNECTION_FILE ...``); the template answers
``{"pid": N}`` with the child's pidfd attached (``SCM_RIGHTS``), so that Voilà
follows and signals that very process, never a reused pid; or ``{"error": "..."}``.
When Voilà closes the socket (or dies), the template ends and its kernels with it
(each kernel receives SIGKILL when the template ends).

Imports nothing from the hub: runs wherever the lab environment does.
"""

from __future__ import annotations

import argparse
import ast
import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

PR_SET_PDEATHSIG = 1
#: What a kernel command line must start with (after the Python) to be forked.
LAUNCHER = ["-m", "ipykernel_launcher"]
#: Always imported: what every kernel imports before it runs a cell.
KERNEL_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipywidgets"]
#: matplotlib reads its backend from the environment when imported: the inline backend,
#: as a kernel sets it before running a cell. The backend's module itself is left to
#: load in the kernel, where it hooks into the kernel's shell.
MPLBACKEND = "module://matplotlib_inline.backend_inline"
#: Beside the notebook: the modules a kernel of it imported (see :mod:`notebook_execute`).
LEARNED_MODULES = "kernel-modules.json"
#: Listed modules the template leaves to each kernel (prefixes of top-level names).
KERNEL_ONLY = ("__main__", "ipykernel_launcher", "matplotlib_inline", "debugpy", "_pydev", "pydevd")
#: Longest request (a kernel's environment included), in bytes.
MAX_REQUEST = 1 << 16


def _die_with_parent(sig: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _imported_names(source: str) -> list[str]:
    """Absolute module names that ``source`` (Python) imports anywhere; [] if it does
    not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def notebook_modules(notebook: Path, own_modules: bool) -> list[str]:
    """Modules a kernel of ``notebook`` will import, in the order first named: those
    its code cells name, and (recursively) those named by its own modules beside it,
    which are listed themselves only when ``own_modules``."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    pending = [name for cell in cells if cell.get("cell_type") == "code"
               for name in _imported_names(transform(_cell_source(cell)))]
    here = notebook.parent.resolve()
    found: list[str] = []
    seen: set[str] = set()
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        local = here / (name.replace(".", "/") + ".py")
        if local.is_file():
            pending += _imported_names(local.read_text(encoding="utf-8"))
            if own_modules:
                found.append(name)
        else:
            found.append(name)
    return found


def learned_modules(notebook: Path) -> list[str]:
    """The modules :data:`LEARNED_MODULES` lists (none when absent or unreadable),
    without those each kernel must import itself (:data:`KERNEL_ONLY`)."""
    try:
        listed = json.loads((notebook.parent / LEARNED_MODULES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(listed, list):
        return []
    return [name for name in listed if isinstance(name, str) and not name.split(".")[0].startswith(KERNEL_ONLY)]


def prepare(notebook: Path, own_modules: bool) -> int:
    """Import what the kernels of ``notebook`` need; returns how many of the names could
    not be imported (a kernel will say why, as a cold one would; the notebook's own
    modules of an identity-dependent dashboard are among them)."""
    os.environ.setdefault("MPLBACKEND", MPLBACKEND)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel's debugger module, imported, unused
    if own_modules:
        sys.path.insert(0, str(notebook.parent.resolve()))
    failed = 0
    for name in KERNEL_MODULES + notebook_modules(notebook, own_modules) + learned_modules(notebook):
        try:
            importlib.import_module(name)
        except (Exception, SystemExit):  # the notebook's own problem, shown by its kernel
            failed += 1
    if own_modules:
        del sys.path[0]
    gc.collect()
    gc.freeze()
    return failed


def become_kernel(request: dict) -> None:
    """In the forked child: become the kernel ``request`` describes. Never returns."""
    status = 1
    try:
        os.setsid()
        _die_with_parent(signal.SIGKILL)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        # the template is the parent to watch (a cold kernel reads it from JPY_PARENT_PID)
        sys.argv = ["ipykernel_launcher", *request["cmd"][1 + len(LAUNCHER):],
                    f"--IPKernelApp.parent_handle={os.getppid()}"]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        status = 0
    finally:
        os._exit(status)


def serve(channel: socket.socket, forkable: bool) -> None:
    """Answer kernel requests on ``channel`` until Voilà closes it."""
    children: set[int] = set()

    def reap(*_):
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    try:
        while data := channel.recv(MAX_REQUEST):
            try:
                request = json.loads(data)
                if not forkable:
                    raise RuntimeError("a thread runs in the template: kernels start cold")
                if request["cmd"][1:1 + len(LAUNCHER)] != LAUNCHER:
                    raise ValueError("not an ipykernel command line")
            except (ValueError, KeyError, TypeError, RuntimeError) as e:
                channel.send(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
                continue
            pid = os.fork()
            if pid == 0:
                channel.close()
                become_kernel(request)
            children.add(pid)
            pidfd = os.pidfd_open(pid)
            try:
                socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd])
            finally:
                os.close(pidfd)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="the socket shared with Voilà")
    parser.add_argument("--notebook", type=Path, required=True)
    parser.add_argument("--own-modules", action="store_true",
                        help="also import the notebook's own modules (identity-free dashboards)")
    args = parser.parse_args(argv)
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # kernels see the path a cold kernel would
    _die_with_parent(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=args.fd)
    failed = prepare(args.notebook, args.own_modules)
    forkable = threading.active_count() == 1
    print(f"kernel template ready: {len(sys.modules)} modules ({failed} listed not importable here), "
          f"forking={'yes' if forkable else 'no'}", file=sys.stderr, flush=True)
    serve(channel, forkable)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
