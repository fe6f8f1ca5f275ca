"""The ``docker`` backend's labs: each lab is a container of the lab image (``images/lab``),
run with :func:`hub.backends.docker.policy.execution`; per server, on the project's Docker
engine, a container ``<prefix><user>[--<server>]`` (hostname ``lab-<user>[--<server>]``)
whose ``~/bibliotheque`` links to the library (see :func:`library_link_program`).

Network: containers join only the deployment's ``--internal`` network (``docker.network``,
``docker.subnet``), each in its own network namespace; containers get no route off the
machine. The hub reaches them on their address in that network; they reach the hub's API
on the network's gateway address, a host address where the hub's API listens (instead of
127.0.0.1). The proxy (public and API ports) stays on 127.0.0.1, out of the containers'
reach. The host's firewall (:mod:`.firewall`) keeps containers from reaching each other
and anything of the host but the hub's API.

Every lab gets the hub's :mod:`hub.lab_confinement` (that one file, read-only, in
:data:`LAB_CODE_DIR`, first on the server's ``sys.path``); health-confined labs load it.

``cleanup_servers`` is off: stopping or killing the hub leaves labs running, and the hub
restores their routes when it starts again.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from ipaddress import IPv4Network
from pathlib import Path

import docker
from dockerspawner import DockerSpawner
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Any, default

from ... import storage
from ...names import safe_name
from ...settings import ConfigError, Settings
from ..base import DataLabSpawnerMixin, lab_command
from .policy import (
    LAB_PYTHON,
    LABEL,
    LIBRARY_CURRENT,
    confined_host_config,
    execution,
    home_volume_labels,
    names,
)

IMAGE_NAME = "datalab-lab"
BUILD_COMMAND = "make image"

#: Where a lab's server finds :mod:`hub.lab_confinement` (``<dir>/hub/lab_confinement.py``).
LAB_CODE_DIR = "/opt/datalab-hub"
LAB_CONFINEMENT = Path(__file__).resolve().parents[2] / "lab_confinement.py"

#: Seconds between two probes of a starting lab's API (see DataLabDockerSpawner.start).
READY_POLL = 0.05
#: Seconds a container being removed by Docker may take to disappear.
REMOVAL_TIMEOUT = 30


def image_of(settings: Settings) -> str:
    """The lab image of a deployment: ``docker.image``, else ``datalab-lab:<version>``."""
    return settings.docker.image or f"{IMAGE_NAME}:{version('datalab-hub')}"


def engine() -> docker.DockerClient:
    """A client of the local Docker engine; ``ConfigError`` when it does not answer."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as e:
        raise ConfigError(
            f"spawner.backend: docker: the Docker engine does not answer ({e}); "
            "start it with `scripts/dockerd.sh start`"
        ) from None
    return client


def check_image(client: docker.DockerClient, image: str) -> None:
    """``ConfigError`` naming the build command when ``image`` is not in the engine."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise ConfigError(
            f"docker.image: the lab image {image!r} is not in the Docker engine; "
            f"build it with `{BUILD_COMMAND}`"
        ) from None


def ensure_network(client: docker.DockerClient, name: str, subnet: str) -> tuple[str, str]:
    """Create the internal bridge network ``name`` on ``subnet`` unless it exists; return
    ``(gateway address, host bridge interface)``. ``ConfigError`` when a network of that
    name exists but is not internal or not on ``subnet``, or Docker refuses to create it
    (overlapping subnet)."""
    existing = client.networks.list(names=[name])
    if not existing:
        _create_network(client, name, subnet)
        existing = client.networks.list(names=[name])
    network = existing[0]
    attrs = network.attrs
    bridge = attrs.get("Options", {}).get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"
    return _checked_gateway(attrs, name, subnet), bridge


def _checked_gateway(attrs: dict, name: str, subnet: str) -> str:
    configs = attrs.get("IPAM", {}).get("Config") or [{}]
    if not attrs.get("Internal") or configs[0].get("Subnet") != subnet:
        raise ConfigError(
            f"docker.network: the Docker network {name!r} exists with subnet "
            f"{configs[0].get('Subnet')} and internal={attrs.get('Internal')}; expected an "
            f"internal network on {subnet} (docker.subnet): remove it "
            f"(`docker network rm {name}`) or choose another docker.network"
        )
    return configs[0]["Gateway"]


def _create_network(client: docker.DockerClient, name: str, subnet: str) -> None:
    gateway = _first_host(subnet)
    pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
    try:
        client.networks.create(
            name, driver="bridge", internal=True,
            ipam=docker.types.IPAMConfig(pool_configs=[pool]), labels={LABEL: "labs"},
        )
    except docker.errors.APIError as e:
        raise ConfigError(f"docker.subnet: Docker cannot create network {name!r}: {e.explanation}") from None


def _first_host(subnet: str) -> str:
    return str(next(IPv4Network(subnet).hosts()))


def library_link_program() -> str:
    """Python run in the container before the lab: make ``~/bibliotheque`` a link to
    ``/srv/datalab/library/current``. The library's root (``current`` and ``versions/``)
    is bind-mounted read-only, so a publication switching ``current`` reaches running
    labs at once and whole. An empty directory of that name (the mount point of an older
    layout) is replaced; the person's own file or directory is left alone."""
    return (
        "import os\n"
        f"link = os.path.join(os.environ['HOME'], {storage.LIBRARY_LINK!r})\n"
        "try:\n"
        "    if os.path.isdir(link) and not os.path.islink(link) and not os.listdir(link):\n"
        "        os.rmdir(link)\n"
        "    if not os.path.lexists(link):\n"
        f"        os.symlink({LIBRARY_CURRENT!r}, link)\n"
        "except OSError as e:\n"
        "    import sys\n"
        "    print(f'bibliotheque: no link in the home ({e})', file=sys.stderr, flush=True)\n"
    )


