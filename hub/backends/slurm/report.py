"""The ``slurm`` backend's report runner: each run is a batch job on Austral.

The job runs as the owner's cluster login, charged to the first entitled partner's
account with its default partition, QOS, cores, memory and walltime: the backend's
policy (:func:`hub.backends.slurm.policy.execution` with no request and no auth_state,
so logins given by a claim only are refused). Commands run through
the deployment's transport (:mod:`.transport`) like the lab's.

The run's work area (under the hub's data directory, which the nodes must see at the same
path, as for ``slurm.lab.library_dir: null``) is given to the login: it holds the
notebook copy, ``spec.json`` (the validated parameters and kernel), the kernel's working
directory ``work/``, the outputs and ``job.log``. The batch script (:func:`report_script`)
holds only validated values and operator settings: paths from the deployment, the
validated request, the run id; no parameter, notebook path or kernel name.

A job that ends in another state than COMPLETED fails the run with Slurm's state, reason
and exit code (:meth:`.transport.Transport.query`) before the run's own error; a job still running
after ``reports.run_timeout`` is cancelled. The job does not depend on the service: a
service started after a stop or a crash follows it to its end (:meth:`SlurmRunner.resume`,
the run's handle is the login and the job id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pwd
import shlex
from pathlib import Path

from hub.backends.protocol import ExecutionSpec, Person
from hub.backends.slurm.policy import (
    NotEntitled, SlurmError, cluster_login, execution, login_home, system_login, venv_dir,
)
from hub.backends.slurm.lab import NOT_FOUND_CONFIRMATIONS
from hub.backends.slurm.transport import Transport, Unavailable, transport_of
from hub.messages import text
from hub.names import safe_name
from hub.settings import Settings

from hub.services.reports.archive import MAX_ERROR, MAX_FILE, RunOutcome, outcome_of, read_regular
from hub.services.reports.runners import BASE_ENV, RunRequest, run_spec, stage_notebook, time_left

log = logging.getLogger("datalab.reports")

JOB_LOG = "job.log"
POLL_INTERVAL = 1.0
#: Job states after which Slurm runs nothing more for the job.
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
         "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


def job_name(owner: str) -> str:
    """``datalab-rapport-<escaped owner>``: the Slurm job name of a report run."""
    return "datalab-rapport-" + safe_name(owner, 40)


def report_script(
    *, name: str, spec: ExecutionSpec, work_area: Path, venv: Path, setup: str, prefix: list[str],
) -> str:
    """The batch script of a report run. ``name`` comes from :func:`job_name`, ``spec``
    from :func:`hub.backends.slurm.policy.execution` (a plain home, a validated request,
    slugs and paths from the deployment file), ``work_area`` is the hub's (data directory
    and run id); ``venv``, ``setup``, ``prefix`` come from the deployment file. Every
    shell word is quoted; the run's parameters stay in ``spec.json``."""
    q = shlex.quote
    directives = [
        f"--job-name={name}",
        *spec.limits["directives"],
        f"--chdir={work_area}/work",
        f"--output={work_area}/{JOB_LOG}",
        "--export=ALL",
    ]
    env = {
        **BASE_ENV,
        **spec.env,
        "JUPYTER_RUNTIME_DIR": f"{work_area}/runtime",
        "IPYTHONDIR": f"{work_area}/runtime/ipython",
    }
    command = [*prefix, "python", "-m", "hub.services.reports.execute", f"{work_area}/spec.json"]
    lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in directives), "set -euo pipefail"]
    if setup.strip():
        lines += ["# operator setup (slurm.lab.setup)", setup.rstrip()]
    lines.append(f'export PATH={q(str(venv / "bin"))}:"$PATH"')
    lines += [f"export {key}={q(value)}" for key, value in env.items()]
    lines.append(" ".join(q(word) for word in command))
    return "\n".join(lines) + "\n"


