"""The test run leaves no process behind.

At the start of the run the pytest process becomes a child subreaper (Linux's
``PR_SET_CHILD_SUBREAPER``): every process the tests start, however deep and however it
detaches (double fork, ``setsid``, a hub's lab outliving its hub, a daemon's workers),
stays a descendant of pytest instead of moving to init. At the end of the run, once every
fixture is torn down, any descendant still alive after a grace period is a leftover: the
run reports each one (PID and command line), ends it by its PID, and fails.

Orphans that end during the run become pytest's zombies: a thread collects them (not the
children pytest started itself, whose status their ``Popen`` or ``multiprocessing``
object collects), so that a PID seen alive is alive (a hub stopping the proxy its killed
predecessor left checks exactly that).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

PR_SET_CHILD_SUBREAPER = 36
#: How long descendants that are ending anyway get before they count as leftovers.
GRACE_SECONDS = float(os.environ.get("DATALAB_LEFTOVER_GRACE", "20"))


def descendants(root: int) -> list[int]:
    """PIDs of ``root``'s live descendants (zombies excluded), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):
            children.setdefault(int(ppid), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def reap() -> None:
    """Collect the exit status of every ended child (reparented orphans included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


#: PIDs pytest started itself (their owner collects their exit status).
_own_children: set[int] = set()


def _record_own_children() -> None:
    execute_child = subprocess.Popen._execute_child
    fork = os.fork

    def recorded_execute_child(self, *args, **kwargs):
        try:
            return execute_child(self, *args, **kwargs)
        finally:
            if getattr(self, "pid", None):
                _own_children.add(self.pid)

    def recorded_fork():
        pid = fork()
        if pid:
            _own_children.add(pid)
        return pid

    subprocess.Popen._execute_child = recorded_execute_child
    os.fork = recorded_fork


def orphan_zombies(parent: int) -> list[int]:
    """Zombie children of ``parent`` that it did not start itself (reparented orphans)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in _own_children:
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        if state == "Z" and int(ppid) == parent:
            found.append(int(entry))
    return found


def _collect_orphans(parent: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        for pid in orphan_zombies(parent):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


_stop_collecting = threading.Event()


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:300]
    except OSError:
        return "?"


def pytest_sessionstart(session):
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        _record_own_children()
        threading.Thread(target=_collect_orphans, args=(os.getpid(), _stop_collecting),
                         name="orphan-collector", daemon=True).start()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if sys.platform != "linux":
        return
    _stop_collecting.set()
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        reap()
        left = descendants(os.getpid())
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not left:
        return
    report = [f"  {pid}: {command_line(pid)}" for pid in left]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reap()
    _report.append(f"the test run left {len(left)} process(es) behind (ended now):\n"
                   + "\n".join(report))
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


#: What the run left behind, printed last (after pytest's summary, where a CI log's tail shows it).
_report: list[str] = []


def pytest_unconfigure(config):
    for message in _report:
        print(f"\nFAILED: {message}", file=sys.stderr, flush=True)
