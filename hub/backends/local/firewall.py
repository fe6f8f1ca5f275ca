"""No egress for health-data spaces on the local backend.

Every process run for a person (their lab, its kernels, their dashboards, their report
runs) runs as their Unix account, whose supplementary groups are their partners'
``partner-<id>`` groups and their projects' ``project-<id>`` groups (:mod:`.policy`).
The hub, as root, keeps the chain
``DATALAB-LOCAL-HEALTH`` (IPv4 and IPv6), jumped to from ``OUTPUT``: packets to this
machine (``-o lo``: loopback and the host's own addresses, where the hub's API, the
lab's kernels and the other local services are) and replies to connections opened from
elsewhere (the proxy reaching a lab) go on to the host's own rules, and so do TCP
packets to the package mirror the deployment names (``health.package_mirror``), if any;
any other packet sent by a process in the group of a partner or project holding health
data (``-m owner --gid-owner partner-<id> --suppl-groups``) is rejected: no route off the
machine, package registries included.

What this does not do: keep such a process from reaching other local services or other
people's labs on the loopback (their servers answer strangers with a login redirect);
the docker backend does (:mod:`hub.backends.docker.firewall`).
"""

from __future__ import annotations

from ...groups import partner_group, project_group
from ...settings import PackageMirror, Settings
from .. import netfilter
from .policy import ensure_group

CHAIN = "DATALAB-LOCAL-HEALTH"
KEY = "partners"


def rules(groups: list[str], mirror: PackageMirror | None = None, family: int = 4) -> list[str]:
    """The chain's rules, for IP ``family`` 4 or 6, for the Unix ``groups`` of partners
    and projects holding health data, letting them reach ``mirror``."""
    allowed = ["-o lo -j RETURN", "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"]
    if mirror is not None and mirror.family == family:
        allowed.append(f"-d {mirror.host}/{mirror.host.max_prefixlen} -p tcp -m tcp --dport {mirror.port} -j RETURN")
    return [*allowed, *(f"-m owner --gid-owner {group} --suppl-groups -j REJECT" for group in groups)]


def health_groups(settings: Settings) -> list[str]:
    """The Unix groups of the partners and projects holding health data, created when
    missing."""
    groups = [partner_group(p.id) for p in settings.partners if p.holds_health_data]
    groups += [project_group(p.id) for p in settings.projects if p.health_data]
    for group in groups:
        ensure_group(group)
    return groups


def apply(settings: Settings) -> None:
    """Install (or replace) the chain and its jump, IPv4 and IPv6. ``ConfigError`` when
    iptables refuses."""
    groups = health_groups(settings)
    for family in netfilter.families():
        content = rules(groups, settings.health.package_mirror, family)
        netfilter.replace_chains(family, {CHAIN: content}, KEY)
        netfilter.ensure_jump(family, "OUTPUT", [], CHAIN, KEY)
