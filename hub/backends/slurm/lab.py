"""The ``slurm`` backend: a lab is a batch job on Austral, the Slurm cluster.

A ``slurm`` profile's resources come from the spawn form, within the user's partner's
:class:`~hub.settings.AustralEntitlement`: account, partition, QOS, cores, memory, GPUs,
walltime. Each field has a strict grammar and a range (:func:`validate_request`); only
the validated, normalised :class:`SlurmRequest` reaches the batch script, which this
module writes itself (:func:`batch_script`): batchspawner's default of templating
``user_options`` raw into the script is not used.

The hub user runs on the cluster as a *cluster login* (:func:`cluster_login`, from the
deployment's :class:`~hub.settings.ClusterLoginRule`). Slurm commands run as that login
through ``sudo -n -E -u <login> --`` with an argument list, never a shell; the hub needs
root or a sudoers rule allowing it to run sbatch, squeue, scancel, sinfo and tail as the
cluster logins with SETENV.

The lab listens on the node's address as Slurm knows it (``NodeAddr``), and the hub
connects there; its port comes back through batchspawner's ``/api/batchspawner``, and
the start ends once the lab accepts connections on it.
While the job is pending, progress shows Slurm's reason and expected start; a job that
ends during the start fails the spawn at the next poll (1 s) with its state and the tail
of its log; a start that outlasts ``start_timeout`` cancels the job. The job id is saved
in the hub database as soon as sbatch answers, so a hub that restarts finds it: a running
lab is re-attached, a job still starting is cancelled.
"""

from __future__ import annotations

import asyncio
import html
import os
import pwd
import re
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import batchspawner
from sqlalchemy import inspect
from tornado import web
from traitlets import Any, Bool, Float, List, Unicode

from ... import storage
from ...metrics import SLURM_PENDING
from ...messages import text
from ...names import safe_name
from ...settings import (
    AustralEntitlement,
    Backend,
    Profile,
    Settings,
    memory_bytes,
    walltime_minutes,
)
from ..base import DataLabSpawnerMixin

#: The form fields of a slurm profile, which are also its ``user_options`` keys.
FIELDS = ("account", "partition", "qos", "cores", "memory", "gpus", "walltime")

#: The smallest memory a lab may ask for, in MiB.
MIN_MEMORY_MIB = 128

#: The job log, in the cluster login's home (``%j``: the job id).
JOB_LOG = "datalab-austral-%j.log"

#: The library link in the cluster login's home (same name as the local backend's).
LIBRARY_LINK = storage.LIBRARY_LINK

