"""The deployment file: its schema, its defaults and its cross-checks.

The deployment file (YAML, ``datalab.yaml`` by default, path from the ``DATALAB_CONFIG``
environment variable) is the single place where an operator describes a DataLab Hub
deployment. :func:`load` reads it into a :class:`Settings` object or raises
:class:`ConfigError` with one line per problem, each naming the key's path
(``profiles[1].partners[0]``) and what is allowed there.

Every key is documented in ``datalab.example.yaml``; relative paths are resolved against
the directory that holds the deployment file.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from enum import Enum
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ..groups import partners_of, partner_group, role_group

#: Partner and profile ids: short lower-case slugs. 24 characters at most so that the
#: Unix group ``partner-<id>`` fits Linux's 32-character limit.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")]

#: Hub user names declared in the file (demo users): the form JupyterHub normalises to.
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._@-]{0,63}$")]


class ConfigError(Exception):
    """The deployment file cannot be used; ``str(error)`` lists every problem found."""


class Model(BaseModel):
    """Base of every section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnerType(str, Enum):
    """The five kinds of DataLab partner."""

    universite = "université"
    recherche = "recherche"
    sante = "santé"
    collectivite = "collectivité"
    entreprise = "entreprise"


class Membership(Model):
    """How a person is recognised at login, from the identity provider's claims.

    ``claim_values``: values of the membership claim (a group name, a Keycloak group path
    such as ``/datalab/chu-exemple``, an entitlement) that mean "member".
    ``email_domains``: e-mail domains (``chu-exemple.fr``) whose addresses mean "member".
    """

    claim_values: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = []
    email_domains: list[
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9-]+)+$")]
    ] = []


class Partner(Model):
    """One of the DataLab partners; becomes the hub group ``partner-<id>``.

    ``sharing``: whether its members may share their lab with other DataLab users
    (false for partners holding health data, for instance)."""

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    type: PartnerType
    members: Membership = Membership()
    sharing: bool = True


class Role(str, Enum):
    """What a person may do on the hub (see :mod:`hub.partners` for the scopes)."""

    analyst = "analyst"
    decision_maker = "decision-maker"
    admin = "admin"


class RoleRule(Model):
    """How a person is recognised as holding a role, from claims (same shape as members)."""

    claim_values: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = []


class Roles(Model):
    """Role recognition rules; a member of a partner with no matching rule is an analyst."""

    analyst: RoleRule = RoleRule()
    decision_maker: RoleRule = Field(RoleRule(), alias="decision-maker")
    admin: RoleRule = RoleRule()


class Audience(BaseModel):
    """``all``: every DataLab member (anyone in at least one partner group);
    ``partners``: partner ids; ``roles``: DataLab roles. At least one must be given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = False
    partners: Annotated[list[Slug], Field(max_length=64)] = []
    roles: list[Role] = []

    @model_validator(mode="after")
    def _not_empty(self) -> "Audience":
        if not (self.all or self.partners or self.roles):
            raise ValueError("an audience needs all: true, partners or roles")
        return self

    def groups(self) -> set[str]:
        """The hub groups whose members are in this audience (empty when ``all``)."""
        return {partner_group(p) for p in self.partners} | {role_group(r) for r in self.roles}

    def admits(self, group_names: set[str] | list[str]) -> bool:
        """True when a person with these hub group names is in the audience."""
        names = set(group_names)
        if role_group(Role.admin) in names:
            return True
        if self.all:
            return bool(partners_of(names))
        return bool(self.groups() & names)


#: Memory sizes: an integer with an optional K, M, G suffix (powers of 1024), e.g. ``4G``.
MemorySize = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,6}[KMG]?$")]


def memory_bytes(size: str) -> int:
    """``"4G"`` -> 4294967296: a :data:`MemorySize` in bytes (K, M, G are powers of 1024)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    if size[-1] in units:
        return int(size[:-1]) * units[size[-1]]
    return int(size)


class Profile(Model):
    """A kind of lab a user may start, offered to the listed partners.

    ``cpu`` is in cores (a fraction allowed), ``memory`` a :data:`MemorySize`; the local
    backend cannot enforce them and passes them to the lab as ``CPU_LIMIT``/``MEM_LIMIT``.
    ``backend``: where this profile's labs run; None means ``spawner.backend``. A ``slurm``
    profile takes its resources from the spawn form, within the partner's
    :class:`AustralEntitlement`, and is offered only to entitled partners.
    """

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: str = ""
    partners: Literal["all"] | list[Slug] = "all"
    cpu: Annotated[float, Field(gt=0, le=256)] = 1.0
    memory: MemorySize = "2G"
    backend: Backend | None = None

    def offered_to(self, partner_ids: set[str]) -> bool:
        """True when one of ``partner_ids`` is entitled to this profile."""
        return self.partners == "all" or bool(partner_ids & set(self.partners))


