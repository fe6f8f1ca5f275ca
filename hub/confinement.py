"""Health spaces are confined: what a member of a health partner or project publishes or
shares reaches nobody beyond that partner or project.

A partner holds health data when the deployment file says so (``health_data: true``) or,
by default, when its type is ``santé``; a project when it says ``health_data: true``. A
person's *health spaces* are the health partners and projects they belong to. Their labs,
dashboards and report runs read those spaces, so:

- an audience (dashboard, report schedule) is allowed only when everyone it admits is a
  member of each of the author's health spaces: with one health partner, an audience
  naming that partner alone (roles may narrow it); nothing an audience can say stays
  within a project, or within two partners at once, so such authors publish nothing;
- a lab is shared only with people who are members of each of the owner's health spaces,
  or with the one group that is the owner's only health space; never through a share code
  (anyone logged in may accept one).

Admins are in every audience (see :class:`hub.settings.Audience`) and are not counted as
beyond. Refusals carry a French (or English) message naming the rule.
"""

from __future__ import annotations

from .groups import partner_group, project_group
from .messages import text
from .settings import Audience, Settings


class HealthConfinementError(PermissionError):
    """A publication or share refused by the health-data rule; ``str(error)`` is the
    message for the person, in the deployment's language."""


def health_spaces(settings: Settings, group_names: set[str] | list[str]) -> dict[str, str]:
    """Hub group name -> label (partner name, project title) of the health partners and
    projects among ``group_names``."""
    names = set(group_names)
    spaces = {partner_group(p.id): p.name for p in settings.partners if p.holds_health_data}
    spaces.update({project_group(p.id): p.title for p in settings.projects if p.health_data})
    return {group: label for group, label in spaces.items() if group in names}


def _labels(spaces: dict[str, str]) -> str:
    return ", ".join(f"« {label} »" for label in sorted(spaces.values()))


def check_audience(settings: Settings, author_groups: set[str] | list[str], audience: Audience) -> None:
    """Raise :class:`HealthConfinementError` when ``audience`` reaches beyond a health
    space of the author (hub group names ``author_groups``)."""
    spaces = health_spaces(settings, author_groups)
    if not spaces:
        return
    language = settings.hub.language
    partners = [g for g in spaces if g.startswith(partner_group(""))]
    if len(spaces) == 1 and partners:
        partner_id = partners[0][len(partner_group("")):]
        if audience.within_partner(partner_id):
            return
        raise HealthConfinementError(text(language, "health_audience_partner", space=_labels(spaces)))
    raise HealthConfinementError(text(language, "health_audience_none", spaces=_labels(spaces)))


def check_share(settings: Settings, owner_groups: set[str] | list[str], *,
                user_groups: set[str] | list[str] | None = None, group: str | None = None,
                code: bool = False) -> None:
    """Raise :class:`HealthConfinementError` when the owner (hub group names
    ``owner_groups``) may not share their lab with a person (their hub group names
    ``user_groups``), a hub ``group``, or through a share ``code``."""
    spaces = health_spaces(settings, owner_groups)
    if not spaces:
        return
    if code:
        allowed = False
    elif group is not None:
        allowed = set(spaces) == {group}
    else:
        allowed = set(spaces) <= set(user_groups or [])
    if not allowed:
        raise HealthConfinementError(text(settings.hub.language, "health_share", spaces=_labels(spaces)))
