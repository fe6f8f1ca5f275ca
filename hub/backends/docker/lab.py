"""The ``docker`` backend: each lab is a container of the lab image (``images/lab``).

Per server, on the project's Docker engine:

- a container ``<prefix><user>[--<server>]`` (hostname ``lab-<user>[--<server>]``) of the
  lab image, running as uid 1000 (``jovyan``) with no capabilities, limited to its
  profile's CPU and memory (no swap beyond it);
- the user's home: the volume ``<prefix>home-<user>``, mounted at ``/home/jovyan``, kept
  when the container is stopped or removed;
- the library's root, read-only, at ``/srv/datalab/library``, linked from
  ``/home/jovyan/bibliotheque`` (see :func:`library_link_program`); each of the user's
  partner and project spaces, read-write, at ``/home/jovyan/partenaire-<id>`` and
  ``/home/jovyan/projet-<id>``; other spaces are not mounted at all.

``<user>`` and ``<server>`` are :func:`hub.names.safe_name` escapes (see :func:`names`).

Network: containers join only the deployment's ``--internal`` network (``docker.network``,
``docker.subnet``), each in its own network namespace; containers get no route off the
machine. The hub reaches them on their address in that network; they reach the hub's API
on the network's gateway address, a host address where the hub's API listens (instead of
127.0.0.1). The proxy (public and API ports) stays on 127.0.0.1, out of the containers'
reach. Containers on the network can open connections to each other's servers, which
answer strangers with a login redirect (JupyterHub's OAuth).

``cleanup_servers`` is off: stopping or killing the hub leaves labs running, and the hub
restores their routes when it starts again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from ipaddress import IPv4Network
from pathlib import Path

import docker
from dockerspawner import DockerSpawner
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import default

from ... import storage
from ...names import safe_name
from ...settings import ConfigError, Profile, Settings, memory_bytes
from ..base import DataLabSpawnerMixin, lab_command

HOME = "/home/jovyan"
LAB_PYTHON = "/opt/datalab/bin/python"  # the lab image's environment (images/lab/Dockerfile)
LIBRARY_ROOT = "/srv/datalab/library"  # <data_dir>/library, read-only
LIBRARY_CURRENT = f"{LIBRARY_ROOT}/current"
LAB_UID, LAB_GID = 1000, 100
IMAGE_NAME = "datalab-lab"
BUILD_COMMAND = "make image"
LABEL = "org.datalab"

USER_PART, SERVER_PART, HOSTNAME_USER_PART = 40, 20, 32
#: Seconds between two probes of a starting lab's API (see DataLabDockerSpawner.start).
READY_POLL = 0.05


def image_of(settings: Settings) -> str:
    """The lab image of a deployment: ``docker.image``, else ``datalab-lab:<version>``."""
    return settings.docker.image or f"{IMAGE_NAME}:{version('datalab-hub')}"


def _part(name: str, max_length: int) -> str:
    """:func:`safe_name` of ``name`` that never contains ``--`` nor ends with ``-``.

    Only a cut right after an escape's ``-`` can give ``--``; cutting one character
    earlier avoids it. So ``--`` can separate a user part from a server part unambiguously.
    """
    part = safe_name(name, max_length)
    if "--" in part:
        part = safe_name(name, max_length - 1)
    return part


def names(prefix: str, user: str, server: str = "") -> dict[str, str]:
    """Docker names of a user's server: ``{"container", "hostname", "volume"}``.

    ``container``: ``<prefix><user>[--<server>]`` (at most 78 characters), ``hostname``:
    ``lab-<user>[--<server>]`` (at most 58, a valid DNS label), ``volume`` (the user's
    home, shared by their servers): ``<prefix>home-<user>``. Distinct (user, server) pairs
    give distinct names. Raises ``ValueError`` for an empty user name.
    """
    user_part = _part(user, USER_PART)
    suffix = f"--{_part(server, SERVER_PART)}" if server else ""
    return {
        "container": f"{prefix}{user_part}{suffix}",
        "hostname": f"lab-{_part(user, HOSTNAME_USER_PART)}{suffix}",
        "volume": f"{prefix}home-{user_part}",
    }


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


def drop_forwarding(bridge: str) -> bool:
    """Make the host drop packets from the labs' network that it would forward elsewhere
    (iptables rule ``FORWARD -i <bridge> ! -o <bridge> -j DROP``, added once).

    Docker runs with ``--iptables=false`` and gives containers of an internal network a
    default route through the gateway, so without this rule a host that forwards IPv4
    would route their packets off the machine. Returns False when this process cannot
    manage iptables (not root, no iptables); ``ConfigError`` when iptables refuses.
    """
    iptables = shutil.which("iptables")
    if not iptables or os.geteuid() != 0:
        return False
    rule = ["FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "DROP"]
    if subprocess.run([iptables, "-C", *rule], capture_output=True).returncode == 0:
        return True
    done = subprocess.run([iptables, "-I", *rule], capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"docker.network: iptables cannot close forwarding: {done.stderr.strip()}")
    return True


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


def prepare_shared_space(space: Path) -> Path:
    """Create a partner or project space for labs in containers: owned by the lab user
    (uid 1000), mode 2770. Only containers of its members mount it. Returns ``space``."""
    space.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(space, LAB_UID, LAB_GID)
    os.chmod(space, 0o2770)
    return space


def lab_mounts(settings: Settings, username: str, partner_ids: set[str]) -> dict[str, dict[str, str]]:
    """The mounts of a container of ``username``, member of ``partner_ids`` (and of
    their projects), as docker-py ``volumes``: ``{source: {"bind", "mode"}}``. The home
    volume, the library read-only, each partner space read-write, each project space
    (read-only once the project has ended). Creates the shared spaces when missing."""
    layout = storage.Layout(settings.data_dir)
    volumes = {
        names(settings.docker.name_prefix, username)["volume"]: {"bind": HOME, "mode": "rw"},
        str(layout.library_root): {"bind": LIBRARY_ROOT, "mode": "ro"},


    }
    for p in sorted(partner_ids):
        space = prepare_shared_space(layout.partner_space(p))
        volumes[str(space)] = {"bind": f"{HOME}/{storage.PARTNER_LINK_PREFIX}{p}", "mode": "rw"}
    for project in settings.projects_of(username):
        space = prepare_shared_space(layout.project_space(project.id))
        volumes[str(space)] = {
            "bind": f"{HOME}/{storage.PROJECT_LINK_PREFIX}{project.id}",
            "mode": "ro" if project.ended() else "rw",
        }
    return volumes


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


def confined_host_config() -> dict:
    """docker-py host options every lab container gets: no capabilities, no privilege
    gain, an init process, never restarted."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,
        "restart_policy": {"Name": "no"},
    }


