"""The ``local`` backend's report runs: a subprocess as the owner's Unix account."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from ...messages import text
from ...services.reports.archive import RunOutcome, finished_unseen, outcome_of
from ...services.reports.runners import BASE_ENV, RunRequest, run_spec, time_left
from ...settings import Settings
from ..protocol import Person
from .policy import execution, isolated, preexec_fn, prepare
from .processes import alive, kill_family

#: Seconds between two looks at whether a run's process has ended.
POLL_INTERVAL = 0.5


class LocalRunner:
    """Runs on the hub's machine: ``python -m hub.services.reports.execute`` with the
    owner's :func:`~hub.backends.local.policy.execution` (their Unix account), in its own
    session and working directory, with the profile's memory as its address-space limit
    (``RLIMIT_AS``, inherited by the kernel). Its handle is the process id and start
    time (so that a reused id is never taken for the run). The process is a plain
    ``subprocess.Popen`` watched by polling: nothing kills it when the service stops
    (asyncio's subprocess transport would, when collected), so the next service follows
    it."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def run(self, request: RunRequest) -> RunOutcome:
        person = Person.of(request.owner, request.partner_ids)
        try:
            await asyncio.get_running_loop().run_in_executor(None, prepare, self.settings, person)
        except (RuntimeError, OSError) as e:
            return RunOutcome("failed", f"{type(e).__name__}: {e}")
        execution_spec = execution(self.settings, person, request.profile)
        work = request.work_area / "work"
        work.mkdir(parents=True)
        (request.work_area / "runtime").mkdir()
        if isolated():
            from pwd import getpwnam

            entry = getpwnam(execution_spec.account)
            for path in (request.work_area, work, request.work_area / "runtime"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(request.work_area, 0o700)
        spec = run_spec(request, str(request.notebook), str(request.work_area))
        env = {
            **BASE_ENV,
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            **execution_spec.env,
            "JUPYTER_RUNTIME_DIR": str(request.work_area / "runtime"),
            "IPYTHONDIR": str(request.work_area / "runtime" / "ipython"),
        }
        preexec = preexec_fn(execution_spec, str(work), memory_limit=True)

        with open(request.log_path, "ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "hub.services.reports.execute"],
                stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT,
                env=env, cwd=str(work), preexec_fn=preexec, start_new_session=True,
            )
        try:
            process.stdin.write(json.dumps(spec).encode())
            process.stdin.close()
        except BrokenPipeError:  # it ended at once; its exit status and log say why
            pass
        request.started({"pid": process.pid, "since": psutil.Process(process.pid).create_time()})
        deadline = time.monotonic() + request.run_timeout
        while process.poll() is None:
            if time.monotonic() >= deadline:
                kill_family(process.pid)
                process.wait()
                return outcome_of(request.work_area, None, _timeout(request))
            await asyncio.sleep(POLL_INTERVAL)
        return outcome_of(request.work_area, process.returncode)

    async def resume(self, request: RunRequest, handle: dict) -> RunOutcome | None:
        """Wait for the run process an earlier service started (it is no child of this
        one: its end is seen by polling), killing it and its kernel when its
        ``run_timeout`` is up;
        the outcome it left (its exit status is not known here)."""
        try:
            process = psutil.Process(handle["pid"])
            same = abs(process.create_time() - handle["since"]) < 0.01
        except psutil.NoSuchProcess:
            same = False
        if not same:
            return None
        deadline = time.monotonic() + time_left(request, handle)
        while alive(process):
            if time.monotonic() >= deadline:
                kill_family(process.pid)
                return outcome_of(request.work_area, None, _timeout(request))
            await asyncio.sleep(POLL_INTERVAL)
        return finished_unseen(request.work_area)

    def home(self, owner: str) -> Path | None:
        """The owner's Unix account's home (:class:`hub.storage.Layout`)."""
        return Path(execution(self.settings, Person.of(owner, set()), None).home)



def _timeout(request: RunRequest) -> str:
    return text(request.language, "reports_run_timeout", seconds=request.run_timeout)
