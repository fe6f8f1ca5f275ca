"""Hub group names of partners, projects and roles (imports nothing of the project's, so
that settings, audiences and backends can all use it)."""

from __future__ import annotations

PARTNER_PREFIX = "partner-"
PROJECT_PREFIX = "project-"
ROLE_PREFIX = "role-"


def partner_group(partner_id: str) -> str:
    """``"chu-exemple"`` -> ``"partner-chu-exemple"``."""
    return PARTNER_PREFIX + partner_id


def project_group(project_id: str) -> str:
    """``"etude-mobilite"`` -> ``"project-etude-mobilite"``."""
    return PROJECT_PREFIX + project_id


def role_group(role: str) -> str:
    """``Role.analyst`` (or ``"analyst"``) -> ``"role-analyst"``."""
    return ROLE_PREFIX + getattr(role, "value", role)


def partners_of(group_names: list[str] | set[str]) -> set[str]:
    """Partner ids among a user's group names."""
    return {g[len(PARTNER_PREFIX):] for g in group_names if g.startswith(PARTNER_PREFIX)}
