"""21 report runs at once (one per partner) against the single run's CPU time: each run is
``python -m hub.services.reports.execute`` (papermill + HTML, the local runner's program)
on the library's department report. Ratio = wall time of the 21 parallel runs divided by
(CPU-seconds of one run x 21 / cores); 1.0 is a perfect use of the cores."""

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


def report_runs(count: int, timeout: float) -> dict:
    """Two single runs (their CPU time, children included), ``count`` runs at once, one
    more single run; the ratio's inputs. Called from a thread of its own: RUSAGE_CHILDREN
    counts this process's children, so nothing else may run subprocesses meanwhile."""
    root = Path(tempfile.mkdtemp(prefix="datalab-bench-reports-"))
    record = {"loadavg_before": loadavg(), "count": count, "cores": os.cpu_count()}
    try:
        singles, cpu = [], []
        for i in range(2):
            c0 = _children_cpu()
            singles.append(_run(_spec(root, 100 + i), timeout))
            cpu.append(_children_cpu() - c0)
        specs = [_spec(root, i) for i in range(count)]
        record["loadavg_parallel"] = loadavg()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            walls = list(pool.map(lambda s: _run(s, timeout), specs))
        record["parallel_wall"] = round(time.perf_counter() - t0, 3)
        c0 = _children_cpu()
        singles.append(_run(_spec(root, 102), timeout))
        cpu.append(_children_cpu() - c0)
        record.update(single_wall=summary(singles), single_cpu=summary(cpu), parallel_runs=summary(walls))
        ideal = record["single_cpu"]["p50"] * count / os.cpu_count()
        record["ideal_wall"] = round(ideal, 3)
        record["ratio"] = round(record["parallel_wall"] / ideal, 2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    record["loadavg_after"] = loadavg()
    return record
