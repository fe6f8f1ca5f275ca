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

import os
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

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
    """One of the DataLab partners; becomes the hub group ``partner-<id>``."""

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    type: PartnerType
    members: Membership = Membership()


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
    """

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: str = ""
    partners: Literal["all"] | list[Slug] = "all"
    cpu: Annotated[float, Field(gt=0, le=256)] = 1.0
    memory: MemorySize = "2G"

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


class Storage(Model):
    """Where the deployment keeps its files.

    ``data_dir`` holds the hub database and secrets (``hub/``), user homes (``homes/``),
    partner spaces (``partners/``) and the library copy users see (``library/``).
    ``library_source`` is the notebook library copied into ``library/`` at hub start.
    """

    data_dir: Path = Path("var")
    library_source: Path = Path("shared_notebooks")


class HubSection(Model):
    """The hub process: where it listens, its language, its database.

    ``db_url`` defaults to SQLite in ``<data_dir>/hub/jupyterhub.sqlite``.
    The ``DATALAB_PORT`` environment variable overrides ``port``.
    """

    ip: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    base_url: Annotated[str, StringConstraints(pattern=r"^/([A-Za-z0-9._~-]+/)*$")] = "/"
    language: Literal["fr", "en"] = "fr"
    db_url: str | None = None
    contact: str = "l'équipe DataLab Normandie"


class DemoUser(Model):
    """A demo account: its hub name, its partner and its role."""

    name: UserName
    partner: Slug
    role: Role = Role.analyst


class Auth(Model):
    """How people log in. ``demo``: a shared password (``DATALAB_DEMO_PASSWORD``, else
    generated once into ``<data_dir>/hub/demo_password``) for the declared demo users."""

    type: Literal["demo"] = "demo"
    demo_users: list[DemoUser] = []


#: Dashboard ids: like partner slugs, up to 40 characters (they appear in URLs and paths).
DashboardId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]


class DashboardSeed(Model):
    """A dashboard the deployment publishes itself at each start (a new version when the
    notebook changed): ``notebook`` (path, relative to the deployment file), its ``author``
    (a hub user: the dashboard runs with their identity), ``audience`` (see
    :class:`hub.audience.Audience`: ``all``, ``partners``, ``roles``), ``identity_free``
    (its output depends on nobody's identity: kernels may be pre-executed)."""

    id: DashboardId
    notebook: Path
    author: UserName
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    audience: object = Field(default_factory=lambda: {"all": True}, validate_default=True)
    profile: Slug | None = None
    identity_free: bool = False

    @field_validator("audience", mode="before")
    @classmethod
    def _audience(cls, value: object) -> object:
        from .audience import Audience  # audience.py builds on this module

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
    on top of the caps; 0 (default) because Voilà 0.5's pool can leave a page
    half-rendered when it is requested while the pool refills (measured here).
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
    dashboards: Dashboards = Dashboards()

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
        if problems:
            raise ValueError("\n".join(problems))
        return self

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
        """The profiles offered to a member of ``partner_ids``, in file order."""
        return [p for p in self.profiles if p.offered_to(partner_ids)]


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


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read and validate the deployment file.

    ``path`` defaults to ``$DATALAB_CONFIG``, else ``datalab.yaml`` in the working
    directory. Raises :class:`ConfigError` (unreadable file, YAML syntax error with its
    line, or schema problems with their key paths).
    """
    path = Path(path or os.environ.get("DATALAB_CONFIG") or "datalab.yaml")
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
