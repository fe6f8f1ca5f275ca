"""Where a dashboard's Voilà server runs: the one interface backends implement.

The dashboards service decides *what* runs (the command line of :mod:`voila_app` built
by :func:`voila_arguments`, the environment of :func:`voila_environment`) and proxies
every request to it; a :class:`Runner` decides *where and as whom*: with the author's
identity, storage and limits, never with the service's privileges or tokens.

Each backend that serves dashboards has its runner in its package, built on its lab's
policy: ``hub.backends.local.dashboard`` (a process on this machine, run as the author's
Unix account) and ``hub.backends.docker.dashboard`` (a container of the lab image running
the same command as the author, on the labs' internal network).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
import time
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.ioloop import IOLoop
from tornado.netutil import DefaultLoopResolver, Resolver

from ...settings import Profile, Settings, memory_bytes
from .kernel_template import LEARNED_MODULES, learned_modules, notebook_modules
from .store import Dashboard

HERE = Path(__file__).resolve().parent
VOILA_APP = HERE / "voila_app.py"
KERNEL_STARTUP = HERE / "kernel_startup.py"
KERNEL_TEMPLATE = HERE / "kernel_template.py"
NOTEBOOK_FILES = HERE / "notebook_files.py"
NOTEBOOK_EXECUTE = HERE / "notebook_execute.py"
#: Seconds a listing or reading of the author's notebooks may take.
FILES_TIMEOUT = 60
#: Seconds a snapshot's execution for its gallery picture may take in all (each cell
#: gets as long).
EXECUTE_TIMEOUT = 180
#: Bytes of an executed notebook the service reads back.
MAX_EXECUTED_BYTES = 64 * 2**20
KERNELSPEC_NAME = "python3"
PR_SET_PDEATHSIG = 1
#: JupyterLab extensions of the lab's environment that no dashboard page uses: real-time
#: collaboration's document provider (a page edits nothing; Voilà itself leaves out the
#: collaboration extension, not this one).
UNUSED_EXTENSIONS = ("@jupyter/docprovider-extension",)
#: JupyterLab extensions that only draw what a Python package displays (extension: the
#: package's top-level module): a page loads one only when the dashboard's kernel imports
#: that package. plotly.js alone is half the scripts' bytes of a page (4.7 of 9.3 MiB).
EXTENSION_PACKAGES = {"jupyterlab-plotly": "plotly"}


class StartError(RuntimeError):
    """A dashboard's server could not start; the message says why (for logs)."""


class FilesError(RuntimeError):
    """The author's notebooks could not be listed or read; the message says why (it may be
    shown to the author)."""


@dataclass
class Launch:
    """What to run for one dashboard: its metadata, the snapshot to serve, the public URL
    prefix Voilà serves under (``/services/dashboards/d/<id>/``), the author's partners
    (their data access), the profile (limits) and the common environment."""

    dashboard: Dashboard
    notebook: Path
    prefix: str
    author_partners: set[str]
    profile: Profile
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class Upstream:
    """A running dashboard server: ``url`` (scheme, host and port; paths keep the public
    prefix) and the ``token`` each request to it must carry. Reach it with
    :func:`upstream_client` and :class:`UpstreamResolver` (a server listening on a Unix
    socket has a host name of :data:`UNIX_SOCKETS`)."""

    url: str
    token: str


#: Host name -> path of the Unix socket a dashboard's server listens on (see
#: :func:`unix_upstream`).
UNIX_SOCKETS: dict[str, str] = {}
#: Requests to dashboards' servers the service makes at once; more wait in a queue.
UPSTREAM_CLIENTS = 64


class UpstreamResolver(Resolver):
    """Resolves the host names of :data:`UNIX_SOCKETS` to their socket, others as usual."""

    def initialize(self) -> None:
        self.fallback = DefaultLoopResolver()

    async def resolve(self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC):
        path = UNIX_SOCKETS.get(host)
        if path is not None:
            return [(socket.AF_UNIX, path)]
        return await self.fallback.resolve(host, port, family)


_clients: "weakref.WeakKeyDictionary[IOLoop, AsyncHTTPClient]" = weakref.WeakKeyDictionary()


