"""hub.lifeline: a hub-managed service ends when its hub ends, however it ends;
every service with a command is started through it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from traitlets.config import Config

from hub.apply import bind_services_to_hub
from hub import lifeline

REPO = Path(__file__).resolve().parent.parent.parent

#: A stand-in hub: starts a long sleeper through the wrapper, prints its pid, waits.
HUB = (
    "import os, subprocess, sys, time\n"
    "from hub import lifeline\n"
    "child = subprocess.Popen(lifeline.command(os.getpid(), [sys.executable, '-c', 'import time; time.sleep(120)']))\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_service_ends_when_its_hub_is_killed():
    hub = subprocess.Popen([sys.executable, "-c", HUB], cwd=REPO, stdout=subprocess.PIPE, text=True)
    service = int(hub.stdout.readline())
    try:
        deadline = time.monotonic() + 20
        exec_done = lambda: "lifeline" not in cmdline(service) and "time.sleep(120)" in cmdline(service)  # noqa: E731
        while time.monotonic() < deadline and not exec_done():
            time.sleep(0.05)
        assert exec_done()  # the wrapper became the service: same pid, no extra process
        hub.kill()
        hub.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(service):
            time.sleep(0.05)
        assert not alive(service)
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
        hub.stdout.close()
        if alive(service):
            os.kill(service, signal.SIGKILL)


def test_a_service_whose_hub_is_already_gone_does_not_start():
    """The hub died between starting the wrapper and the kernel's notice: the wrapper's
    parent is no longer the hub's pid, and the service is not started."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    done = subprocess.run(
        lifeline.command(int(gone.stdout), [sys.executable, "-c", "print('started')"]),
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "started" not in done.stdout
    assert "is gone: not starting" in done.stderr


def test_every_service_with_a_command_is_bound_to_the_hub():
    c = Config()
    c.JupyterHub.services = [
        {"name": "idle-culler", "command": [sys.executable, "-m", "hub.culling"]},
        {"name": "metrics", "api_token": "x"},
    ]
    bind_services_to_hub(c, 4242)
    culler, metrics = c.JupyterHub.services
    assert culler["command"] == [sys.executable, "-m", "hub.lifeline", "4242", sys.executable, "-m", "hub.culling"]
    assert metrics == {"name": "metrics", "api_token": "x"}