class Backend(str, Enum):
    """Where labs run."""

    local = "local"
    docker = "docker"
    slurm = "slurm"


class Spawner(Model):
    """How labs are started. ``start_timeout`` and ``http_timeout`` are in seconds.
    ``account_prefix``: local backend, the Unix account of user ``u`` is
    ``<prefix><escaped u>`` (two hubs on one machine need different prefixes)."""

    backend: Backend = Backend.local
    account_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,9}-$")] = "jupyter-"
    default_url: str = "/lab"
    start_timeout: Annotated[int, Field(ge=10, le=3600)] = 120
    http_timeout: Annotated[int, Field(ge=5, le=3600)] = 60

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


class Slurm(Model):
    """Austral, the Slurm cluster behind ``slurm`` profiles.

    ``name``: shown to users; ``entitlements``: one per entitled partner; ``login``: the
    :class:`ClusterLoginRule`; ``lab``: the :class:`LabEnvironment`;
    ``walltime_warning``: minutes before the end of the walltime from which the hub home
    page warns; ``command_timeout``: seconds a Slurm command (sbatch, squeue, scancel) may take.
    """

    name: Annotated[str, StringConstraints(min_length=1, max_length=60)] = "Austral"
    entitlements: list[AustralEntitlement] = []
    login: ClusterLoginRule = ClusterLoginRule()
    lab: LabEnvironment = LabEnvironment()
    walltime_warning: Annotated[int, Field(ge=1, le=1440)] = 15
    command_timeout: Annotated[int, Field(ge=2, le=300)] = 30

    def entitlements_of(self, partner_ids: set[str]) -> list[AustralEntitlement]:
        """The entitlements of these partners, in file order."""
        return [e for e in self.entitlements if e.partner in partner_ids]


class Storage(Model):
    """Where the deployment keeps its files.

    ``data_dir`` holds the hub database and secrets (``hub/``), user homes (``homes/``),
    partner spaces (``partners/``), project spaces (``projects/``) and the library
    versions users see (``library/current`` -> ``library/versions/<commit>``).
    ``library_source`` is the notebook library's git repository: a folder inside a git
    working tree (the library is that folder, published from the commit named by
    ``library.ref``), or a git URL (``https://``, ``ssh://``, ``file://``, ``user@host:path``).
    """

    data_dir: Path = Path("var")
    library_source: str = "shared_notebooks"


#: Names of Docker objects the deployment creates: a Docker-valid name, 2-64 characters.
DockerObjectName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,62}[a-z0-9]$")]


class Docker(Model):
    """The ``docker`` backend: each lab is a container of the lab image.

    ``image``: the lab image; null means ``datalab-lab:<project version>``, built by
    ``make image``. ``network``: the ``--internal`` Docker network labs join, created by
    the hub with ``subnet`` (IPv4 CIDR, at least 16 addresses); the hub's API listens on
    the network's gateway address (the subnet's first host address, on this machine) so
    that labs reach it. ``name_prefix``: start of every container and volume name (two
    hubs sharing one Docker engine need different prefixes). ``api_threads``: Docker API
    calls made at once (1-64).
    """

    image: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")] | None = None
    network: DockerObjectName = "datalab-labs"
    subnet: IPv4Network = IPv4Network("172.31.240.0/24")
    name_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,14}-$")] = "datalab-"
    api_threads: Annotated[int, Field(ge=1, le=64)] = 8

    @field_validator("subnet")
    @classmethod
    def _room_for_labs(cls, subnet: IPv4Network) -> IPv4Network:
        if subnet.prefixlen > 28:
            raise ValueError(f"{subnet} holds too few addresses; use a /28 or larger")
        return subnet

    @property
    def gateway(self) -> str:
        """The subnet's first host address: the host's side of the network."""
        return str(next(self.subnet.hosts()))


class HubSection(Model):
    """The hub process: where it listens, its language, its database.

    ``db_url`` defaults to SQLite in ``<data_dir>/hub/jupyterhub.sqlite``.
    The ``DATALAB_PORT`` environment variable overrides ``port``. ``config_dir``
    (relative to the deployment file; null: none): a folder whose ``*.py`` files are
    loaded, in name order, after the deployment is applied, as extra JupyterHub
    configuration (the escape hatch, like TLJH's and Z2JH's ``jupyterhub_config.d``).
    """

    ip: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    base_url: Annotated[str, StringConstraints(pattern=r"^/([A-Za-z0-9._~-]+/)*$")] = "/"
    language: Literal["fr", "en"] = "fr"
    db_url: str | None = None
    contact: str = "l'équipe DataLab Normandie"
    config_dir: Path | None = Path("jupyterhub_config.d")