def _verbatim(template: str, spawner: DockerSpawner) -> str:
    """``format_volume_name``: our volume names and paths are final, never templates."""
    return template


def python_command(code: str, argv: list[str]) -> list[str]:
    """The command running the Python statements ``code`` with ``sys.argv == argv`` in a
    container of the lab image, after :func:`library_link_program` (``code`` and
    ``argv``: our own programs and paths, never user input)."""
    return [LAB_PYTHON, "-c", library_link_program() + f"import sys\nsys.argv = {argv!r}\n" + code]


def module_command(module: str, *args: str) -> list[str]:
    """:func:`python_command` running ``python -m module *args``."""
    return python_command(
        f"import runpy\nrunpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n",
        [module, *args],
    )


def script_command(path: str, *args: str) -> list[str]:
    """:func:`python_command` running ``python path *args`` (a path in the container)."""
    return python_command(f"import runpy\nrunpy.run_path({path!r}, run_name='__main__')\n", [path, *args])


def source_command(source: str, name: str, *args: str) -> list[str]:
    """:func:`python_command` running the program ``source`` (our own file's text, shown
    as ``name`` in tracebacks) with ``args``."""
    return python_command(
        f"exec(compile({source!r}, {name!r}, 'exec'), {{'__name__': '__main__'}})\n", [name, *args],
    )


