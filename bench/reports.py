"""21 report runs requested at once (one per partner) against the single run's CPU time:
each run is ``python -m hub.services.reports.execute`` (papermill + HTML, the local
runner's program) on the library's department report. Ratio = wall time of the 21 runs
divided by (CPU-seconds of one run x 21 / cores); 1.0 is a perfect use of the cores.

The 21 runs go through the reports service's bound on a host backend
(:func:`hub.services.reports.slots.host_parallel` with the example deployment's
``reports.max_parallel`` and ``run_memory`` on this machine): at most that many execute at
once, the others wait, as in the service. The previous design, all 21 at once, is
measured in the same run as the reference."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hub.services.reports.slots import host_cores, host_memory, host_parallel
from hub.settings import load

from .measure import loadavg, summary

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "shared_notebooks" / "03-rapport-departement.ipynb"
DEPARTMENTS = ["14", "27", "50", "61", "76"]


def _spec(root: Path, i: int) -> dict:
    out = root / f"run{i:02d}"
    (out / "work").mkdir(parents=True)
    for data in ("data", "normandie.py"):
        source = REPO / "shared_notebooks" / data
        target = out / "work" / data
        target.symlink_to(source, target_is_directory=source.is_dir())
    return {"notebook": str(NOTEBOOK), "output_dir": str(out), "work_dir": str(out / "work"),
            "parameters": {"department": DEPARTMENTS[i % len(DEPARTMENTS)]}, "kernel": "python3",
            "cell_timeout": 600, "language": "fr", "title": f"bench {i}"}


def _run(spec: dict, timeout: float) -> float:
    """One run; its wall time (s). ``RuntimeError`` when it fails."""
    t0 = time.perf_counter()
    done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "hub.services.reports.execute"],
                          input=json.dumps(spec), text=True, capture_output=True, cwd=REPO, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"report run failed: {done.stdout[-400:]}")
    return time.perf_counter() - t0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def service_bound() -> int:
    """How many runs the reports service executes at once on this host with the example
    deployment's settings."""
    reports = load(REPO / "datalab.example.yaml").reports
    return host_parallel(reports.max_parallel, reports.run_memory, host_cores(), host_memory())


def _many(specs: list[dict], at_once: int, timeout: float) -> dict:
    """``specs`` run with at most ``at_once`` at a time: wall time, each run's wall time
    (queueing included), failures (their messages)."""
    failures: list[str] = []

    def one(spec: dict) -> float:
        try:
            return _run(spec, timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            failures.append(str(e)[-300:])
            return float("nan")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        walls = list(pool.map(one, specs))
    return {"at_once": at_once, "wall": round(time.perf_counter() - t0, 3), "failures": failures,
            "runs": summary([w for w in walls if w == w]) if len(failures) < len(walls) else None,
            "loadavg_after": loadavg()}


def report_runs(count: int, timeout: float) -> dict:
    """Two single runs (their CPU time, children included), ``count`` runs under the
    service's bound, ``count`` runs all at once (the previous design), one more single
    run; the ratio's inputs. Called from a thread of its own: RUSAGE_CHILDREN counts this
    process's children, so nothing else may run subprocesses meanwhile."""
    root = Path(tempfile.mkdtemp(prefix="datalab-bench-reports-"))
    record = {"loadavg_before": loadavg(), "count": count, "cores": os.cpu_count()}
    try:
        singles, cpu = [], []
        for i in range(2):
            c0 = _children_cpu()
            singles.append(_run(_spec(root, 100 + i), timeout))
            cpu.append(_children_cpu() - c0)
        record["loadavg_parallel"] = loadavg()
        record["bounded"] = _many([_spec(root, i) for i in range(count)], service_bound(), timeout)
        record["unbounded"] = _many([_spec(root, 200 + i) for i in range(count)], count, timeout)
        c0 = _children_cpu()
        singles.append(_run(_spec(root, 102), timeout))
        cpu.append(_children_cpu() - c0)
        record.update(single_wall=summary(singles), single_cpu=summary(cpu))
        ideal = record["single_cpu"]["p50"] * count / os.cpu_count()
        record["ideal_wall"] = round(ideal, 3)
        record["parallel_wall"] = record["bounded"]["wall"]
        record["ratio"] = round(record["bounded"]["wall"] / ideal, 2)
        record["ratio_unbounded"] = round(record["unbounded"]["wall"] / ideal, 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    record["loadavg_after"] = loadavg()
    return record
