"""Slurm core-hours from sacct on a real cluster with accounting (slurmdbd + MariaDB)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

from hub import usage
from tests.conftest import REPO
from tests.services.slurmdbd import wait_accounted

UTC = dt.timezone.utc


def test_a_known_job_is_accounted_to_its_partner_to_the_second(accounting_cluster, tmp_path):
    """sbatch -n 2 --wrap 'sleep 5' on account univ-alpha: sacct's allocation gives 2
    cores for its elapsed seconds (5-7 s), and usage.compute charges univ-alpha exactly
    AllocCPUS x ElapsedRaw core-seconds, no GPU, in the month the job ran."""
    job_id = accounting_cluster.run(
        "sbatch", "--parsable", "-n", "2", "--account=univ-alpha", "--mem=100M", "--time=0:05:00",
        "--output=/dev/null", "--wrap", "sleep 5",
    ).stdout.strip().split(";")[0]
    line = wait_accounted(accounting_cluster, job_id)
    _, account, cpus, elapsed, _, _ = line.split("|")
    assert (account, cpus) == ("univ-alpha", "2")
    assert 5 <= int(elapsed) <= 7

    now = dt.datetime.now(UTC)
    month = now.strftime("%Y-%m")
    lo, hi = usage.month_bounds(month)
    started = time.perf_counter()
    jobs = usage.sacct(lo, hi, env=accounting_cluster.env)
    print(f"sacct query: {time.perf_counter() - started:.3f} s for {len(jobs)} allocations")
    ours = [j for j in jobs if j.job_id == job_id]
    assert len(ours) == 1 and ours[0].cpus == 2 and ours[0].elapsed == int(elapsed)

    result = usage.compute(month, [], ours, {"univ-alpha": "univ-alpha"}, now=now)
    alpha = result.partners["univ-alpha"]
    assert (alpha.core_seconds, alpha.gpu_seconds, alpha.container_seconds) == (2 * int(elapsed), 0, 0)

    config = tmp_path / "datalab.yaml"
    config.write_text((REPO / "datalab.example.yaml").read_text(encoding="utf-8").replace(
        "data_dir: var", f"data_dir: {tmp_path / 'data'}"), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(config), "usage", "--month", month, "--csv"],
        env=accounting_cluster.env, capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout
    rows = {r.split(",")[1]: r.split(",") for r in out.splitlines()[1:]}
    assert int(rows["univ-alpha"][6]) >= 2 * int(elapsed)  # and any other job of this month's cluster
