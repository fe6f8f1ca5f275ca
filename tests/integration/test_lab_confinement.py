"""The bulk file channels of a health member's lab on the local backend, attacked through
the hub's proxy (tests/labfiles.py): analyste2 (chu-exemple-nord, type santé) gets 403 for
/files/, downloads, nbconvert exports, base64 contents, the text of a data file and of a
data file renamed .txt beyond the cap, while their notebook and script open; analyste1
(univ-alpha) still downloads."""

from __future__ import annotations

import os

import pytest

from tests.labfiles import attack, labs_of, still_downloads

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="per-user accounts need root"),
]


@pytest.fixture(scope="module")
def lab_of(hub):
    with labs_of(hub, timeout=120) as start:
        yield start


def test_a_health_members_lab_refuses_every_bulk_channel(lab_of):
    attack(lab_of("analyste2"))


def test_another_members_lab_still_downloads(lab_of):
    still_downloads(lab_of("analyste1"))
