"""The labs' network on the docker backend, attacked from inside containers (``docker
exec`` of a TCP connect): a lab reaches neither another lab nor a dashboard's Voilà
server, nor any port or address of the host but the hub's API, nor anything off the
machine, whether its owner holds health data (analyste2, chu-exemple-nord, type santé)
or not (analyste1, univ-alpha): on docker no lab has egress but the package mirror the
deployment may name (``health.package_mirror``), and no other listener. The proxy, the hub
and the dashboards service still reach them. Every listener and namespace is the test's
own."""

from __future__ import annotations

import subprocess
import time

import docker
import pytest

from hub.backends.docker import firewall
from hub.backends.docker.policy import LAB_PYTHON, names
from hub.settings import PackageMirror
from tests.conftest import PASSWORD
from tests.dashboardhub import DashboardsClient
from tests.hubclient import HubClient
from tests.services.listeners import connects, listener, outside_namespace, probe_program

pytestmark = pytest.mark.integration

DASHBOARD = "carte-covid-normandie"  # identity-free: its Voilà server runs from the start
VOILA_PORT = 8866


@pytest.fixture(scope="module")
def engine(dockerd):
    return docker.from_env()


@pytest.fixture(scope="module")
def network(docker_hub, engine):
    return engine.networks.get(docker_hub.network)


def address(container, network) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]


def probe(container, host: str, port: int) -> str:
    """From inside ``container``: ``open`` or the connection error's class name."""
    result = container.exec_run([LAB_PYTHON, "-c", probe_program(host, port)])
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def running_container(engine, name: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container = engine.containers.get(name)
            if container.status == "running":
                return container
        except docker.errors.NotFound:
            pass
        time.sleep(0.5)
    raise AssertionError(f"container {name} not running after {timeout} s")


@pytest.fixture(scope="module")
def labs(docker_hub, engine):
    """analyste1's and analyste2's running labs: ``{user: (client, container)}``."""
    started = {}
    try:
        for user in ("analyste1", "analyste2"):
            client = HubClient(docker_hub.url, user, PASSWORD)
            r = client.start_server(timeout=150)
            assert r.status_code in (201, 202), r.text
            client.open_lab()
            started[user] = (client, engine.containers.get(names(docker_hub.name_prefix, user)["container"]))
        yield started
    finally:
        for client, _ in started.values():
            client.stop_server()


@pytest.fixture(scope="module")
def dashboard(docker_hub, engine):
    return running_container(engine, f"{docker_hub.name_prefix}voila.{DASHBOARD}")


def test_a_lab_reaches_neither_another_lab_nor_a_dashboard(docker_hub, labs, dashboard, network):
    (one, lab_one), (two, lab_two) = labs["analyste1"], labs["analyste2"]
    ip_one, ip_two, ip_dash = address(lab_one, network), address(lab_two, network), address(dashboard, network)
    assert probe(lab_one, ip_one, 8888) == "open"  # the probe connects where nothing filters
    assert probe(lab_one, ip_two, 8888) != "open"
    assert probe(lab_two, ip_one, 8888) != "open"
    assert probe(lab_one, ip_dash, VOILA_PORT) != "open"
    assert probe(dashboard, ip_one, 8888) != "open"
    # the proxy reaches both labs, the dashboards service its Voilà server
    assert one.lab_api("GET", "/status").status_code == 200
    assert two.lab_api("GET", "/status").status_code == 200
    viewer = DashboardsClient(docker_hub.url, "analyste1", PASSWORD)
    viewer.get("")
    assert viewer.get(f"d/{DASHBOARD}/").status_code == 200


def test_a_lab_reaches_the_hub_api_and_no_other_port_of_the_host(docker_hub, labs, network):
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    _, lab = labs["analyste1"]
    assert probe(lab, gateway, docker_hub.port + 1) == "open"
    with listener(gateway) as port:
        assert connects(gateway, port)
        assert probe(lab, gateway, port) != "open"


@pytest.mark.parametrize("user", ["analyste2", "analyste1"])
def test_no_lab_has_egress_with_or_without_health_data(labs, user):
    _, lab = labs[user]
    with outside_namespace(user[-1]) as (host_side, outside, port):
        assert probe(lab, outside, port) != "open"
        with listener(host_side) as host_port:  # an address of the host, off the labs' network
            assert connects(host_side, host_port)
            assert probe(lab, host_side, host_port) != "open"


def test_labs_reach_the_package_mirror_and_no_other_listener(docker_hub, labs, network):
    bridge = f"br-{network.id[:12]}"
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    _, lab = labs["analyste2"]
    with outside_namespace("m") as (host_side, mirror, port), listener(host_side) as host_port:
        try:
            firewall.apply(bridge, gateway, docker_hub.port + 1, PackageMirror(host=mirror, port=port))
            assert probe(lab, mirror, port) == "open"  # routed off the labs' network to the mirror
            assert connects(host_side, host_port)
            assert probe(lab, host_side, host_port) != "open"
            firewall.apply(bridge, gateway, docker_hub.port + 1, PackageMirror(host=host_side, port=host_port))
            assert probe(lab, host_side, host_port) == "open"  # a mirror on an address of the host
            assert probe(lab, mirror, port) != "open"
        finally:
            firewall.apply(bridge, gateway, docker_hub.port + 1)
        assert probe(lab, host_side, host_port) != "open"


def iptables_rules(bridge: str) -> list[str]:
    """The IPv4 and IPv6 rules naming ``bridge``, in order."""
    return [
        line for tool in ("iptables", "ip6tables")
        for line in subprocess.run([tool, "-S"], capture_output=True, text=True, check=True).stdout.splitlines()
        if bridge in line
    ]


def test_rules_are_replaced_not_added_at_each_start(docker_hub, network):
    bridge = f"br-{network.id[:12]}"
    gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
    before = iptables_rules(bridge)
    assert before.count(f"-A INPUT -i {bridge} -j DATALAB-IN-{bridge}") == 2  # IPv4, IPv6
    assert before.count(f"-A FORWARD -i {bridge} -j DATALAB-FWD-{bridge}") == 2
    legacy = ["FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "DROP"]
    subprocess.run(["iptables", "-I", *legacy], check=True)  # the rule of earlier versions
    for _ in range(2):
        firewall.apply(bridge, gateway, docker_hub.port + 1)
    assert iptables_rules(bridge) == before