_LOGIN = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_HOME = re.compile(r"/[A-Za-z0-9._/-]{0,4000}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_INTEGER = re.compile(r"[0-9]{1,4}")
_MEMORY = re.compile(r"([1-9][0-9]{0,6})([MG])")
_WALLTIME = re.compile(r"([0-9]{1,3}):([0-5][0-9])")
_JOB_ID = re.compile(r"[0-9]{1,12}")

PENDING_STATES = {"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED"}
RUNNING_STATES = {"RUNNING", "COMPLETING"}

POLL_INTERVAL = 1.0


class SlurmError(web.HTTPError):
    """A spawn failure to show as is: its message reaches the spawn page and API callers."""

    def __init__(self, status: int, message: str):
        super().__init__(status, log_message=message.replace("%", "%%"))
        self.jupyterhub_message = message


# -- the request ------------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmRequest:
    """A validated resource request: names already checked against the entitlement,
    numbers within its limits. ``memory_mib`` in MiB, ``walltime`` in minutes."""

    account: str
    partition: str
    qos: str
    cores: int
    memory_mib: int
    gpus: int
    walltime: int

    def directives(self) -> list[str]:
        """The request as sbatch options, e.g. ``--mem=2048M``."""
        out = [
            f"--account={self.account}",
            f"--partition={self.partition}",
            "--nodes=1",
            "--ntasks=1",
            f"--cpus-per-task={self.cores}",
            f"--mem={self.memory_mib}M",
            f"--time={self.walltime // 60}:{self.walltime % 60:02d}:00",
        ]
        if self.qos:
            out.append(f"--qos={self.qos}")
        if self.gpus:
            out.append(f"--gres=gpu:{self.gpus}")
        return out


def option_keys(settings: Settings, profile: Profile) -> set[str]:
    """The ``user_options`` keys ``profile`` accepts besides ``profile``."""
    return set(FIELDS) if settings.backend_of(profile) is Backend.slurm else set()


def _memory_text(mib: int) -> str:
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _walltime_text(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _raw(options: dict, field: str, default: str) -> str | None:
    """The option as text (numbers accepted), its default when absent, None when it is of
    another type or longer than any valid value."""
    value = options.get(field)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    value = str(value)
    return value if len(value) <= 64 else None


def validate_request(
    options: dict, entitlements: list[AustralEntitlement], t
) -> SlurmRequest:
    """Check ``options`` (form fields or API ``user_options``, values as text or numbers)
    against the user's ``entitlements`` (one per entitled partner, the first is the
    default); missing fields take the entitlement's defaults.

    Returns the normalised :class:`SlurmRequest`. Raises :class:`SlurmError` 400 naming
    the first refused field and its allowed values or range; ``t(key, **values)`` gives texts.
    """

    def refuse(field: str, expected: str) -> SlurmError:
        label = t(f"slurm_field_{field}")
        return SlurmError(400, t("slurm_field_invalid", label=label, field=field, expected=expected))

    def choice(field: str, allowed: list[str]) -> str:
        default = allowed[0] if allowed else ""
        value = _raw(options, field, default)
        if not allowed and value == "":
            return ""
        if value is None or not _NAME.fullmatch(value) or value not in allowed:
            raise refuse(field, t("slurm_expect_choice", allowed=", ".join(allowed) or "—"))
        return value

    def integer(field: str, default: int, low: int, high: int) -> int:
        value = _raw(options, field, str(default))
        expected = t("slurm_expect_integer", min=low, max=high)
        if value is None or not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
            raise refuse(field, expected)
        return int(value)

    account = choice("account", [e.account for e in entitlements])
    entitlement = next(e for e in entitlements if e.account == account)
    partition = choice("partition", entitlement.partitions)
    qos = choice("qos", entitlement.qos)
    cores = integer("cores", entitlement.default_cores, 1, entitlement.max_cores)

    max_mib = memory_bytes(entitlement.max_memory) // 1024**2
    default_mib = max(MIN_MEMORY_MIB, memory_bytes(entitlement.default_memory) // 1024**2)
    memory = _raw(options, "memory", _memory_text(default_mib))
    match = _MEMORY.fullmatch(memory) if memory is not None else None
    mib = int(match[1]) * (1024 if match[2] == "G" else 1) if match else 0
    if not MIN_MEMORY_MIB <= mib <= max_mib:
        raise refuse(
            "memory",
            t("slurm_expect_memory", min=_memory_text(MIN_MEMORY_MIB), max=_memory_text(max_mib)),
        )

    gpus = integer("gpus", 0, 0, entitlement.max_gpus)

    max_minutes = walltime_minutes(entitlement.max_walltime)
    walltime = _raw(options, "walltime", entitlement.default_walltime)
    match = _WALLTIME.fullmatch(walltime) if walltime is not None else None
    minutes = int(match[1]) * 60 + int(match[2]) if match else 0
    if not 1 <= minutes <= max_minutes:
        raise refuse(
            "walltime", t("slurm_expect_walltime", min="0:01", max=_walltime_text(max_minutes))
        )
    return SlurmRequest(account, partition, qos, cores, mib, gpus, minutes)


def form_field_name(profile: Profile, field: str) -> str:
    """The spawn form's input name of ``field`` under ``profile``."""
    return f"slurm-{profile.id}-{field}"


def fields_html(settings: Settings, entitlements: list[AustralEntitlement], profile: Profile, t) -> str:
    """The resource fields of a slurm profile on the spawn form (French labels by default),
    with the first entitlement's defaults and limits. Every value is escaped."""
    first = entitlements[0]

    def select(field: str, values: list[str]) -> str:
        options = "".join(
            f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in dict.fromkeys(values)
        )
        return _row(profile, field, t, f'<select class="form-select" id="{form_field_name(profile, field)}" '
                    f'name="{form_field_name(profile, field)}">{options}</select>')

    def text(field: str, value: str, hint: str, number: tuple[int, int] | None = None) -> str:
        name = form_field_name(profile, field)
        kind = f'type="number" min="{number[0]}" max="{number[1]}"' if number else 'type="text"'
        return _row(profile, field, t,
                    f'<input class="form-control" {kind} id="{name}" name="{name}" '
                    f'value="{html.escape(value)}"> <small class="text-muted">{html.escape(hint)}</small>')

    max_mib = memory_bytes(first.max_memory) // 1024**2
    default_mib = max(MIN_MEMORY_MIB, memory_bytes(first.default_memory) // 1024**2)
    rows = [
        select("account", [e.account for e in entitlements]),
        select("partition", [p for e in entitlements for p in e.partitions]),
    ]
    if any(e.qos for e in entitlements):
        rows.append(select("qos", [q for e in entitlements for q in e.qos]))
    rows += [
        text("cores", str(first.default_cores), f"1 – {first.max_cores}", (1, first.max_cores)),
        text("memory", _memory_text(default_mib), f"{_memory_text(MIN_MEMORY_MIB)} – {_memory_text(max_mib)}"),
    ]
    if first.max_gpus:
        rows.append(text("gpus", "0", f"0 – {first.max_gpus}", (0, first.max_gpus)))
    rows.append(text("walltime", first.default_walltime, f"0:01 – {first.max_walltime}"))
    legend = html.escape(t("slurm_fieldset", cluster=settings.slurm.name))
    return (
        f'<fieldset class="datalab-slurm border rounded p-2 ms-4 mb-2" data-profile="{html.escape(profile.id)}">'
        f"<legend class=\"fs-6\">{legend}</legend>{''.join(rows)}</fieldset>"
    )


def _row(profile: Profile, field: str, t, control: str) -> str:
    return (
        f'<div class="row mb-1"><label class="col-sm-3 col-form-label" '
        f'for="{form_field_name(profile, field)}">{html.escape(t(f"slurm_field_{field}"))}</label>'
        f'<div class="col-sm-9">{control}</div></div>'
    )


def options_from_form(profile: Profile, formdata: dict[str, list[str]]) -> dict[str, str]:
    """The slurm fields of ``profile`` in the posted form, as ``user_options``."""
    out = {}
    for field in FIELDS:
        values = formdata.get(form_field_name(profile, field))
        if values:
            out[field] = values[0]
    return out


def with_profile_fields(spawner: DataLabSpawnerMixin, options: dict, formdata: dict) -> dict:
    """``options`` (``{"profile": id}`` from the form) plus the slurm fields posted under
    the chosen profile (the first offered when the form had no choice)."""
    profiles = spawner.profiles()
    chosen = options.get("profile") or (profiles[0].id if profiles else "")
    for profile in profiles:
        if profile.id == chosen and option_keys(spawner.settings, profile):
            options = {**options, **options_from_form(profile, formdata)}
    return options


# -- the cluster login ------------------------------------------------------------------


def _dig(mapping: object, path: str) -> object:
    for key in path.split("."):
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def cluster_login(settings: Settings, username: str, auth_state: dict | None) -> str | None:
    """The cluster login of hub user ``username`` by the deployment's rule (claim in
    ``auth_state``, then table, then pattern), or None when none maps it to a POSIX name."""
    rule = settings.slurm.login
    candidates = []
    if rule.claim:
        candidates.append(_dig(auth_state or {}, rule.claim))
    candidates.append(rule.table.get(username))
    if rule.pattern:
        fixed = len(rule.pattern) - len("{name}")
        candidates.append(rule.pattern.replace("{name}", safe_name(username, max(16, 32 - fixed))))
    for login in candidates:
        if isinstance(login, str) and _LOGIN.fullmatch(login):
            return login
    return None


def login_home(login: str) -> str:
    """The home directory of cluster login ``login``. Raises ``KeyError`` when there is
    no such account, ``ValueError`` when its home is not a plain absolute path."""
    home = pwd.getpwnam(login).pw_dir
    if not _HOME.fullmatch(home) or ".." in home.split("/"):
        raise ValueError(f"home directory of {login} is not a plain path: {home!r}")
    return home


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


# -- the batch script -------------------------------------------------------------------


def job_name(username: str) -> str:
    """``datalab-<escaped user name>``: the Slurm job name of a user's lab."""
    return "datalab-" + safe_name(username, 40)


def batch_script(
    *,
    name: str,
    request: SlurmRequest,
    home: str,
    venv: Path | None,
    setup: str,
    library: Path,
    command: list[str],
) -> str:
    """The batch script of a lab. ``name`` (from :func:`job_name`) and ``home`` are safe
    names; ``request`` is validated; ``venv``, ``setup``, ``library`` and ``command`` come
    from the operator's deployment file. Nothing typed by a user appears raw: every shell
    word is quoted and every directive holds a validated value.

    The job runs in ``home``, logs to ``home``/datalab-austral-<job id>.log, exports its
    whole environment to ``srun`` (so PATH survives), puts ``venv``'s bin first on PATH,
    links the library into the home, and makes the lab listen on the node's Slurm address.
    """
    directives = [
        f"--job-name={name}",
        *request.directives(),
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
        f"export PYTHONPATH={q(str(library))} DATALAB_LIBRARY={q(str(library))}",
        f"if [ -L {q(library_link)} ] || [ ! -e {q(library_link)} ]; then "
        f"ln -sfn {q(str(library))} {q(library_link)}; fi",
        'export DATALAB_WALLTIME_END="$(squeue -h -j "$SLURM_JOB_ID" -o %e)"',
        'node_addr="$(sinfo -h -N -n "$SLURMD_NODENAME" -o %o | head -n 1)"',
        'export JUPYTERHUB_SERVICE_URL="http://${node_addr}:0${JUPYTERHUB_SERVICE_PREFIX}"',
        f"srun --export=ALL --ntasks=1 --cpus-per-task={request.cores} "
        + " ".join(q(word) for word in command),
    ]
    return "\n".join(lines) + "\n"


# -- the job as Slurm reports it --------------------------------------------------------


@dataclass(frozen=True)
class JobInfo:
    """One line of ``squeue -o '%T|%r|%S|%B|%e'``: state, reason, (expected) start,
    batch host, (expected) end."""

    state: str
    reason: str
    start: str
    node: str
    end: str

    @classmethod
    def parse(cls, line: str) -> JobInfo | None:
        parts = line.strip().split("|")
        return cls(*parts) if len(parts) == 5 else None


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
    state_owner = Any(None, help="The spawner whose state is saved (a dispatcher), or None: self")
    starting_here = Bool(False, help="This hub process is running start()")
    events = List(help="Progress events of the current start")

    # -- options --------------------------------------------------------------------
    def entitlements(self) -> list[AustralEntitlement]:
        return self.settings.slurm.entitlements_of(self.partner_ids)

    def profile_option_keys(self, profile: Profile) -> set[str]:
        return option_keys(self.settings, profile)

    def profile_fields_html(self, profile: Profile) -> str:
        if self.settings.backend_of(profile) is not Backend.slurm or not self.entitlements():
            return ""
        return fields_html(self.settings, self.entitlements(), profile, self._t)

    def apply_profile_options(self, profile: Profile, options: dict) -> None:
        self.request = validate_request(options, self.entitlements(), self._t)

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        return with_profile_fields(self, super().options_from_form(formdata), formdata)

    # -- Slurm commands -------------------------------------------------------------
    def _command_env(self, lab: bool) -> dict[str, str]:
        """PATH and SLURM_CONF; with ``lab``, the lab's environment too (for sbatch, whose
        job exports it: the hub's API token, URLs, user)."""
        env = self.get_env() if lab else {}
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        if "SLURM_CONF" in os.environ:
            env["SLURM_CONF"] = os.environ["SLURM_CONF"]
        return env

    async def _run(self, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        """Run a command as the cluster login (argument list, no shell); (rc, out, err).
        ``stdin`` (a batch script) also passes the lab's environment.
        Raises :class:`SlurmError` 503 when it does not answer within command_timeout."""
        try:
            return await run_as(self.login, list(argv), env=self._command_env(lab=stdin is not None),
                                timeout=self.settings.slurm.command_timeout, stdin=stdin)
        except asyncio.TimeoutError:
            raise SlurmError(
                503, self._t("slurm_unavailable", cluster=self.settings.slurm.name, message=f"{argv[0]}: timeout")
            ) from None

    async def query(self) -> JobInfo | None:
        """The job as squeue reports it, None when Slurm no longer knows it.
        Raises :class:`SlurmError` 503 when the controller does not answer."""
        rc, out, err = await self._run("squeue", "-h", "-t", "all", "-j", self.job_id, "-o", "%T|%r|%S|%B|%e")
        if rc == 0:
            return JobInfo.parse(out.splitlines()[0]) if out else None
        if "Invalid job id" in err:
            return None
        raise SlurmError(503, self._t("slurm_unavailable", cluster=self.settings.slurm.name, message=err))

    async def node_address(self, node: str) -> str:
        """The address Slurm knows ``node`` by (its NodeAddr), where the lab listens."""
        if not _NODE.fullmatch(node):
            raise SlurmError(500, f"unexpected node name from squeue: {node[:80]!r}")
        rc, out, err = await self._run("sinfo", "-h", "-N", "-n", node, "-o", "%o")
        address = out.splitlines()[0].strip() if rc == 0 and out else ""
        if not _NODE.fullmatch(address):
            raise SlurmError(503, self._t("slurm_unavailable", cluster=self.settings.slurm.name, message=err or out))
        return address

    async def cancel(self) -> None:
        """scancel the job (a job already ended is not an error)."""
        if self.job_id and self.login:
            rc, _, err = await self._run("scancel", self.job_id)
            if rc != 0:
                self.log.warning("scancel %s: %s", self.job_id, err)

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

    def _resolve_login(self, auth_state: dict | None) -> str:
        contact = self.settings.hub.contact
        cluster = self.settings.slurm.name
        login = cluster_login(self.settings, self.user.name, auth_state)
        if login is None:
            raise SlurmError(403, self._t("slurm_no_login", cluster=cluster, contact=contact))
        try:
            home = login_home(login)
        except KeyError:
            raise SlurmError(403, self._t("slurm_login_unknown", login=login, cluster=cluster, contact=contact)) from None
        except ValueError as e:
            raise SlurmError(500, str(e)) from None
        self.login = login
        return home

    def render_script(self, home: str) -> str:
        """The batch script of the next start (see :func:`batch_script`)."""
        lab = self.settings.slurm.lab
        library = self.settings.path(lab.library_dir) if lab.library_dir else storage.Layout(self.settings.data_dir).library
        venv = self.settings.path(lab.venv) if lab.venv else Path(sys.prefix)
        command = [*lab.prefix, self.batchspawner_singleuser_cmd, *self.cmd, *self.get_args()]
        return batch_script(
            name=job_name(self.user.name), request=self.request, home=home, venv=venv,
            setup=lab.setup, library=library, command=command,
        )

    async def start(self):
        """Submit the job, follow it until the lab is reachable; returns (ip, port).
        Raises :class:`SlurmError` with Slurm's words on every failure."""
        if self.request is None:
            self.request = validate_request({}, self.entitlements(), self._t)
        self.events = []
        self.starting_here = True
        self.port = 0
        self.node = ""
        home = self._resolve_login(await self.user.get_auth_state())
        script = self.render_script(home)
        self.log.info("Submitting %s's lab to Slurm as %s:\n%s", self.user.name, self.login, script)
        rc, out, err = await self._run("sbatch", "--parsable", stdin=script)
        job_id = submitted_job_id(rc, out)
        if not job_id:
            raise SlurmError(400, self._t("slurm_refused", cluster=self.settings.slurm.name,
                                          message=(err or out or f"exit status {rc}").removeprefix("sbatch: error: ")))
        self.job_id = job_id
        self.phase = "starting"
        self._save_state()
        self._event(10, self._t("slurm_submitted", job=job_id, cluster=self.settings.slurm.name,
                                account=self.request.account, partition=self.request.partition))
        try:
            return await self._follow_start()
        except BaseException:
            await asyncio.shield(self.cancel())
            self.phase = ""
            raise
        finally:
            self.starting_here = False

    async def _follow_start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(5, self.start_timeout - 3)
        submitted = loop.time()
        last = None
        while True:
            info = await self.query()
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
                    SLURM_PENDING.labels(partition=self.request.partition).observe(loop.time() - submitted)
                    self._save_state()
                    self._event(60, self._t("slurm_running", job=self.job_id, node=info.node))
                if self.port and await _listening(self.ip, self.port):
                    break
            elif (info.state, info.reason, info.start) != last:
                last = (info.state, info.reason, info.start)
                self._event(30, self.pending_message(info))
            if loop.time() > deadline:
                raise SlurmError(500, self._t("slurm_timeout", seconds=self.start_timeout, job=self.job_id,
                                              state=info.state, reason=info.reason))
            await asyncio.sleep(POLL_INTERVAL)
        if self.server:
            self.server.port = self.port
        self.phase = "running"
        self._save_state()
        self.log.info("Slurm job %s of %s serves on %s:%s", self.job_id, self.user.name, self.ip, self.port)
        return self.ip, self.port

    def pending_message(self, info: JobInfo) -> str:
        """What a person reads while the job waits: Slurm's reason, explained when known,
        and the expected start when Slurm gives one."""
        explained = ""
        for prefix in ("None", "Resources", "Priority", "QOS", "Assoc", "Partition"):
            if info.reason.startswith(prefix):
                explained = " (" + self._t(f"slurm_reason_{prefix}") + ")"
        start = ""
        if _timestamp(info.start):
            start = self._t("slurm_pending_start", start=info.start.replace("T", " "))
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
        """None while the job runs; 1 once it has ended. A job left 'starting' by an
        earlier hub process is cancelled (its start can no longer complete)."""
        if not self.job_id:
            return 0
        if self.phase == "starting" and not self.starting_here:
            self.log.warning("Cancelling Slurm job %s of %s: its start was interrupted", self.job_id, self.user.name)
            await self.cancel()
            self.clear_state()
            return 1
        try:
            info = await self.query()
        except SlurmError:
            return None
        if info is None or info.state not in PENDING_STATES | RUNNING_STATES:
            self.clear_state()
            return 1
        if info.state in RUNNING_STATES:
            self.walltime_end = _timestamp(info.end) or self.walltime_end
        return None

    async def stop(self, now=False):
        """scancel the job; unless ``now``, wait (10 s at most) until Slurm ends it."""
        if not self.job_id:
            return
        await self.cancel()
        if now:
            return
        for _ in range(10):
            try:
                info = await self.query()
            except SlurmError:
                info = None
            if info is None or info.state not in PENDING_STATES | RUNNING_STATES:
                return
            await asyncio.sleep(1)
        self.log.warning("Slurm job %s still ends after scancel", self.job_id)

    def get_state(self):
        state = super().get_state()
        state.pop("job_status", None)
        if self.job_id:
            state.update(login=self.login, node=self.node, phase=self.phase, walltime_end=self.walltime_end)
            if self.request is not None:
                state["request"] = asdict(self.request)
        return state

    def load_state(self, state):
        super().load_state(state)
        self.login = state.get("login", "")
        self.node = state.get("node", "")
        self.phase = state.get("phase", "")
        self.walltime_end = state.get("walltime_end", 0.0)
        if state.get("request"):
            self.request = SlurmRequest(**state["request"])

    def clear_state(self):
        super().clear_state()
        self.node = ""
        self.phase = ""
        self.walltime_end = 0.0

    # -- environment ----------------------------------------------------------------
    def get_env(self):
        env = super().get_env()
        env["DATALAB_PARTNERS"] = ",".join(sorted(self.partner_ids))
        env["DATALAB_CLUSTER"] = self.settings.slurm.name
        if self.selected_profile is not None:
            env["DATALAB_PROFILE"] = self.selected_profile.id
        return env

    def user_env(self, env):
        if self.login:
            env["USER"] = self.login
            env["HOME"] = pwd.getpwnam(self.login).pw_dir
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
