"""The ``slurm`` backend's execution policy: who a person is on Austral (their cluster
login, :func:`cluster_login`) and what a job of theirs gets: the resources of a validated
:class:`SlurmRequest` (:func:`validate_request`, from the spawn form's fields within the
person's :class:`~hub.settings.AustralEntitlement`) and the DataLab environment.
:func:`execution` is used by the lab (:mod:`.lab`) and the report runs (:mod:`.report`).
"""

from __future__ import annotations

import html
import pwd
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tornado import web

from ... import storage
from ...names import safe_name
from ...settings import AustralEntitlement, Profile, Settings, memory_bytes, walltime_minutes
from ..protocol import ExecutionSpec, Person, Texts

#: The form fields of a slurm profile, which are also its ``user_options`` keys.
FIELDS = ("account", "partition", "qos", "cores", "memory", "gpus", "walltime")

#: The smallest memory a lab may ask for, in MiB.
MIN_MEMORY_MIB = 128

_LOGIN = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

#: Accounts of the submit host with a smaller uid are system accounts (Debian's and
#: most distributions' ``UID_MIN``).
MIN_UID = 1000
#: Names no lab or report ever runs as, whether or not the submit host has them: root,
#: Debian's and the cluster stack's service accounts.
SYSTEM_LOGINS = frozenset({
    "root", "toor", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news",
    "uucp", "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "_apt",
    "messagebus", "sshd", "systemd-network", "systemd-resolve", "systemd-timesync",
    "systemd-coredump", "polkitd", "avahi", "ntp", "chrony", "postfix", "dnsmasq",
    "slurm", "munge", "mysql", "postgres", "nginx", "docker", "jupyterhub", "datalab",
    "admin", "operator", "adm", "halt", "shutdown", "ftp",
})
_HOME = re.compile(r"/[A-Za-z0-9._/-]{0,4000}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_INTEGER = re.compile(r"[0-9]{1,4}")
_MEMORY = re.compile(r"([1-9][0-9]{0,6})([MG])")
_WALLTIME = re.compile(r"([0-9]{1,3}):([0-5][0-9])")


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


def system_login(login: str) -> bool:
    """True when ``login`` is root or a system account: a name of
    :data:`SYSTEM_LOGINS`, or an account of the submit host whose uid is below
    :data:`MIN_UID`."""
    if login in SYSTEM_LOGINS:
        return True
    try:
        return pwd.getpwnam(login).pw_uid < MIN_UID
    except KeyError:
        return False


def login_home(login: str) -> str:
    """The home directory of cluster login ``login``. Raises ``KeyError`` when there is
    no such account, ``ValueError`` when its home is not a plain absolute path."""
    home = pwd.getpwnam(login).pw_dir
    if not _HOME.fullmatch(home) or ".." in home.split("/"):
        raise ValueError(f"home directory of {login} is not a plain path: {home!r}")
    return home


class NotEntitled(SlurmError):
    """The person's partners have no entitlement on the cluster."""


def library_dir(settings: Settings) -> Path:
    """The library as the compute nodes see it (``slurm.lab.library_dir``, else the hub's)."""
    lab = settings.slurm.lab
    return settings.path(lab.library_dir) if lab.library_dir else storage.Layout(settings.data_dir).library


def venv_dir(settings: Settings) -> Path:
    """The Python environment jobs put first on PATH (``slurm.lab.venv``, else the hub's)."""
    lab = settings.slurm.lab
    return settings.path(lab.venv) if lab.venv else Path(sys.prefix)


def execution(
    settings: Settings, person: Person, profile: Profile | None, t: Texts, *,
    request: SlurmRequest | None = None, auth_state: dict | None = None,
) -> ExecutionSpec:
    """The job of ``person`` on ``profile``: their cluster login and its home, the
    validated ``request`` (None: their first entitlement's defaults) as ``limits``
    (``{"request": SlurmRequest, "directives": [...]}``, the ``#SBATCH`` options) and the
    DataLab environment. Raises :class:`SlurmError` (403: no login, a system account
    (:func:`system_login`), unknown login; 500:
    a home that is not a plain path; 400: a refused request) or :class:`NotEntitled`."""
    cluster, contact = settings.slurm.name, settings.hub.contact
    login = cluster_login(settings, person.name, auth_state)
    if login is None:
        raise SlurmError(403, t("slurm_no_login", cluster=cluster, contact=contact))
    if system_login(login):
        raise SlurmError(403, t("slurm_login_system", login=login, cluster=cluster, min_uid=MIN_UID, contact=contact))
    try:
        home = login_home(login)
    except KeyError:
        raise SlurmError(403, t("slurm_login_unknown", login=login, cluster=cluster, contact=contact)) from None
    except ValueError as e:
        raise SlurmError(500, str(e)) from None
    if request is None:
        entitlements = settings.slurm.entitlements_of(set(person.partner_ids))
        if not entitlements:
            raise NotEntitled(403, f"{person.name} has no entitlement on {cluster}")
        request = validate_request({}, entitlements, t)
    library = str(library_dir(settings))
    env = {
        "HOME": home,
        "PYTHONPATH": library,
        "DATALAB_LIBRARY": library,
        "DATALAB_PARTNERS": ",".join(sorted(person.partner_ids)),
        **({"DATALAB_PROFILE": profile.id} if profile is not None else {}),
        "DATALAB_CLUSTER": cluster,
    }
    return ExecutionSpec(
        account=login, home=home, mounts={},
        limits={"request": request, "directives": request.directives()}, env=env,
    )
