"""The ``slurm`` backend: a lab is a batch job on Austral, the Slurm cluster.

A ``slurm`` profile's resources come from the spawn form, within the user's partner's
:class:`~hub.settings.AustralEntitlement`: account, partition, QOS, cores, memory, GPUs,
walltime. Each field has a strict grammar and a range
(:func:`~hub.backends.slurm.policy.validate_request`); only the validated, normalised
:class:`~hub.backends.slurm.policy.SlurmRequest` reaches the batch script, which this
module writes itself (:func:`batch_script`) from the job's
:func:`~hub.backends.slurm.policy.execution`: batchspawner's default of templating
``user_options`` raw into the script is not used.

The hub user runs on the cluster as a *cluster login*
(:func:`~hub.backends.slurm.policy.cluster_login`, from the deployment's
:class:`~hub.settings.ClusterLoginRule`). Jobs are submitted, followed and cancelled
as that login through the deployment's transport (:mod:`.transport`: Slurm's commands
through ``sudo -n -E -u <login> --``, or slurmrestd with a token for the login); the
job log's tail is read with ``tail`` through the same sudo, so the hub needs root or a
sudoers rule allowing it to run (sbatch, squeue, scontrol, scancel, sinfo and) tail as
the cluster logins with SETENV.

The lab listens on the node's address as Slurm knows it (``NodeAddr``), and the hub
connects there; its port comes back through batchspawner's ``/api/batchspawner``, and
the start ends once the lab accepts connections on it.
While the job is pending, progress shows Slurm's reason, expected start and the job's
position in its partition's queue; a job that
ends during the start fails the spawn at the next poll (1 s) with its state and the tail
of its log; a start that outlasts ``start_timeout`` cancels the job. The job id is saved
in the hub database as soon as sbatch answers, so a hub that restarts finds it: a running
lab is re-attached, and so is a job still pending or starting (the restarted hub follows
its start to the end, within the same ``start_timeout`` counted from the submission).
Stopping the hub never cancels a job (``cleanup_servers`` is off with this backend).

Slurm's silence is not an answer: a failed, empty or unreadable ``squeue`` answer leaves
the job's state unknown (the lab is kept); a job counts as gone only when Slurm gives it
an ended state, or says :data:`NOT_FOUND_CONFIRMATIONS` times in a row that it does not
know it. :meth:`SlurmSpawner.stop` sends ``scancel`` up to :data:`CANCEL_ATTEMPTS` times
and returns only once Slurm confirms that the job ended.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shlex
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import batchspawner
from sqlalchemy import inspect
from traitlets import Any, Bool, Float, List, Unicode

from ... import storage
from ...metrics import SLURM_PENDING
from ...messages import text
from ...names import safe_name
from ...settings import Settings
from ..base import DataLabSpawnerMixin
from ..protocol import ExecutionSpec
from .policy import SlurmError, SlurmRequest, execution, venv_dir
from .transport import JobInfo, Submitted, Transport, Unavailable, queue_position, run_as, transport_of

#: The job log, in the cluster login's home (``%j``: the job id).
JOB_LOG = "datalab-austral-%j.log"

#: The library link in the cluster login's home (same name as the local backend's).
LIBRARY_LINK = storage.LIBRARY_LINK

_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")

PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED"}
RUNNING_STATES = {"RUNNING", "COMPLETING"}

POLL_INTERVAL = 1.0
#: Seconds between two checks of a running job's lab port, between two Slurm queries:
#: the lab starts listening at any moment, which the hub noticed up to POLL_INTERVAL
#: late when it checked once per query (docs/benchmarks.md).
PORT_POLL = 0.1

#: How many "Invalid job id" answers in a row make a job gone (Slurm may forget a job
#: for a moment while its controller restarts).
NOT_FOUND_CONFIRMATIONS = 3
#: Seconds between two of those confirmations.
CONFIRM_INTERVAL = 1.0
#: How many times :meth:`SlurmSpawner.stop` sends ``scancel`` before giving up.
CANCEL_ATTEMPTS = 3
#: Seconds :meth:`SlurmSpawner.stop` waits for the job to end after each ``scancel``.
STOP_WAIT = 10.0


# -- the batch script -------------------------------------------------------------------


def job_name(username: str) -> str:
    """``datalab-<escaped user name>``: the Slurm job name of a user's lab."""
    return "datalab-" + safe_name(username, 40)


