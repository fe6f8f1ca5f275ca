"""The deployment file: its schema, its defaults and its cross-checks.

The deployment file (YAML, ``datalab.yaml`` by default, else the demo
``datalab.example.yaml``, path from the ``DATALAB_CONFIG`` environment variable) is the single place where an operator describes a DataLab Hub
deployment. :func:`load` reads it into a :class:`Settings` object or raises
:class:`ConfigError` with one line per problem, each naming the key's path
(``profiles[1].partners[0]``) and what is allowed there.

Every key is documented in ``datalab.example.yaml``; relative paths are resolved against
the directory that holds the deployment file. One module per section (:mod:`.base`,
:mod:`.people`, :mod:`.labs`, :mod:`.slurm`, :mod:`.access`, :mod:`.services`,
:mod:`.operations`), the cross-checks in :mod:`.checks`; every name is re-exported here,
so ``from hub.settings import X`` works for all of them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .access import (
    Auth,
    ClaimPath,
    DemoUser,
    HttpUrl,
    HubSection,
    OIDC_PRESETS,
    Oidc,
    OidcEndpoints,
    OidcPreset,
    ProxySection,
)
from .base import (
    ConfigError,
    DiskSize,
    MemorySize,
    Model,
    Slug,
    TimeZone,
    UserName,
    check_time_zone,
    disk_bytes,
    location,
    memory_bytes,
    require_unique,
)
from .labs import (
    Backend,
    Collaboration,
    Docker,
    DockerObjectName,
    GitRef,
    Library,
    Profile,
    Spawner,
    Storage,
)
from .operations import (
    AuditSettings,
    CullOverride,
    CullSeconds,
    Culling,
    DiskUsage,
    PartnerQuotas,
    Quotas,
)
from .people import (
    Audience,
    AudienceClause,
    Health,
    Membership,
    PackageMirror,
    Partner,
    PartnerType,
    Project,
    Role,
    RoleRule,
    Roles,
)
from .services import (
    DashboardId,
    DashboardSeed,
    Dashboards,
    DemoSchedule,
    KernelName,
    MisfirePolicy,
    ParameterName,
    ReportSchedule,
    Reports,
    check_cron,
)
from .slurm import (
    AustralEntitlement,
    ClusterLogin,
    ClusterLoginRule,
    DottedPath,
    LabEnvironment,
    LoginPattern,
    Slurm,
    SlurmName,
    Walltime,
    walltime_minutes,
)
from .checks import cross_check

__all__ = [
    "Audience",
    "AudienceClause",
    "AuditSettings",
    "AustralEntitlement",
    "Auth",
    "Backend",
    "ClaimPath",
    "ClusterLogin",
    "ClusterLoginRule",
    "Collaboration",
    "ConfigError",
    "CullOverride",
    "CullSeconds",
    "Culling",
    "DashboardId",
    "DashboardSeed",
    "Dashboards",
    "DemoSchedule",
    "DemoUser",
    "DiskSize",
    "DiskUsage",
    "Docker",
    "DockerObjectName",
    "DottedPath",
    "GitRef",
    "Health",
    "HttpUrl",
    "HubSection",
    "KernelName",
    "LabEnvironment",
    "Library",
    "LoginPattern",
    "Membership",
    "MemorySize",
    "MisfirePolicy",
    "Model",
    "OIDC_PRESETS",
    "Oidc",
    "OidcEndpoints",
    "OidcPreset",
    "PackageMirror",
    "ParameterName",
    "Partner",
    "PartnerQuotas",
    "PartnerType",
    "Profile",
    "Project",
    "ProxySection",
    "Quotas",
    "ReportSchedule",
    "Reports",
    "Role",
    "RoleRule",
    "Roles",
    "Settings",
    "Slug",
    "Slurm",
    "SlurmName",
    "Spawner",
    "Storage",
    "TimeZone",
    "UserName",
    "Walltime",
    "backend_from_env",
    "check_cron",
    "check_time_zone",
    "config_candidates",
    "config_path",
    "disk_bytes",
    "load",
    "location",
    "memory_bytes",
    "parse",
    "require_unique",
    "walltime_minutes",
]


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
    health: Health = Health()
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
        require_unique([p.id for p in partners], "partner id")
        return partners

    @field_validator("profiles")
    @classmethod
    def _unique_profiles(cls, profiles: list[Profile]) -> list[Profile]:
        require_unique([p.id for p in profiles], "profile id")
        return profiles

    @field_validator("projects")
    @classmethod
    def _unique_projects(cls, projects: list[Project]) -> list[Project]:
        require_unique([p.id for p in projects], "project id")
        return projects

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        cross_check(self)
        return self

    def backend_of(self, profile: Profile) -> Backend:
        """Where ``profile``'s labs run: its own backend, else ``spawner.backend``."""
        return profile.backend or self.spawner.backend

    def backends(self) -> set[Backend]:
        """Every backend some profile runs on."""
        return {self.backend_of(p) for p in self.profiles}

    def projects_of(self, username: str) -> list[Project]:
        """The projects ``username`` is a member of, in file order."""
        return [p for p in self.projects if username in p.members]

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


def _describe(error: dict, allowed_keys: dict[tuple, list[str]]) -> str:
    where = location(error["loc"])
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


#: The repository (or installation) holding the ``hub`` package and, in a working tree,
#: the demo deployment file.
REPOSITORY = Path(__file__).resolve().parent.parent.parent
#: The deployment files looked for, in order, when neither a path nor ``DATALAB_CONFIG``
#: names one: the operator's own file, else the demo (what ``make run`` does).
DEFAULT_NAMES = ("datalab.yaml", "datalab.example.yaml")


def config_candidates() -> list[Path]:
    """The files :func:`config_path` looks for without ``path`` or ``$DATALAB_CONFIG``:
    ``datalab.yaml`` then ``datalab.example.yaml`` in the working directory, then the
    same two in the repository (absolute, without duplicates)."""
    places = [Path.cwd(), REPOSITORY]
    return list(dict.fromkeys(place.absolute() / name for place in places for name in DEFAULT_NAMES))


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The deployment file's absolute path: ``path``, else ``$DATALAB_CONFIG``, else the
    first of :func:`config_candidates` that exists, as ``make run`` chooses. Raises
    :class:`ConfigError` listing the files looked for when none exists."""
    named = path or os.environ.get("DATALAB_CONFIG")
    if named:
        return Path(named).absolute()
    candidates = config_candidates()
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no deployment file found; looked for: " + ", ".join(str(c) for c in candidates)
        + " (name one with DATALAB_CONFIG or --config)"
    )


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read and validate the deployment file.

    ``path`` defaults to ``$DATALAB_CONFIG``, else the first existing of
    :func:`config_candidates`. Raises :class:`ConfigError` (no file found, naming the
    files looked for; unreadable file, YAML syntax error with its line, or schema
    problems with their key paths).
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
