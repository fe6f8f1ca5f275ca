"""Health-data confinement on the local backend (the hub as root): the kernel of a member
of a partner holding health data (analyste2, chu-exemple-nord, type santé) cannot open a
connection off the machine, here to a network namespace of the test's own, while it
reaches the hub's API; a member of another partner (analyste1, univ-alpha) can: the
local backend confines health-data spaces only (hub/backends/local/firewall.py). With a
package mirror named (``health.package_mirror``), the health lab reaches that listener
and still no other. A project marked ``health_data: true`` confines its members' labs the
same way, whatever their partner."""

from __future__ import annotations

import os

import pytest

from hub.backends.local import firewall
from hub.settings import Health, PackageMirror, load
from tests.conftest import PASSWORD
from tests.hubclient import HubClient
from tests.services.listeners import outside_namespace, probe_program

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="per-user accounts and the firewall need root"),
]


@pytest.fixture(scope="module")
def labs(hub):
    started = {}
    try:
        for user in ("analyste1", "analyste2"):
            client = HubClient(hub.url, user, PASSWORD)
            r = client.start_server(timeout=120)
            assert r.status_code in (201, 202), r.text
            client.open_lab()
            started[user] = client
        yield started
    finally:
        for client in started.values():
            client.stop_server()


def test_a_health_data_lab_has_no_egress_and_another_lab_has(hub, labs):
    with outside_namespace("l") as (_, outside, port):
        assert labs["analyste1"].execute(probe_program(outside, port)).strip() == "open"
        assert labs["analyste2"].execute(probe_program(outside, port)).strip() == "ConnectionRefusedError"
    assert labs["analyste2"].execute(probe_program("127.0.0.1", hub.port + 1)).strip() == "open"


def test_a_health_data_lab_reaches_the_package_mirror_and_nothing_else(hub, labs):
    settings = load(hub.config_path)
    with outside_namespace("m") as (_, mirror, mirror_port), outside_namespace("n") as (_, other, other_port):
        health = Health(package_mirror=PackageMirror(host=mirror, port=mirror_port))
        try:
            firewall.apply(settings.model_copy(update={"health": health}))
            assert labs["analyste2"].execute(probe_program(mirror, mirror_port)).strip() == "open"
            assert labs["analyste2"].execute(probe_program(other, other_port)).strip() == "ConnectionRefusedError"
        finally:
            firewall.apply(settings)
        assert labs["analyste2"].execute(probe_program(mirror, mirror_port)).strip() == "ConnectionRefusedError"


def test_a_health_project_members_lab_has_no_egress(hub, labs):
    settings = load(hub.config_path)
    projects = [p.model_copy(update={"health_data": True}) for p in settings.projects]
    assert any("analyste1" in p.members for p in projects)  # analyste1's partner holds no health data
    with outside_namespace("p") as (_, outside, port):
        try:
            firewall.apply(settings.model_copy(update={"projects": projects}))
            assert labs["analyste1"].execute(probe_program(outside, port)).strip() == "ConnectionRefusedError"
        finally:
            firewall.apply(settings)
        assert labs["analyste1"].execute(probe_program(outside, port)).strip() == "open"