def upstream_client() -> AsyncHTTPClient:
    """The HTTP client of this event loop for dashboards' servers (Unix sockets too)."""
    loop = IOLoop.current()
    if loop not in _clients:
        _clients[loop] = AsyncHTTPClient(force_instance=True, resolver=UpstreamResolver(),
                                         max_clients=UPSTREAM_CLIENTS)
    return _clients[loop]


def unix_host(dashboard_id: str) -> str:
    """The host name of a dashboard's server listening on a Unix socket."""
    return f"{dashboard_id}.voila.sock"


def unix_upstream(dashboard_id: str, path: Path, token: str) -> Upstream:
    """The upstream of a dashboard's server listening on the Unix socket ``path``."""
    UNIX_SOCKETS[unix_host(dashboard_id)] = str(path)
    return Upstream(url=f"http://{unix_host(dashboard_id)}", token=token)


class Runner(ABC):
    """Starts and stops dashboards' Voilà servers on one backend."""

    @abstractmethod
    async def start(self, launch: Launch, arguments: list[str], timeout: float) -> Upstream:
        """Start Voilà for ``launch`` with ``arguments`` (after the notebook path) and
        return once it answers. Raises :class:`StartError` (with the reason) otherwise."""

    @abstractmethod
    async def stop(self, dashboard_id: str) -> None:
        """Stop a dashboard's server (no-op when not running). The service shuts its
        kernels down first; a kernel left behind exits with its server (ipykernel
        watches its parent process)."""

    @abstractmethod
    def running(self, dashboard_id: str) -> bool:
        """True while the dashboard's server process (or container) is alive."""

    async def stop_all(self) -> None:
        """Stop every server this runner started."""

    @abstractmethod
    async def author_files(self, author: str, partners: set[str], profile: Profile, *args: str) -> bytes:
        """Run :mod:`notebook_files` with ``args`` (its ``HOME`` argument inserted after
        the first) as ``author``, a member of ``partners``, within ``profile``'s limits;
        returns its standard output. Raises :class:`FilesError`."""

    @abstractmethod
    async def execute(self, author: str, partners: set[str], profile: Profile, notebook: Path) -> bytes:
        """Run :mod:`notebook_execute` on the snapshot ``notebook`` as ``author``, a member
        of ``partners``, within ``profile``'s limits and network (as the dashboard's
        kernels run), for at most :data:`EXECUTE_TIMEOUT` seconds; returns the executed
        notebook (JSON). Raises :class:`FilesError`."""

    async def notebooks(self, author: str, partners: set[str], profile: Profile) -> list[str]:
        """The ``.ipynb`` paths in the author's home (relative to it), as they see it."""
        output = await self.author_files(author, partners, profile, "list")
        try:
            return json.loads(output)
        except ValueError:
            raise FilesError(f"unexpected listing: {output[:200]!r}") from None

    async def read_notebook(self, author: str, partners: set[str], profile: Profile, path: str) -> dict:
        """The author's notebook at ``path`` (relative to their home), read as the author.
        Raises :class:`FilesError` (unreadable, not a notebook, not JSON)."""
        data = await self.author_files(author, partners, profile, "read", path)
        try:
            notebook = json.loads(data)
        except ValueError:
            raise FilesError(f"{path} is not a notebook (invalid JSON)") from None
        if not isinstance(notebook, dict):
            raise FilesError(f"{path} is not a notebook")
        return notebook


def voila_arguments(settings: Settings, launch: Launch) -> list[str]:
    """Voilà's options for a dashboard, common to every backend (where it listens and
    the notebook's directory excepted): its URL prefix, culling, tracebacks, the
    pre-executed pool, the kernel template, the JupyterLab extensions its pages load
    (:func:`unused_extensions`). Kernels talk to Voilà over Unix sockets in Voilà's private
    connection directory, made in /tmp (a socket's path must stay within 107 bytes):
    with TCP, a kernel started while another view's connections were open could find
    its port taken as a connection's source port, die before its first reply, and leave
    its viewer's page loading forever (seen with 100 views at once)."""
    conf = settings.dashboards
    arguments = [
        "--no-browser",
        "--KernelManager.transport=ipc",
        "--Voila.connection_dir_root=/tmp",
        f"--Voila.base_url={launch.prefix}",
        "--VoilaConfiguration.show_tracebacks=True",
        "--VoilaConfiguration.http_header_envs=X-DataLab-Viewer",
        f"--MappingKernelManager.cull_idle_timeout={conf.kernel_idle_timeout}",
        f"--MappingKernelManager.cull_interval={max(5, min(60, conf.kernel_idle_timeout // 4))}",
        "--MappingKernelManager.cull_connected=True",
        f"--DashboardVoila.kernel_template={kernel_template(conf.kernel_template, launch.dashboard.identity_free)}",
    ]
    arguments += [f"--VoilaConfiguration.extension_denylist={name}" for name in unused_extensions(launch.notebook)]
    if launch.dashboard.identity_free and conf.preheat_kernels:
        arguments += [
            "--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={conf.preheat_kernels}",
        ]
    return arguments


