"""Who may see a published output (a dashboard, a report): an audience.

An audience is "all DataLab members", or a set of partners and/or roles; a person is in
it when one of their hub groups matches (``partner-<id>``, ``role-<role>``, see
:mod:`hub.partners`). Admins see everything, so they can moderate.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .partners import partner_group, partners_of, role_group
from .settings import Role, Slug


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
