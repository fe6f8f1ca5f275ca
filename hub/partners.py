"""Partners and roles as JupyterHub groups and roles.

Each partner is the group ``partner-<id>`` (properties: ``partner``, ``name``, ``type``).
Each DataLab role is held through membership of the group ``role-<role>``, to which the
JupyterHub role ``datalab-<role>`` is bound; authenticators only decide group membership.

Scopes (least privilege, JupyterHub 5+ scope names):

- every user (the redefined built-in ``user`` role): read their own model, post activity,
  manage their own tokens; no server.
- ``datalab-analyst``: start, stop and use their own servers.
- ``datalab-decision-maker``: nothing more than a user (dashboards come through services).
- ``datalab-admin``: administer users, groups and servers, read the hub; no
  ``access:servers``: an admin cannot open another person's lab (health data).
"""

from __future__ import annotations

from .settings import Role, Settings

PARTNER_PREFIX = "partner-"
ROLE_PREFIX = "role-"

USER_SCOPES = ["read:users!user", "users:activity!user", "tokens!user"]

ROLE_SCOPES: dict[Role, list[str]] = {
    Role.analyst: ["servers!user", "access:servers!user", "read:users:groups!user"],
    Role.decision_maker: ["read:users:groups!user"],
    Role.admin: [
        "admin-ui",
        "admin:users",
        "admin:servers",
        "admin:groups",
        "read:hub",
        "read:roles",
        "list:services",
        "read:services",
    ],
}


def partner_group(partner_id: str) -> str:
    """``"chu-exemple"`` -> ``"partner-chu-exemple"``."""
    return PARTNER_PREFIX + partner_id


def role_group(role: Role) -> str:
    """``Role.analyst`` -> ``"role-analyst"``."""
    return ROLE_PREFIX + role.value


def partners_of(group_names: list[str] | set[str]) -> set[str]:
    """Partner ids among a user's group names."""
    return {g[len(PARTNER_PREFIX):] for g in group_names if g.startswith(PARTNER_PREFIX)}


def load_groups(settings: Settings) -> dict[str, dict]:
    """``c.JupyterHub.load_groups``: one group per partner and per role, with the demo
    users' memberships when the demo login is used."""
    groups: dict[str, dict] = {}
    for p in settings.partners:
        groups[partner_group(p.id)] = {
            "properties": {"partner": p.id, "name": p.name, "type": p.type.value},
            "users": [],
        }
    for role in Role:
        groups[role_group(role)] = {"properties": {"role": role.value}, "users": []}
    if settings.auth.type == "demo":
        for u in settings.auth.demo_users:
            groups[partner_group(u.partner)]["users"].append(u.name)
            groups[role_group(u.role)]["users"].append(u.name)
    return groups


def load_roles() -> list[dict]:
    """``c.JupyterHub.load_roles``: the redefined ``user`` role and one role per DataLab
    role, bound to its ``role-<role>`` group."""
    roles = [{"name": "user", "description": "Every DataLab user", "scopes": USER_SCOPES}]
    for role, scopes in ROLE_SCOPES.items():
        roles.append(
            {
                "name": f"datalab-{role.value}",
                "description": f"DataLab {role.value}",
                "scopes": scopes,
                "groups": [role_group(role)],
            }
        )
    return roles


def service_access_role(service: str) -> dict:
    """A role letting every DataLab role (analysts, decision-makers, admins) open the
    hub-managed ``service`` (``access:services!service=<service>``); what each person
    sees there is the service's own decision (e.g. a dashboard's audience)."""
    return {
        "name": f"datalab-{service}-access",
        "description": f"Open the {service} service",
        "scopes": [f"access:services!service={service}"],
        "groups": [role_group(role) for role in Role],
    }


def landing_url(handler) -> str:
    """``c.JupyterHub.default_url``: where a person lands after login. People who may not
    start a lab go to the hub home page; analysts get JupyterHub's default (their lab,
    or the spawn form). ``handler``: the hub's request handler."""
    user = handler.current_user
    if user is None or role_group(Role.analyst) in {g.name for g in user.groups}:
        return ""
    return handler.hub.base_url + "home"