def unused_extensions(notebook: Path) -> list[str]:
    """The JupyterLab extensions the pages of the snapshot ``notebook`` can do without
    (Voilà's ``extension_denylist``): :data:`UNUSED_EXTENSIONS`, and each of
    :data:`EXTENSION_PACKAGES` whose package neither an ``import`` of the notebook's
    cells names nor its execution at publish imported (``kernel-modules.json``, see
    :mod:`notebook_execute`). Without that execution's list, every such extension stays."""
    unused = list(UNUSED_EXTENSIONS)
    if not (notebook.parent / LEARNED_MODULES).is_file():
        return unused
    try:
        named = notebook_modules(notebook, own_modules=False)
    except (OSError, ValueError, AttributeError):
        return unused
    imported = {name.split(".")[0] for name in learned_modules(notebook) + named}
    return unused + [extension for extension, package in EXTENSION_PACKAGES.items() if package not in imported]


def kernel_template(enabled: bool, identity_free: bool) -> str:
    """Voilà's ``kernel_template`` mode (:mod:`kernel_template`): the notebook's own
    modules are imported before a viewer is known only for identity-free dashboards."""
    if not enabled:
        return "off"
    return "all" if identity_free else "libraries"


def voila_environment(launch: Launch, error_message: str) -> dict[str, str]:
    """Environment of a dashboard's server (and so of its kernels) besides the author's
    own: the profile's limits, the dashboard's id and the viewers' error message."""
    return {
        "CPU_LIMIT": f"{launch.profile.cpu:g}",
        "MEM_LIMIT": str(memory_bytes(launch.profile.memory)),
        "DATALAB_PROFILE": launch.profile.id,
        "DATALAB_DASHBOARD": launch.dashboard.id,
        "DATALAB_DASHBOARD_ERROR": error_message,
    }


def kernelspec(python: str, startup: str) -> dict:
    """The dashboards' ``python3`` kernelspec (``kernel.json``): ``python`` running the
    file ``startup`` (:mod:`kernel_startup`) before the notebook."""
    return {
        "argv": [
            python, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            f"--IPKernelApp.exec_files={startup}",
        ],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": False},
    }


def write_kernelspec(directory: Path) -> Path:
    """Write the dashboards' ``python3`` kernelspec under ``directory/kernels/`` (a
    ``JUPYTER_PATH`` entry): the lab's Python running :mod:`kernel_startup` first.
    Returns ``directory``."""
    spec_dir = directory / "kernels" / KERNELSPEC_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = kernelspec(sys.executable, str(KERNEL_STARTUP))
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    for path in (directory, directory / "kernels", spec_dir):
        os.chmod(path, 0o755)
    os.chmod(spec_dir / "kernel.json", 0o644)
    return directory


def last_line(output: bytes, default: str) -> str:
    """The last non-empty line of a program's ``output``, else ``default``."""
    lines = output.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else default


def die_with_parent() -> None:
    """In a child, after it changed identity (which clears the setting): receive SIGTERM
    when the service exits, so no dashboard server outlives it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def wait_answering(url: str, token: str, process_alive, timeout: float) -> None:
    """Poll ``url`` with the token until it answers 200; :class:`StartError` when
    ``process_alive()`` turns false or after ``timeout`` seconds."""
    client = upstream_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive():
            raise StartError("the dashboard's Voilà server exited while starting")
        try:
            response = await client.fetch(
                url, headers={"Authorization": f"token {token}"}, request_timeout=5, raise_error=False
            )
            if response.code == 200:
                return
        except (OSError, HTTPClientError):
            pass
        await asyncio.sleep(0.2)
    raise StartError(f"the dashboard's Voilà server did not answer within {timeout:g} s")
