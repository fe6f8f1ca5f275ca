"""Partners and roles as JupyterHub groups and roles.

The group names come from :mod:`hub.groups`. Each partner is the group ``partner-<id>`` (properties: ``partner``, ``name``, ``type``);
each project of the deployment file the group ``project-<id>``.
Each DataLab role is held through membership of the group ``role-<role>``, to which the
JupyterHub role ``datalab-<role>`` is bound; authenticators only decide group membership.

Scopes (least privilege, JupyterHub 5+ scope names):

- every user (the redefined built-in ``user`` role): read their own model, post activity,
  manage their own tokens, see and decline the servers shared with them; no server.
- ``datalab-analyst``: start, stop and use their own servers.
- ``datalab-decision-maker``: nothing more than a user (dashboards come through services).
- ``datalab-admin``: read and delete users, administer servers, read groups and the
  hub. Least privilege (health data): no ``access:servers`` (an admin cannot open another
  person's lab); no ``admin:users``, whose ``admin:auth_state`` reads a person's OIDC
  tokens and whose user edits could set the ``admin`` flag (every scope); no write on
  groups (``groups``, ``admin:groups``): every group is a partner, role or project group
  whose membership comes from the identity provider or the deployment file.
"""

from __future__ import annotations

from .groups import partner_group, project_group, role_group
from .settings import Role, Settings

USER_SCOPES = [
    "read:users!user", "users:activity!user", "tokens!user",
    # see what is shared with them, and decline it
    "read:users:shares!user", "users:shares!user",
]

ROLE_SCOPES: dict[Role, list[str]] = {
    Role.analyst: ["servers!user", "access:servers!user", "read:users:groups!user"],
    Role.decision_maker: ["read:users:groups!user"],
    Role.admin: [
        "admin-ui",
        "users",
        "delete:users",
        "read:roles:users",
        "admin:servers",
        "read:groups",
        "list:groups",
        "read:roles:groups",
        "read:hub",
        "read:roles",
        "list:services",
        "read:services",
    ],
}

#: DataLab roles without a lab: their JupyterHub role binds no ``servers`` scope.
ROLES_WITHOUT_LAB = frozenset({Role.decision_maker})


def may_have_lab(group_names) -> bool:
    """False when the person (their group names) holds DataLab roles and all of them are
    :data:`ROLES_WITHOUT_LAB`: no path (their own request, an admin's, the admin page)
    may start a lab for them. A person holding no DataLab role is left to the other
    checks (their partners, the profiles)."""
    names = set(group_names)
    held = {role for role in Role if role_group(role) in names}
    return not held or not held <= ROLES_WITHOUT_LAB


def load_groups(settings: Settings) -> dict[str, dict]:
    """``c.JupyterHub.load_groups``: one group per partner, per role and per project
    (see :func:`group_properties`), with the demo users' memberships and the projects'
    members when the demo login is used."""
    groups = {name: {"properties": props, "users": []} for name, props in group_properties(settings).items()}
    if settings.auth.type == "demo":
        for u in settings.auth.demo_users:
            groups[partner_group(u.partner)]["users"].append(u.name)
            groups[role_group(u.role)]["users"].append(u.name)
        for project in settings.projects:
            groups[project_group(project.id)]["users"] = list(project.members)
    return groups


def group_properties(settings: Settings) -> dict[str, dict]:
    """Group name -> its properties, for every partner, role and project group
    (project properties: ``project``, ``title``, ``end``)."""
    props = {
        partner_group(p.id): {"partner": p.id, "name": p.name, "type": p.type.value}
        for p in settings.partners
    }
    props.update({role_group(r): {"role": r.value} for r in Role})
    for project in settings.projects:
        props[project_group(project.id)] = {
            "project": project.id,
            "title": project.title,
            "end": project.end.isoformat() if project.end else "",
        }
    return props


def ensure_groups(db, settings: Settings, names: list[str]) -> None:
    """Create the hub groups ``names`` that are missing and set the declared properties
    of partner and role groups, in the hub's database session ``db`` (SQLAlchemy).

    Used when the authenticator manages groups (OIDC), where JupyterHub refuses
    ``load_groups``: called before JupyterHub assigns a person's groups, so they exist
    with their properties. Commits only when something changed.
    """
    from jupyterhub import orm

    props = group_properties(settings)
    changed = False
    for name in names:
        group = orm.Group.find(db, name)
        if group is None:
            group = orm.Group(name=name)
            db.add(group)
            changed = True
        wanted = props.get(name)
        if wanted is not None and group.properties != wanted:
            group.properties = wanted
            changed = True
    if changed:
        db.commit()


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
