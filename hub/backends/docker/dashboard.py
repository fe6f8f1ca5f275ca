"""The ``docker`` backend's dashboards: each dashboard's Voilà server is a container of the
lab image run with the author's :func:`hub.backends.docker.policy.execution`, like their
lab."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import tarfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker
import requests

from ...services.dashboards.runners import (
    EXECUTE_TIMEOUT,
    FILES_TIMEOUT,
    KERNEL_STARTUP,
    KERNEL_TEMPLATE,
    KERNELSPEC_NAME,
    MAX_EXECUTED_BYTES,
    NOTEBOOK_EXECUTE,
    NOTEBOOK_FILES,
    VOILA_APP,
    FilesError,
    Launch,
    Runner,
    StartError,
    Upstream,
    kernelspec,
    last_line,
    wait_answering,
)
from ...services.dashboards.store import KERNEL_MODULES
from ...settings import Profile, Settings
from ..protocol import Person
from .lab import engine, image_of, script_command, source_command
from .policy import LAB_PYTHON, LABEL, container_options, execution, home_volume


#: Where a dashboard's container finds its files (copied in before it starts): the
#: Voilà app, the kernel's startup file and template, the kernelspec, the preview's executor
#: (:mod:`notebook_execute`) and ``notebook/<snapshot>``.
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
    app, the kernel's startup file and template, the preview's executor, the ``python3`` kernelspec of
    the lab's Python and the snapshot ``notebook`` (with the modules its kernels import,
    :data:`KERNEL_MODULES`, when its execution listed them); owned by root, readable by all."""
    root = CONTAINER_DIR.lstrip("/")
    spec = json.dumps(kernelspec(LAB_PYTHON, f"{CONTAINER_DIR}/{KERNEL_STARTUP.name}"), indent=1)
    files = {
        f"{root}/{VOILA_APP.name}": VOILA_APP.read_bytes(),
        f"{root}/{KERNEL_STARTUP.name}": KERNEL_STARTUP.read_bytes(),
        f"{root}/{KERNEL_TEMPLATE.name}": KERNEL_TEMPLATE.read_bytes(),
        f"{root}/{NOTEBOOK_EXECUTE.name}": NOTEBOOK_EXECUTE.read_bytes(),
        f"{root}/kernels/{KERNELSPEC_NAME}/kernel.json": spec.encode("utf-8"),
        f"{root}/notebook/{notebook.name}": notebook.read_bytes(),
    }
    if (notebook.parent / KERNEL_MODULES).is_file():
        files[f"{root}/notebook/{KERNEL_MODULES}"] = (notebook.parent / KERNEL_MODULES).read_bytes()
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
    (:func:`hub.backends.docker.policy.execution`), only on the labs' internal network. The
    snapshot and the Voilà app are copied into the container (nothing of the service's is
    mounted); the service reaches Voilà at the container's address on that network, with
    a per-server token. Containers of a previous run of the service are removed when it
    starts. Docker API calls run in threads, except :meth:`running`'s (a few
    milliseconds, at most every :data:`STATE_TTL` seconds per dashboard)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = engine()
        self.image = image_of(settings)
        self.prefix = settings.docker.name_prefix
        self.containers: dict[str, _Container] = {}
        for leftover in self.client.containers.list(all=True, filters={"label": self._label_filter()}):
            leftover.remove(force=True)

    def _label_filter(self) -> list[str]:
        return [f"{LABEL}.prefix={self.prefix}", f"{LABEL}.dashboard"]

    def container_name(self, dashboard_id: str) -> str:
        return f"{self.prefix}voila.{dashboard_id}"

    async def start(self, launch: Launch, arguments: list[str], timeout: float) -> Upstream:
        await self.stop(launch.dashboard.id)
        token = secrets.token_urlsafe(32)
        try:
            container = await asyncio.to_thread(self._create, launch, arguments, token)
        except (docker.errors.DockerException, OSError) as e:
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
        except docker.errors.DockerException as e:
            return f"(unavailable: {e})"

    def _create(self, launch: Launch, arguments: list[str], token: str):
        """Create the home volume and the container, copy the files in, start it;
        returns the started container (attributes reloaded)."""
        dashboard = launch.dashboard
        spec = execution(self.settings, Person.of(dashboard.author, launch.author_partners), launch.profile)
        home_volume(self.client, self.settings, dashboard.author)
        notebook = f"{CONTAINER_DIR}/notebook/{launch.notebook.name}"
        container = self.client.containers.create(
            self.image,
            command=script_command(
                f"{CONTAINER_DIR}/{VOILA_APP.name}", notebook,
                "--Voila.ip=0.0.0.0", f"--port={CONTAINER_PORT}",
                f"--Voila.root_dir={CONTAINER_DIR}/notebook", *arguments,
            ),
            name=self.container_name(dashboard.id),
            hostname=f"voila-{dashboard.id}"[:63],
            environment={
                **spec.env,
                "JUPYTER_PATH": CONTAINER_DIR,
                **launch.environment,
                "DATALAB_VOILA_TOKEN": token,
            },
            **container_options(spec, user=dashboard.author, network=True, labels={
                f"{LABEL}.prefix": self.prefix,
                f"{LABEL}.dashboard": dashboard.id,
                f"{LABEL}.profile": launch.profile.id,
            }),
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

    def _throwaway_spec(self, author: str, partners: set[str], profile: Profile):
        """The author's execution spec for a throw-away container: their shared spaces
        read-only, their home writable (for the library link a lab makes too)."""
        spec = execution(self.settings, Person.of(author, partners), profile)
        mounts = {
            source: {**mount, "mode": "rw" if mount["bind"] == spec.home else "ro"}
            for source, mount in spec.mounts.items()
        }
        home_volume(self.client, self.settings, author)
        return replace(spec, mounts=mounts)

    async def execute(self, author: str, partners: set[str], profile: Profile, notebook: Path) -> bytes:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._execute, author, partners, profile, notebook), EXECUTE_TIMEOUT + 30
            )
        except asyncio.TimeoutError:
            raise FilesError(f"executing the notebook took over {EXECUTE_TIMEOUT} s") from None

    def _execute(self, author: str, partners: set[str], profile: Profile, notebook: Path) -> bytes:
        """A throw-away container of the lab image as the author, without network, the
        profile's CPU and memory (:meth:`_throwaway_spec`), runs :mod:`notebook_execute`
        on the snapshot copied in; removed afterwards."""
        spec = self._throwaway_spec(author, partners, profile)
        container = None
        try:
            container = self.client.containers.create(
                self.image,
                command=script_command(
                    f"{CONTAINER_DIR}/{NOTEBOOK_EXECUTE.name}", f"{CONTAINER_DIR}/notebook/{notebook.name}",
                    str(EXECUTE_TIMEOUT),
                ),
                environment={**spec.env, "JUPYTER_PATH": CONTAINER_DIR},
                **container_options(spec, user=author, network=False, labels={f"{LABEL}.prefix": self.prefix}),
            )
            container.put_archive("/", container_files(notebook))
            container.start()
            status = container.wait(timeout=EXECUTE_TIMEOUT)["StatusCode"]
            if status != 0:
                raise FilesError(last_line(container.logs(stdout=False, stderr=True), f"exit status {status}"))
            out = container.logs(stdout=True, stderr=False)
        except docker.errors.DockerException as e:
            raise FilesError(f"Docker: {e}") from None
        except requests.exceptions.ReadTimeout:
            raise FilesError(f"executing the notebook took over {EXECUTE_TIMEOUT} s") from None
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except docker.errors.DockerException:
                    pass
        if len(out) > MAX_EXECUTED_BYTES:
            raise FilesError(f"the executed notebook is larger than {MAX_EXECUTED_BYTES // 2**20} MiB")
        return out

    def _author_files(self, author: str, partners: set[str], profile: Profile, args: tuple[str, ...]) -> bytes:
        """A throw-away container of the lab image as the author (:meth:`_throwaway_spec`,
        no network) runs :mod:`notebook_files`."""
        spec = self._throwaway_spec(author, partners, profile)
        try:
            return self.client.containers.run(
                self.image, source_command(NOTEBOOK_FILES.read_text(encoding="utf-8"), NOTEBOOK_FILES.name,
                                           args[0], spec.home, *args[1:]),
                remove=True, stdout=True, stderr=False,
                **container_options(spec, user=author, network=False, labels={f"{LABEL}.prefix": self.prefix}),
            )
        except docker.errors.ContainerError as e:
            raise FilesError(last_line(e.stderr or b"", f"exit status {e.exit_status}")) from None
        except docker.errors.DockerException as e:
            raise FilesError(f"Docker: {e}") from None

    async def stop(self, dashboard_id: str) -> None:
        known = self.containers.pop(dashboard_id, None)
        if known is None:
            return
        await asyncio.to_thread(self._remove, known.id)

    def _remove(self, container_id: str) -> None:
        errors = docker.errors
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
            except docker.errors.NotFound:
                known.alive = False
            except docker.errors.DockerException:
                pass
            known.checked = time.monotonic()
        return known.alive

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.containers)))