class SlurmRunner:
    """Runs on the deployment's Slurm cluster (see the module docstring)."""

    def __init__(self, settings: Settings, transport: Transport | None = None):
        self.settings = settings
        self.transport = transport or transport_of(settings)

    async def run(self, request: RunRequest) -> RunOutcome:
        def t(key: str, **values: object) -> str:
            return text(request.language, key, **values)

        cluster = self.settings.slurm.name
        try:
            spec = execution(self.settings, Person.of(request.owner, request.partner_ids), request.profile, t)
        except NotEntitled:
            return RunOutcome("failed", t("reports_slurm_not_entitled", owner=request.owner, cluster=cluster))
        except SlurmError as e:
            return RunOutcome("failed", e.jupyterhub_message)
        login = spec.account
        try:
            self._prepare(request, login)
        except OSError as e:
            return RunOutcome("failed", f"{type(e).__name__}: {e}")
        lab = self.settings.slurm.lab
        script = report_script(
            name=job_name(request.owner), spec=spec, work_area=request.work_area,
            venv=venv_dir(self.settings), setup=lab.setup, prefix=lab.prefix,
        )
        try:
            return await self._submit_and_follow(request, login, script, t)
        except Unavailable as e:
            return outcome_of(request.work_area, None, t("slurm_unavailable", cluster=cluster, message=str(e)))
        except asyncio.TimeoutError:
            return outcome_of(request.work_area, None, t("slurm_unavailable", cluster=cluster, message="timeout"))

    def _prepare(self, request: RunRequest, login: str) -> None:
        """The work area, its spec and notebook copy, owned by ``login``."""
        work_area = request.work_area
        for sub in ("work", "runtime"):
            (work_area / sub).mkdir()
        stage_notebook(request, work_area / "input.ipynb")
        spec = run_spec(request, str(work_area / "input.ipynb"), str(work_area))
        (work_area / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(login)
            for path in (work_area, work_area / "work", work_area / "runtime",
                         work_area / "input.ipynb", work_area / "spec.json"):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    async def _submit_and_follow(self, request: RunRequest, login: str, script: str, t) -> RunOutcome:
        cluster = self.settings.slurm.name
        with open(request.log_path, "a", encoding="utf-8") as log_file:
            log_file.write(f"sbatch as {login}:\n{script}\n")
        submitted = await self.transport.submit(login, script, dict(BASE_ENV))
        job_id = submitted.job_id
        if not job_id:
            return RunOutcome("failed", t("slurm_refused", cluster=cluster, message=submitted.error))
        request.started({"login": login, "job": job_id})
        log.info("run %s: Slurm job %s as %s", request.run_id, job_id, login)
        ended = await self._follow(request, login, job_id, request.run_timeout, t)
        return ended or outcome_of(request.work_area, None, t("reports_slurm_lost", cluster=cluster, job=job_id))

    async def resume(self, request: RunRequest, handle: dict) -> RunOutcome | None:
        """Follow the run's job (``handle``: login and job id) to its end, as if this
        service had submitted it; None when Slurm no longer knows the job."""
        def t(key: str, **values: object) -> str:
            return text(request.language, key, **values)

        cluster = self.settings.slurm.name
        try:
            return await self._follow(request, handle["login"], handle["job"], time_left(request, handle), t)
        except Unavailable as e:
            return outcome_of(request.work_area, None, t("slurm_unavailable", cluster=cluster, message=str(e)))

    async def _follow(self, request: RunRequest, login: str, job_id: str, timeout: float, t) -> RunOutcome | None:
        """Wait for the job's end (``timeout`` seconds at most, then cancel it), keep its
        log and read the outcome; None when Slurm forgot the job before its end was seen."""
        try:
            state, reason, code = await asyncio.wait_for(self._wait_end(login, job_id), timeout)
        except asyncio.TimeoutError:
            try:
                await self.transport.cancel(login, job_id)
            except Unavailable as e:
                log.warning("scancel %s: %s", job_id, e)
            self._keep_job_log(request)
            return outcome_of(request.work_area, None, t("reports_run_timeout", seconds=request.run_timeout))
        self._keep_job_log(request)
        with open(request.log_path, "a", encoding="utf-8") as log_file:
            log_file.write(f"\nSlurm job {job_id}: {state or '?'} reason={reason or '?'} exit={code or '?'}\n")
        if not state:
            return None
        outcome = outcome_of(request.work_area, 0 if state == "COMPLETED" else None)
        if outcome.status == "succeeded":
            return outcome
        slurm_message = t("reports_slurm_failed", job=job_id, state=state, reason=reason, code=code)
        return RunOutcome("failed", f"{slurm_message} {outcome.error or ''}".strip()[:MAX_ERROR], outcome.files)

    async def _wait_end(self, login: str, job_id: str) -> tuple[str, str, str]:
        """Poll the job until it has ended; its (state, reason, exit code), state "" when
        Slurm forgot it before its end was seen (said :data:`NOT_FOUND_CONFIRMATIONS`
        times in a row). A controller that does not answer, or answers nothing readable,
        is asked again at the next poll (the caller bounds the wait)."""
        not_found = 0
        while True:
            try:
                info = await self.transport.query(login, job_id)
            except Unavailable as e:
                log.warning("job %s: %s", job_id, e)
                not_found = 0
            else:
                not_found = not_found + 1 if info is None else 0
                if not_found >= NOT_FOUND_CONFIRMATIONS:
                    return "", "", ""
                if info is not None and info.state in ENDED:
                    return info.state, info.reason, info.exit_code
            await asyncio.sleep(POLL_INTERVAL)

    def _keep_job_log(self, request: RunRequest) -> None:
        """Append the job's log (written by the login, read without following links)."""
        data = read_regular(request.work_area / JOB_LOG, MAX_FILE)
        if data:
            with open(request.log_path, "ab") as log_file:
                log_file.write(data)

    def home(self, owner: str) -> Path | None:
        """The home of the owner's cluster login (the home of their labs on the
        cluster), None when they have no login or it is a system account."""
        login = cluster_login(self.settings, owner, None)
        if login is not None and system_login(login):
            return None
        try:
            return Path(login_home(login)) if login else None
        except (KeyError, ValueError):
            return None
