"""Usage accounting: per partner and calendar month (UTC), container-hours of labs and
Slurm core-hours and GPU-hours, for the Region that funds the platform.

- **Container-hours** come from the audit trail's ``server.start`` and ``server.stop``
  lines (:mod:`hub.audit`) of labs on the ``local`` and ``docker`` backends: a server
  runs from a successful start to the next stop of the same ``owner/server`` (a start
  with no stop before the next start, e.g. a hub killed, ends at that next start; one
  still running counts up to now). A server running across a month boundary is split at
  the boundary. A lab is charged to its owner's partners, shared equally when the owner
  belongs to several.
- **Slurm core-hours and GPU-hours** come from ``sacct`` (slurmdbd): every allocation
  (``--allocations``) that ran during the month, ``AllocCPUS`` cores and the
  ``gres/gpu`` count of ``AllocTRES``, times the part of its run inside the month
  (``Start``..``End``, ``End`` = now for a running job). Times are read in UTC (``TZ=UTC``
  for sacct). The job's ``Account`` names the partner through ``slurm.entitlements``
  (``account`` -> ``partner``); an account no entitlement names is reported as
  ``account:<name>``. Labs on the ``slurm`` backend are counted here, not as containers.

Seconds are exact integers; hours are seconds / 3600 rounded to 3 decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

UTC = dt.timezone.utc
SACCT_FIELDS = ("JobID", "Account", "AllocCPUS", "AllocTRES", "ElapsedRaw", "Start", "End", "State")
CSV_COLUMNS = ("month", "partner", "container_hours", "core_hours", "gpu_hours",
               "container_seconds", "core_seconds", "gpu_seconds")


class UsageError(Exception):
    """Usage cannot be computed (bad month, sacct failed); ``str()`` says why."""


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``"2026-11"`` -> (2026-11-01T00:00Z, 2026-12-01T00:00Z). :class:`UsageError`."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not match or not 1 <= int(match[2]) <= 12:
        raise UsageError(f"{month!r}: expected a month as YYYY-MM")
    year, number = int(match[1]), int(match[2])
    start = dt.datetime(year, number, 1, tzinfo=UTC)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def overlap(start: dt.datetime, end: dt.datetime, lo: dt.datetime, hi: dt.datetime) -> int:
    """Whole seconds of [start, end) inside [lo, hi) (rounded to the nearest second)."""
    seconds = (min(end, hi) - max(start, lo)).total_seconds()
    return max(0, round(seconds))


@dataclass
class Interval:
    """A lab that ran from ``start`` to ``end`` for ``partners``."""

    target: str
    partners: list[str]
    start: dt.datetime
    end: dt.datetime


def server_intervals(events: Iterable[dict], now: dt.datetime) -> list[Interval]:
    """Running intervals of container labs (``local``/``docker``) from audit events in
    time order (see the module's docstring)."""
    running: dict[str, tuple[dt.datetime, list[str]]] = {}
    intervals: list[Interval] = []
    for event in events:
        action = event.get("action")
        if action not in ("server.start", "server.stop") or event.get("result") != "success":
            continue
        target = event.get("target", "")
        when = dt.datetime.fromisoformat(event["timestamp"])
        opened = running.pop(target, None)
        if opened is not None:
            intervals.append(Interval(target, opened[1], opened[0], when))
        backend = (event.get("detail") or {}).get("backend", "")
        if action == "server.start" and backend != "slurm":
            running[target] = (when, list(event.get("partner") or []))
    intervals.extend(Interval(t, p, s, now) for t, (s, p) in running.items())
    return intervals


@dataclass
class SlurmJob:
    """One allocation as sacct reports it; ``end`` None while running."""

    job_id: str
    account: str
    cpus: int
    gpus: int
    elapsed: int
    start: dt.datetime
    end: dt.datetime | None
    state: str


def _gpus(tres: str) -> int:
    for item in tres.split(","):
        name, _, value = item.partition("=")
        if name == "gres/gpu" and value.isdigit():
            return int(value)
    return 0


def _slurm_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None  # Unknown, None: not started, or still running


def parse_sacct(text: str) -> list[SlurmJob]:
    """Lines of ``sacct --parsable2 --noheader --format=<SACCT_FIELDS>`` (times in UTC)
    -> the jobs that started. :class:`UsageError` for a line with the wrong shape."""
    jobs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) != len(SACCT_FIELDS):
            raise UsageError(f"sacct: unexpected line {line[:200]!r}")
        job_id, account, cpus, tres, elapsed, start, end, state = values
        started = _slurm_time(start)
        if started is None:
            continue
        jobs.append(SlurmJob(job_id, account, int(cpus or 0), _gpus(tres), int(elapsed or 0),
                             started, _slurm_time(end), state.split(" ")[0]))
    return jobs


