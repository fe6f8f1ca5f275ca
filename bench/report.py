"""Ratios against the references measured in the same run, and the run's plot."""

from __future__ import annotations

from pathlib import Path

from .measure import spread, summary


def ratio(a, b):
    return None if a is None or b is None or b == 0 else round(a / b, 2)


def round_ratios(mine: list[dict], reference: list[dict], q: str) -> list[float]:
    """The ``q`` spawn latency of each of ``mine``'s rounds against the reference round
    of the same repetition (the i-th round of each, run back to back)."""
    out = []
    for a, b in zip(mine, reference):
        value = ratio(summary(a["spawn_latencies"])[q], summary(b["spawn_latencies"])[q])
        if value is not None:
            out.append(value)
    return out


def ratios(spawns: list[dict], logins: list[dict]) -> dict:
    """Figures the issue asks for, each against its reference measured in this run, and
    the spread of the per-repetition ratios (``spread``)."""
    out = {}
    spreads = {}
    by = {}
    for r in spawns:
        by.setdefault((r["system"], r["concurrency"]), []).append(r)
    for (system, n), rounds in list(by.items()):
        for reference in ("bare", "vanilla"):
            if system == "datalab" and (reference, n) in by:
                for q in ("p50", "p95"):
                    spreads[f"spawn_{q}_{n}_vs_{reference}"] = spread(
                        round_ratios(rounds, by[(reference, n)], q))
    for (system, n), rounds in sorted(by.items()):
        latencies = [x for r in rounds for x in r["spawn_latencies"]]
        cpu = [x for r in rounds for x in r["container_cpus"]]
        stops = [r["stop_wall"] for r in rounds if r["stop_wall"] is not None]
        by[(system, n)] = {"spawn": summary(latencies), "cpu_p50": summary(cpu)["p50"],
                           "stop_wall": summary(stops)["p50"],
                           "spawn_wall": summary([r["spawn_wall"] for r in rounds])["p50"],
                           "errors": sum(len(r["errors"]) for r in rounds),
                           "all_started": len(latencies) == n * len(rounds),
                           "loadavg_1min": [r["loadavg_before"][0] for r in rounds]}
    for n in sorted({n for _, n in by}):
        d, b, v = by.get(("datalab", n)), by.get(("bare", n)), by.get(("vanilla", n))
        for q in ("p50", "p95"):
            if d and b:
                out[f"spawn_{q}_{n}_vs_bare"] = ratio(d["spawn"][q], b["spawn"][q])
            if d and v:
                out[f"spawn_{q}_{n}_vs_vanilla"] = ratio(d["spawn"][q], v["spawn"][q])
        if d and b:
            out[f"cpu_per_start_{n}_vs_bare"] = ratio(d["cpu_p50"], b["cpu_p50"])
        # a stop compares only rounds where every server had started
        if d and b and d["all_started"] and b["all_started"]:
            out[f"stop_wall_{n}_vs_bare"] = ratio(d["stop_wall"], b["stop_wall"])
        if d and v and d["all_started"] and v["all_started"]:
            out[f"stop_wall_{n}_vs_vanilla"] = ratio(d["stop_wall"], v["stop_wall"])
    for r in logins:
        out[f"api_p95_under_logins_vs_idle_{r['system']}"] = ratio(r["api_loaded"]["p95"], r["api_idle"]["p95"])
    systems = {r["system"]: r for r in logins}
    if "datalab" in systems and "vanilla" in systems:
        out["api_p95_under_logins_vs_vanilla"] = ratio(systems["datalab"]["api_loaded"]["p95"],
                                                       systems["vanilla"]["api_loaded"]["p95"])
    return {"ratios": out, "spread": spreads, "aggregate": {f"{s}/{n}": v for (s, n), v in by.items()}}


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = results["aggregate"]
    systems = [s for s in ("bare", "datalab", "vanilla") if any(k.startswith(s + "/") for k in agg)]
    sizes = sorted({int(k.split("/")[1]) for k in agg})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    width = 0.8 / max(1, len(systems))
    for i, system in enumerate(systems):
        xs = [j + i * width for j in range(len(sizes))]
        p50 = [agg.get(f"{system}/{n}", {}).get("spawn", {}).get("p50") or 0 for n in sizes]
        p95 = [agg.get(f"{system}/{n}", {}).get("spawn", {}).get("p95") or 0 for n in sizes]
        axes[0].bar(xs, p95, width, alpha=0.35, color=f"C{i}")
        axes[0].bar(xs, p50, width, label=system, color=f"C{i}")
        for x, n, top in zip(xs, sizes, p95):
            errors = agg.get(f"{system}/{n}", {}).get("errors")
            if errors:
                axes[0].annotate(f"{errors} err", (x, top), ha="center", va="bottom", fontsize=8, color="red")
        cpu = [agg.get(f"{system}/{n}", {}).get("cpu_p50") or 0 for n in sizes]
        axes[1].bar(xs, cpu, width, label=system, color=f"C{i}")
        stop = [agg.get(f"{system}/{n}", {}).get("stop_wall") or 0 for n in sizes]
        axes[2].bar(xs, stop, width, label=system, color=f"C{i}")
    for ax, title in zip(axes, ("spawn latency P50 (P95 pale), s", "container CPU-s per start (P50)",
                                "wall time to stop N at once, s")):
        ax.set_xticks([j + width * (len(systems) - 1) / 2 for j in range(len(sizes))], [str(n) for n in sizes])
        ax.set_xlabel("concurrent users")
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"DataLab Hub bench {results['started']} {results['label']} "
                 f"(load average at start {results['loadavg_start']})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
