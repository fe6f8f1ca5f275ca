"""Austral, the Slurm cluster behind ``slurm`` profiles: entitlements, cluster logins and
the lab's environment on the nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyAddress, StringConstraints, model_validator

from .base import MemorySize, Model, Slug, UserName, memory_bytes


#: Slurm accounts, partitions and QOS: letters, digits, ``_``, ``.``, ``-`` (no shell
#: metacharacter, no space), 64 characters at most.
SlurmName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


#: Cluster logins: POSIX user names.
ClusterLogin = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")]


#: Walltimes as ``H:MM`` (hours, minutes), e.g. ``8:00`` or ``0:30``.
Walltime = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}:[0-5][0-9]$")]


def walltime_minutes(value: str) -> int:
    """``"2:30"`` -> 150: a :data:`Walltime` in minutes."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class AustralEntitlement(Model):
    """What one partner may use on Austral (the Slurm cluster).

    ``account``: the Slurm account its jobs are charged to; ``partitions`` and ``qos``:
    those its members may choose (the first is the default; no ``qos`` means none is
    requested); ``max_*``: the largest request a member may make (cores, memory as a
    :data:`MemorySize`, GPUs, walltime as a :data:`Walltime`); ``default_*``: what the
    spawn form proposes. Raises on a default above its maximum.
    """

    partner: Slug
    account: SlurmName
    partitions: Annotated[list[SlurmName], Field(min_length=1)]
    qos: list[SlurmName] = []
    max_cores: Annotated[int, Field(ge=1, le=1024)] = 4
    max_memory: MemorySize = "16G"
    max_gpus: Annotated[int, Field(ge=0, le=64)] = 0
    max_walltime: Walltime = "8:00"
    default_cores: Annotated[int, Field(ge=1, le=1024)] = 1
    default_memory: MemorySize = "4G"
    default_walltime: Walltime = "2:00"

    @model_validator(mode="after")
    def _defaults_within_limits(self) -> AustralEntitlement:
        problems = []
        if self.default_cores > self.max_cores:
            problems.append(f"default_cores {self.default_cores} exceeds max_cores {self.max_cores}")
        if memory_bytes(self.default_memory) > memory_bytes(self.max_memory):
            problems.append(f"default_memory {self.default_memory} exceeds max_memory {self.max_memory}")
        if memory_bytes(self.max_memory) < 128 * 1024**2:
            problems.append(f"max_memory {self.max_memory} is below the smallest lab (128M)")
        if not 1 <= walltime_minutes(self.default_walltime) <= walltime_minutes(self.max_walltime):
            problems.append(
                f"default_walltime {self.default_walltime} must be between 0:01 and "
                f"max_walltime {self.max_walltime}"
            )
        if walltime_minutes(self.max_walltime) < 1:
            problems.append("max_walltime must be at least 0:01")
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: A dotted path into a mapping, e.g. ``oauth_user.austral_login``.
DottedPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]


#: A login pattern: ``{name}`` once, with POSIX-name characters around it.
LoginPattern = Annotated[
    str, StringConstraints(pattern=r"^[a-z_]?[a-z0-9_-]{0,15}\{name\}[a-z0-9_-]{0,15}$")
]


class ClusterLoginRule(Model):
    """How a hub user becomes a login on the cluster, tried in this order:

    ``claim``: a dotted path into the user's auth_state (e.g. ``oauth_user.austral_login``,
    from the identity provider); ``table``: hub user name -> login; ``pattern``: a login
    built from the escaped hub user name, ``{name}`` standing for
    :func:`hub.names.safe_name` of it (e.g. ``dl-{name}``). A user none of them maps is
    refused at spawn with a message naming the contact; the result must be a POSIX name of
    an existing account.
    """

    claim: DottedPath | None = None
    table: dict[UserName, ClusterLogin] = {}
    pattern: LoginPattern | None = None


class LabEnvironment(Model):
    """Where the lab's software comes from on the compute node (operator-written, trusted).

    ``venv``: a Python environment holding jupyterhub-singleuser and batchspawner, its
    ``bin`` put first on PATH (None: the hub's own environment, for nodes that share the
    hub's file system). ``setup``: shell lines run before the lab (``module load ...``).
    ``prefix``: words put before the lab command, e.g. ``[apptainer, exec, /images/lab.sif]``.
    ``library_dir``: the notebook library as seen from the nodes (None: the hub's copy).
    """

    venv: Path | None = None
    setup: str = ""
    prefix: list[Annotated[str, StringConstraints(min_length=1, max_length=512)]] = []
    library_dir: Path | None = None


class SlurmRest(Model):
    """Slurm's REST API, for ``slurm.transport: rest`` (see
    :mod:`hub.backends.slurm.transport`).

    ``url``: slurmrestd's base URL (``http(s)://host:port``, without ``/slurm/...``);
    ``jwt_key_file``: the cluster's HS256 key (``jwt_hs256.key``, relative to the
    deployment file; readable by the hub only); ``token_lifetime``: seconds each token
    the hub signs is valid.
    """

    url: Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\[\]:-]+(:[0-9]{1,5})?/?$")]
    jwt_key_file: Path
    token_lifetime: Annotated[int, Field(ge=30, le=3600)] = 300


class Slurm(Model):
    """Austral, the Slurm cluster behind ``slurm`` profiles.

    ``name``: shown to users; ``entitlements``: one per entitled partner; ``login``: the
    :class:`ClusterLoginRule`; ``lab``: the :class:`LabEnvironment`;
    ``walltime_warning``: minutes before the end of the walltime from which the hub home
    page warns; ``command_timeout``: seconds a Slurm command (sbatch, squeue, scancel) may take.
    ``confines_health_data``: the cluster's team declares that the jobs of health-data
    partners' members have no network route beyond the hub (docs/austral-health-data.md);
    without it, the hub starts nothing on the cluster for them.
    ``hub_address``: the hub's address as the compute nodes reach it (an IP address of
    the hub's machine); the hub API listens there (port hub.port + 1) instead of
    127.0.0.1, so that labs on other hosts report their port and reach the API (None:
    127.0.0.1, for a cluster on the hub's machine).
    ``transport``: how the hub submits and follows jobs, ``cli`` (Slurm's commands: the
    hub is a submit host) or ``rest`` (slurmrestd, configured by ``rest``).
    """

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "Austral"
    entitlements: list[AustralEntitlement] = []
    login: ClusterLoginRule = ClusterLoginRule()
    lab: LabEnvironment = LabEnvironment()
    walltime_warning: Annotated[int, Field(ge=1, le=1440)] = 15
    command_timeout: Annotated[int, Field(ge=2, le=300)] = 30
    confines_health_data: bool = False
    hub_address: IPvAnyAddress | None = None
    transport: Literal["cli", "rest"] = "cli"
    rest: SlurmRest | None = None

    @model_validator(mode="after")
    def _rest_configured(self) -> Slurm:
        if self.transport == "rest" and self.rest is None:
            raise ValueError("slurm.transport: rest needs slurm.rest (url, jwt_key_file)")
        return self

    def entitlements_of(self, partner_ids: set[str]) -> list[AustralEntitlement]:
        """The entitlements of these partners, in file order."""
        return [e for e in self.entitlements if e.partner in partner_ids]