def profile_limits(profile: Profile) -> dict[str, int]:
    """docker-py host options limiting a container to ``profile``: ``mem_limit`` and
    ``memswap_limit`` (bytes: no swap beyond the memory), ``nano_cpus`` (1e9 per core)."""
    memory = memory_bytes(profile.memory)
    return {"mem_limit": memory, "memswap_limit": memory, "nano_cpus": int(profile.cpu * 1e9)}


def lab_env(partner_ids: set[str], profile: Profile | None) -> dict[str, str]:
    """The DataLab variables of a lab container: the library on ``PYTHONPATH`` and in
    ``DATALAB_LIBRARY``, ``DATALAB_PARTNERS`` (comma-separated ids), ``DATALAB_PROFILE``."""
    env = {"PYTHONPATH": LIBRARY_CURRENT, "DATALAB_LIBRARY": LIBRARY_CURRENT,
           "DATALAB_PARTNERS": ",".join(sorted(partner_ids))}
    if profile is not None:
        env["DATALAB_PROFILE"] = profile.id
    return env


def home_volume_labels(prefix: str, user: str) -> dict[str, str]:
    """Labels of a user's home volume (found and removed by prefix)."""
    return {f"{LABEL}.prefix": prefix, f"{LABEL}.user": safe_name(user)}


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
        return lab_command(LAB_PYTHON, prelude=library_link_program())

    @default("object_name")
    def _object_name_default(self):
        return self.docker_names["container"]

    def mounts_for(self, partner_ids: set[str]) -> dict[str, dict[str, str]]:
        """``volumes`` for a member of ``partner_ids`` (see :func:`lab_mounts`)."""
        return lab_mounts(self.settings, self.user.name, partner_ids)

    def _host_config(self, spawner) -> dict:
        config = confined_host_config()
        if self.selected_profile is not None:
            config["memswap_limit"] = memory_bytes(self.selected_profile.memory)
        return config

    def _create_kwargs(self, spawner) -> dict:
        labels = {
            f"{LABEL}.prefix": self.settings.docker.name_prefix,
            f"{LABEL}.user": safe_name(self.user.name),
            f"{LABEL}.server": safe_name(self.name) if self.name else "",
        }
        if self.selected_profile is not None:
            labels[f"{LABEL}.profile"] = self.selected_profile.id
        return {"hostname": self.docker_names["hostname"], "labels": labels,
                "user": f"{LAB_UID}:{LAB_GID}", "working_dir": HOME}

    @default("extra_host_config")
    def _default_extra_host_config(self):
        return self._host_config

    @default("extra_create_kwargs")
    def _default_extra_create_kwargs(self):
        return self._create_kwargs

    def get_env(self):
        return {**super().get_env(), **lab_env(self.partner_ids, self.selected_profile)}

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
        self.volumes = self.mounts_for(self.partner_ids)
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