def sacct(start: dt.datetime, end: dt.datetime, timeout: float = 60,
          env: dict[str, str] | None = None) -> list[SlurmJob]:
    """The allocations of every user that ran between ``start`` and ``end`` (UTC), from
    ``sacct`` (``SLURM_CONF`` from ``env``, default the process's environment, else
    /etc/slurm/slurm.conf). :class:`UsageError` when there is no configuration file, or
    sacct is missing, fails or times out."""
    env = {**(env or os.environ), "TZ": "UTC"}
    conf = env.get("SLURM_CONF") or "/etc/slurm/slurm.conf"
    if not os.path.isfile(conf):
        # without a configuration file sacct looks for the controller in DNS: never that
        raise UsageError(f"sacct: no Slurm configuration ({conf}); set SLURM_CONF")
    argv = ["sacct", "--parsable2", "--noheader", "--allocations", "--allusers",
            f"--format={','.join(SACCT_FIELDS)}",
            "-S", start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "-E", end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    try:
        done = subprocess.run(argv, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UsageError(f"sacct: {e}") from None
    if done.returncode != 0:
        raise UsageError(f"sacct failed ({done.returncode}): {done.stderr.strip()[:500]}")
    return parse_sacct(done.stdout)


@dataclass
class PartnerUsage:
    """One partner's month: exact seconds of each kind."""

    month: str
    partner: str
    container_seconds: float = 0
    core_seconds: int = 0
    gpu_seconds: int = 0

    def row(self) -> dict:
        """A CSV row (:data:`CSV_COLUMNS`)."""
        return {
            "month": self.month, "partner": self.partner,
            "container_hours": round(self.container_seconds / 3600, 3),
            "core_hours": round(self.core_seconds / 3600, 3),
            "gpu_hours": round(self.gpu_seconds / 3600, 3),
            "container_seconds": round(self.container_seconds),
            "core_seconds": self.core_seconds, "gpu_seconds": self.gpu_seconds,
        }


@dataclass
class MonthlyUsage:
    """Usage of one month by partner."""

    month: str
    partners: dict[str, PartnerUsage] = field(default_factory=dict)

    def of(self, partner: str) -> PartnerUsage:
        return self.partners.setdefault(partner, PartnerUsage(self.month, partner))

    def rows(self) -> list[dict]:
        return [self.partners[p].row() for p in sorted(self.partners)]


def account_partners(settings) -> dict[str, str]:
    """Slurm account -> partner id, from ``slurm.entitlements``."""
    return {e.account: e.partner for e in settings.slurm.entitlements}


def compute(month: str, events: Iterable[dict], jobs: Iterable[SlurmJob], accounts: dict[str, str],
            now: dt.datetime | None = None) -> MonthlyUsage:
    """The usage of ``month`` (YYYY-MM) from audit ``events`` (time order) and Slurm
    ``jobs``; ``accounts`` maps Slurm accounts to partners. :class:`UsageError`."""
    lo, hi = month_bounds(month)
    now = now or dt.datetime.now(UTC)
    usage = MonthlyUsage(month)
    for interval in server_intervals(events, now):
        seconds = overlap(interval.start, interval.end, lo, hi)
        if seconds and interval.partners:
            for partner in interval.partners:
                usage.of(partner).container_seconds += seconds / len(interval.partners)
    for job in jobs:
        seconds = overlap(job.start, job.end or now, lo, hi)
        if not seconds:
            continue
        partner = accounts.get(job.account, f"account:{job.account}")
        usage.of(partner).core_seconds += job.cpus * seconds
        usage.of(partner).gpu_seconds += job.gpus * seconds
    return usage


def to_csv(rows: list[dict]) -> str:
    """Rows (:data:`CSV_COLUMNS`) as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
