"""Small measurement helpers: percentiles, load average, CPU time of containers and
processes."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to 0.01."""
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between
    closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict:
    """``{"n", "p50", "p95", "max"}`` of ``values`` (seconds), rounded to 1 ms."""
    def r(x):
        return None if x is None else round(x, 3)
    return {"n": len(values), "p50": r(percentile(values, 50)), "p95": r(percentile(values, 95)),
            "max": r(max(values) if values else None)}


def container_cpu_seconds(container_id: str) -> float | None:
    """CPU time used so far by every process of a running container, in seconds, from
    its cgroup (v1 ``cpuacct.usage``, v2 ``cpu.stat`` usage_usec); None when not found."""
    v1 = CGROUP / "cpuacct" / "docker" / container_id / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for v2 in (CGROUP / "system.slice" / f"docker-{container_id}.scope" / "cpu.stat",
               CGROUP / "docker" / container_id / "cpu.stat"):
        if v2.exists():
            for line in v2.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    return None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and of its waited-for children, in
    seconds (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")
