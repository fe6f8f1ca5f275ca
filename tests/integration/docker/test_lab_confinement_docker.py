"""The bulk file channels of a health member's lab on the docker backend, attacked through
the hub's proxy (tests/labfiles.py): the container gets hub/lab_confinement.py from the
hub, read-only, and analyste2 (chu-exemple-nord, type santé) gets 403 for /files/,
downloads, nbconvert exports, base64 contents and data files, while their notebook and
script open; analyste1 (univ-alpha) still downloads."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.hubclient import HubClient
from tests.labfiles import attack, still_downloads

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab_of(docker_hub):
    started = []

    def start(user: str) -> HubClient:
        client = HubClient(docker_hub.url, user, PASSWORD)
        r = client.start_server(timeout=150)
        assert r.status_code in (201, 202), r.text
        started.append(client)
        client.open_lab()
        return client

    try:
        yield start
    finally:
        for client in started:
            client.stop_server()


def test_a_health_members_docker_lab_refuses_every_bulk_channel(lab_of):
    attack(lab_of("analyste2"))


def test_another_members_docker_lab_still_downloads(lab_of):
    still_downloads(lab_of("analyste1"))
