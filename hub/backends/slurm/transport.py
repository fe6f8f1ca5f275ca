"""How the hub talks to Slurm: the job operations the lab (:mod:`.lab`) and the report
runner (:mod:`.report`) need, behind one small interface, with two implementations chosen
by the deployment file's ``slurm.transport``:

``cli`` (:class:`CliTransport`)
    ``sbatch``, ``squeue``, ``scontrol``, ``sinfo``, ``scancel`` run on the hub's machine as
    the cluster login (``sudo -n -E -u <login> --``, an argument list, no shell): the hub
    is a *submit host* (munge key, slurm.conf).
``rest`` (:class:`RestTransport`)
    Slurm's REST API (``slurmrestd``, OpenAPI plugin ``v0.0.38`` of Slurm 22.05), each
    request authenticated as the cluster login by a short-lived HS256 JSON Web Token the
    hub signs with the cluster's ``jwt_hs256.key`` (``AuthAltTypes=auth/jwt``): the hub
    needs neither munge nor slurm.conf. The key file must be readable by the hub only
    (mode 0600 or 0400, checked before each use); its content is never logged or shown.

Both take the same batch script (written by the lab or the report runner from validated
values); the REST transport sends its ``#SBATCH`` options as the job description's
fields (:func:`job_description`), so one script serves both.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jwt
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ...settings import ConfigError, Settings

#: The slurmrestd OpenAPI plugin the REST transport speaks (Slurm 22.05, Debian 12).
REST_VERSION = "v0.0.38"

_JOB_ID = re.compile(r"[0-9]{1,12}")
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
#: A job state as Slurm writes it (an answer with anything else is unreadable).
_STATE = re.compile(r"[A-Z_]{2,32}")
_SCONTROL_FIELD = re.compile(r"\b(JobState|Reason|ExitCode)=(\S+)")
_PENDING_OR_RUNNING = {"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "RUNNING", "COMPLETING"}


class Unavailable(Exception):
    """Slurm did not answer (timeout, controller down, REST API unreachable or refusing
    the hub's token); the message says which, without any secret."""


@dataclass(frozen=True)
class JobInfo:
    """A job as Slurm reports it: state, reason, (expected) start and (expected) end as
    Slurm prints times (``2026-11-30T14:05:00``, local time; ``N/A`` when unknown), batch
    host, and, once ended, the exit code as ``<status>:<signal>`` ("" before)."""

    state: str
    reason: str
    start: str
    node: str
    end: str
    exit_code: str = ""

    @classmethod
    def parse(cls, line: str) -> JobInfo | None:
        """One line of ``squeue -o '%T|%r|%S|%B|%e'``."""
        parts = line.strip().split("|")
        return cls(*parts) if len(parts) == 5 else None


@dataclass(frozen=True)
class Submitted:
    """The answer to a submission: the job id, or Slurm's refusal ("" job id)."""

    job_id: str
    error: str = ""


def submitted_job_id(returncode: int, output: str) -> str:
    """The job id ``sbatch --parsable`` printed (``<id>[;<cluster>]``), "" when it
    refused the job or printed something else."""
    job_id = output.splitlines()[-1].split(";")[0] if returncode == 0 and output else ""
    return job_id if _JOB_ID.fullmatch(job_id) else ""


async def run_as(
    login: str, argv: list[str], *, env: dict[str, str], timeout: float, stdin: str | None = None
) -> tuple[int, str, str]:
    """Run ``argv`` as cluster login ``login`` (``sudo -n -E -u <login> --``, an argument
    list, no shell) with environment ``env`` and ``stdin`` (text); returns (exit status,
    stdout, stderr), both stripped. Raises ``asyncio.TimeoutError`` after ``timeout``
    seconds (the command is killed)."""
    process = await asyncio.create_subprocess_exec(
        "sudo", "-n", "-E", "-u", login, "--", *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), timeout
        )
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, out.decode(errors="replace").strip(), err.decode(errors="replace").strip()


