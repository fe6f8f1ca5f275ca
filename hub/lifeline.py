"""``python -m hub.lifeline HUB_PID COMMAND...``: run a hub-managed service's
command so that it ends when the hub ends, however the hub ends.

The hub stops its services with SIGINT/SIGTERM when it stops normally; killed with
SIGKILL (or crashing) it stops nothing, and its services would keep running: the idle
culler would go on culling through the next hub with its token. This wrapper asks the
kernel to send SIGTERM to the service when its parent, the hub, dies
(``prctl(PR_SET_PDEATHSIG)``), then replaces itself with the service's command
(``execvp``: no extra process; the setting survives ``execve`` of a non-setuid program).
The kernel's notice is immediate and needs nothing from the service (no polling loop, no
hub API call that a hung service or a network problem would defeat), and every service
already ends cleanly on SIGTERM. A hub that died before the setting took effect is
caught by comparing the parent's pid with ``HUB_PID``.

Linux only, as the rest of the hub.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
MODULE = "hub.lifeline"


def command(hub_pid: int, service_command: list[str]) -> list[str]:
    """``service_command`` run through this wrapper, bound to the hub ``hub_pid``."""
    return [sys.executable, "-m", MODULE, str(hub_pid), *service_command]


def bind_to_parent(hub_pid: int) -> bool:
    """Ask for SIGTERM when the parent dies; False when the parent is no longer the hub
    ``hub_pid`` (it died before the request took effect)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return os.getppid() == hub_pid


def main(argv: list[str]) -> int:
    """Bind to the hub, then become the service (``execvp`` does not return); 2 on bad
    usage, 1 when the hub is already gone."""
    if len(argv) < 2 or not argv[0].isdigit():
        print(f"usage: python -m {MODULE} HUB_PID COMMAND...", file=sys.stderr)
        return 2
    if not bind_to_parent(int(argv[0])):
        print(f"the hub (pid {argv[0]}) is gone: not starting {argv[1]}", file=sys.stderr)
        return 1
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