def batch_script(*, name: str, spec: ExecutionSpec, venv: Path | None, setup: str, command: list[str]) -> str:
    """The batch script of a lab. ``name`` (from :func:`job_name`) is a safe name;
    ``spec`` comes from :func:`~hub.backends.slurm.policy.execution` (a plain home, a
    validated request, the library from the deployment file); ``venv``, ``setup`` and
    ``command`` come from the operator's deployment file. Nothing typed by a user appears
    raw: every shell word is quoted and every directive holds a validated value.

    The job runs in ``home``, logs to ``home``/datalab-austral-<job id>.log, exports its
    whole environment to ``srun`` (so PATH survives), puts ``venv``'s bin first on PATH,
    links the library into the home, and makes the lab listen on the node's Slurm address.
    """
    home, library = spec.home, spec.env["DATALAB_LIBRARY"]
    directives = [
        f"--job-name={name}",
        *spec.limits["directives"],
        f"--chdir={home}",
        f"--output={home}/{JOB_LOG}",
        "--export=ALL",
    ]
    q = shlex.quote
    lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in directives), "set -euo pipefail"]
    if setup.strip():
        lines += ["# operator setup (slurm.lab.setup)", setup.rstrip()]
    if venv is not None:
        lines.append(f'export PATH={q(str(venv / "bin"))}:"$PATH"')
    library_link = f"{home}/{LIBRARY_LINK}"
    lines += [
        f"export PYTHONPATH={q(library)} DATALAB_LIBRARY={q(library)}",
        f"if [ -L {q(library_link)} ] || [ ! -e {q(library_link)} ]; then "
        f"ln -sfn {q(library)} {q(library_link)}; fi",
        # the node's /tmp is shared by every job there; the cluster's own TMPDIR is kept
        f'[ -n "${{TMPDIR:-}}" ] || TMPDIR={q(f"{home}/{storage.TMP_DIR}")}',
        'export TMPDIR && mkdir -p -m 700 "$TMPDIR"',
        'export DATALAB_WALLTIME_END="$(squeue -h -j "$SLURM_JOB_ID" -o %e)"',
        'node_addr="$(sinfo -h -N -n "$SLURMD_NODENAME" -o %o | head -n 1)"',
        'export JUPYTERHUB_SERVICE_URL="http://${node_addr}:0${JUPYTERHUB_SERVICE_PREFIX}"',
        f"srun --export=ALL --ntasks=1 --cpus-per-task={spec.limits['request'].cores} "
        + " ".join(q(word) for word in command),
    ]
    return "\n".join(lines) + "\n"


# -- the job as Slurm reports it --------------------------------------------------------