class ProxySection(Model):
    """The public proxy (configurable-http-proxy) in front of the hub and the labs.

    ``managed``: true, the hub starts and stops the proxy itself; false, the proxy runs
    on its own (a systemd unit, see ``ansible/``) on ``hub.ip``/``hub.port`` with its API
    on 127.0.0.1, hub port + 2, and the token of ``<data_dir>/hub/proxy_token``: the hub
    connects to it, and stops without stopping the labs (``cleanup_servers`` off), so a
    hub restart (an upgrade) cuts nobody off.
    """

    managed: bool = True


class DemoUser(Model):
    """A demo account: its hub name, its partner and its role."""

    name: UserName
    partner: Slug
    role: Role = Role.analyst


HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=2000)]
ClaimPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+){0,7}$")]


class OidcEndpoints(Model):
    """The provider's endpoints, when they are not discovered from
    ``<issuer>/.well-known/openid-configuration`` at hub start."""

    authorize_url: HttpUrl
    token_url: HttpUrl
    userinfo_url: HttpUrl
    jwks_url: HttpUrl | None = None
    end_session_url: HttpUrl | None = None


class OidcPreset(str, Enum):
    """Known providers: each fills the defaults listed in :data:`OIDC_PRESETS`."""

    generic = "generic"
    keycloak = "keycloak"
    proconnect = "proconnect"
    lemonldap = "lemonldap"


