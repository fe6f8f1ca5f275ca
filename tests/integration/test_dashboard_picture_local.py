"""A dashboard's picture executed as its author on the local backend: when the dashboards
service stops during the execution (its task cancelled), the execution ends with its
kernel, which runs in a session of its own and would otherwise keep running as the author
(the stop-25 CI run found one such kernel left behind)."""

from __future__ import annotations

import asyncio
import os
import time

import nbformat
import psutil
import pytest

from hub.backends.local.dashboard import LocalRunner
from hub.backends.local.processes import family
from hub.settings import load
from tests.polling import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the execution runs as the author's account"),
]


def kernels() -> set[int]:
    """PIDs of the ipykernel processes among this test process's descendants."""
    found = set()
    for process in family(os.getpid()):
        try:
            if "ipykernel_launcher" in " ".join(process.cmdline()):
                found.add(process.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_cancelled_picture_execution_ends_its_kernel(hub, tmp_path):
    settings = load(hub.config_path)
    runner = LocalRunner(settings, tmp_path / "kernelspec")
    notebook = tmp_path / "lent.ipynb"
    notebook.write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])), encoding="utf-8")
    before = kernels()

    async def cancel_while_running() -> set[int]:
        task = asyncio.ensure_future(runner.execute("analyste1", {"univ-alpha"}, settings.profiles[0], notebook))
        deadline = time.monotonic() + 60
        while not kernels() - before:
            assert not task.done(), task
            assert time.monotonic() < deadline, "no kernel within 60 s"
            await asyncio.sleep(0.1)
        started = kernels() - before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return started

    started = asyncio.run(cancel_while_running())
    try:
        wait_for(lambda: not started & kernels(), 10, "the cancelled execution's kernel ended")
    finally:
        for pid in started & kernels():
            psutil.Process(pid).kill()
