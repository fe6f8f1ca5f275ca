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


def test_hub_stops_at_start_on_an_unknown_key(tmp_path):
    hub = RunningHub(tmp_path, overrides={"supervision": {"timeout": 3600}})
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


def test_every_service_the_hub_started_ends_when_the_hub_is_killed():
    """The idle culler included (it has no parent check of its own): each service runs
    through hub.lifeline, so the kernel ends it with its hub."""
    workdir = Path(tempfile.mkdtemp(prefix="datalab-test-"))
    workdir.chmod(0o755)
    hub = RunningHub(workdir)
    hub.start()
    started: dict[int, str] = {}
    try:
        proxy = int((hub.layout.hub / "proxy.pid").read_text())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            started = {pid: cmd for pid, cmd in _children(hub.process.pid).items() if pid != proxy}
            commands = " | ".join(started.values())
            if "hub.lifeline" not in commands and all(
                name in commands for name in ("-m hub.culling", "-m hub.services.reports", "-m hub.services.dashboards")
            ):
                break
            time.sleep(0.2)
        assert len(started) == 3, started
        assert "hub.lifeline" not in " | ".join(started.values())
        hub.process.send_signal(signal.SIGKILL)
        hub.process.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(pid) for pid in started):
            time.sleep(0.2)
        assert not [started[pid] for pid in started if _alive(pid)]
    finally:
        for pid in started:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        hub.process = None
        proxy_file = hub.layout.hub / "proxy.pid"
        if proxy_file.exists():
            os.kill(int(proxy_file.read_text()), signal.SIGTERM)
        hub.remove_accounts()
        shutil.rmtree(workdir, ignore_errors=True)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its reaper has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
