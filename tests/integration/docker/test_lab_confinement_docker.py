"""The bulk file channels of a health member's lab on the docker backend, attacked through
the hub's proxy (tests/labfiles.py): the container gets hub/lab_confinement.py from the
hub, read-only, and analyste2 (chu-exemple-nord, type santé) gets 403 for /files/,
downloads, nbconvert exports, base64 contents and data files, while their notebook and
script open; analyste1 (univ-alpha) still downloads."""

from __future__ import annotations

import pytest

from tests.labfiles import attack, labs_of, still_downloads

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab_of(docker_hub):
    with labs_of(docker_hub, timeout=150) as start:
        yield start


def test_a_health_members_docker_lab_refuses_every_bulk_channel(lab_of):
    attack(lab_of("analyste2"))


def test_another_members_docker_lab_still_downloads(lab_of):
    still_downloads(lab_of("analyste1"))
