"""A real Docker engine for the tests, and the lab image built on it once.

``dockerd``: an engine answering on the default socket. When none answers, it is started
with ``scripts/dockerd.sh start`` (the options of DEVELOPERS.md) and stopped, by the PID
that script recorded, at the end of the run. An engine that was already running is left
alone. ``lab_image``: the lab image's tag, built by ``scripts/build-image.sh`` when missing
or out of date (the first build takes a few minutes; later runs reuse it).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
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
    lets its labs reach only its own API, so hubs never share a network."""
    import docker

    used = {
        config.get("Subnet")
        for network in docker.from_env().networks.list()
        for config in (network.attrs.get("IPAM") or {}).get("Config") or []
    }
    subnet = next(s for s in TEST_SUBNETS if s not in used)
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
def running_docker_hub(image: str, tag: str, artifact: str, **docker_keys):
    """A :class:`tests.conftest.RunningHub` on the docker backend (``network``, ``gateway``:
    its labs' network and the hub's address there), started; on exit it
    is stopped, its log kept as ``tests/artifacts/<artifact>``, its containers, volumes
    and data directory removed."""
    from tests.conftest import RunningHub, open_workdir, served

    prefix = run_prefix(tag)
    overrides = docker_hub_overrides(prefix, image, **docker_keys)
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
