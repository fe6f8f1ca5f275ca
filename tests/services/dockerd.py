"""A real Docker engine for the tests, and the lab image built on it once.

``dockerd``: an engine answering on the default socket. When none answers, it is started
with ``scripts/dockerd.sh start`` (the options of DEVELOPERS.md) and stopped, by the PID
that script recorded, at the end of the run. An engine that was already running is left
alone. ``lab_image``: the lab image's tag, built by ``scripts/build-image.sh`` when missing
or out of date (the first build takes a few minutes; later runs reuse it).
:func:`own_engine`: a second engine, the test's own, for tests that restart the engine
(the shared one serves other tests and helpers meanwhile).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from ipaddress import IPv4Network
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERD = REPO / "scripts" / "dockerd.sh"
BUILD = REPO / "scripts" / "build-image.sh"


@pytest.fixture(scope="session")
def dockerd():
    if subprocess.run([str(DOCKERD), "status"]).returncode == 0:
        yield
        return
    started = subprocess.run([str(DOCKERD), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail(f"cannot start dockerd: {started.stderr}")
    try:
        yield
    finally:
        subprocess.run([str(DOCKERD), "stop"], check=False)


@pytest.fixture(scope="session")
def lab_image(dockerd) -> str:
    built = subprocess.run([str(BUILD)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cannot build the lab image:\n{built.stdout}\n{built.stderr}")
    return subprocess.run([str(BUILD), "--print-tag"], capture_output=True, text=True,
                          check=True).stdout.strip()


#: Where test hubs' networks are: one /24 each, the first free one.
TEST_SUBNETS = [f"172.30.{i}.0/24" for i in range(100, 200)]


def private_network(prefix: str) -> dict[str, str]:
    """``docker.network`` and ``docker.subnet`` of a test hub of its own (``<prefix>labs``,
    the first subnet of :data:`TEST_SUBNETS` no Docker network uses): each hub's firewall
    lets its labs reach only its own API, so hubs never share a network. On an engine of
    the test's own (``DOCKER_HOST`` set, :func:`own_engine`), the last subnet that neither
    engine uses: the shared engine does not see its networks."""
    import docker

    clients = [docker.from_env()]
    if os.environ.get("DOCKER_HOST"):
        clients.append(docker.DockerClient(base_url="unix:///var/run/docker.sock"))
    used = {
        config.get("Subnet")
        for client in clients
        for network in client.networks.list()
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []
    }
    candidates = reversed(TEST_SUBNETS) if len(clients) > 1 else TEST_SUBNETS
    subnet = next(s for s in candidates if s not in used)
    return {"network": f"{prefix}labs", "subnet": subnet}


def remove_docker_objects(prefix: str) -> None:
    """Remove the containers, volumes and network (with its firewall chains) of the hub
    whose ``docker.name_prefix`` is ``prefix`` (labs outlive their hub by design: the
    tests clean up after it)."""
    import docker

    from hub.backends import netfilter
    from hub.backends.docker import firewall

    client = docker.from_env()
    label = f"org.datalab.prefix={prefix}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
    for network in client.networks.list(names=[f"{prefix}labs"]):
        network.remove()
        if netfilter.available():
            firewall.remove(f"br-{network.id[:12]}")


def docker_hub_overrides(prefix: str, image: str, **docker_keys) -> dict:
    """Deployment-file overrides of a test hub on the docker backend: its own name
    prefix and network (:func:`private_network`); two more analysts (analyste3: univ-beta, analyste4: labo-atlas) and two small
    profiles for them (``petit``: 512M, 0.5 CPU; ``minuscule``: 4M, below Docker's
    minimum, for labo-atlas only)."""
    import yaml

    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    users = example["auth"]["demo_users"] + [
        {"name": "analyste3", "partner": "univ-beta", "role": "analyst"},
        {"name": "analyste4", "partner": "labo-atlas", "role": "analyst"},
    ]
    profiles = example["profiles"] + [
        {"id": "petit", "name": "Lab petit", "partners": ["univ-beta", "labo-atlas"],
         "cpu": 0.5, "memory": "512M"},
        {"id": "minuscule", "name": "Lab minuscule", "partners": ["labo-atlas"],
         "cpu": 0.5, "memory": "4M"},
    ]
    return {
        "auth": {**example["auth"], "demo_users": users},
        "profiles": profiles,
        "spawner": {**example["spawner"], "backend": "docker"},
        "docker": {"name_prefix": prefix, "image": image, **private_network(prefix), **docker_keys},
    }


def run_prefix(tag: str) -> str:
    """A name prefix of this test run (``t<pid><tag>-``), so runs never share objects."""
    return f"t{os.getpid() % 100000}{tag}-"


@contextlib.contextmanager
def running_docker_hub(image: str, tag: str, artifact: str, extra: dict | None = None, **docker_keys):
    """A :class:`tests.conftest.RunningHub` on the docker backend (``network``, ``gateway``:
    its labs' network and the hub's address there), started; on exit it
    is stopped, its log kept as ``tests/artifacts/<artifact>``, its containers, volumes
    and data directory removed. ``extra``: more deployment-file overrides."""
    from tests.conftest import RunningHub, open_workdir, served

    prefix = run_prefix(tag)
    overrides = {**docker_hub_overrides(prefix, image, **docker_keys), **(extra or {})}
    running = RunningHub(open_workdir("datalab-docker-test-"), overrides=overrides)
    running.name_prefix = prefix
    running.network = overrides["docker"]["network"]
    running.gateway = str(next(IPv4Network(overrides["docker"]["subnet"]).hosts()))
    try:
        with served(running, artifact):
            yield running
    finally:
        remove_docker_objects(prefix)


@pytest.fixture(scope="session")
def docker_hub(lab_image):
    """The docker-backend hub shared by the docker integration and browser tests."""
    with running_docker_hub(lab_image, "a", "hub-docker.log") as running:
        yield running


#: The data of :func:`own_engine`, kept between runs (the lab image is loaded into it
#: once, again only when the shared engine's image changes); one test run at a time.
OWN_ENGINE_ROOT = Path("/var/lib/datalab-test-dockerd")
OWN_ENGINE_RUN = Path("/run/datalab-test-dockerd")


class OwnEngine:
    """dockerd with the options of ``scripts/dockerd.sh`` (``--live-restore`` included) on
    a socket, data root and exec root of its own. ``host``: its ``DOCKER_HOST``."""

    def __init__(self):
        OWN_ENGINE_RUN.mkdir(parents=True, exist_ok=True)
        self.host = f"unix://{OWN_ENGINE_RUN / 'docker.sock'}"
        self.log_path = OWN_ENGINE_ROOT / "dockerd.log"
        self.process: subprocess.Popen | None = None

    def client(self):
        import docker

        return docker.DockerClient(base_url=self.host, timeout=60)

    def answers(self) -> bool:
        import docker

        try:
            return bool(self.client().ping())
        except (docker.errors.DockerException, OSError):
            return False

    def start(self, timeout: float = 60) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false", "--live-restore",
                 "-H", self.host, "--data-root", str(OWN_ENGINE_ROOT / "data"),
                 "--exec-root", str(OWN_ENGINE_RUN / "exec"),
                 "--pidfile", str(OWN_ENGINE_RUN / "dockerd.pid")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test's dockerd exited ({self.process.returncode}), log: {self.log_path}")
            if self.answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the test's dockerd did not answer within {timeout} s, log: {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        """Send ``sig`` to the engine and wait for its end (SIGKILL after ``timeout``)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def load_image(self, tag: str) -> None:
        """Copy ``tag`` from the shared engine unless this engine has the same image."""
        import docker

        wanted = docker.from_env().images.get(tag).id
        try:
            if self.client().images.get(tag).id == wanted:
                return
        except docker.errors.ImageNotFound:
            pass
        save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout,
                                capture_output=True, text=True)
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise RuntimeError(f"cannot copy {tag} to the test's dockerd: {loaded.stderr}")
        self.client().images.prune(filters={"dangling": True})


