"""The hub process itself: it refuses a bad deployment file, naming the key's path, and
its services do not outlive it."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import RunningHub

pytestmark = pytest.mark.integration


def test_hub_stops_at_start_on_an_unknown_key():
    workdir = Path(tempfile.mkdtemp(prefix="datalab-test-"))
    hub = RunningHub(workdir, overrides={"supervision": {"timeout": 3600}})
    with pytest.raises(RuntimeError) as caught:
        hub.start(timeout=60)
    message = str(caught.value)
    assert "hub exited (1)" in message
    assert "DataLab Hub cannot start, the deployment file needs fixing" in message
    assert "supervision: unknown key; allowed here: hub, auth, partners" in message


def _children(pid: int) -> dict[int, str]:
    """pid -> command line of the direct children of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError):
                continue
    return found


def test_services_stop_themselves_when_the_hub_is_killed():
    workdir = Path(tempfile.mkdtemp(prefix="datalab-test-"))
    workdir.chmod(0o755)
    hub = RunningHub(workdir)
    hub.start()
    try:
        services = {pid for pid, cmd in _children(hub.process.pid).items() if "-m hub.services." in cmd}
        assert len(services) == 2  # reports and dashboards
        hub.process.send_signal(signal.SIGKILL)
        hub.process.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in services):
            time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}/cmdline").exists() for pid in services)
    finally:
        hub.process = None
        proxy = hub.layout.hub / "proxy.pid"
        if proxy.exists():
            os.kill(int(proxy.read_text()), signal.SIGTERM)
        hub.remove_accounts()
        shutil.rmtree(workdir, ignore_errors=True)
