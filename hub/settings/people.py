"""Who: partners, roles, audiences (who may see a published output) and projects."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..groups import partner_group, partners_of, role_group
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

    ``sharing``: whether its members may share their lab with other DataLab users
    (false for partners holding health data, for instance)."""

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    type: PartnerType
    members: Membership = Membership()
    sharing: bool = True

    @property
    def health_data(self) -> bool:
        """True for a partner holding health data (``type: santé``)."""
        return self.type is PartnerType.sante


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
