"""Ending a local lab or dashboard with every process it started.

Jupyter's kernels run in sessions of their own (jupyter_client starts them with
``start_new_session``), so a process group does not hold them, and ipykernel ends an
orphaned kernel only when init adopts it: a lab or Voilà killed before it shut its
kernels down would leave them running as the person, holding memory and files. The
processes are taken before the stop and ended after it; psutil checks that a PID still
names the same process before signalling it."""

from __future__ import annotations

import asyncio
import signal
import time

import psutil


def family(pid: int) -> list[psutil.Process]:
    """The process ``pid`` and its descendants, now (empty when it has ended)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_family(pid: int) -> None:
    """SIGKILL the process ``pid`` and every descendant it has now (its kernels included),
    without waiting: for a process whose work is abandoned, also from a cancelled task."""
    for process in family(pid):
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def alive(process: psutil.Process) -> bool:
    """Whether ``process`` still runs (a zombie has ended)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def end(processes: list[psutil.Process], grace: float = 5.0) -> None:
    """SIGTERM those of ``processes`` still alive, SIGKILL those alive ``grace`` seconds
    later; returns once they have ended or after ``grace`` more seconds."""
    running = [p for p in processes if alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in running:
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        deadline = time.monotonic() + grace
        while running and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            running = [p for p in running if alive(p)]
        if not running:
            return