async def _listening(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port`` (within 1 s)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


def _timestamp(value: str) -> float:
    """Slurm's ``2026-11-30T14:05:00`` (local time) as epoch seconds; 0 when not a time."""
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


class SlurmSpawner(DataLabSpawnerMixin, batchspawner.SlurmSpawner):
    """A lab as a Slurm batch job, from a validated :class:`SlurmRequest`."""

    request = Any(None, help="The validated SlurmRequest of the next start")
    login = Unicode("", help="The cluster login the job runs as")
    node = Unicode("", help="The node the job runs on")
    phase = Unicode("", help="'starting' from submission to a reachable lab, then 'running'")
    walltime_end = Float(0.0, help="When Slurm will end the job (epoch seconds), 0 if unknown")
    submitted_at = Float(0.0, help="When sbatch accepted the job (epoch seconds)")
    execution_spec = Any(None, help="The ExecutionSpec of the current start")
    starting_here = Bool(False, help="This hub process is running start()")
    events = List(help="Progress events of the current start")

    # -- Slurm commands -------------------------------------------------------------
    transport = Any(None, help="The deployment's Transport (sbatch/squeue/scancel or slurmrestd)")

    def _transport(self) -> Transport:
        if self.transport is None:
            self.transport = transport_of(self.settings)
        return self.transport

    def _unavailable(self, message: str) -> SlurmError:
        return SlurmError(503, self._t("slurm_unavailable", cluster=self.settings.slurm.name, message=message))

    def _command_env(self) -> dict[str, str]:
        """PATH and SLURM_CONF (for the commands the hub runs itself)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if "SLURM_CONF" in os.environ:
            env["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return env

    async def _run(self, *argv: str) -> tuple[int, str, str]:
        """Run a command as the cluster login (argument list, no shell); (rc, out, err).
        Raises :class:`SlurmError` 503 when it does not answer within command_timeout."""
        try:
            return await run_as(self.login, list(argv), env=self._command_env(),
                                timeout=self.settings.slurm.command_timeout)
        except asyncio.TimeoutError:
            raise self._unavailable(f"{argv[0]}: timeout") from None

    async def _submit(self, script: str) -> Submitted:
        """Submit ``script`` with the lab's environment (the hub's API token, URLs, user).
        Raises :class:`SlurmError` 503 when Slurm does not answer."""
        try:
            return await self._transport().submit(self.login, script, self.get_env())
        except Unavailable as e:
            raise self._unavailable(str(e)) from None

    async def query(self) -> JobInfo | None:
        """The job as Slurm reports it, None when Slurm no longer knows it.
        Raises :class:`SlurmError` 503 when the controller does not answer."""
        try:
            return await self._transport().query(self.login, self.job_id)
        except Unavailable as e:
            raise self._unavailable(str(e)) from None

    async def queue_position(self) -> tuple[int, int] | None:
        """(position, pending jobs) of the job in its partition's queue; None when
        unknown (Slurm did not answer, the job no longer waits, or the lab was
        reattached by a restarted hub, which does not keep the request's partition)."""
        if self.request is None:
            return None
        try:
            pending = await self._transport().pending(self.login, self.request.partition)
        except Unavailable:
            return None
        return queue_position(self.job_id, pending)

    async def confirmed_query(self) -> JobInfo | None:
        """:meth:`query`, but None only once Slurm has said :data:`NOT_FOUND_CONFIRMATIONS`
        times in a row that it does not know the job. Raises :class:`SlurmError` when the
        state is unknown."""
        for attempt in range(NOT_FOUND_CONFIRMATIONS):
            if attempt:
                await asyncio.sleep(CONFIRM_INTERVAL)
            info = await self.query()
            if info is not None:
                return info
        return None

    async def node_address(self, node: str) -> str:
        """The address Slurm knows ``node`` by (its NodeAddr), where the lab listens."""
        if not _NODE.fullmatch(node):
            raise SlurmError(500, f"unexpected node name from squeue: {node[:80]!r}")
        try:
            address = await self._transport().node_address(self.login, node)
        except Unavailable as e:
            raise self._unavailable(str(e)) from None
        if not _NODE.fullmatch(address):
            raise self._unavailable(f"no address for node {node}")
        return address

    async def cancel(self) -> bool:
        """Cancel the job (a job already ended is not an error); False when Slurm refused
        or did not answer."""
        if self.job_id and self.login:
            try:
                error = await self._transport().cancel(self.login, self.job_id)
            except Unavailable as e:
                error = str(e)
            if error:
                self.log.warning("scancel %s: %s", self.job_id, error)
                return False
        return True

    async def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the job's log, or a note that it has none."""
        home = pwd.getpwnam(self.login).pw_dir
        path = f"{home}/{JOB_LOG.replace('%j', self.job_id)}"
        rc, out, _ = await self._run("tail", "-n", str(lines), "--", path)
        return out if rc == 0 and out else "(—)"

    # -- lifecycle ------------------------------------------------------------------
    def _event(self, progress: int, message: str) -> None:
        self.events.append({"progress": progress, "message": message})

    def _save_state(self) -> None:
        owner = self.state_owner or self
        self.orm_spawner.state = owner.get_state()
        inspect(self.orm_spawner).session.commit()

    def render_script(self) -> str:
        """The batch script of the next start (see :func:`batch_script`)."""
        lab = self.settings.slurm.lab
        command = [*lab.prefix, self.batchspawner_singleuser_cmd, *self.cmd, *self.get_args()]
        return batch_script(name=job_name(self.user.name), spec=self.execution_spec,
                            venv=venv_dir(self.settings), setup=lab.setup, command=command)

    async def start(self):
        """Submit the job, follow it until the lab is reachable; returns (ip, port).
        Raises :class:`SlurmError` with Slurm's words on every failure."""
        self.execution_spec = execution(
            self.settings, self.person, self.selected_profile, self._t,
            request=self.validated_options, auth_state=await self.user.get_auth_state(),
        )
        self.request = self.execution_spec.limits["request"]
        self.login = self.execution_spec.account
        self.events = []
        self.starting_here = True
        self.port = 0
        self.node = ""
        script = self.render_script()
        self.log.info("Submitting %s's lab to Slurm as %s:\n%s", self.user.name, self.login, script)
        submitted = await self._submit(script)
        job_id = submitted.job_id
        if not job_id:
            raise SlurmError(400, self._t("slurm_refused", cluster=self.settings.slurm.name, message=submitted.error))
        self.job_id = job_id
        self.phase = "starting"
        self.submitted_at = time.time()
        self._save_state()
        self._event(10, self._t("slurm_submitted", job=job_id, cluster=self.settings.slurm.name,
                                account=self.request.account, partition=self.request.partition))
        try:
            return await self._follow_start()
        except asyncio.CancelledError:
            # The hub is stopping (the job stays: the next hub process reattaches it), or
            # JupyterHub gave up on the start and cancels the job through stop().
            raise
        except BaseException:
            await asyncio.shield(self.cancel())
            self.phase = ""
            raise
        finally:
            self.starting_here = False

    async def _follow_start(self) -> tuple[str, int]:
        """Follow the submitted job until its lab accepts connections; a query that
        fails leaves the state unknown and the next one is tried, until the deadline
        (``start_timeout`` from the submission)."""
        deadline = self.submitted_at + max(5, self.start_timeout - 3)
        last = None
        saved_port = self.port
        while True:
            try:
                info = await self.confirmed_query()
            except SlurmError as e:
                self.log.warning("Slurm job %s of %s: state unknown (%s)", self.job_id, self.user.name, e)
                if time.time() > deadline:
                    raise
                await asyncio.sleep(POLL_INTERVAL)
                continue
            if info is None or info.state not in PENDING_STATES | RUNNING_STATES:
                state = info.state if info else "—"
                tail = await self.log_tail()
                raise SlurmError(500, self._t("slurm_ended", job=self.job_id, state=state,
                                              log=JOB_LOG.replace("%j", self.job_id), tail=tail))
            if info.state in RUNNING_STATES:
                if not self.node:
                    self.node = info.node
                    self.ip = await self.node_address(info.node)
                    self.walltime_end = _timestamp(info.end)
                    SLURM_PENDING.labels(partition=self.request.partition).observe(time.time() - self.submitted_at)
                    self._save_state()
                    self._event(60, self._t("slurm_running", job=self.job_id, node=info.node))
                if self.port != saved_port:
                    saved_port = self.port
                    self._save_state()
                if self.port and await _listening(self.ip, self.port):
                    break
            else:
                position = await self.queue_position()
                if (info.state, info.reason, info.start, position) != last:
                    last = (info.state, info.reason, info.start, position)
                    self._event(30, self.pending_message(info, position))
            if time.time() > deadline:
                raise SlurmError(500, self._t("slurm_timeout", seconds=self.start_timeout, job=self.job_id,
                                              state=info.state, reason=info.reason))
            if info.state in RUNNING_STATES:
                if await self._lab_listens(POLL_INTERVAL):
                    break
            else:
                await asyncio.sleep(POLL_INTERVAL)
        # JupyterHub reads the server of the spawner it knows (the dispatcher's, when
        # there is one): each spawner holds its own copy of the server's address.
        for spawner in {self, self.state_owner or self}:
            if spawner.server:
                spawner.server.ip = self.ip
                spawner.server.port = self.port
        self.phase = "running"
        self._save_state()
        self.log.info("Slurm job %s of %s serves on %s:%s", self.job_id, self.user.name, self.ip, self.port)
        return self.ip, self.port

    async def _lab_listens(self, seconds: float) -> bool:
        """Whether the lab accepts connections on its reported port within ``seconds``,
        checked every :data:`PORT_POLL` (the port comes from the lab, through
        ``/hub/api/batchspawner``, at any moment)."""
        until = time.monotonic() + seconds
        while True:
            await asyncio.sleep(PORT_POLL)
            if self.port and await _listening(self.ip, self.port):
                return True
            if time.monotonic() >= until:
                return False

    def pending_message(self, info: JobInfo, position: tuple[int, int] | None = None) -> str:
        """What a person reads while the job waits: Slurm's reason, explained when known,
        the expected start when Slurm gives one, and the job's ``position`` among the
        partition's pending jobs (position, count) when known."""
        explained = ""
        for prefix in ("None", "Resources", "Priority", "QOS", "Assoc", "Partition"):
            if info.reason.startswith(prefix):
                explained = " (" + self._t(f"slurm_reason_{prefix}") + ")"
        start = ""
        if _timestamp(info.start):
            start = self._t("slurm_pending_start", start=info.start.replace("T", " "))
        if position is not None:
            start += self._t("slurm_pending_position", partition=self.request.partition,
                             position=position[0], pending=position[1])
        return self._t("slurm_pending", job=self.job_id, cluster=self.settings.slurm.name,
                       reason=info.reason, explained=explained, start=start)

    async def progress(self):
        sent = 0
        while True:
            while sent < len(self.events):
                yield self.events[sent]
                sent += 1
            await asyncio.sleep(0.5)

    async def poll(self):
        """None while the job runs or its state is unknown; 1 once Slurm says it ended
        (see :meth:`confirmed_query`). A job left pending or starting by an earlier hub
        process is reattached (:meth:`_resume`)."""
        if not self.job_id:
            return 0
        if self.phase == "starting" and not self.starting_here:
            return await self._resume()
        try:
            info = await self.confirmed_query()
        except SlurmError as e:
            self.log.warning("Slurm job %s of %s: state unknown, kept (%s)", self.job_id, self.user.name, e)
            return None
        if info is None or info.state not in PENDING_STATES | RUNNING_STATES:
            self.log.info("Slurm job %s of %s ended (%s)", self.job_id, self.user.name, info.state if info else "gone")
            self.clear_state()
            return 1
        if info.state in RUNNING_STATES:
            self.walltime_end = _timestamp(info.end) or self.walltime_end
        return None

    async def _resume(self) -> int | None:
        """Reattach a job that an earlier hub process left pending or starting: follow
        its start (:meth:`_follow_start`, same deadline) until the lab answers (None,
        the hub then routes to it), or 1 when the job ended or the start failed (the job
        is then cancelled). JupyterHub runs this as its start-up check of the server,
        in the background past ``init_spawners_timeout``."""
        self.log.info("Reattaching Slurm job %s of %s, still starting when the hub stopped",
                      self.job_id, self.user.name)
        self.starting_here = True
        self.node = ""
        try:
            await self._follow_start()
        except SlurmError as e:
            self.log.warning("Slurm job %s of %s: its start did not complete (%s)", self.job_id, self.user.name, e)
            await self.cancel()
            self.clear_state()
            return 1
        finally:
            self.starting_here = False
        return None

    async def _ended(self) -> bool:
        """True once Slurm confirms the job ended; False while it runs or is unknown."""
        try:
            info = await self.confirmed_query()
        except SlurmError as e:
            self.log.warning("Slurm job %s: state unknown after scancel (%s)", self.job_id, e)
            return False
        return info is None or info.state not in PENDING_STATES | RUNNING_STATES

    async def stop(self, now=False):
        """scancel the job; unless ``now``, return only once Slurm confirms it ended,
        sending scancel again (:data:`CANCEL_ATTEMPTS` in all, :data:`STOP_WAIT` seconds
        after each). Raises :class:`SlurmError` when the job still runs (or its state is
        unknown) after the last attempt: the server is not reported stopped quietly."""
        if not self.job_id:
            return
        if now:
            await self.cancel()
            return
        loop = asyncio.get_running_loop()
        for _ in range(CANCEL_ATTEMPTS):
            await self.cancel()
            deadline = loop.time() + STOP_WAIT
            while True:
                if await self._ended():
                    return
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(POLL_INTERVAL)
        self.log.error("Slurm job %s of %s still runs after %d scancel", self.job_id, self.user.name, CANCEL_ATTEMPTS)
        raise SlurmError(500, self._t("slurm_stop_unconfirmed", job=self.job_id, cluster=self.settings.slurm.name,
                                      attempts=CANCEL_ATTEMPTS))

    def get_state(self):
        state = super().get_state()
        state.pop("job_status", None)
        if self.job_id:
            state.update(login=self.login, node=self.node, phase=self.phase, walltime_end=self.walltime_end,
                         submitted_at=self.submitted_at)
            if self.phase == "starting" and self.port:
                state["port"] = self.port
            if self.request is not None:
                state["request"] = asdict(self.request)
        return state

    def load_state(self, state):
        super().load_state(state)
        self.login = state.get("login", "")
        self.node = state.get("node", "")
        self.phase = state.get("phase", "")
        self.walltime_end = state.get("walltime_end", 0.0)
        # A job submitted before submitted_at was saved gets a full start_timeout.
        self.submitted_at = state.get("submitted_at") or (time.time() if self.phase == "starting" else 0.0)
        if state.get("port"):
            self.port = state["port"]
        if state.get("request"):
            self.request = SlurmRequest(**state["request"])

    def clear_state(self):
        super().clear_state()
        self.node = ""
        self.phase = ""
        self.walltime_end = 0.0
        self.submitted_at = 0.0

    # -- environment ----------------------------------------------------------------
    def get_env(self):
        env = super().get_env()
        if self.execution_spec is not None:
            env.update(self.execution_spec.env)
        return env

    def user_env(self, env):
        if self.execution_spec is not None:
            env["USER"] = self.execution_spec.account
        env["SHELL"] = "/bin/bash"
        return env

    def walltime_notice(self) -> dict | None:
        """What the hub home page shows about the running job's walltime (see
        :func:`walltime_notice`)."""
        return walltime_notice(self.settings, self.walltime_end if self.phase == "running" else 0.0)


def walltime_notice(settings: Settings, end: float, now: float | None = None) -> dict | None:
    """The walltime notice of a job that Slurm ends at ``end`` (epoch seconds; 0: no job):
    ``{"text": ..., "end": epoch, "warning_seconds": ..., "warning": bool}``, the text in
    the deployment's language, ``warning`` true within ``slurm.walltime_warning`` minutes
    of the end. None when there is no job."""
    if not end:
        return None
    left = max(0, int(end - (time.time() if now is None else now)))
    hours, minutes = divmod(left // 60, 60)
    language = settings.hub.language
    return {
        "text": text(language, "home_walltime", cluster=settings.slurm.name,
                     end=time.strftime("%H:%M", time.localtime(end)),
                     left=f"{hours} h {minutes:02d} min"),
        "warning_text": text(language, "home_walltime_warning"),
        "end": int(end),
        "warning_seconds": settings.slurm.walltime_warning * 60,
        "warning": left <= settings.slurm.walltime_warning * 60,
    }
