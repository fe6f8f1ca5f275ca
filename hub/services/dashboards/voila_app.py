"""One dashboard's Voilà server, started by the dashboards service as the author.

Run as ``python voila_app.py NOTEBOOK [voila options]``; this file imports nothing from
the hub, so it runs wherever the lab environment does (a local process, a container of
the lab image). It is Voilà with seven additions:

- with ``--DashboardVoila.socket_fd=N`` it serves on the listening socket it inherited
  as descriptor ``N`` (a Unix socket the service bound, see
  :class:`hub.backends.local.dashboard.LocalRunner`) instead of binding a TCP port;
- the token that the dashboards service sends with every proxied request is read from
  ``DATALAB_VOILA_TOKEN`` and removed from the environment, so kernels never see it;
- ``GET <base_url>datalab/kernels`` (token required) lists the live kernels, for the
  service's own bookkeeping (never forwarded to viewers):
  ``{"kernels": [kernel models], "pool_size": int}``;
- a page requested for the dashboard's author (header ``X-DataLab-Viewer: author``, set
  by the service only) never uses a pre-executed kernel: its kernel starts with that
  header in its environment and shows the author the real tracebacks;
- the page's Font Awesome comes from this server (``<base_url>datalab/fontawesome/``, the
  copy JupyterHub installs beside the lab), not from a public CDN: a viewer's browser may
  have no internet, and nothing should call outside;
- the clients Voilà renders pages with wait for kernel messages in bounded polls
  (:class:`WakefulKernelClient`), so a missed wake-up cannot stall a page forever;
- a kernel that ends while its page renders (killed for memory, ``os._exit``) ends the
  page with the deployment's error message (:class:`DataLabExecutor`), where Voilà would
  show its own server-side traceback for that cell and for every following one;
- with ``--DashboardVoila.kernel_template=libraries|all`` its kernels are forked from a
  template process that imported the notebook's libraries (and, with ``all``, its own
  modules) once (:mod:`kernel_template`, :class:`TemplateProvisioner`), instead of
  starting cold.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import voila.notebook_renderer
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from traitlets import Enum, Integer, TraitError, Type
from nbclient.exceptions import CellExecutionError, DeadKernelError
from voila.app import Voila
from voila.execute import VoilaExecutor
from voila.tornado.handler import TornadoVoilaHandler

TOKEN_VARIABLE = "DATALAB_VOILA_TOKEN"
#: The deployment's message for a dashboard that fails (the service sets it).
ERROR_VARIABLE = "DATALAB_DASHBOARD_ERROR"
VIEWER_HEADER = "X-DataLab-Viewer"
#: Where Voilà's templates link Font Awesome, and the copy served instead.
FONT_AWESOME_CDN = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/"
FONT_AWESOME = Path(sys.prefix) / "share" / "jupyterhub" / "static" / "components" / "@fortawesome" / "fontawesome-free"
#: Seconds a wait for a kernel message lasts before the socket is checked again.
POLL_INTERVAL = 1.0
KERNEL_TEMPLATE = Path(__file__).resolve().parent / "kernel_template.py"
TEMPLATE_PROVISIONER = "datalab-kernel-template"
#: Longest answer of the kernel template, in bytes.
MAX_ANSWER = 4096


class WakefulChannel(AsyncZMQSocketChannel):
    """A kernel channel whose waits check the socket again every :data:`POLL_INTERVAL`.

    A ``zmq.asyncio`` poll can miss the edge-triggered wake-up of a message already
    queued on the socket, and then waits forever: measured with six pages of the map
    rendered at once on a loaded machine, 4 renders in 66 waited for an ``execute_reply``
    that sat in their shell socket (``ZMQ_EVENTS`` showed ``POLLIN``), so the page never
    finished and its widgets never appeared; with these channels, none in 108. A bounded
    poll re-reads the socket's state when it times out, so a missed wake-up costs at
    most one interval."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = POLL_INTERVAL if deadline is None else max(0.0, min(POLL_INTERVAL, deadline - time.monotonic()))
            if await self.socket.poll(int(wait * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class DataLabExecutor(VoilaExecutor):
    """Voilà's executor, except for a kernel that ends while a cell runs: the outputs
    the cell made so far stay, followed by the deployment's message (no traceback: the
    server's would name its files), and the page ends there (Voilà stops at a
    ``CellExecutionError``). Voilà creates its executor by this module-level name, which
    :func:`use_datalab_executor` rebinds."""

    async def execute_cell(self, cell, resources, cell_index, store_history=True):
        try:
            return await super().execute_cell(cell, resources, cell_index, store_history)
        except DeadKernelError:
            self.log.error("the kernel ended while cell %d ran", cell_index)
            cell.setdefault("outputs", []).append({"output_type": "error", "ename": "", "evalue": "",
                                                   "traceback": [os.environ.get(ERROR_VARIABLE, "Error")]})
            raise CellExecutionError("", "DeadKernelError", "") from None


def use_datalab_executor() -> None:
    voila.notebook_renderer.VoilaExecutor = DataLabExecutor


class WakefulKernelClient(AsyncKernelClient):
    """The kernel client of Voilà's renders, with :class:`WakefulChannel` channels."""

    shell_channel_class = Type(WakefulChannel)
    iopub_channel_class = Type(WakefulChannel)
    stdin_channel_class = Type(WakefulChannel)
    control_channel_class = Type(WakefulChannel)


class ForkedKernel:
    """A kernel the template forked (a child of the template, not of Voilà), followed
    and signalled through its pidfd the way jupyter_client uses a ``Popen``: a pid
    reused after the kernel ended is never signalled. Its exit status belongs to its
    parent, the template: an ended kernel's ``returncode`` is 0."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid, self.pidfd, self.returncode = pid, pidfd, None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = 0
            os.close(self.pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        """Signal the kernel and its process group (the kernel leads its own session:
        its group is its own subprocesses), while the pidfd says it is alive."""
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, signum)
            try:
                os.killpg(self.pid, signum)
            except ProcessLookupError:  # the signal ended the kernel, its group with it
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class KernelTemplate:
    """Voilà's end of the kernel template (:mod:`kernel_template`): the process, and
    the socket requests go through, one at a time."""

    def __init__(self, notebook: Path, own_modules: bool):
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        argv = [sys.executable, str(KERNEL_TEMPLATE), "--fd", str(theirs.fileno()), "--notebook", str(notebook)]
        try:
            self.process = subprocess.Popen(
                argv + (["--own-modules"] if own_modules else []), pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, cwd=notebook.parent,
            )
        finally:
            theirs.close()

    def fork(self, cmd: list[str], env: dict[str, str], cwd: str) -> ForkedKernel:
        """A kernel forked for ``cmd`` (blocks while the template prepares). Raises
        ``OSError`` or ``RuntimeError`` (the template's refusal)."""
        with self.lock:
            self.channel.sendall(json.dumps({"cmd": cmd, "env": env, "cwd": cwd}).encode())
            data, fds, _, _ = socket.recv_fds(self.channel, MAX_ANSWER, 1)
        if not data:
            raise RuntimeError("the kernel template has ended")
        answer = json.loads(data)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return ForkedKernel(answer["pid"], fds[0])


class TemplateProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, except that a kernel is forked by the
    template (:attr:`template`) when there is one; a kernel the template cannot give
    starts cold, as before."""

    template: KernelTemplate | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        template = TemplateProvisioner.template
        if template is not None:
            try:
                self.process = await asyncio.to_thread(
                    template.fork, cmd, dict(kwargs.get("env") or os.environ), str(kwargs.get("cwd") or os.getcwd()),
                )
            except (OSError, RuntimeError, ValueError) as e:
                self.log.warning("kernel started cold, the template could not fork it: %s", e)
            else:
                self.pid, self.pgid = self.process.pid, None
                self.cwd = kwargs.get("cwd", Path.cwd())
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)


class _Registered:
    """What jupyter_client's provisioner factory keeps of a provisioner (an entry
    point: something to ``load()``), for one defined here."""

    def __init__(self, provisioner: type):
        self.provisioner = provisioner

    def load(self) -> type:
        return self.provisioner


def use_kernel_template(notebook: Path, own_modules: bool) -> None:
    """Start the template and make every kernel of this process ask it first."""
    TemplateProvisioner.template = KernelTemplate(notebook, own_modules)
    factory = KernelProvisionerFactory.instance()
    factory.provisioners[TEMPLATE_PROVISIONER] = _Registered(TemplateProvisioner)
    factory.default_provisioner_name = TEMPLATE_PROVISIONER


class DashboardHandler(TornadoVoilaHandler):
    """Voilà's page handler; the author's pages always get a fresh kernel, and the page
    links this server's Font Awesome instead of the CDN's."""

    def write(self, chunk):
        if isinstance(chunk, bytes):
            chunk = chunk.replace(FONT_AWESOME_CDN.encode(), self._font_awesome_url().encode())
        elif isinstance(chunk, str):
            chunk = chunk.replace(FONT_AWESOME_CDN, self._font_awesome_url())
        super().write(chunk)

    def _font_awesome_url(self) -> str:
        return url_path_join(self.base_url, "datalab/fontawesome/")

    def should_use_rendered_notebook(self, *args, **kwargs):
        if self.request.headers.get(VIEWER_HEADER) == "author":
            return False
        return super().should_use_rendered_notebook(*args, **kwargs)


class KernelsHandler(APIHandler):
    """The live kernels of this dashboard, and the size of its pre-executed pool."""

    def initialize(self, notebook_path: str):
        self.notebook_path = notebook_path

    @web.authenticated
    def get(self):
        manager = self.kernel_manager
        pool_size = manager.get_pool_size(self.notebook_path) if hasattr(manager, "get_pool_size") else 0
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"kernels": kernel_models(manager), "pool_size": pool_size}))


def kernel_models(manager) -> list[dict]:
    """The models of ``manager``'s kernels; a kernel still starting (Jupyter Server cannot
    make its model before its first activity: ``list_kernels`` raises) is listed as
    ``{"id": ..., "execution_state": "starting"}``, not left out nor failing the list."""
    models = []
    for kernel_id in manager.list_kernel_ids():
        try:
            models.append(manager.kernel_model(kernel_id))
        except TraitError:
            models.append({"id": kernel_id, "execution_state": "starting"})
        except (web.HTTPError, KeyError):  # ended meanwhile
            continue
    return models


class DashboardVoila(Voila):
    """Voilà serving one notebook behind the dashboards service."""

    socket_fd = Integer(-1, config=True, help="An inherited listening socket to serve on (-1: a TCP port).")
    kernel_template = Enum(
        ["off", "libraries", "all"], "off", config=True,
        help="Fork kernels from a template that imported the notebook's libraries (libraries), "
             "and its own modules too (all: identity-free dashboards only), or start them cold (off).",
    )

    def initialize(self, argv=None):
        self.token = os.environ.pop(TOKEN_VARIABLE)
        self.config.AsyncKernelManager.client_class = f"{__name__}.{WakefulKernelClient.__name__}"
        super().initialize(argv)
        if self.kernel_template != "off":
            use_kernel_template(Path(self.notebook_path).resolve(), own_modules=self.kernel_template == "all")

    def init_handlers(self):
        handlers = [
            (
                url_path_join(self.server_url, "/datalab/kernels"),
                KernelsHandler,
                {"notebook_path": os.path.relpath(self.notebook_path, self.root_dir)},
            ),
            (
                url_path_join(self.server_url, "/datalab/fontawesome/(.*)"),
                web.StaticFileHandler,
                {"path": str(FONT_AWESOME)},
            ),
        ]
        for pattern, handler, *options in super().init_handlers():
            handlers.append((pattern, DashboardHandler if handler is TornadoVoilaHandler else handler, *options))
        return handlers


    def listen(self):
        if self.socket_fd < 0:
            super().listen()
            return
        server = HTTPServer(self.app)
        server.add_socket(socket.socket(fileno=self.socket_fd))
        self.log.info("Voilà is serving on its inherited socket")
        self.ioloop = IOLoop.current()
        try:
            self.ioloop.start()
        except KeyboardInterrupt:
            self.log.info("Stopping...")
        finally:
            self.stop()


if __name__ == "__main__":
    use_datalab_executor()
    DashboardVoila.launch_instance()
