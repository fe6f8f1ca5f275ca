"""The labs' network filter on the docker backend: what a container of the labs'
network (a lab, a dashboard's Voilà server) may reach. Report runs have no network at
all (:mod:`.report`).

The Docker engine runs with ``--iptables=false`` (DEVELOPERS.md), so Docker filters
nothing: containers of one bridge talk to each other at layer 2, reach every address of
the host through the gateway, and have a default route through it. The hub, as root,
keeps two chains per bridge (``<bridge>``: the network's interface), IPv4 and IPv6:

- ``DATALAB-FWD-<bridge>``, jumped to from ``FORWARD -i <bridge>``: drops everything.
  With ``br_netfilter`` (``net.bridge.bridge-nf-call-iptables=1``, which the hub sets),
  frames bridged from one container to another cross ``FORWARD`` too, so no container
  reaches another; and nothing is routed off the labs' network (no egress);
- ``DATALAB-IN-<bridge>``, jumped to from ``INPUT -i <bridge>``: replies to connections
  the host opened (the proxy, the hub and the dashboards service reach containers) and
  new TCP connections to the hub's API (the gateway address, the API port) go on to the
  host's own rules; everything else is rejected (every other port and address of the
  host: the connection is refused at once).

The package mirror the deployment names for health spaces (``health.package_mirror``: one
address, one TCP port), if any, is let through both chains: ``INPUT`` when it is an
address of the host, ``FORWARD`` when it is elsewhere (the host routes to it; with
``--ip-masq=false`` the mirror's network needs a route back to the labs' subnet). On this
backend every lab and dashboard container then reaches it, health data or not (none of
them has any other egress); report containers have no network at all.

:func:`apply` is idempotent (:mod:`hub.backends.netfilter`). The chains stay when the
hub stops (labs outlive it) and are replaced at its next start; the chains of a bridge
that no longer exists are removed then (:func:`remove_stale`).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from ...settings import ConfigError, PackageMirror
from .. import netfilter

log = logging.getLogger("datalab")

CHAIN_PREFIXES = {"INPUT": "DATALAB-IN-", "FORWARD": "DATALAB-FWD-"}
BRIDGE_NF = Path("/proc/sys/net/bridge")
NET_DEVICES = Path("/sys/class/net")
KEY = "docker.network"


def chain(builtin: str, bridge: str) -> str:
    """The DataLab chain ``builtin`` (``INPUT`` or ``FORWARD``) jumps to for ``bridge``."""
    return CHAIN_PREFIXES[builtin] + bridge


def rules(gateway: str, api_port: int, family: int, mirror: PackageMirror | None = None) -> dict[str, list[str]]:
    """The rules of a bridge's two chains by built-in chain, for IP ``family`` 4 or 6
    (the hub's API is on IPv4 only), letting containers reach ``mirror``."""
    answers = ["-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"]
    if family == 4:
        answers.append(f"-d {gateway}/32 -p tcp -m tcp --dport {api_port} -j RETURN")
    to_mirror = []
    if mirror is not None and mirror.family == family:
        to_mirror.append(f"-d {mirror.host}/{mirror.host.max_prefixlen} -p tcp -m tcp --dport {mirror.port} -j RETURN")
    return {"INPUT": [*answers, *to_mirror, "-j REJECT"], "FORWARD": [*to_mirror, "-j DROP"]}


def bridged_frames_filtered() -> None:
    """Make frames bridged between containers cross iptables (``br_netfilter``;
    ``net.bridge.bridge-nf-call-iptables`` and ``-ip6tables`` set to 1), loading the
    module when its settings are missing. ``ConfigError`` when that is impossible."""
    if not BRIDGE_NF.is_dir() and shutil.which("modprobe"):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True)
    for name in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
        setting = BRIDGE_NF / name
        try:
            if setting.read_text().strip() != "1":
                setting.write_text("1\n")
                log.info("network: net.bridge.%s set to 1 (labs cannot reach each other)", name)
        except OSError as e:
            raise ConfigError(
                f"{KEY}: labs must not reach each other, which needs the kernel's br_netfilter "
                f"with net.bridge.{name}=1 ({e.strerror}): load it with `modprobe br_netfilter` "
                "and list it in /etc/modules-load.d/"
            ) from None


def apply(bridge: str, gateway: str, api_port: int, mirror: PackageMirror | None = None) -> None:
    """Install (or replace) the chains of ``bridge`` and their jumps (``mirror``: the
    health spaces' package mirror, let through); remove the single
    rule of earlier versions (``FORWARD -i <bridge> ! -o <bridge> -j DROP``, now part of
    the chain) and stale chains. ``ConfigError`` when the kernel or iptables refuses."""
    bridged_frames_filtered()
    for family in netfilter.families():
        content = rules(gateway, api_port, family, mirror)
        netfilter.replace_chains(family, {chain(b, bridge): r for b, r in content.items()}, KEY)
        for builtin in content:
            netfilter.ensure_jump(family, builtin, ["-i", bridge], chain(builtin, bridge), KEY)
    netfilter.delete_rule(4, "FORWARD", ["-i", bridge, "!", "-o", bridge, "-j", "DROP"])
    remove_stale()


def remove(bridge: str) -> None:
    """Remove the chains of ``bridge`` and their jumps, if present."""
    for family in netfilter.families():
        for builtin in CHAIN_PREFIXES:
            netfilter.remove_chain(family, builtin, ["-i", bridge], chain(builtin, bridge))


def remove_stale() -> None:
    """Remove the DataLab chains of bridges that no longer exist (a network removed, or
    recreated under another interface name)."""
    bridges = {
        name[len(prefix):]
        for prefix in CHAIN_PREFIXES.values() for name in netfilter.chains_named(prefix)
    }
    for bridge in sorted(bridges):
        if not (NET_DEVICES / bridge).exists():
            remove(bridge)
