"""The three systems a benchmark round starts labs on, with one interface:
:class:`DataLabHub` (the project, docker backend), :class:`VanillaHub` (JupyterHub +
DockerSpawner with default settings, ``vanilla_config.py``) and :class:`BareDocker`
(``docker run`` of the lab image until its first HTTP 200: the floor).

Each is a context manager that starts what it needs and, on exit, stops it and removes
every container, volume and directory it made. ``spawn(user)`` returns
``(latency_s, container_cpu_s)``; ``stop(users)`` stops those servers concurrently.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import httpx

from hub.backends.docker.lab import ensure_network
from hub.backends.docker.policy import names as datalab_names
from tests.conftest import PASSWORD, REPO, RunningHub, free_port_block, open_workdir
from tests.services.dockerd import docker_hub_overrides, remove_docker_objects

from .measure import container_cpu_seconds, process_cpu_seconds
from .users import SimulatedUser

#: The internal network of the vanilla hub's labs and the bare containers (the example
#: deployment's); the DataLab hub uses a network of its own, whose firewall lets its labs
#: reach only its own API (tests.services.dockerd.private_network).
NETWORK, SUBNET = "datalab-labs", "172.31.240.0/24"
LAB_PORT = 8888
LABEL = "org.datalab.prefix"
PARTNER = "univ-beta"


def user_names(count: int) -> list[str]:
    """``bench01`` ... the simulated users' names."""
    return [f"bench{i:02d}" for i in range(1, count + 1)]


def _cpu_of(client: docker.DockerClient, name: str) -> float | None:
    try:
        return container_cpu_seconds(client.containers.get(name).id)
    except docker.errors.NotFound:
        return None


class _Hub:
    """What both hubs share: logged-in simulated users, spawns, stops, the hub's CPU."""

    url: str
    password: str
    pid: int

    def __init__(self, users: list[str], timeout: float):
        self.names = users
        self.timeout = timeout
        self.client = docker.from_env()
        self.users: dict[str, SimulatedUser] = {}

    def container(self, user: str) -> str:
        raise NotImplementedError

    async def login_all(self) -> None:
        for name in self.names:
            self.users[name] = SimulatedUser(self.url, name, self.password, self.timeout)
        await asyncio.gather(*(u.login() for u in self.users.values()))

    async def close_users(self) -> None:
        await asyncio.gather(*(u.__aexit__() for u in self.users.values()))

    def hub_cpu(self) -> float:
        return process_cpu_seconds(self.pid)

    def spawn_options(self) -> dict:
        return {}

    async def spawn(self, user: str) -> tuple[float, float | None]:
        t0 = time.perf_counter()
        await self.users[user].spawn(self.spawn_options())
        latency = time.perf_counter() - t0
        return latency, await asyncio.to_thread(_cpu_of, self.client, self.container(user))

    async def stop(self, users: list[str]) -> None:
        await asyncio.gather(*(self.users[u].stop() for u in users))

    async def journey(self, user: str) -> float:
        """Open the lab and run one cell in a new kernel; the seconds it took."""
        t0 = time.perf_counter()
        simulated = self.users[user]
        await simulated.open_lab()
        out = await simulated.run_cell()
        if out.strip() != "42":
            raise RuntimeError(f"{user}: the cell printed {out!r}")
        return time.perf_counter() - t0


class DataLabHub(_Hub):
    """The project's hub on the docker backend (tests.conftest.RunningHub), with the
    simulated users as analysts of ``univ-beta`` starting the ``profile`` profile."""

    label = "datalab"

    def __init__(self, image: str, users: list[str], timeout: float, profile: str):
        super().__init__(users, timeout)
        self.prefix = f"b{os.getpid() % 100000}d-"
        overrides = docker_hub_overrides(self.prefix, image)
        overrides["auth"]["demo_users"] += [{"name": u, "partner": PARTNER, "role": "analyst"} for u in users]
        self.profile = profile
        self.running = RunningHub(open_workdir("datalab-bench-"), overrides=overrides)
        self.url = self.running.url
        self.password = PASSWORD

    def container(self, user: str) -> str:
        return datalab_names(self.prefix, user)["container"]

    def spawn_options(self) -> dict:
        return {"profile": self.profile}

    async def __aenter__(self) -> DataLabHub:
        await asyncio.to_thread(self.running.start, 120)
        self.pid = self.running.process.pid
        await self.login_all()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close_users()
        await asyncio.to_thread(self.running.stop)
        log = REPO / "bench" / "results" / "datalab-hub.log"
        if self.running.log_path.exists():
            shutil.copy(self.running.log_path, log)
        if os.geteuid() == 0:
            self.running.remove_accounts()
        shutil.rmtree(self.running.workdir, ignore_errors=True)
        remove_docker_objects(self.prefix)


