"""Slurm spawn latency against its floor: ``sbatch`` of a trivial job until it is
RUNNING, interleaved with lab starts on the ``austral`` profile of a DataLab hub, on the
test cluster of ``tests/services/slurm.py`` (used as a library)."""

from __future__ import annotations

import contextlib
import time

from tests.conftest import PASSWORD, RunningHub, open_workdir, served
from tests.services import slurm as cluster_service

from .measure import loadavg, summary
from .users import SimulatedUser

USER = "analyste1"  # univ-alpha, entitled to the austral profile (slurm_hub_overrides)


@contextlib.contextmanager
def slurm_hub(timeout: int):
    """The test cluster and a DataLab hub using it; everything stopped and removed on
    exit (jobs cancelled, daemons stopped, login accounts deleted)."""
    with contextlib.contextmanager(cluster_service.slurm_cluster.__wrapped__)() as cluster:
        logins = cluster_service.AustralLogins(cluster.root / "homes")
        try:
            overrides = cluster_service.slurm_hub_overrides(cluster, logins, start_timeout=timeout)
            running = RunningHub(open_workdir("datalab-bench-slurm-"), overrides)
            with served(running, "bench-slurm-hub.log"):
                yield cluster, logins, running
        finally:
            cluster.cancel_all()
            logins.remove()


def submit_to_running(cluster, login: str, timeout: float, poll: float = 0.05) -> float:
    """Seconds from ``sbatch`` of a one-core sleeping job until squeue says RUNNING;
    the job is cancelled after. ``TimeoutError`` after ``timeout``."""
    t0 = time.perf_counter()
    job = cluster.run("sbatch", "--parsable", "--account=univ-alpha", "--cpus-per-task=1",
                      "--mem=256M", "--time=0:05:00", "--output=/dev/null", "--wrap", "sleep 120",
                      user=login).stdout.strip()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cluster.job_state(job) == "RUNNING":
                return time.perf_counter() - t0
            time.sleep(poll)
        raise TimeoutError(f"job {job} not running after {timeout} s")
    finally:
        cluster.run("scancel", job, check=False)


async def slurm_rounds(rounds: int, timeout: float) -> dict:
    """``rounds`` pairs (sbatch floor, lab start + stop through the hub), interleaved."""
    import asyncio

    record = {"loadavg_before": loadavg(), "sbatch": [], "spawn": [], "stop": [], "errors": []}
    with slurm_hub(int(timeout)) as (cluster, logins, running):
        login = logins.login("benchjob")
        async with SimulatedUser(running.url, USER, PASSWORD, timeout) as user:
            await user.login()
            for _ in range(rounds):
                try:
                    record["sbatch"].append(await asyncio.to_thread(submit_to_running, cluster, login, timeout))
                    t0 = time.perf_counter()
                    await user.spawn({"profile": "austral"})
                    record["spawn"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    await user.stop()
                    record["stop"].append(time.perf_counter() - t0)
                except Exception as e:  # recorded, the next round goes on
                    record["errors"].append(f"{type(e).__name__}: {e}")
                    with contextlib.suppress(Exception):
                        await user.stop()
                await asyncio.to_thread(cluster.cancel_all)
    for key in ("sbatch", "spawn", "stop"):
        record[key] = summary(record[key])
    record["loadavg_after"] = loadavg()
    return record
