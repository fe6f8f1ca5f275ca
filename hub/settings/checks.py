"""The deployment file's cross-checks, in one place: references between sections
(partners, profiles, demo users, projects, schedules, dashboards, entitlements, culling and
quota overrides). :func:`cross_check` runs them in order and raises the first group's
problems, one line each."""

from __future__ import annotations

from .base import require_unique
from .labs import Backend


def reference_problems(settings: "Settings") -> list[str]:
    known = {p.id for p in settings.partners}
    problems = []
    for i, profile in enumerate(settings.profiles):
        if profile.partners != "all":
            for j, pid in enumerate(profile.partners):
                if pid not in known:
                    problems.append(
                        f"profiles[{i}].partners[{j}]: unknown partner {pid!r}; "
                        f"declared partners: {', '.join(sorted(known))}"
                    )
    for i, user in enumerate(settings.auth.demo_users):
        if user.partner not in known:
            problems.append(
                f"auth.demo_users[{i}].partner: unknown partner {user.partner!r}; "
                f"declared partners: {', '.join(sorted(known))}"
            )
    require_unique([u.name for u in settings.auth.demo_users], "demo user name")
    problems += slurm_problems(settings, known)
    if settings.auth.type == "oidc" and settings.auth.oidc is None:
        problems.append("auth.oidc: required when auth.type is oidc")
    problems += project_problems(settings)
    problems += steward_problems(settings)
    problems += schedule_problems(settings, known)
    return problems


def slurm_problems(settings: "Settings", known: set[str]) -> list[str]:
    problems = []
    entitled = set()
    for i, entitlement in enumerate(settings.slurm.entitlements):
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
    for i, profile in enumerate(settings.profiles):
        if settings.backend_of(profile) is not Backend.slurm:
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


def project_problems(settings: "Settings") -> list[str]:
    """Cross-checks of ``projects``: no member twice; with the demo login, members
    are declared demo users."""
    problems = []
    demo_users = {u.name for u in settings.auth.demo_users}
    for i, project in enumerate(settings.projects):
        seen = set()
        for j, member in enumerate(project.members):
            if member in seen:
                problems.append(f"projects[{i}].members[{j}]: {member!r} is listed twice")
            seen.add(member)
            if settings.auth.type == "demo" and member not in demo_users:
                problems.append(
                    f"projects[{i}].members[{j}]: unknown user {member!r}; "
                    f"declared demo users: {', '.join(sorted(demo_users))}"
                )
    return problems


def steward_problems(settings: "Settings") -> list[str]:
    """Cross-checks of ``data_stewards`` (the airlock's approvers): only on a partner or
    project holding health data, no one twice; a project's stewards are its members; with
    the demo login, a partner's stewards are its demo users."""
    problems = []
    demo_partner = {u.name: u.partner for u in settings.auth.demo_users}
    for i, partner in enumerate(settings.partners):
        where = f"partners[{i}].data_stewards"
        if partner.data_stewards and not partner.holds_health_data:
            problems.append(f"{where}: only a partner holding health data (type santé or health_data: true) "
                            "has data stewards")
        problems += _twice(where, partner.data_stewards)
        if settings.auth.type == "demo":
            own = sorted(name for name, pid in demo_partner.items() if pid == partner.id)
            for j, name in enumerate(partner.data_stewards):
                if demo_partner.get(name) != partner.id:
                    problems.append(f"{where}[{j}]: {name!r} is not a demo user of partner {partner.id!r}; "
                                    f"its demo users: {', '.join(own) or 'none'}")
    for i, project in enumerate(settings.projects):
        where = f"projects[{i}].data_stewards"
        if project.data_stewards and not project.health_data:
            problems.append(f"{where}: only a project holding health data (health_data: true) has data stewards")
        problems += _twice(where, project.data_stewards)
        for j, name in enumerate(project.data_stewards):
            if name not in project.members:
                problems.append(f"{where}[{j}]: {name!r} is not a member of project {project.id!r}; "
                                f"its members: {', '.join(project.members)}")
    return problems


def _twice(where: str, names: list[str]) -> list[str]:
    seen, problems = set(), []
    for j, name in enumerate(names):
        if name in seen:
            problems.append(f"{where}[{j}]: {name!r} is listed twice")
        seen.add(name)
    return problems


def schedule_problems(settings: "Settings", known_partners: set[str]) -> list[str]:
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
        for path, pid in audience_partners(schedule.audience):
            if pid not in known_partners:
                problems.append(
                    f"{where}.{path}: unknown partner {pid!r}; "
                    f"declared partners: {', '.join(sorted(known_partners))}"
                )
    return problems


def audience_partners(audience: "Audience | None") -> list[tuple[str, str]]:
    """``(key path, partner id)`` of each partner an audience names."""
    if audience is None:
        return []
    if audience.any_of:
        return [(f"audience.any_of[{k}].partners[{j}]", pid)
                for k, clause in enumerate(audience.any_of) for j, pid in enumerate(clause.partners)]
    return [(f"audience.partners[{j}]", pid) for j, pid in enumerate(audience.partners)]


def dashboard_problems(settings: "Settings") -> list[str]:
    known = {p.id for p in settings.partners}
    problems = []
    for i, seed in enumerate(settings.dashboards.publish):
        for path, pid in audience_partners(seed.audience):
            if pid not in known:
                problems.append(
                    f"dashboards.publish[{i}].{path}: unknown partner "
                    f"{pid!r}; declared partners: {', '.join(sorted(known))}"
                )
        if seed.profile is not None and seed.profile not in {p.id for p in settings.profiles}:
            problems.append(
                f"dashboards.publish[{i}].profile: unknown profile {seed.profile!r}; "
                f"declared profiles: {', '.join(p.id for p in settings.profiles)}"
            )
    conf = settings.dashboards
    if conf.preheat_kernels >= conf.max_kernels_per_dashboard:
        problems.append(
            f"dashboards.preheat_kernels: {conf.preheat_kernels} pre-executed kernels count in "
            f"max_kernels_per_dashboard ({conf.max_kernels_per_dashboard}) and would leave no "
            "place for a viewer; allowed: fewer than max_kernels_per_dashboard"
        )
    require_unique([s.id for s in settings.dashboards.publish], "dashboard id")
    return problems


def observability_problems(settings: "Settings") -> list[str]:
    problems = []
    profiles = [p.id for p in settings.profiles]
    for pid in settings.culling.profiles:
        if pid not in profiles:
            problems.append(
                f"culling.profiles.{pid}: unknown profile; declared profiles: {', '.join(profiles)}"
            )
    known = sorted(p.id for p in settings.partners)
    for pid in settings.disk_usage.quotas.partners:
        if pid not in known:
            problems.append(
                f"disk_usage.quotas.partners.{pid}: unknown partner; declared partners: {', '.join(known)}"
            )
    return problems


def cross_check(settings: "Settings") -> None:
    """Every cross-check of ``settings``; ``ValueError`` with one line per problem of the
    first group that has some (references, then dashboards, then culling and quotas)."""
    for problems in (reference_problems, dashboard_problems, observability_problems):
        found = problems(settings)
        if found:
            raise ValueError("\n".join(found))