def network_gateway(client: docker.DockerClient, network: str) -> str:
    """The gateway address of the internal Docker network ``network`` on :data:`SUBNET`,
    created when missing."""
    return ensure_network(client, network, SUBNET)[0]


class VanillaHub(_Hub):
    """JupyterHub + DockerSpawner with default settings (``bench/vanilla_config.py``),
    on the DataLab hub's internal network. Start it after :class:`DataLabHub`."""

    label = "vanilla"

    def __init__(self, image: str, users: list[str], timeout: float):
        super().__init__(users, timeout)
        self.image = image
        self.prefix = f"b{os.getpid() % 100000}v"
        self.port = free_port_block()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_hex(12)
        self.workdir = Path(tempfile.mkdtemp(prefix="datalab-bench-vanilla-"))
        self.process: subprocess.Popen | None = None

    def container(self, user: str) -> str:
        return f"{self.prefix}-{user}"

    async def __aenter__(self) -> VanillaHub:
        env = {
            **os.environ,
            "BENCH_PORT": str(self.port), "BENCH_WORKDIR": str(self.workdir),
            "BENCH_GATEWAY": network_gateway(self.client, NETWORK), "BENCH_NETWORK": NETWORK,
            "BENCH_IMAGE": self.image, "BENCH_PREFIX": self.prefix, "BENCH_PASSWORD": self.password,
            "BENCH_PROXY": str(REPO / "node_modules" / ".bin" / "configurable-http-proxy"),
        }
        log = open(self.workdir / "hub.log", "ab")
        self.process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "jupyterhub"), "-f", str(REPO / "bench" / "vanilla_config.py")],
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"vanilla hub exited ({self.process.returncode}); log {self.workdir}/hub.log")
                try:
                    if (await client.get(f"{self.url}/hub/api/")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
            else:
                raise RuntimeError("vanilla hub not answering after 120 s")
        await self.login_all()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close_users()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if (self.workdir / "hub.log").exists():
            shutil.copy(self.workdir / "hub.log", REPO / "bench" / "results" / "vanilla-hub.log")
        for container in self.client.containers.list(all=True, filters={"name": f"{self.prefix}-"}):
            container.remove(force=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


class BareDocker:
    """The floor: ``docker run`` of the lab image (``jupyter lab``, no hub) on the same
    network, timed until ``GET /api`` answers 200; stopped like DockerSpawner stops
    (``docker stop`` then remove)."""

    label = "bare"
    pid = None

    def __init__(self, image: str, timeout: float):
        self.image = image
        self.timeout = timeout
        self.prefix = f"b{os.getpid() % 100000}f-"
        self.client = docker.from_env(max_pool_size=32)

    async def __aenter__(self) -> BareDocker:
        await asyncio.to_thread(ensure_network, self.client, NETWORK, SUBNET)
        return self

    async def __aexit__(self, *exc) -> None:
        remove_docker_objects(self.prefix)

    def hub_cpu(self) -> float:
        return 0.0

    def _run(self, user: str) -> tuple[float, float | None]:
        t0 = time.perf_counter()
        container = self.client.containers.run(
            self.image,
            ["jupyter", "lab", "--ip=0.0.0.0", f"--port={LAB_PORT}", "--no-browser",
             "--ServerApp.token=", "--ServerApp.password="],
            name=f"{self.prefix}{user}", network=NETWORK, detach=True, user="1000:100",
            labels={LABEL: self.prefix},
        )
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline:
                try:
                    if http.get(f"http://{ip}:{LAB_PORT}/api").status_code == 200:
                        return time.perf_counter() - t0, container_cpu_seconds(container.id)
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise TimeoutError(f"bare lab {user} not answering after {self.timeout} s")

    async def spawn(self, user: str) -> tuple[float, float | None]:
        return await asyncio.to_thread(self._run, user)

    def _stop(self, user: str) -> None:
        container = self.client.containers.get(f"{self.prefix}{user}")
        container.stop()
        container.remove()

    async def stop(self, users: list[str]) -> None:
        await asyncio.gather(*(asyncio.to_thread(self._stop, u) for u in users))

    async def journey(self, user: str) -> float:
        raise NotImplementedError
