"""Health-data confinement on the local backend (the hub as root): the kernel of a member
of a partner holding health data (analyste2, chu-exemple-nord, type santé) cannot open a
connection off the machine, here to a network namespace of the test's own, while it
reaches the hub's API; a member of another partner (analyste1, univ-alpha) can: the
local backend confines health-data spaces only (hub/backends/local/firewall.py)."""

from __future__ import annotations

import os

import pytest

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
