"""The host firewall's chains that DataLab Hub keeps (iptables and ip6tables, table
``filter``), shared by the backends that confine network traffic (:mod:`.docker.firewall`,
:mod:`.local.firewall`).

A chain's content is replaced whole in one ``iptables-restore --noflush`` transaction
(nothing passes unfiltered while it changes); a jump to it is added once. Every command
is an argument list built from our own names, never a shell line.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from ..settings import ConfigError

#: IP family -> (rule tool, restore tool).
TOOLS = {4: ("iptables", "iptables-restore"), 6: ("ip6tables", "ip6tables-restore")}
#: Jumps to one chain :func:`remove_chain` deletes at most (one is expected).
MAX_JUMPS = 16


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True)


def available() -> bool:
    """True when this process can manage the host's firewall: root, with iptables."""
    return os.geteuid() == 0 and shutil.which("iptables") is not None


def families() -> list[int]:
    """The IP families whose tools are installed (4, and 6 when ip6tables is)."""
    return [family for family, (tool, _) in TOOLS.items() if shutil.which(tool)]


def replace_chains(family: int, chains: dict[str, list[str]], key: str) -> None:
    """Create the ``chains`` (name -> rule lines without ``-A <name>``) or replace their
    content, at once. ``ConfigError`` naming the deployment ``key`` when refused."""
    restore = TOOLS[family][1]
    lines = ["*filter", *(f":{name} - [0:0]" for name in chains)]
    lines += [f"-A {name} {rule}" for name, rules in chains.items() for rule in rules]
    done = _run([restore, "--noflush"], "\n".join([*lines, "COMMIT", ""]))
    if done.returncode != 0:
        raise ConfigError(f"{key}: {restore} refused DataLab Hub's rules: {done.stderr.strip()}")


def ensure_jump(family: int, builtin: str, match: list[str], name: str, key: str) -> None:
    """Insert ``<builtin> <match> -j <name>`` first in ``builtin`` unless present."""
    tool = TOOLS[family][0]
    jump = [builtin, *match, "-j", name]
    if _run([tool, "-C", *jump]).returncode == 0:
        return
    done = _run([tool, "-I", *jump])
    if done.returncode != 0:
        raise ConfigError(f"{key}: {tool} refused a jump to {name}: {done.stderr.strip()}")


def delete_rule(family: int, builtin: str, rule: list[str]) -> None:
    """Delete ``rule`` from ``builtin`` when present."""
    _run([TOOLS[family][0], "-D", builtin, *rule])


def remove_chain(family: int, builtin: str, match: list[str], name: str) -> None:
    """Remove the jumps ``<builtin> <match> -j <name>`` and the chain ``name``, if present."""
    tool = TOOLS[family][0]
    for _ in range(MAX_JUMPS):
        if _run([tool, "-D", builtin, *match, "-j", name]).returncode != 0:
            break
    _run([tool, "-F", name])
    _run([tool, "-X", name])


def chains_named(prefix: str) -> list[str]:
    """The IPv4 chains whose name starts with ``prefix``."""
    listed = _run([TOOLS[4][0], "-S"]).stdout.splitlines()
    return [line.split()[1] for line in listed if line.startswith(f"-N {prefix}")]
