"""The hub process itself refuses a bad deployment file, naming the key's path."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.conftest import RunningHub

pytestmark = pytest.mark.integration


def test_hub_stops_at_start_on_an_unknown_key():
    workdir = Path(tempfile.mkdtemp(prefix="datalab-test-"))
    hub = RunningHub(workdir, overrides={"culling": {"timeout": 3600}})
    with pytest.raises(RuntimeError) as caught:
        hub.start(timeout=60)
    message = str(caught.value)
    assert "hub exited (1)" in message
    assert "DataLab Hub cannot start, the deployment file needs fixing" in message
    assert "culling: unknown key; allowed here: hub, auth, partners" in message
