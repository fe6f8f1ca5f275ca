"""Who: partners, roles, audiences (who may see a published output) and projects."""

from __future__ import annotations

import datetime as dt
import ipaddress
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..groups import partners_of, role_group
from .base import Model, Slug, UserName


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

    ``sharing``: whether its members may share their lab with other DataLab users.
    ``health_data``: whether it holds health data (default: true for ``type: santé``);
    nothing its members publish or share may reach beyond it (see
    :mod:`hub.confinement`). ``data_stewards``: hub user names of its members who
    approve or refuse the export requests of its other members (a health partner only;
    see :mod:`hub.airlock`)."""

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    type: PartnerType
    members: Membership = Membership()
    sharing: bool = True
    health_data: bool | None = None
    data_stewards: Annotated[list[UserName], Field(max_length=64)] = []

    @property
    def holds_health_data(self) -> bool:
        """Whether the partner holds health data: ``health_data`` when set, else whether
        it is of ``type: santé``."""
        return self.type is PartnerType.sante if self.health_data is None else self.health_data


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


class AudienceClause(BaseModel):
    """One group of people: ``partners`` and ``roles`` combine as AND across kinds, OR
    within a kind (``partners: [x], roles: [decision-maker]``: the decision-makers of
    ``x``; ``partners: [x, y]``: the members of ``x`` or ``y``). ``all``: every DataLab
    member (anyone in at least one partner group), narrowed by ``roles`` when given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all: bool = False
    partners: Annotated[list[Slug], Field(max_length=64)] = []
    roles: list[Role] = []

    def is_empty(self) -> bool:
        return not (self.all or self.partners or self.roles)

    def admits(self, group_names: set[str]) -> bool:
        """True when a person with these hub group names is in this group (admins
        included only through their own groups: see :meth:`Audience.admits`)."""
        members = partners_of(group_names)
        if self.partners:
            if not members & set(self.partners):
                return False
        elif self.all and not members:
            return False
        return not self.roles or bool({role_group(r) for r in self.roles} & group_names)

    def within_partner(self, partner_id: str) -> bool:
        """True when everyone this group admits is a member of ``partner_id``."""
        return set(self.partners) == {partner_id}


class Audience(AudienceClause):
    """Who may see a published output (dashboard, report): one
    :class:`AudienceClause` (``all``, ``partners``, ``roles``), or ``any_of``: several
    clauses, a person in any of them being in the audience (what a mixed audience of the
    former OR-across-kinds rule became, see :meth:`from_or_semantics`). Admins are in
    every audience. At least one must be given; ``any_of`` stands alone.

    Stored audiences always carry the ``any_of`` key (``model_dump`` keeps it): a stored
    audience without it was written under the former rule."""

    any_of: Annotated[list[AudienceClause], Field(max_length=16)] = []

    @model_validator(mode="after")
    def _not_empty(self) -> "Audience":
        if self.any_of:
            if not AudienceClause.is_empty(self):
                raise ValueError("an audience with any_of has no all, partners or roles of its own")
            if any(c.is_empty() for c in self.any_of):
                raise ValueError("each any_of entry needs all: true, partners or roles")
        elif self.is_empty():
            raise ValueError("an audience needs all: true, partners or roles")
        return self

    def clauses(self) -> list[AudienceClause]:
        """The alternatives: ``any_of``, or the audience itself."""
        return list(self.any_of) or [AudienceClause(all=self.all, partners=self.partners, roles=self.roles)]

    def partner_ids(self) -> list[str]:
        """Every partner id the audience names, in order, once."""
        return list(dict.fromkeys(p for c in self.clauses() for p in c.partners))

    def admits(self, group_names: set[str] | list[str]) -> bool:
        """True when a person with these hub group names is in the audience."""
        names = set(group_names)
        if role_group(Role.admin) in names:
            return True
        return any(c.admits(names) for c in self.clauses())

    def within_partner(self, partner_id: str) -> bool:
        """True when everyone the audience admits (admins aside) is a member of
        ``partner_id``."""
        return all(c.within_partner(partner_id) for c in self.clauses())

    @classmethod
    def from_or_semantics(cls, stored: dict) -> "Audience":
        """The audience admitting exactly whom ``stored`` admitted under the former rule
        (``all`` admitted every member whatever else was given; otherwise partners OR
        roles): ``all``, a single kind, or ``any_of`` one clause per kind."""
        if stored.get("all"):
            return cls(all=True)
        partners, roles = stored.get("partners") or [], stored.get("roles") or []
        if partners and roles:
            return cls(any_of=[AudienceClause(partners=partners), AudienceClause(roles=roles)])
        return cls(partners=partners, roles=roles)

    @staticmethod
    def is_former(stored: dict) -> bool:
        """True for a stored audience written under the former rule (no ``any_of`` key)."""
        return "any_of" not in stored


class Project(Model):
    """A project across partners: the hub group ``project-<id>`` and a shared space
    readable and writable by its ``members`` (hub user names) only.

    ``end``: the last day of the project (ISO date); from the next day on, its space is
    read-only (still readable by its members). ``health_data``: its space holds health
    data; nothing its members publish or share may reach beyond it (see
    :mod:`hub.confinement`). ``data_stewards``: members who approve or refuse the other
    members' export requests (a health project only; see :mod:`hub.airlock`)."""

    id: Slug
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    members: Annotated[list[UserName], Field(min_length=1)]
    end: dt.date | None = None
    health_data: bool = False
    data_stewards: Annotated[list[UserName], Field(max_length=64)] = []

    def ended(self, today: dt.date | None = None) -> bool:
        """True once ``today`` (default: the local date) is past :attr:`end`."""
        return self.end is not None and (today or dt.date.today()) > self.end


class PackageMirror(Model):
    """A package mirror health spaces may reach: one IP address (v4 or v6; no name, which
    the firewall would resolve once) and one TCP port."""

    host: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: Annotated[int, Field(ge=1, le=65535)]

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.host.version


class Health(Model):
    """What health spaces (partners and projects holding health data) may reach beyond
    the hub. ``package_mirror``: the one address and port their labs and dashboards may
    open besides the hub's API (on the backends that confine them: docker and local);
    none by default."""

    package_mirror: PackageMirror | None = None
