"""The ``local`` backend's report runs: a subprocess as the owner's Unix account."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import psutil

from ...messages import text
from ...services.reports.archive import RunOutcome, outcome_of
from ...services.reports.runners import BASE_ENV, RunRequest, run_spec
from ...settings import Settings
from ..protocol import Person
from .policy import execution, isolated, preexec_fn, prepare
from .processes import family


class LocalRunner:
    """Runs on the hub's machine: ``python -m hub.services.reports.execute`` with the
    owner's :func:`~hub.backends.local.policy.execution` (their Unix account), in its own
    session and working directory, with the profile's memory as its address-space limit
    (``RLIMIT_AS``, inherited by the kernel)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._running: dict[int, asyncio.subprocess.Process] = {}

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
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub.services.reports.execute",
                stdin=asyncio.subprocess.PIPE, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                env=env, cwd=str(work), preexec_fn=preexec, start_new_session=True,
            )
            self._running[request.run_id] = process
            try:
                await asyncio.wait_for(
                    process.communicate(json.dumps(spec).encode()), timeout=request.run_timeout
                )
            except asyncio.TimeoutError:
                _kill_tree(process.pid)
                await process.wait()
                message = text(request.language, "reports_run_timeout", seconds=request.run_timeout)
                return outcome_of(request.work_area, None, message)
            finally:
                self._running.pop(request.run_id, None)
        return outcome_of(request.work_area, process.returncode)

    def home(self, owner: str) -> Path | None:
        """The owner's Unix account's home (:class:`hub.storage.Layout`)."""
        return Path(execution(self.settings, Person.of(owner, set()), None).home)

    def stop_all(self) -> None:
        for process in list(self._running.values()):
            _kill_tree(process.pid)


def _kill_tree(pid: int) -> None:
    """SIGKILL the process ``pid`` and its descendants (papermill's kernel runs in a
    session of its own, so a process group is not enough)."""
    for process in family(pid):
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