def queue_position(job_id: str, pending: list[tuple[str, int]]) -> tuple[int, int] | None:
    """(position from 1, number of pending jobs) of ``job_id`` among the partition's
    ``pending`` jobs ((job id, priority) pairs): by priority, highest first, then by job
    id (submission order) as Slurm's scheduler does; None when it is not among them."""
    ranked = sorted(pending, key=lambda job: (-job[1], int(job[0]) if job[0].isdigit() else 0))
    ids = [job for job, _ in ranked]
    return (ids.index(job_id) + 1, len(ids)) if job_id in ids else None


def job_end(scontrol_line: str) -> tuple[str, str, str]:
    """(state, reason, exit code) of one ``scontrol -o show job`` line; "" for absent
    fields. The exit code is Slurm's ``<status>:<signal>``."""
    fields = dict(_SCONTROL_FIELD.findall(scontrol_line))
    return fields.get("JobState", ""), fields.get("Reason", ""), fields.get("ExitCode", "")


class Transport:
    """The job operations of the ``slurm`` backend. ``login`` is the cluster login the
    operation runs as (a validated POSIX name); ``env`` the job's environment."""

    async def submit(self, login: str, script: str, env: dict[str, str]) -> Submitted:
        raise NotImplementedError

    async def query(self, login: str, job_id: str) -> JobInfo | None:
        """The job, None when Slurm says it does not know it. Raises :class:`Unavailable`
        when Slurm does not answer, or answers nothing or something unreadable (the state
        is then unknown, never "gone")."""
        raise NotImplementedError

    async def pending(self, login: str, partition: str) -> list[tuple[str, int]]:
        """The partition's pending jobs as (job id, priority). Raises :class:`Unavailable`."""
        raise NotImplementedError

    async def node_address(self, login: str, node: str) -> str:
        """The address Slurm knows ``node`` by (its NodeAddr), "" when it gives none.
        Raises :class:`Unavailable`."""
        raise NotImplementedError

    async def cancel(self, login: str, job_id: str) -> str:
        """Cancel the job; "" or Slurm's complaint (a job already ended is not an error)."""
        raise NotImplementedError


