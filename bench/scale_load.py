"""Login and API under load at the DataLab's scale (issue 20, point 3), on the hub of
:mod:`.hub_scale` started on its full database (1,000 people, 200 running servers).

Every person of the population logs in once, through the login form (the journey of
:class:`.users.SimulatedUser`), the logins spread evenly over ``seconds`` (1,000 over
5 minutes), each followed by ``GET /hub/api/user``; meanwhile every running server
reports its activity as a lab does (``POST /hub/api/users/<name>/activity`` with the
server's own API token, every ``activity_interval`` seconds: JupyterHub's default, 300 s,
so each of the 200 servers reports once in 5 minutes, spread evenly). Measured: the
API's latency idle (before the load) and under it, its P95 ratio (goal <= 3), the errors
of both kinds (goal: 0), and the hub process's CPU time over the load.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
import psutil

from tests.conftest import PASSWORD, RunningHub

from .measure import loadavg, summary
from .users import SimulatedUser

#: JupyterHub's default interval (s) between two activity reports of a lab.
ACTIVITY_INTERVAL = 300
#: Sequential API calls of the idle reference.
IDLE_CALLS = 30
#: Goal (issue 20): the API's P95 under the load within 3 x its idle P95.
GOAL_API_P95_RATIO = 3.0


async def _idle_api(base: str, name: str, timeout: float) -> dict:
    """``IDLE_CALLS`` sequential ``GET /hub/api/user`` of one logged-in person."""
    async with SimulatedUser(base, name, PASSWORD, timeout) as user:
        await user.login()
        times = []
        for _ in range(IDLE_CALLS):
            t0 = time.perf_counter()
            (await user.api("GET", "/user")).raise_for_status()
            times.append(time.perf_counter() - t0)
    return summary(times)


async def _load(base: str, people: list[str], servers: list[tuple[str, str, str]], seconds: float,
                timeout: float) -> dict:
    """The logins of ``people`` and the activity reports of ``servers`` (user, server
    name, token), each spread evenly over ``seconds``."""
    logins, api, errors, reports, report_errors = [], [], [], [], []

    async def login(name: str) -> None:
        async with SimulatedUser(base, name, PASSWORD, timeout) as user:
            try:
                logins.append(await user.login())
                t0 = time.perf_counter()
                (await user.api("GET", "/user")).raise_for_status()
                api.append(time.perf_counter() - t0)
            except Exception as e:  # recorded, the load goes on
                errors.append(f"{name}: {type(e).__name__}: {str(e)[:200]}")

    async def report(client: httpx.AsyncClient, user: str, server: str, token: str) -> None:
        now = datetime.now(timezone.utc).isoformat()
        t0 = time.perf_counter()
        try:
            r = await client.post(f"{base}/hub/api/users/{quote(user, safe='')}/activity",
                                  headers={"Authorization": f"token {token}"},
                                  json={"last_activity": now, "servers": {server: {"last_activity": now}}})
            reports.append(time.perf_counter() - t0)
            if r.status_code != 200:
                report_errors.append(f"{user}/{server}: {r.status_code} {r.text[:200]}")
        except httpx.HTTPError as e:
            report_errors.append(f"{user}/{server}: {type(e).__name__}: {e}")

    events = [(i * seconds / len(people), login, (name,)) for i, name in enumerate(people)]
    async with httpx.AsyncClient(timeout=timeout) as client:
        rounds = max(1, int(seconds // ACTIVITY_INTERVAL))
        events += [(r * ACTIVITY_INTERVAL + i * min(seconds, ACTIVITY_INTERVAL) / max(1, len(servers)), report,
                    (client, *s))
                   for r in range(rounds) for i, s in enumerate(servers)]
        events.sort(key=lambda e: e[0])
        start = time.perf_counter()
        tasks = []
        for at, work, work_args in events:
            await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
            tasks.append(asyncio.create_task(work(*work_args)))
        await asyncio.wait_for(asyncio.gather(*tasks), seconds + timeout)
        duration = time.perf_counter() - start
    return {"logins": summary(logins), "api_loaded": summary(api), "login_errors": errors,
            "activity_reports": summary(reports), "activity_errors": report_errors, "duration": round(duration, 1)}


def login_load(running: RunningHub, people: list[str], servers: list[tuple[str, str, str]], seconds: float,
               timeout: float) -> dict:
    """Start ``running`` (on its full database), measure the idle API, run the load
    (:func:`_load`) and the hub's CPU time over it, stop the hub."""
    record = {"people": len(people), "servers": len(servers), "seconds": seconds,
              "activity_interval": ACTIVITY_INTERVAL, "loadavg_before": loadavg()}
    running.start(timeout)
    try:
        hub = psutil.Process(running.process.pid)
        record["api_idle"] = asyncio.run(_idle_api(running.url, people[0], timeout))
        cpu0, t0 = sum(hub.cpu_times()[:2]), time.perf_counter()
        record.update(asyncio.run(_load(running.url, people, servers, seconds, timeout)))
        cpu = sum(hub.cpu_times()[:2]) - cpu0
        record["hub_cpu_seconds"] = round(cpu, 1)
        record["hub_cpu_percent"] = round(100 * cpu / (time.perf_counter() - t0), 1)
        idle, loaded = record["api_idle"]["p95"], record["api_loaded"]["p95"]
        record["api_p95_ratio"] = round(loaded / idle, 2) if idle and loaded else None
        record["loadavg_after"] = loadavg()
    finally:
        running.stop()
    return record