class DataLabDockerSpawner(DataLabSpawnerMixin, DockerSpawner):
    """DockerSpawner with DataLab's names, mounts, limits, network and messages."""

    _executors: dict[int, ThreadPoolExecutor] = {}

    @property
    def executor(self) -> ThreadPoolExecutor:
        """One pool of ``docker.api_threads`` threads per hub (DockerSpawner's is 1)."""
        threads = self.settings.docker.api_threads
        if threads not in self._executors:
            self._executors[threads] = ThreadPoolExecutor(threads, thread_name_prefix="docker-api")
        return self._executors[threads]

    @default("client_kwargs")
    def _default_client_kwargs(self):
        return {"max_pool_size": self.settings.docker.api_threads, "timeout": 60}

    @default("format_volume_name")
    def _default_format_volume_name(self):
        return _verbatim

    @property
    def docker_names(self) -> dict[str, str]:
        return names(self.settings.docker.name_prefix, self.user.name, self.name or "")

    @default("cmd")
    def _default_cmd(self):
        code_path = f"import sys\nsys.path.insert(0, {LAB_CODE_DIR!r})\n"
        return lab_command(LAB_PYTHON, prelude=library_link_program() + code_path)

    @default("object_name")
    def _object_name_default(self):
        return self.docker_names["container"]

    execution_spec = Any(None, help="The ExecutionSpec of the current start")

    def prepare_execution(self) -> None:
        """The start's :func:`~hub.backends.docker.policy.execution`: its mounts (and
        :data:`LAB_CONFINEMENT`) become DockerSpawner's ``volumes``; its account, limits
        and environment reach the container through :meth:`_create_kwargs`, :meth:`_host_config`, :meth:`get_env`."""
        self.execution_spec = execution(self.settings, self.person, self.selected_profile)
        self.volumes = {
            **self.execution_spec.mounts,
            str(LAB_CONFINEMENT): {"bind": f"{LAB_CODE_DIR}/hub/lab_confinement.py", "mode": "ro"},
        }

    def _host_config(self, spawner) -> dict:
        """Confinement and the spec's memory (and no swap beyond it); the CPU limit is
        DockerSpawner's quota from ``cpu_limit`` (the same number of cores).

        No ``auto_remove`` (DockerSpawner sets it from ``remove``): dockerd's
        ``--live-restore`` does not keep an auto-removed container across a restart of
        the engine (measured with Docker 20.10: it is removed while the engine restores
        its containers), so labs would be lost. The spawner still removes the container
        when the lab stops, and a container left under the lab's name before it starts
        (``remove``)."""
        limits = self.execution_spec.limits
        return {
            **confined_host_config(),
            **{k: limits[k] for k in ("mem_limit", "memswap_limit") if k in limits},
            "auto_remove": False,
        }

    def _create_kwargs(self, spawner) -> dict:
        labels = {
            f"{LABEL}.prefix": self.settings.docker.name_prefix,
            f"{LABEL}.user": safe_name(self.user.name),
            f"{LABEL}.server": safe_name(self.name) if self.name else "",
        }
        if self.selected_profile is not None:
            labels[f"{LABEL}.profile"] = self.selected_profile.id
        return {"hostname": self.docker_names["hostname"], "labels": labels,
                "user": self.execution_spec.account, "working_dir": self.execution_spec.home}

    async def remove_object(self):
        """Remove the lab's container, stopped or still running, and return once it is
        gone. DockerSpawner's own removal (at the stop, and of a container found under
        the lab's name at the start) does not force it: a container still running there,
        left by a hub killed during a start, answered 409, which DockerSpawner takes for a
        removal in progress, and the new container's creation then failed on its name."""
        self.log.info("Removing container %s", self.object_name)
        try:
            await self.docker("remove_container", self.object_id or self.object_name, v=True, force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: Docker is removing it already
                raise
        deadline = asyncio.get_running_loop().time() + REMOVAL_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            try:
                await self.docker("inspect_container", self.object_name)
            except docker.errors.NotFound:
                return
            await asyncio.sleep(0.2)
        raise web.HTTPError(503, self._t("docker_removing"))

    @default("extra_host_config")
    def _default_extra_host_config(self):
        return self._host_config

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self):
        return self._create_kwargs

    def get_env(self):
        return {**super().get_env(), **self.execution_spec.env}

    # -- progress and errors ------------------------------------------------------------
    def _event(self, key: str, progress: int, **values: object) -> None:
        self._progress_events.append({"progress": progress, "message": self._t(key, **values)})

    async def progress(self):
        """Spawn progress (volume, container, waiting for the server), in the hub's
        language; JupyterHub stops reading when the spawn ends."""
        sent = 0
        deadline = asyncio.get_running_loop().time() + self.start_timeout + self.http_timeout
        while asyncio.get_running_loop().time() < deadline:
            events = getattr(self, "_progress_events", [])
            while sent < len(events):
                yield events[sent]
                sent += 1
            await asyncio.sleep(0.25)

    async def start(self):
        """Create the home volume, then create (or reuse) and start the container.
        Docker's refusals become ``HTTPError`` 500 whose message (shown on the spawn page,
        in the API response body) is Docker's own explanation."""
        self._progress_events = []
        names_ = self.docker_names
        self.prepare_execution()
        try:
            self._event("docker_volume", 20, volume=names_["volume"])
            await self.docker(
                "create_volume", names_["volume"],
                labels=home_volume_labels(self.settings.docker.name_prefix, self.user.name),
            )
            self._event("docker_container", 40, container=names_["container"])
            ip, port = await super().start()
        except docker.errors.APIError as e:
            raise web.HTTPError(500, self._t("docker_failed", reason=e.explanation or str(e))) from None
        self._event("docker_waiting", 70)
        await self._wait_answering(ip, port)
        return ip, port

    async def _wait_answering(self, ip: str, port: int) -> None:
        """Wait until the lab's API (the URL the hub checks next) answers below 500, for
        at most ``http_timeout`` seconds: a TCP connect every :data:`READY_POLL` seconds
        (cheap while the port is closed), an HTTP request once it accepts.

        JupyterHub's own check backs off exponentially (0.2 s, 0.4 s ... up to 5 s,
        randomized): alone it notices a lab up to several seconds after it answers
        (measured: 0.6 s for a 4 s start). Returning as soon as the lab answers makes
        the hub's first check succeed. A lab that never answers is left to the hub's
        check, which reports the timeout."""
        url = f"http://{ip}:{port}{self.server.base_url}api"
        client = AsyncHTTPClient()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        while loop.time() < deadline:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 1)
                writer.close()
                await writer.wait_closed()
                response = await client.fetch(url, raise_error=False, follow_redirects=False,
                                              connect_timeout=1, request_timeout=2)
                if response.code < 500:
                    return
            except (OSError, HTTPClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(READY_POLL)
