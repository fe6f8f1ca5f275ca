"""Where a dashboard's Voilà server runs: the one interface backends implement.

The dashboards service decides *what* runs (the command line of :mod:`voila_app` built
by :func:`voila_arguments`, the environment of :func:`voila_environment`) and proxies
every request to it; a :class:`Runner` decides *where and as whom*: with the author's
identity, storage and limits, never with the service's privileges or tokens.

- :class:`LocalRunner` (backend ``local``): a process on this machine, run as the
  author's Unix account through :class:`hub.backends.local.Person` (the lab's policy).
- :class:`DockerRunner` (backend ``docker``): a container of the lab image running the
  same command as the author (uid 1000, their home volume and partner spaces, like
  their lab, see :mod:`hub.backends.docker`), on the labs' internal network.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tarfile
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
NOTEBOOK_FILES = HERE / "notebook_files.py"
#: Seconds a listing or reading of the author's notebooks may take.
FILES_TIMEOUT = 60
KERNELSPEC_NAME = "python3"
PR_SET_PDEATHSIG = 1


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

    @abstractmethod
    async def author_files(self, author: str, partners: set[str], profile: Profile, *args: str) -> bytes:
        """Run :mod:`notebook_files` with ``args`` (its ``HOME`` argument inserted after
        the first) as ``author``, a member of ``partners``, within ``profile``'s limits;
        returns its standard output. Raises :class:`FilesError`."""

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
    """Voilà's options for a dashboard, common to every backend (ports and addresses
    and the notebook's directory excepted): its URL prefix, culling, tracebacks, the
    pre-executed pool."""
    conf = settings.dashboards
    arguments = [
        "--no-browser",
        f"--Voila.base_url={launch.prefix}",
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
        from ...backends.local import lab as local

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
            "--Voila.ip=127.0.0.1", f"--port={port}", f"--Voila.root_dir={launch.notebook.parent}",
            *arguments,
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

    async def author_files(self, author: str, partners: set[str], profile: Profile, *args: str) -> bytes:
        person = self.local.Person(self.settings, author, partners)
        try:
            home = await asyncio.to_thread(person.prepare)
        except (RuntimeError, OSError) as e:
            raise FilesError(f"cannot prepare {author}'s account: {e}") from None
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(NOTEBOOK_FILES), args[0], str(home), *args[1:],
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **person.env()}, cwd=home,
            preexec_fn=person.preexec_fn(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), FILES_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise FilesError(f"reading {author}'s notebooks took over {FILES_TIMEOUT} s") from None
        if process.returncode != 0:
            raise FilesError(last_line(err, f"exit status {process.returncode}"))
        return out

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


#: Where a dashboard's container finds its files (copied in before it starts): the
#: Voilà app, the kernel's startup file, the kernelspec and ``notebook/<snapshot>``.
CONTAINER_DIR = "/opt/datalab-dashboard"
CONTAINER_PORT = 8866
#: Seconds :meth:`DockerRunner.running` trusts a container's last known state.
STATE_TTL = 2.0


@dataclass
class _Container:
    id: str
    alive: bool = True
    checked: float = field(default_factory=time.monotonic)


def container_files(notebook: Path) -> bytes:
    """A tar archive (for ``put_archive`` at ``/``) of :data:`CONTAINER_DIR`: the Voilà
    app, the kernel's startup file, the ``python3`` kernelspec of the lab's Python and
    the snapshot ``notebook``; owned by root, readable by all."""
    from ...backends.docker.lab import LAB_PYTHON

    root = CONTAINER_DIR.lstrip("/")
    spec = json.dumps(kernelspec(LAB_PYTHON, f"{CONTAINER_DIR}/{KERNEL_STARTUP.name}"), indent=1)
    files = {
        f"{root}/{VOILA_APP.name}": VOILA_APP.read_bytes(),
        f"{root}/{KERNEL_STARTUP.name}": KERNEL_STARTUP.read_bytes(),
        f"{root}/kernels/{KERNELSPEC_NAME}/kernel.json": spec.encode("utf-8"),
        f"{root}/notebook/{notebook.name}": notebook.read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in (root, f"{root}/kernels", f"{root}/kernels/{KERNELSPEC_NAME}", f"{root}/notebook"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class DockerRunner(Runner):
    """Each dashboard's Voilà server is a container of the lab image
    (``<prefix>voila.<id>``; ``.`` never occurs in a lab's container name) run like the
    author's lab: uid 1000, no capabilities, the profile's CPU and memory, the author's
    home volume, the library and their partner and project spaces
    (:func:`hub.backends.docker.lab_mounts`), only on the labs' internal network. The
    snapshot and the Voilà app are copied into the container (nothing of the service's is
    mounted); the service reaches Voilà at the container's address on that network, with
    a per-server token. Containers of a previous run of the service are removed when it
    starts. Docker API calls run in threads, except :meth:`running`'s (a few
    milliseconds, at most every :data:`STATE_TTL` seconds per dashboard)."""

    def __init__(self, settings: Settings):
        from ...backends.docker import lab as backend

        self.settings = settings
        self.backend = backend
        self.client = backend.engine()
        self.image = backend.image_of(settings)
        self.prefix = settings.docker.name_prefix
        self.containers: dict[str, _Container] = {}
        for leftover in self.client.containers.list(all=True, filters={"label": self._label_filter()}):
            leftover.remove(force=True)

    def _label_filter(self) -> list[str]:
        return [f"{self.backend.LABEL}.prefix={self.prefix}", f"{self.backend.LABEL}.dashboard"]

    def container_name(self, dashboard_id: str) -> str:
        return f"{self.prefix}voila.{dashboard_id}"

    async def start(self, launch: Launch, arguments: list[str], timeout: float) -> Upstream:
        await self.stop(launch.dashboard.id)
        token = secrets.token_urlsafe(32)
        try:
            container = await asyncio.to_thread(self._create, launch, arguments, token)
        except (self.backend.docker.errors.DockerException, OSError) as e:
            raise StartError(f"Docker cannot start the dashboard's container: {e}") from None
        self.containers[launch.dashboard.id] = _Container(container.id)
        address = container.attrs["NetworkSettings"]["Networks"][self.settings.docker.network]["IPAddress"]
        upstream = Upstream(url=f"http://{address}:{CONTAINER_PORT}", token=token)
        try:
            await wait_answering(
                f"{upstream.url}{launch.prefix}datalab/kernels", token,
                lambda: self.running(launch.dashboard.id), timeout,
            )
        except StartError as e:
            output = await asyncio.to_thread(self._log_tail, container.id)
            await self.stop(launch.dashboard.id)
            raise StartError(f"{e}; its last output:\n{output}") from None
        return upstream

    def _log_tail(self, container_id: str, lines: int = 20) -> str:
        try:
            return self.client.api.logs(container_id, tail=lines).decode("utf-8", "replace")
        except self.backend.docker.errors.DockerException as e:
            return f"(unavailable: {e})"

    def _create(self, launch: Launch, arguments: list[str], token: str):
        """Create the home volume and the container, copy the files in, start it;
        returns the started container (attributes reloaded)."""
        backend, dashboard = self.backend, launch.dashboard
        home = backend.names(self.prefix, dashboard.author)["volume"]
        self.client.volumes.create(home, labels=backend.home_volume_labels(self.prefix, dashboard.author))
        notebook = f"{CONTAINER_DIR}/notebook/{launch.notebook.name}"
        profile = launch.profile
        container = self.client.containers.create(
            self.image,
            command=backend.script_command(
                f"{CONTAINER_DIR}/{VOILA_APP.name}", notebook,
                "--Voila.ip=0.0.0.0", f"--port={CONTAINER_PORT}",
                f"--Voila.root_dir={CONTAINER_DIR}/notebook", *arguments,
            ),
            name=self.container_name(dashboard.id),
            hostname=f"voila-{dashboard.id}"[:63],
            user=f"{backend.LAB_UID}:{backend.LAB_GID}",
            working_dir=backend.HOME,
            environment={
                "HOME": backend.HOME,
                "JUPYTER_PATH": CONTAINER_DIR,
                **backend.lab_env(launch.author_partners, launch.profile),
                **launch.environment,
                "DATALAB_VOILA_TOKEN": token,
            },
            labels={
                f"{backend.LABEL}.prefix": self.prefix,
                f"{backend.LABEL}.user": backend.safe_name(dashboard.author),
                f"{backend.LABEL}.dashboard": dashboard.id,
                f"{backend.LABEL}.profile": profile.id,
            },
            network=self.settings.docker.network,
            volumes=backend.lab_mounts(self.settings, dashboard.author, launch.author_partners),
            **backend.confined_host_config(),
            **backend.profile_limits(profile),
        )
        try:
            container.put_archive("/", container_files(launch.notebook))
            container.start()
            container.reload()
        except BaseException:
            container.remove(force=True)
            raise
        return container

    async def author_files(self, author: str, partners: set[str], profile: Profile, *args: str) -> bytes:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._author_files, author, partners, profile, args), FILES_TIMEOUT
            )
        except asyncio.TimeoutError:
            raise FilesError(f"reading {author}'s notebooks took over {FILES_TIMEOUT} s") from None

    def _author_files(self, author: str, partners: set[str], profile: Profile, args: tuple[str, ...]) -> bytes:
        """A throw-away container of the lab image as the author (their shared spaces
        read-only, their home writable only for the library link a lab makes too, no
        network) runs :mod:`notebook_files`."""
        backend = self.backend
        volumes = {
            source: {**mount, "mode": "rw" if mount["bind"] == backend.HOME else "ro"}
            for source, mount in backend.lab_mounts(self.settings, author, partners).items()
        }
        self.client.volumes.create(
            backend.names(self.prefix, author)["volume"], labels=backend.home_volume_labels(self.prefix, author)
        )
        try:
            return self.client.containers.run(
                self.image, backend.source_command(NOTEBOOK_FILES.read_text(encoding="utf-8"), NOTEBOOK_FILES.name,
                                                   args[0], backend.HOME, *args[1:]),
                user=f"{backend.LAB_UID}:{backend.LAB_GID}", working_dir=backend.HOME,
                labels={f"{backend.LABEL}.prefix": self.prefix, f"{backend.LABEL}.user": backend.safe_name(author)},
                network_mode="none", volumes=volumes, remove=True, stdout=True, stderr=False,
                **backend.confined_host_config(), **backend.profile_limits(profile),
            )
        except backend.docker.errors.ContainerError as e:
            raise FilesError(last_line(e.stderr or b"", f"exit status {e.exit_status}")) from None
        except backend.docker.errors.DockerException as e:
            raise FilesError(f"Docker: {e}") from None

    async def stop(self, dashboard_id: str) -> None:
        known = self.containers.pop(dashboard_id, None)
        if known is None:
            return
        await asyncio.to_thread(self._remove, known.id)

    def _remove(self, container_id: str) -> None:
        errors = self.backend.docker.errors
        try:
            container = self.client.containers.get(container_id)
            container.stop(timeout=10)
            container.remove(force=True)
        except errors.NotFound:
            pass

    def running(self, dashboard_id: str) -> bool:
        """The container's state, asked of Docker at most every :data:`STATE_TTL` s."""
        known = self.containers.get(dashboard_id)
        if known is None:
            return False
        if time.monotonic() - known.checked > STATE_TTL:
            try:
                known.alive = self.client.api.inspect_container(known.id)["State"]["Running"]
            except self.backend.docker.errors.NotFound:
                known.alive = False
            except self.backend.docker.errors.DockerException:
                pass
            known.checked = time.monotonic()
        return known.alive

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.containers)))
