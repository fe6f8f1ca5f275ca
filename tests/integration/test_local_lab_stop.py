"""The local backend's lab stop ends every process the lab started (kernels run in
sessions of their own; hub/backends/local/processes.py)."""

from __future__ import annotations

import time

import psutil
import pytest

from tests.conftest import PASSWORD
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration


def test_stopping_a_lab_ends_every_process_it_started(hub):
    """A kernel, and a process it detached into a session of its own that ignores
    SIGTERM (the lab's Jupyter server shuts the kernel down, never such a process): once
    the lab is stopped, neither runs."""
    client = HubClient(hub.url, "analyste2", PASSWORD)
    assert client.start_server().status_code in (201, 202)
    try:
        client.open_lab()
        kernel = client.lab_api("POST", "/kernels", json={"name": "python3"}).json()["id"]
        pids = client._execute_in(kernel, (
            "import os, signal, subprocess\n"
            "detached = subprocess.Popen(['sleep', '600'], start_new_session=True,\n"
            "    preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))\n"
            "print(os.getpid(), detached.pid)"), 60).split()
        started = [psutil.Process(int(pid)) for pid in pids]
        assert all(p.is_running() for p in started)
    finally:
        client.stop_server()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(running(p) for p in started):
        time.sleep(0.2)
    assert [p.pid for p in started if running(p)] == []


def running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
