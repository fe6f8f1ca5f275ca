"""Where a dashboard's Voilà server runs: the one interface backends implement.

The dashboards service decides *what* runs (the command line of :mod:`voila_app` built
by :func:`voila_arguments`, the environment of :func:`voila_environment`) and proxies
every request to it; a :class:`Runner` decides *where and as whom*: with the author's
identity, storage and limits, never with the service's privileges or tokens.

- :class:`LocalRunner` (backend ``local``): a process on this machine, run as the
  author's Unix account through :class:`hub.backends.local.Person` (the lab's policy).
- a docker runner implements the same interface with a container of the lab image
  running the same command, the snapshot mounted read-only, on the labs' network.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ...settings import Profile, Settings, memory_bytes
from .store import Dashboard

HERE = Path(__file__).resolve().parent
VOILA_APP = HERE / "voila_app.py"
KERNEL_STARTUP = HERE / "kernel_startup.py"
KERNELSPEC_NAME = "python3"
PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A dashboard's server could not start; the message says why (for logs)."""


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
    prefix) and the ``token`` each request to it must carry."""

    url: str
    token: str


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


def voila_arguments(settings: Settings, launch: Launch) -> list[str]:
    """Voilà's options for a dashboard, common to every backend (ports and addresses
    excepted): its URL prefix, culling, tracebacks, the pre-executed pool."""
    conf = settings.dashboards
    arguments = [
        "--no-browser",
        f"--Voila.base_url={launch.prefix}",
        f"--Voila.root_dir={launch.notebook.parent}",
        "--VoilaConfiguration.show_tracebacks=True",
        "--VoilaConfiguration.http_header_envs=X-DataLab-Viewer",
        f"--MappingKernelManager.cull_idle_timeout={conf.kernel_idle_timeout}",
        f"--MappingKernelManager.cull_interval={max(5, min(60, conf.kernel_idle_timeout // 4))}",
        "--MappingKernelManager.cull_connected=True",
    ]
    if launch.dashboard.identity_free and conf.preheat_kernels:
        arguments += [
            "--VoilaConfiguration.preheat_kernel=True",
            f"--VoilaConfiguration.default_pool_size={conf.preheat_kernels}",
        ]
    return arguments


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


def write_kernelspec(directory: Path) -> Path:
    """Write the dashboards' ``python3`` kernelspec under ``directory/kernels/`` (a
    ``JUPYTER_PATH`` entry): the lab's Python running :mod:`kernel_startup` first.
    Returns ``directory``."""
    spec_dir = directory / "kernels" / KERNELSPEC_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            f"--IPKernelApp.exec_files={KERNEL_STARTUP}",
        ],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    for path in (directory, directory / "kernels", spec_dir):
        os.chmod(path, 0o755)
    os.chmod(spec_dir / "kernel.json", 0o644)
    return directory


def _die_with_parent() -> None:
    """In a child, after it changed identity (which clears the setting): receive SIGTERM
    when the service exits, so no dashboard server outlives it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_answering(url: str, token: str, process_alive, timeout: float) -> None:
    """Poll ``url`` with the token until it answers 200; :class:`StartError` when
    ``process_alive()`` turns false or after ``timeout`` seconds."""
    client = AsyncHTTPClient()
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


class LocalRunner(Runner):
    """Each dashboard's Voilà server is a process on this machine, run as its author's
    Unix account (when the service runs as root) with the author's home, library and
    partner spaces, like their lab; it listens on 127.0.0.1 and requires a token."""

    def __init__(self, settings: Settings, kernelspec_dir: Path):
        from ...backends import local

        self.settings = settings
        self.local = local
        self.kernelspec_dir = write_kernelspec(kernelspec_dir)
        self.processes: dict[str, subprocess.Popen] = {}

    async def start(self, launch: Launch, arguments: list[str], timeout: float) -> Upstream:
        await self.stop(launch.dashboard.id)
        person = self.local.Person(self.settings, launch.dashboard.author, launch.author_partners)
        try:
            home = await asyncio.to_thread(person.prepare)
        except (RuntimeError, OSError) as e:
            raise StartError(f"cannot prepare {launch.dashboard.author}'s account: {e}") from None
        self._let_author_read(person.account, launch.notebook.parent.parent)
        port = free_port()
        token = secrets.token_urlsafe(32)
        env = {
            "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "JUPYTER_PATH": str(self.kernelspec_dir),
            **person.env(),
            **launch.environment,
            "DATALAB_VOILA_TOKEN": token,
        }
        argv = [
            sys.executable, str(VOILA_APP), str(launch.notebook),
            "--Voila.ip=127.0.0.1", f"--port={port}", *arguments,
        ]
        become_author = person.preexec_fn()

        def preexec() -> None:
            become_author()
            _die_with_parent()

        process = subprocess.Popen(
            argv, env=env, cwd=home, preexec_fn=preexec, start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        self.processes[launch.dashboard.id] = process
        upstream = Upstream(url=f"http://127.0.0.1:{port}", token=token)
        try:
            await wait_answering(
                f"{upstream.url}{launch.prefix}datalab/kernels", token,
                lambda: process.poll() is None, timeout,
            )
        except StartError:
            await self.stop(launch.dashboard.id)
            raise
        return upstream

    def _let_author_read(self, account: str, directory: Path) -> None:
        """Give the author's account (group) read access to the dashboard's directory;
        other accounts get none (mode 0750 directories, 0640 files)."""
        if not self.local.isolated():
            return
        import pwd

        gid = pwd.getpwnam(account).pw_gid
        for dirpath, _, filenames in os.walk(directory):
            os.chown(dirpath, 0, gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), 0, gid)

    async def stop(self, dashboard_id: str) -> None:
        process = self.processes.pop(dashboard_id, None)
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if process.poll() is not None:
                return

    def running(self, dashboard_id: str) -> bool:
        process = self.processes.get(dashboard_id)
        return process is not None and process.poll() is None

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.processes)))