#: Defaults each preset gives to the keys of :class:`Oidc` left out of the file.
#: Keycloak: a realm's "Group Membership" mapper named ``groups`` with "Full group path"
#: on (values ``/datalab/<partner>``). ProConnect: no groups, members come from their
#: organisation's SIRET (``siret`` claim) or e-mail domain; its userinfo is a signed JWT.
#: LemonLDAP::NG: a ``groups`` scope exporting the session's groups, multi-valued
#: attributes joined with "; " (its default separator).
OIDC_PRESETS: dict[OidcPreset, dict] = {
    OidcPreset.generic: {
        "display_name": "votre fournisseur d'identité",
        "scopes": ["openid", "profile", "email"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": None,
    },
    OidcPreset.keycloak: {
        "display_name": "Keycloak",
        "scopes": ["openid", "profile", "email"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": None,
    },
    OidcPreset.proconnect: {
        "display_name": "ProConnect",
        "scopes": ["openid", "email", "given_name", "usual_name", "uid", "siret"],
        "username_claim": "email",
        "membership_claim": "siret",
        "separator": None,
    },
    OidcPreset.lemonldap: {
        "display_name": "LemonLDAP::NG",
        "scopes": ["openid", "profile", "email", "groups"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": "; ",
    },
}


class Oidc(Model):
    """Login through an OpenID Connect provider (``auth.type: oidc``).

    ``issuer``: the provider's issuer URL; its endpoints are discovered at start unless
    ``endpoints`` gives them. ``client_secret_env`` / ``client_secret_file``: where the
    client secret is read (the secret itself never goes in this file). Keys left out take
    the ``preset``'s value (see :data:`OIDC_PRESETS`); :meth:`effective` resolves them.
    ``refresh_interval``: seconds between two checks of a logged-in person's claims;
    ``refresh_before_expiry``: seconds before its expiry an access token is renewed.
    """

    preset: OidcPreset = OidcPreset.generic
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    issuer: HttpUrl
    endpoints: OidcEndpoints | None = None
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    client_secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "DATALAB_OIDC_CLIENT_SECRET"
    client_secret_file: Path | None = None
    callback_url: HttpUrl | None = None
    scopes: list[Annotated[str, StringConstraints(pattern=r"^[!#-\[\]-~]+$")]] | None = None
    pkce: bool = True
    username_claim: ClaimPath | None = None
    membership_claim: ClaimPath | None = None
    separator: Annotated[str, StringConstraints(min_length=1, max_length=4)] | None = None
    email_claim: ClaimPath = "email"
    require_verified_email: bool = True
    refresh_interval: Annotated[int, Field(ge=1, le=86400)] = 300
    refresh_before_expiry: Annotated[int, Field(ge=0, le=3600)] = 60
    verify_tls: bool = True

    def effective(self, key: str):
        """The value of ``key``: the file's, else the preset's."""
        value = getattr(self, key)
        return OIDC_PRESETS[self.preset][key] if value is None else value


class Auth(Model):
    """How people log in. ``demo``: a shared password (``DATALAB_DEMO_PASSWORD``, else
    generated once into ``<data_dir>/hub/demo_password``) for the declared demo users.
    ``oidc``: an OpenID Connect provider, described in the ``oidc`` section."""

    type: Literal["demo", "oidc"] = "demo"
    demo_users: list[DemoUser] = []
    oidc: Oidc | None = None


#: Git refs the library may follow: a branch, tag or commit, never an option.
GitRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$")]


class Library(Model):
    """How the notebook library is versioned (its source is ``storage.library_source``).

    ``ref``: the branch, tag or commit published; ``subdirectory``: for a git URL, the
    library's folder inside that repository (default: its root); ``follow_minutes``: when
    above 0, the hub publishes the tip of ``ref`` every that many minutes;
    ``keep_versions``: how many published versions stay on disk (the current one included),
    so that a reader of an older one is not cut off mid-read.
    """

    ref: GitRef = "HEAD"
    subdirectory: Annotated[
        str, StringConstraints(pattern=r"^([A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*)?$")
    ] = ""
    follow_minutes: Annotated[int, Field(ge=0, le=10080)] = 0
    keep_versions: Annotated[int, Field(ge=1, le=100)] = 3


class Project(Model):
    """A project across partners: the hub group ``project-<id>`` and a shared space
    readable and writable by its ``members`` (hub user names) only.

    ``end``: the last day of the project (ISO date); from the next day on, its space is
    read-only (still readable by its members)."""

    id: Slug
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    members: Annotated[list[UserName], Field(min_length=1)]
    end: dt.date | None = None

    def ended(self, today: dt.date | None = None) -> bool:
        """True once ``today`` (default: the local date) is past :attr:`end`."""
        return self.end is not None and (today or dt.date.today()) > self.end


class Collaboration(Model):
    """Real-time collaboration in the lab (jupyter-collaboration): people who open the
    same server (its owner and those it is shared with) edit documents together, each
    seeing the others' cursors and changes."""

    enabled: bool = False


class MisfirePolicy(str, Enum):
    """What happens to a scheduled run whose time passed while the reports service was
    down: ``run-once`` runs it once at restart (several missed times make one run),
    ``skip`` drops it and waits for the next time."""

    run_once = "run-once"
    skip = "skip"


#: A notebook parameter name: a Python identifier.
ParameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

#: A kernelspec name, as ``jupyter kernelspec list`` shows it.
KernelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone (``Europe/Paris``); ``ValueError`` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None
    return name


def check_cron(expression: str) -> str:
    """``expression`` when it is a 5-field cron expression (minute hour day month
    day-of-week); ``ValueError`` naming the problem otherwise."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as e:
        raise ValueError(f"invalid cron expression {expression!r}: {e}") from None
    return expression


class ReportSchedule(Model):
    """A scheduled papermill report, as its owner describes it (REST API, CLI).

    ``notebook``: path as seen from the owner's lab (``bibliotheque/...`` for the library,
    ``partenaire-<id>/...`` for a partner space, else the owner's home).
    ``parameters``: JSON values for the notebook's ``parameters`` cell.
    ``cron``: 5 fields, read in ``time_zone``. ``profile``: a lab profile offered to the
    owner. ``kernel``: kernelspec name. ``audience``: who sees the outputs (default: the
    owner's partners). ``retention``: runs kept. Unset keys take the ``reports`` defaults.
    """

    id: Slug
    title: Annotated[str, StringConstraints(max_length=120)] = ""
    notebook: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    parameters: dict[ParameterName, JsonValue] = {}
    cron: str
    time_zone: str | None = None
    profile: Slug | None = None
    kernel: KernelName | None = None
    audience: Audience | None = None
    retention: Annotated[int, Field(ge=1, le=10000)] | None = None
    misfire: MisfirePolicy | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)


class DemoSchedule(ReportSchedule):
    """A schedule the deployment file declares for ``owner`` (a hub user name); created or
    updated when the reports service starts."""

    owner: UserName


class Reports(Model):
    """The reports service: scheduled papermill runs and their archive.

    ``time_zone``: default of schedules; ``cell_timeout``: seconds a cell may run;
    ``run_timeout``: seconds a whole run may take (kernel start, cells, HTML); ``retention``:
    runs kept per schedule; ``misfire``: default :class:`MisfirePolicy`; ``skip_after``:
    seconds late after which a run counts as missed under ``skip``; ``max_parallel``: runs
    at once (each takes a kernel and about one core); ``kernel``: kernelspec used when the
    notebook names none; ``port``: the service's port on 127.0.0.1 (default: the hub's
    port + 4); ``schedules``: schedules created at start.
    """

    enabled: bool = True
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    time_zone: str = "Europe/Paris"
    cell_timeout: Annotated[int, Field(ge=1, le=86400)] = 600
    run_timeout: Annotated[int, Field(ge=10, le=7 * 86400)] = 3600
    retention: Annotated[int, Field(ge=1, le=10000)] = 30
    misfire: MisfirePolicy = MisfirePolicy.run_once
    skip_after: Annotated[int, Field(ge=1, le=86400)] = 60
    max_parallel: Annotated[int, Field(ge=1, le=256)] = 2
    kernel: KernelName = "python3"
    schedules: list[DemoSchedule] = []

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("schedules")
    @classmethod
    def _unique_schedules(cls, schedules: list[DemoSchedule]) -> list[DemoSchedule]:
        _require_unique([s.id for s in schedules], "schedule id")
        return schedules


#: Dashboard ids: like partner slugs, up to 40 characters (they appear in URLs and paths).
DashboardId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]


class DashboardSeed(Model):
    """A dashboard the deployment publishes itself at each start (a new version when the
    notebook changed): ``notebook`` (path, relative to the deployment file), its ``author``
    (a hub user: the dashboard runs with their identity), ``audience`` (see
    :class:`Audience`: ``all``, ``partners``, ``roles``), ``identity_free``
    (its output depends on nobody's identity: kernels may be pre-executed)."""

    id: DashboardId
    notebook: Path
    author: UserName
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    audience: Audience = Field(default_factory=lambda: Audience(all=True))
    profile: Slug | None = None
    identity_free: bool = False

    @field_validator("audience", mode="before")
    @classmethod
    def _audience(cls, value: object) -> object:
        if isinstance(value, Audience):
            return value
        try:
            return Audience.model_validate(value)
        except ValidationError as e:
            raise ValueError(
                "; ".join(
                    (f"{_location(err['loc'])}: " if err["loc"] else "")
                    + err["msg"].removeprefix("Value error, ")
                    for err in e.errors()
                )
            ) from None


class Dashboards(Model):
    """The dashboards service (Voilà): capacity and culling. Durations in seconds.

    ``max_kernels_per_dashboard`` / ``max_kernels_total``: live kernels serving viewers
    (one per open view); past either cap a new viewer gets the "busy" page (HTTP 503,
    ``Retry-After: retry_after``). ``kernel_idle_timeout``: a kernel with no activity for
    that long is shut down. ``idle_timeout``: a dashboard not viewed for that long stops
    its Voilà process (it starts again at the next view); identity-free dashboards keep
    theirs running (started with the service), so their first paint skips that start.
    ``preheat_kernels``: kernels Voilà keeps pre-executed for each identity-free dashboard,
    on top of the caps (each holds its memory whether viewed or not); 0 by default.
    ``start_timeout``: how long a dashboard's Voilà process may take to answer.
    """

    enabled: bool = True
    max_kernels_per_dashboard: Annotated[int, Field(ge=1, le=1000)] = 10
    max_kernels_total: Annotated[int, Field(ge=1, le=10000)] = 40
    kernel_idle_timeout: Annotated[int, Field(ge=10, le=86400)] = 900
    idle_timeout: Annotated[int, Field(ge=10, le=604800)] = 3600
    preheat_kernels: Annotated[int, Field(ge=0, le=10)] = 0
    start_timeout: Annotated[int, Field(ge=5, le=600)] = 60
    retry_after: Annotated[int, Field(ge=1, le=3600)] = 30
    publish: list[DashboardSeed] = []


#: Durations in seconds for culling: from 10 seconds (tests) to 30 days.
CullSeconds = Annotated[int, Field(ge=10, le=30 * 86400)]


class CullOverride(Model):
    """A profile's own culling policy; a key left out keeps the ``culling`` default.
    ``max_age``: 0 means no maximum."""

    idle_timeout: CullSeconds | None = None
    max_age: Annotated[int, Field(ge=0, le=365 * 86400)] | None = None


class Culling(Model):
    """Idle labs stopped by jupyterhub-idle-culler, a hub-managed service (see
    :mod:`hub.culling`). Durations in seconds.

    ``idle_timeout``: a lab without activity that long is stopped; ``max_age``: a lab
    running that long is stopped even when active (0: no maximum); ``profiles``: profile
    id -> :class:`CullOverride`; ``named_servers``: named servers are culled too;
    ``spare_busy_kernels``: a kernel executing code counts as activity (local labs);
    ``every``: seconds between two checks; ``activity_interval``: how often labs and the
    proxy report activity to the hub (the culler's resolution).
    """

    enabled: bool = True
    idle_timeout: CullSeconds = 3600
    max_age: Annotated[int, Field(ge=0, le=365 * 86400)] = 0
    profiles: dict[Slug, CullOverride] = {}
    named_servers: bool = True
    spare_busy_kernels: bool = True
    every: Annotated[int, Field(ge=5, le=86400)] = 60
    activity_interval: Annotated[int, Field(ge=5, le=3600)] = 300


#: Disk sizes for quotas: an integer with an optional K, M, G or T suffix (powers of 1024).
DiskSize = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}[KMGT]?$")]


def disk_bytes(size: str) -> int:
    """``"10G"`` -> 10737418240: a :data:`DiskSize` in bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if size[-1] in units:
        return int(size[:-1]) * units[size[-1]]
    return int(size)


class PartnerQuotas(Model):
    """One partner's soft quotas: its members' homes and its shared space."""

    home: DiskSize | None = None
    partner_space: DiskSize | None = None


class Quotas(Model):
    """Soft quotas (a warning above them, nothing refused): ``home`` for each home,
    ``partner_space`` and ``project_space`` for each shared space, ``partners``: partner
    id -> :class:`PartnerQuotas` overriding the first two. None: no quota. A person in
    several partners gets the largest home quota among them."""

    home: DiskSize | None = "10G"
    partner_space: DiskSize | None = "100G"
    project_space: DiskSize | None = "50G"
    partners: dict[Slug, PartnerQuotas] = {}


class DiskUsage(Model):
    """Disk usage shown on the hub page ``/hub/espace`` (see :mod:`hub.diskusage`).

    ``cache_seconds``: a measure is reused that long; ``max_entries``: a scan stops
    after that many files and directories (the page then says "at least");
    ``quotas``: the :class:`Quotas`.
    """

    enabled: bool = True
    cache_seconds: Annotated[int, Field(ge=0, le=86400)] = 600
    max_entries: Annotated[int, Field(ge=100, le=100_000_000)] = 1_000_000
    quotas: Quotas = Quotas()


class AuditSettings(Model):
    """The audit trail (:mod:`hub.audit`): JSON lines under ``<data_dir>/audit/``, one
    file per process, rotated at midnight UTC. ``retention_days``: rotated files kept."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 365


class Settings(Model):
    """The whole deployment file. ``base_dir`` is the directory relative paths start from."""

    base_dir: Path = Field(Path("."), exclude=True)
    hub: HubSection = HubSection()
    auth: Auth = Auth()
    partners: Annotated[list[Partner], Field(min_length=1)]
    roles: Roles = Roles()
    profiles: Annotated[list[Profile], Field(min_length=1)]
    spawner: Spawner = Spawner()
    storage: Storage = Storage()
    slurm: Slurm = Slurm()
    docker: Docker = Docker()
    library: Library = Library()
    projects: list[Project] = []
    collaboration: Collaboration = Collaboration()
    reports: Reports = Field(default_factory=lambda: Reports())
    dashboards: Dashboards = Dashboards()
    culling: Culling = Culling()
    disk_usage: DiskUsage = DiskUsage()
    audit: AuditSettings = AuditSettings()
    proxy: ProxySection = ProxySection()

    @field_validator("partners")
    @classmethod
    def _unique_partners(cls, partners: list[Partner]) -> list[Partner]:
        _require_unique([p.id for p in partners], "partner id")
        return partners

    @field_validator("profiles")
    @classmethod
    def _unique_profiles(cls, profiles: list[Profile]) -> list[Profile]:
        _require_unique([p.id for p in profiles], "profile id")
        return profiles

    @field_validator("projects")
    @classmethod
    def _unique_projects(cls, projects: list[Project]) -> list[Project]:
        _require_unique([p.id for p in projects], "project id")
        return projects

    @model_validator(mode="after")
    def _references(self) -> Settings:
        known = {p.id for p in self.partners}
        problems = []
        for i, profile in enumerate(self.profiles):
            if profile.partners != "all":
                for j, pid in enumerate(profile.partners):
                    if pid not in known:
                        problems.append(
                            f"profiles[{i}].partners[{j}]: unknown partner {pid!r}; "
                            f"declared partners: {', '.join(sorted(known))}"
                        )
        for i, user in enumerate(self.auth.demo_users):
            if user.partner not in known:
                problems.append(
                    f"auth.demo_users[{i}].partner: unknown partner {user.partner!r}; "
                    f"declared partners: {', '.join(sorted(known))}"
                )
        _require_unique([u.name for u in self.auth.demo_users], "demo user name")
        problems += self._slurm_references(known)
        if self.auth.type == "oidc" and self.auth.oidc is None:
            problems.append("auth.oidc: required when auth.type is oidc")
        problems += self._project_problems()
        problems += _schedule_problems(self, known)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _slurm_references(self, known: set[str]) -> list[str]:
        problems = []
        entitled = set()
        for i, entitlement in enumerate(self.slurm.entitlements):
            if entitlement.partner not in known:
                problems.append(
                    f"slurm.entitlements[{i}].partner: unknown partner {entitlement.partner!r}; "
                    f"declared partners: {', '.join(sorted(known))}"
                )
            if entitlement.partner in entitled:
                problems.append(
                    f"slurm.entitlements[{i}].partner: {entitlement.partner!r} has two entitlements"
                )
            entitled.add(entitlement.partner)
        for i, profile in enumerate(self.profiles):
            if self.backend_of(profile) is not Backend.slurm:
                continue
            if not entitled:
                problems.append(
                    f"profiles[{i}].backend: slurm profiles need slurm.entitlements (none declared)"
                )
            elif profile.partners != "all":
                for j, pid in enumerate(profile.partners):
                    if pid in known and pid not in entitled:
                        problems.append(
                            f"profiles[{i}].partners[{j}]: {pid!r} has no Austral entitlement; "
                            f"entitled partners: {', '.join(sorted(entitled))}"
                        )
        return problems

    def backend_of(self, profile: Profile) -> Backend:
        """Where ``profile``'s labs run: its own backend, else ``spawner.backend``."""
        return profile.backend or self.spawner.backend

    def backends(self) -> set[Backend]:
        """Every backend some profile runs on."""
        return {self.backend_of(p) for p in self.profiles}

    def _project_problems(self) -> list[str]:
        """Cross-checks of ``projects``: no member twice; with the demo login, members
        are declared demo users."""
        problems = []
        demo_users = {u.name for u in self.auth.demo_users}
        for i, project in enumerate(self.projects):
            seen = set()
            for j, member in enumerate(project.members):
                if member in seen:
                    problems.append(f"projects[{i}].members[{j}]: {member!r} is listed twice")
                seen.add(member)
                if self.auth.type == "demo" and member not in demo_users:
                    problems.append(
                        f"projects[{i}].members[{j}]: unknown user {member!r}; "
                        f"declared demo users: {', '.join(sorted(demo_users))}"
                    )
        return problems

    def projects_of(self, username: str) -> list[Project]:
        """The projects ``username`` is a member of, in file order."""
        return [p for p in self.projects if username in p.members]

    @model_validator(mode="after")
    def _dashboard_references(self) -> Settings:
        known = {p.id for p in self.partners}
        problems = []
        for i, seed in enumerate(self.dashboards.publish):
            for j, pid in enumerate(seed.audience.partners):
                if pid not in known:
                    problems.append(
                        f"dashboards.publish[{i}].audience.partners[{j}]: unknown partner "
                        f"{pid!r}; declared partners: {', '.join(sorted(known))}"
                    )
            if seed.profile is not None and seed.profile not in {p.id for p in self.profiles}:
                problems.append(
                    f"dashboards.publish[{i}].profile: unknown profile {seed.profile!r}; "
                    f"declared profiles: {', '.join(p.id for p in self.profiles)}"
                )
        _require_unique([s.id for s in self.dashboards.publish], "dashboard id")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _observability_references(self) -> Settings:
        problems = []
        profiles = [p.id for p in self.profiles]
        for pid in self.culling.profiles:
            if pid not in profiles:
                problems.append(
                    f"culling.profiles.{pid}: unknown profile; declared profiles: {', '.join(profiles)}"
                )
        known = sorted(p.id for p in self.partners)
        for pid in self.disk_usage.quotas.partners:
            if pid not in known:
                problems.append(
                    f"disk_usage.quotas.partners.{pid}: unknown partner; declared partners: {', '.join(known)}"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def path(self, value: Path) -> Path:
        """``value`` resolved against :attr:`base_dir` (absolute paths are kept)."""
        return (self.base_dir / value).resolve()

    @property
    def data_dir(self) -> Path:
        """Absolute path of ``storage.data_dir``."""
        return self.path(self.storage.data_dir)

    def partner(self, partner_id: str) -> Partner:
        """The partner with this id; ``KeyError`` if none."""
        for p in self.partners:
            if p.id == partner_id:
                return p
        raise KeyError(partner_id)

    def profiles_for(self, partner_ids: set[str]) -> list[Profile]:
        """The profiles offered to a member of ``partner_ids``, in file order; a ``slurm``
        profile only when one of them holds an Austral entitlement."""
        austral = bool(self.slurm.entitlements_of(partner_ids))
        return [
            p for p in self.profiles
            if p.offered_to(partner_ids) and (austral or self.backend_of(p) is not Backend.slurm)
        ]

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the hub database (``hub.db_url``, else SQLite in the data
        directory); the reports service keeps its schedules there too."""
        return self.hub.db_url or f"sqlite:///{self.data_dir / 'hub' / 'jupyterhub.sqlite'}"


def _schedule_problems(settings: Settings, known_partners: set[str]) -> list[str]:
    """Cross-checks of ``reports.schedules``: declared owners, partners and profiles."""
    problems = []
    users = {u.name for u in settings.auth.demo_users}
    profiles = {p.id for p in settings.profiles}
    for i, schedule in enumerate(settings.reports.schedules):
        where = f"reports.schedules[{i}]"
        if settings.auth.type == "demo" and schedule.owner not in users:
            problems.append(
                f"{where}.owner: unknown user {schedule.owner!r}; declared demo users: {', '.join(sorted(users))}"
            )
        if schedule.profile is not None and schedule.profile not in profiles:
            problems.append(
                f"{where}.profile: unknown profile {schedule.profile!r}; declared profiles: {', '.join(sorted(profiles))}"
            )
        for j, pid in enumerate(schedule.audience.partners if schedule.audience else []):
            if pid not in known_partners:
                problems.append(
                    f"{where}.audience.partners[{j}]: unknown partner {pid!r}; "
                    f"declared partners: {', '.join(sorted(known_partners))}"
                )
    return problems


def _require_unique(values: list[str], what: str) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part:  # pydantic names the union member it tried: not a key
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(error: dict, allowed_keys: dict[tuple, list[str]]) -> str:
    where = _location(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = tuple(p for p in error["loc"][:-1])
        allowed = allowed_keys.get(_model_path(parent), [])
        return f"{where}: unknown key; allowed here: {', '.join(allowed)}"
    if kind == "missing":
        return f"{where}: required key is missing"
    message = error["msg"]
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        message = f"{error['input']!r} does not match {pattern}"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
        if not error["loc"]:  # cross-checks name their own key paths
            return message
    elif "input" in error and kind not in {"model_type"}:
        message = f"{message} (got {error['input']!r})"
    return f"{where}: {message}"


def _model_path(loc: tuple) -> tuple:
    return tuple("[]" if isinstance(p, int) else p for p in loc)


def _allowed_keys() -> dict[tuple, list[str]]:
    """Map each model's location (list indices as ``[]``) to the keys it accepts."""
    out: dict[tuple, list[str]] = {}

    def walk(model: type[BaseModel], where: tuple) -> None:
        keys = []
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            key = field.alias or name
            keys.append(key)
            for sub, suffix in _submodels(field.annotation):
                walk(sub, where + (key,) + suffix)
        out[where] = keys

    walk(Settings, ())
    return out


def _submodels(annotation) -> list[tuple[type[BaseModel], tuple]]:
    from typing import get_args, get_origin

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, ())]
    found = []
    origin = get_origin(annotation)
    for arg in get_args(annotation):
        for sub, suffix in _submodels(arg):
            found.append((sub, (("[]",) if origin is list else ()) + suffix))
    return found


def parse(data: object, base_dir: Path) -> Settings:
    """Validate already-parsed YAML ``data``; relative paths resolve against ``base_dir``.

    Raises :class:`ConfigError` listing every problem, each prefixed by its key path.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"the deployment file must be a mapping of keys, not {type(data).__name__}")
    try:
        return Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as e:
        allowed = _allowed_keys()
        lines = [_describe(err, allowed) for err in e.errors()]
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The deployment file's absolute path: ``path``, else ``$DATALAB_CONFIG``, else
    ``datalab.yaml`` in the working directory."""
    return Path(path or os.environ.get("DATALAB_CONFIG") or "datalab.yaml").absolute()


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read and validate the deployment file.

    ``path`` defaults to ``$DATALAB_CONFIG``, else ``datalab.yaml`` in the working
    directory. Raises :class:`ConfigError` (unreadable file, YAML syntax error with its
    line, or schema problems with their key paths).
    """
    path = config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the deployment file ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return parse(data, path.parent.resolve())
    except ConfigError as e:
        raise ConfigError(f"{path}:\n" + re.sub(r"^", "  ", str(e), flags=re.M)) from None


def backend_from_env(settings: Settings) -> Settings:
    """``settings`` with ``spawner.backend`` replaced by ``$DATALAB_BACKEND`` when set
    (local, docker or slurm); ``ConfigError`` for another value."""
    value = os.environ.get("DATALAB_BACKEND")
    if not value:
        return settings
    try:
        backend = Backend(value)
    except ValueError:
        allowed = ", ".join(b.value for b in Backend)
        raise ConfigError(f"DATALAB_BACKEND: {value!r} is not a backend; allowed: {allowed}") from None
    return settings.model_copy(
        update={"spawner": settings.spawner.model_copy(update={"backend": backend})}
    )