class CliTransport(Transport):
    """The Slurm commands on a submit host (see the module docstring)."""

    def __init__(self, settings: Settings):
        self.timeout = settings.slurm.command_timeout

    @staticmethod
    def _env(env: dict[str, str] | None = None) -> dict[str, str]:
        out = dict(env or {})
        out["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        if "SLURM_CONF" in os.environ:
            out["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return out

    async def _run(self, login: str, *argv: str, env: dict[str, str] | None = None,
                   stdin: str | None = None) -> tuple[int, str, str]:
        try:
            return await run_as(login, list(argv), env=self._env(env), timeout=self.timeout, stdin=stdin)
        except asyncio.TimeoutError:
            raise Unavailable(f"{argv[0]}: timeout") from None

    async def submit(self, login: str, script: str, env: dict[str, str]) -> Submitted:
        rc, out, err = await self._run(login, "sbatch", "--parsable", env=env, stdin=script)
        job_id = submitted_job_id(rc, out)
        if job_id:
            return Submitted(job_id)
        return Submitted("", (err or out or f"exit status {rc}").removeprefix("sbatch: error: "))

    async def query(self, login: str, job_id: str) -> JobInfo | None:
        rc, out, err = await self._run(login, "squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T|%r|%S|%B|%e")
        if rc == 0:
            if not out:
                raise Unavailable("squeue: empty answer")
            info = JobInfo.parse(out.splitlines()[0])
            if info is None or not _STATE.fullmatch(info.state):
                raise Unavailable("squeue: unreadable answer")
            if info.state not in _PENDING_OR_RUNNING:
                rc, out, _ = await self._run(login, "scontrol", "-o", "show", "job", job_id)
                code = job_end(out.splitlines()[0])[2] if rc == 0 and out else ""
                info = JobInfo(info.state, info.reason, info.start, info.node, info.end, code)
            return info
        if "Invalid job id" in err:
            return None
        raise Unavailable(err or f"squeue: exit status {rc}")

    async def pending(self, login: str, partition: str) -> list[tuple[str, int]]:
        rc, out, err = await self._run(login, "squeue", "-h", "-t", "PENDING", "-p", partition, "-o", "%i|%Q")
        if rc != 0:
            raise Unavailable(err or f"squeue: exit status {rc}")
        rows = [line.strip().split("|") for line in out.splitlines()]
        return [(job, int(priority)) for job, priority in (row for row in rows if len(row) == 2)
                if _JOB_ID.fullmatch(job) and priority.isdigit()]

    async def node_address(self, login: str, node: str) -> str:
        rc, out, err = await self._run(login, "sinfo", "-h", "-N", "-n", node, "-o", "%o")
        if rc != 0:
            raise Unavailable(err or f"sinfo: exit status {rc}")
        return out.splitlines()[0].strip() if out else ""

    async def cancel(self, login: str, job_id: str) -> str:
        rc, _, err = await self._run(login, "scancel", job_id)
        return "" if rc == 0 else (err or f"exit status {rc}")


# -- REST -------------------------------------------------------------------------------


def jwt_key(path: Path) -> bytes:
    """The HS256 key in ``path``. Raises :class:`ConfigError` (naming the path, never
    the content) when it cannot be read, is empty, is not a regular file or is readable
    or writable by others than its owner."""
    where = "slurm.rest.jwt_key_file"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise ConfigError(f"{where}: cannot read {path} ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{where}: {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(f"{where}: {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                              "it must be readable by the hub only (0600 or 0400)")
        key = f.read(4096)
    if not key.strip():
        raise ConfigError(f"{where}: {path} is empty")
    return key


def token(key: bytes, login: str, lifetime: int, now: float | None = None) -> str:
    """A JWT Slurm accepts as ``login`` (claim ``sun``) for ``lifetime`` seconds."""
    issued = int(time.time() if now is None else now)
    return jwt.encode({"sun": login, "iat": issued, "exp": issued + lifetime}, key, algorithm="HS256")


#: ``#SBATCH`` options the scripts use, and the job description field each becomes.
_FIELDS = {
    "job-name": "name", "account": "account", "partition": "partition", "qos": "qos",
    "chdir": "current_working_directory", "output": "standard_output", "nodelist": "required_nodes",
}


def _minutes(walltime: str) -> int:
    hours, minutes, seconds = (int(part) for part in walltime.split(":"))
    return hours * 60 + minutes + (1 if seconds else 0)


def _mebibytes(memory: str) -> int:
    number, unit = int(memory[:-1]), memory[-1]
    return number * 1024 if unit == "G" else number


def job_description(script: str, env: dict[str, str]) -> dict:
    """The ``job`` of a REST submission: the script's ``#SBATCH --name=value`` options
    as fields, ``env`` as its whole environment (what ``--export=ALL`` gives on a
    submit host; PATH defaults to the system's). Raises ``ValueError`` on an option this transport does not know (the
    scripts are the hub's own: a new option must be mapped here)."""
    job: dict = {"environment": {"PATH": "/usr/local/bin:/usr/bin:/bin", **env}}
    for line in script.splitlines():
        if not line.startswith("#SBATCH "):
            continue
        option, _, value = line.removeprefix("#SBATCH ").strip().removeprefix("--").partition("=")
        if option in _FIELDS:
            job[_FIELDS[option]] = value.split(",") if option == "nodelist" else value
        elif option in ("nodes", "ntasks"):
            job["minimum_nodes" if option == "nodes" else "tasks"] = int(value)
        elif option == "cpus-per-task":
            job["cpus_per_task"] = int(value)
        elif option == "mem":
            job["memory_per_node"] = _mebibytes(value)
        elif option == "time":
            job["time_limit"] = _minutes(value)
        elif option == "gres":
            job["tres_per_node"] = f"gres:{value}"
        elif option != "export":
            raise ValueError(f"#SBATCH --{option}: no REST field for this option")
    return job


def _slurm_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%dT%H:%M:%S") if epoch else "N/A"


class RestTransport(Transport):
    """Slurm's REST API (see the module docstring): ``slurm.rest.url``, a token per
    request signed with ``slurm.rest.jwt_key_file``."""

    def __init__(self, settings: Settings):
        rest = settings.slurm.rest
        self.base = rest.url.rstrip("/") + f"/slurm/{REST_VERSION}"
        self.key_path = settings.path(rest.jwt_key_file)
        self.lifetime = rest.token_lifetime
        self.timeout = settings.slurm.command_timeout

    def _headers(self, login: str) -> dict[str, str]:
        return {"X-SLURM-USER-NAME": login, "X-SLURM-USER-TOKEN": token(jwt_key(self.key_path), login, self.lifetime),
                "Content-Type": "application/json"}

    async def _call(self, login: str, method: str, path: str, body: dict | None = None) -> tuple[dict, str]:
        """(answer, first error description) of one request. Raises
        :class:`Unavailable` when the API does not answer with Slurm's JSON."""
        request = HTTPRequest(self.base + path, method=method, headers=self._headers(login),
                              body=json.dumps(body) if body is not None else None,
                              request_timeout=self.timeout, connect_timeout=self.timeout)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as e:
            raise Unavailable(f"slurmrestd: {type(e).__name__}") from None
        try:
            answer = json.loads(response.body or b"")
        except ValueError:
            raise Unavailable(f"slurmrestd: HTTP {response.code}") from None
        errors = answer.get("errors") or []
        first = errors[0] if errors else {}
        error = ""
        if first:
            error = str(first.get("description") or first.get("error") or "error")
        elif response.code != 200:
            error = f"HTTP {response.code}"
        return answer, error

    async def submit(self, login: str, script: str, env: dict[str, str]) -> Submitted:
        body = {"script": script, "job": job_description(script, env)}
        answer, error = await self._call(login, "POST", "/job/submit", body)
        job_id = str(answer.get("job_id", ""))
        if not error and _JOB_ID.fullmatch(job_id):
            return Submitted(job_id)
        return Submitted("", error or "no job id")

    async def query(self, login: str, job_id: str) -> JobInfo | None:
        answer, error = await self._call(login, "GET", f"/job/{job_id}")
        jobs = answer.get("jobs") or []
        if not jobs:
            if "Invalid job id" in error or "Unable to find" in error:
                return None
            raise Unavailable(error or "slurmrestd: no job in the answer")
        job = jobs[0]
        state = str(job.get("job_state", ""))
        if not _STATE.fullmatch(state):
            raise Unavailable("slurmrestd: unreadable job state")
        exit_code = "" if state in _PENDING_OR_RUNNING else f"{int(job.get('exit_code') or 0)}:0"
        return JobInfo(state, str(job.get("state_reason", "")), _slurm_time(int(job.get("start_time") or 0)),
                       str(job.get("batch_host", "")), _slurm_time(int(job.get("end_time") or 0)), exit_code)

    async def pending(self, login: str, partition: str) -> list[tuple[str, int]]:
        answer, error = await self._call(login, "GET", "/jobs")
        if error:
            raise Unavailable(error)
        return [(str(job.get("job_id", "")), int(job.get("priority") or 0)) for job in answer.get("jobs") or []
                if job.get("job_state") == "PENDING" and job.get("partition") == partition]

    async def node_address(self, login: str, node: str) -> str:
        if not _NODE.fullmatch(node):
            return ""
        answer, error = await self._call(login, "GET", f"/node/{node}")
        nodes = answer.get("nodes") or []
        if not nodes:
            raise Unavailable(error or "slurmrestd: no node in the answer")
        return str(nodes[0].get("address", ""))

    async def cancel(self, login: str, job_id: str) -> str:
        _, error = await self._call(login, "DELETE", f"/job/{job_id}")
        return error


def transport_of(settings: Settings) -> Transport:
    """The deployment's transport (``slurm.transport``)."""
    return RestTransport(settings) if settings.slurm.transport == "rest" else CliTransport(settings)