@contextlib.contextmanager
def own_engine(image: str, lock_timeout: float = 900):
    """An :class:`OwnEngine` started, holding ``image``, with ``DOCKER_HOST`` naming it in
    this process's environment (hubs started meanwhile inherit it); on exit the variable
    is restored and the engine stopped (its containers must have been removed)."""
    OWN_ENGINE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(OWN_ENGINE_ROOT / "lock", "w") as lock:
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the test's dockerd is busy for {lock_timeout} s") from None
                time.sleep(1)
        engine = OwnEngine()
        before = os.environ.get("DOCKER_HOST")
        try:
            engine.start()
            engine.load_image(image)
            os.environ["DOCKER_HOST"] = engine.host
            yield engine
        finally:
            if before is None:
                os.environ.pop("DOCKER_HOST", None)
            else:
                os.environ["DOCKER_HOST"] = before
            if engine.answers():  # with --live-restore, containers would outlive the engine
                for container in engine.client().containers.list(all=True):
                    container.remove(force=True)
            engine.stop()
            data = str(OWN_ENGINE_ROOT / "data")  # dockerd leaves its data root bind-mounted
            with open("/proc/mounts", encoding="utf-8") as mounts:
                if any(line.split()[1] == data for line in mounts):
                    subprocess.run(["umount", data], check=False)
