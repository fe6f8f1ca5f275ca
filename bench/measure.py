"""Small measurement helpers: percentiles, load average, CPU time of containers and
processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to 0.01."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_busy(seconds: float = 3.0) -> float:
    """Fraction (0-1) of all cores' time spent outside idle and iowait over the next
    ``seconds`` (``/proc/stat``): what other programs take from the machine right now."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    elapsed = total1 - total0
    return 0.0 if elapsed <= 0 else round(1 - (idle1 - idle0) / elapsed, 3)


def quiet_enough(max_load_per_core: float, max_busy: float, seconds: float = 3.0) -> tuple[bool, dict]:
    """Whether the machine is quiet enough to measure on: the 1-minute load average per
    core at most ``max_load_per_core`` and the CPU busy fraction over ``seconds`` at most
    ``max_busy``. Returns the verdict and the readings."""
    load = loadavg()
    busy = cpu_busy(seconds)
    cores = os.cpu_count() or 1
    reading = {"loadavg": load, "cpu_busy": busy, "cores": cores}
    return load[0] <= max_load_per_core * cores and busy <= max_busy, reading


def settle(max_busy: float, timeout: float, seconds: float = 2.0) -> dict:
    """Wait (at most ``timeout`` s) until the CPU busy fraction falls to ``max_busy``
    (what the previous round left behind: stopping containers, a hub's clean-up); the
    last reading, with ``settled`` False when the time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        busy = cpu_busy(seconds)
        if busy <= max_busy or time.monotonic() >= deadline:
            return {"cpu_busy": busy, "settled": busy <= max_busy, "loadavg": loadavg()}


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


def spread(values: list[float]) -> dict:
    """``{"n", "median", "min", "max"}`` of ``values`` (ratios of repeated rounds),
    rounded to 0.01; None figures for no values."""
    def r(x):
        return None if x is None else round(x, 2)
    return {"n": len(values), "median": r(percentile(values, 50)),
            "min": r(min(values) if values else None), "max": r(max(values) if values else None)}


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
