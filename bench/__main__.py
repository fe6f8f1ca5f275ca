"""``python -m bench``: run the benchmark rounds, print the ratios, write
``bench/results/<stamp>.json`` and ``<stamp>.png``.

Spawn rounds: for each concurrency (default 1, 10, 20; the single-user round repeated),
the systems take turns (bare docker run, DataLab, vanilla JupyterHub + DockerSpawner,
order rotated each repetition): N servers started at once, then (hubs) each user opens a
kernel and runs a cell, then all N stopped at once. Login round: logins at a fixed rate
through each hub's login form, the hub API timed under that load and idle.
Slurm start rounds (:mod:`.slurm_start`, alone with ``--only slurm-start``): on the
multi-host test cluster, ``sbatch`` until RUNNING, the bare lab program on a compute node
and a lab through the hub, interleaved; the ratio hub / (sbatch + bare).
Hub start-up at scale (:mod:`.hub_scale`, alone with ``--only hub-scale``): the hub's
start on a database of 1,000 people and 200 running servers (docker and Slurm) against
an empty one, SQLite and PostgreSQL; start time ratio and memory; then, on the full
database, 1,000 logins over 5 minutes while the 200 servers report activity
(:mod:`.scale_load`): the API's P95 against idle, errors, the hub's CPU.
The proxy at scale (:mod:`.proxy`, alone with ``--only proxy``): configurable-http-proxy
with 200 routes: route-add latency, requests per second against the targets reached
directly, and a soak with 50 websocket clients measuring its memory.
Report runs (:mod:`.reports`, alone with ``--only reports``): 21 runs requested at once
under the reports service's bound on this host, and all at once (the previous design),
against the CPU floor (21 x one run's CPU-seconds / cores).
Every figure carries the load average measured next to it.

Figures taken while other programs use the cores do not hold (the 2026-11 runs, at load 3
to 27, swung from 0.72x to 3.7x between runs), so the run refuses to start on a busy
machine (``--max-load``, ``--max-busy``; ``--allow-busy`` runs anyway and marks every
result ``"busy_machine": true``), waits before each round until what the previous round
left behind has quietened (``--settle-seconds``), repeats every round (``--single-repeats``,
``--repeats``) and prints each ratio with the spread of its per-repetition values.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from .measure import loadavg, quiet_enough, settle, spread, summary
from .report import plot, ratio, ratios
from .systems import BareDocker, DataLabHub, VanillaHub, user_names
from .users import SimulatedUser

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1,10,20", help="concurrent users per spawn round")
    p.add_argument("--single-repeats", type=int, default=5, help="repetitions of the 1-user round")
    p.add_argument("--repeats", type=int, default=3, help="repetitions of the rounds of more than one user")
    p.add_argument("--max-load", type=float, default=0.25,
                   help="highest 1-minute load average per core at start (0.25: on 2 cores, 0.5, "
                        "less than one other program busy half the time over the last minute)")
    p.add_argument("--max-busy", type=float, default=0.10,
                   help="highest CPU busy fraction over 3 s at start and before each round")
    p.add_argument("--settle-seconds", type=float, default=60,
                   help="longest wait before a round for the CPU to fall below --max-busy")
    p.add_argument("--wait-quiet", type=float, default=240,
                   help="longest wait at start for the machine to become quiet (after the image build)")
    p.add_argument("--allow-busy", action="store_true",
                   help="run on a busy machine anyway (results marked busy_machine)")
    p.add_argument("--systems", default="bare,datalab,vanilla")
    p.add_argument("--profile", default="calcul", help="DataLab profile the users start (calcul: 2 CPUs, no effective limit here)")
    p.add_argument("--logins-per-minute", type=int, default=200)
    p.add_argument("--login-seconds", type=float, default=60)
    p.add_argument("--skip-logins", action="store_true")
    p.add_argument("--skip-kernels", action="store_true")
    p.add_argument("--slurm-rounds", type=int, default=5,
                   help="Slurm lab starts against sbatch (one-node cluster), and rounds of the Slurm start "
                        "overhead on the multi-host cluster (0: none)")
    p.add_argument("--only", choices=["slurm-start", "hub-scale", "proxy", "reports", "viewers"],
                   help="run only this part (slurm-start: --slurm-rounds rounds of sbatch, bare lab and lab "
                        "through the hub on the multi-host cluster; no image build, no Docker. hub-scale: the "
                        "hub's start on a full database against an empty one, --scale-* options. proxy: "
                        "configurable-http-proxy at scale, --proxy-* options. reports: --report-runs report runs under "
                        "the reports service's bound and all at once. viewers: --dashboard-viewers people opening "
                        "the map at once)")
    p.add_argument("--proxy-routes", type=int, default=200, help="proxy: routes (one per running lab)")
    p.add_argument("--proxy-websockets", type=int, default=50, help="proxy: websocket clients in the soak")
    p.add_argument("--proxy-clients", type=int, default=50, help="proxy: concurrent HTTP clients per load round")
    p.add_argument("--proxy-seconds", type=float, default=20, help="proxy: seconds of one load round")
    p.add_argument("--proxy-rounds", type=int, default=3, help="proxy: load rounds (through the proxy, then direct)")
    p.add_argument("--proxy-soak-seconds", type=float, default=600, help="proxy: seconds of the soak")
    p.add_argument("--scale-users", type=int, default=1000, help="hub-scale: people in the full database")
    p.add_argument("--scale-servers", type=int, default=200,
                   help="hub-scale: running servers in the full database (docker containers and Slurm jobs)")
    p.add_argument("--scale-named", type=int, default=None,
                   help="hub-scale: how many of those are named servers (docker; default: a fifth)")
    p.add_argument("--scale-slurm", type=int, default=None,
                   help="hub-scale: how many of those are Slurm jobs (default: a quarter; 0: no Slurm cluster)")
    p.add_argument("--scale-rounds", type=int, default=3, help="hub-scale: rounds of one empty and one full start")
    p.add_argument("--scale-logins", type=int, default=1000,
                   help="hub-scale: people logging in on the full database while its labs report activity (0: none)")
    p.add_argument("--scale-login-seconds", type=float, default=300, help="hub-scale: seconds the logins are spread over")
    p.add_argument("--scale-db", default="sqlite,postgresql",
                   help="hub-scale: database kinds, comma-separated (sqlite, postgresql)")
    p.add_argument("--dashboard-views", type=int, default=3, help="map dashboard views per hub in Chromium (0: none)")
    p.add_argument("--dashboard-viewers", type=int, default=50,
                   help="people opening the map dashboard at once in Chromium (0: none)")
    p.add_argument("--viewer-rounds", type=int, default=2, help="viewers: rounds of each design (--only viewers)")
    p.add_argument("--viewer-designs", default="previous,current,floor,blank",
                   help="viewers: designs measured, comma-separated (bench/dashboard.py DESIGNS; floor: "
                        "the current design's page from a static server, the browser's own cost; blank: "
                        "a blank page from it, the cost of the browser's navigations alone)")
    p.add_argument("--viewer-spy", type=float, default=0,
                   help="viewers: seconds of py-spy sampling of the dashboards service and the hub (0: none)")
    p.add_argument("--viewer-db", choices=["sqlite", "postgresql"], default="postgresql",
                   help="viewers: the hubs' database (postgresql: a cluster of the bench's own, as deployed)")
    p.add_argument("--viewer-service-session", action="store_true",
                   help="viewers: each has been to the dashboards service before (its own login there, none in the crowd)")
    p.add_argument("--viewer-browser-nice", type=int, default=0, choices=range(20), metavar="0-19",
                   help="viewers: niceness of the browser that plays the 50 viewers (10: the hub's processes first, "
                        "as when the viewers' browsers are their own machines)")
    p.add_argument("--report-runs", type=int, default=21, help="report runs at once (0: none)")
    p.add_argument("--timeout", type=float, default=180, help="cap (s) of one spawn, stop or journey")
    p.add_argument("--label", default="", help="a note kept in the results (e.g. before/after)")
    return p.parse_args(argv)


def lab_image(attempts: int = 3) -> str:
    """The lab image of this tree, tagged ``datalab-lab:bench-<inputs>`` for the run.

    Worktrees sharing one Docker engine retag ``datalab-lab:<version>`` with their own
    build; the bench pins the image whose ``org.datalab.inputs`` label is this tree's,
    so that every spawn of the run uses it. ``RuntimeError`` when no such image stays."""
    build = str(REPO / "scripts" / "build-image.sh")
    inputs = subprocess.run([build, "--print-inputs"], capture_output=True, text=True, check=True).stdout.strip()
    tag = f"datalab-lab:bench-{inputs}"
    for _ in range(attempts):
        subprocess.run([build], check=True, stdout=subprocess.DEVNULL)
        found = subprocess.run(["docker", "images", "-q", "--filter", f"label=org.datalab.inputs={inputs}"],
                               capture_output=True, text=True, check=True).stdout.split()
        if found and subprocess.run(["docker", "tag", found[0], tag]).returncode == 0:
            return tag
    raise RuntimeError(f"no image with inputs {inputs} after {attempts} builds")


async def spawn_round(system, users: list[str], kernels: bool, timeout: float) -> dict:
    """Start ``users`` at once on ``system``, run a cell in each (hubs), stop them all."""
    record = {"system": system.label, "concurrency": len(users), "loadavg_before": loadavg()}
    cpu0 = system.hub_cpu()
    t0 = time.perf_counter()
    spawned = await asyncio.gather(
        *(asyncio.wait_for(system.spawn(u), timeout) for u in users), return_exceptions=True)
    record["spawn_wall"] = round(time.perf_counter() - t0, 3)
    record["hub_cpu_per_start"] = round((system.hub_cpu() - cpu0) / len(users), 3)
    ok = [s for s in spawned if not isinstance(s, BaseException)]
    record["errors"] = [f"{type(e).__name__}: {e}" for e in spawned if isinstance(e, BaseException)]
    record["spawn"] = summary([s[0] for s in ok])
    record["spawn_latencies"] = [round(s[0], 3) for s in ok]
    record["container_cpus"] = [round(s[1], 3) for s in ok if s[1] is not None]
    record["container_cpu"] = summary(record["container_cpus"])
    record["loadavg_after_spawn"] = loadavg()
    if kernels and system.label != "bare":
        done = await asyncio.gather(
            *(asyncio.wait_for(system.journey(u), timeout) for u in users), return_exceptions=True)
        record["kernel_cell"] = summary([d for d in done if not isinstance(d, BaseException)])
        record["errors"] += [f"kernel: {type(e).__name__}: {e}" for e in done if isinstance(e, BaseException)]
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(system.stop(users), timeout)
        record["stop_wall"] = round(time.perf_counter() - t0, 3)
    except Exception as e:  # recorded, the run goes on
        record["errors"].append(f"stop: {type(e).__name__}: {e}")
        record["stop_wall"] = None
    record["loadavg_after"] = loadavg()
    return record


async def login_round(hub, per_minute: int, seconds: float, timeout: float) -> dict:
    """Idle API latency (30 sequential GET /hub/api/user), then logins at ``per_minute``
    for ``seconds``, each followed by GET /hub/api/user; latencies of both under load."""
    record = {"system": hub.label, "loadavg_before": loadavg()}
    probe = hub.users[hub.names[0]]
    idle = []
    for _ in range(30):
        t0 = time.perf_counter()
        (await probe.api("GET", "/user")).raise_for_status()
        idle.append(time.perf_counter() - t0)
    record["api_idle"] = summary(idle)
    logins, api, errors = [], [], []

    async def one(i: int) -> None:
        name = hub.names[i % len(hub.names)]
        async with SimulatedUser(hub.url, name, hub.password, timeout) as user:
            try:
                logins.append(await user.login())
                t0 = time.perf_counter()
                (await user.api("GET", "/user")).raise_for_status()
                api.append(time.perf_counter() - t0)
            except Exception as e:  # recorded
                errors.append(f"{type(e).__name__}: {e}")

    count = int(per_minute * seconds / 60)
    interval = 60 / per_minute
    start = time.perf_counter()
    tasks = []
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    record.update(logins=summary(logins), api_loaded=summary(api), errors=errors,
                  duration=round(time.perf_counter() - start, 1), loadavg_after=loadavg())
    return record


async def run(args: argparse.Namespace) -> dict:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(64))
    sizes = [int(n) for n in args.sizes.split(",")]
    wanted = args.systems.split(",")
    users = user_names(max(sizes))
    image = await asyncio.to_thread(lab_image)
    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "image": image, "cores": os.cpu_count(), "loadavg_start": loadavg(),
               "profile": args.profile, "spawns": [], "logins": []}
    async with DataLabHub(image, users, args.timeout, args.profile) as datalab, \
            VanillaHub(image, users, args.timeout) as vanilla, BareDocker(image, args.timeout) as bare:
        systems = [s for s in (bare, datalab, vanilla) if s.label in wanted]
        await bare.spawn("warmup")
        await bare.stop(["warmup"])
        for n in sizes:
            for rep in range(args.single_repeats if n == 1 else args.repeats):
                order = systems[rep % len(systems):] + systems[:rep % len(systems)]
                for system in order:
                    quiet = await asyncio.to_thread(settle, args.max_busy, args.settle_seconds)
                    record = await spawn_round(system, users[:n], not args.skip_kernels, args.timeout)
                    record["settle"] = quiet
                    results["spawns"].append(record)
                    print(f"{system.label:8} n={n:2} spawn p50={record['spawn']['p50']} "
                          f"p95={record['spawn']['p95']} wall={record['spawn_wall']} "
                          f"cpu={record['container_cpu']['p50']} hub_cpu={record['hub_cpu_per_start']} "
                          f"stop={record['stop_wall']} kernel={record.get('kernel_cell', {}).get('p50')} "
                          f"errors={len(record['errors'])} load={record['loadavg_before'][0]} "
                          f"busy_before={quiet['cpu_busy']}", flush=True)
        if not args.skip_logins:
            for hub in (h for h in (datalab, vanilla) if h.label in wanted):
                record = await login_round(hub, args.logins_per_minute, args.login_seconds, args.timeout + args.login_seconds)
                results["logins"].append(record)
                print(f"{hub.label:8} logins={record['logins']} api idle={record['api_idle']} "
                      f"loaded={record['api_loaded']} errors={len(record['errors'])} "
                      f"load={record['loadavg_after'][0]}", flush=True)
    if args.slurm_rounds:
        from .slurm import slurm_rounds

        results["slurm"] = await slurm_rounds(args.slurm_rounds, args.timeout)
        print(f"slurm    spawn={results['slurm']['spawn']} sbatch={results['slurm']['sbatch']} "
              f"errors={results['slurm']['errors']} load={results['slurm']['loadavg_before'][0]}", flush=True)
    if args.slurm_rounds:
        results["slurm_start"] = await slurm_start(args)
    if args.dashboard_views:
        from .dashboard import dashboard_views

        results["dashboard"] = await asyncio.to_thread(dashboard_views, args.dashboard_views, args.timeout)
        print_views(results["dashboard"])
    if args.dashboard_viewers:
        results["viewers"] = await viewer_rounds(args, 1)
    if args.report_runs:
        results["reports"] = await asyncio.to_thread(report_runs_printed, args)
    results.update(ratios(results["spawns"], results["logins"]))
    if "reports" in results:
        results["ratios"]["reports_parallel_wall_vs_cpu_over_cores"] = results["reports"]["ratio"]
        results["ratios"]["reports_all_at_once_wall_vs_cpu_over_cores"] = results["reports"]["ratio_unbounded"]
    if "dashboard" in results:
        d = results["dashboard"]
        for design, kind in (("previous", "cold"), ("previous", "warm"), ("previous", "preheated"),
                             ("current", "cold"), ("current", "warm")):
            results["ratios"][f"map_paint_{kind}_p50_vs_home_fcp_{design}"] = ratio(
                d[design][kind]["p50"], d[design]["home_fcp"]["p50"])
        results["ratios"]["map_paint_warm_p50_current_vs_previous"] = ratio(
            d["current"]["warm"]["p50"], d["previous"]["warm"]["p50"])
    if "viewers" in results:
        results["ratios"].update(viewer_ratios(results["viewers"]))
    if "slurm" in results:
        results["ratios"]["slurm_spawn_p50_vs_sbatch"] = ratio(results["slurm"]["spawn"]["p50"],
                                                               results["slurm"]["sbatch"]["p50"])
    if "slurm_start" in results:
        add_slurm_start_ratio(results)
    results["loadavg_end"] = loadavg()
    return results


async def slurm_start(args: argparse.Namespace) -> dict:
    """The Slurm start rounds (:mod:`.slurm_start`), printed as they go and summed up."""
    from .slurm_start import start_rounds

    record = await start_rounds(args.slurm_rounds, args.timeout)
    print(f"slurm-start sbatch={record['sbatch']} bare={record['bare']} hub={record['hub']} "
          f"ratio hub/(sbatch+bare) median {record['ratio']['median']} [{record['ratio']['min']}-"
          f"{record['ratio']['max']}] n={record['ratio']['n']} errors={record['errors']} "
          f"load={record['loadavg_before'][0]}->{record['loadavg_after'][0]}\n"
          f"slurm-start phases of the lab start through the hub, P50: {record['phases_p50']}", flush=True)
    return record


def add_slurm_start_ratio(results: dict) -> None:
    """The start ratio of :mod:`.slurm_start` among the run's ratios (median, spread)."""
    results.setdefault("ratios", {})["slurm_start_vs_sbatch_plus_bare"] = results["slurm_start"]["ratio"]["median"]
    results.setdefault("spread", {})["slurm_start_vs_sbatch_plus_bare"] = results["slurm_start"]["ratio"]


async def run_only_slurm_start(args: argparse.Namespace) -> dict:
    """``--only slurm-start``: the Slurm start rounds alone."""
    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "cores": os.cpu_count(), "loadavg_start": loadavg(), "slurm_start": await slurm_start(args)}
    add_slurm_start_ratio(results)
    results["loadavg_end"] = loadavg()
    return results


async def run_only_hub_scale(args: argparse.Namespace) -> dict:
    """``--only hub-scale``: the hub's start on a full database against an empty one
    (:mod:`.hub_scale`), with the goals' figures among the ratios."""
    from .hub_scale import GOAL_RSS_MIB, GOAL_START_RATIO, hub_scale

    image = await asyncio.to_thread(lab_image)
    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "image": image, "cores": os.cpu_count(), "loadavg_start": loadavg(), "ratios": {}, "spread": {}}
    results["hub_scale"] = await asyncio.to_thread(hub_scale, args, image)
    for kind, figures in results["hub_scale"]["summary"].items():
        for key, goal in (("first_answer_full_vs_empty", GOAL_START_RATIO), ("rss_tree_full_mib", GOAL_RSS_MIB)):
            name = f"hub_scale_{kind}_{key}"
            results["ratios"][name] = figures[key]["median"]
            results["spread"][name] = figures[key]
            print(f"hub-scale {kind}: {key} median {figures[key]['median']} [{figures[key]['min']}-"
                  f"{figures[key]['max']}] n={figures[key]['n']} (goal <= {goal})", flush=True)
    load = results["hub_scale"].get("login_load")
    if load:
        results["ratios"]["hub_scale_api_p95_loaded_vs_idle"] = load["api_p95_ratio"]
    for error in results["hub_scale"]["errors"]:
        print(f"hub-scale error: {error}", flush=True)
    results["loadavg_end"] = loadavg()
    return results


def report_runs_printed(args: argparse.Namespace) -> dict:
    """:func:`.reports.report_runs` with ``--report-runs`` runs, its figures printed."""
    from .reports import report_runs

    r = report_runs(args.report_runs, args.timeout * 3)
    b, u = r["bounded"], r["unbounded"]
    print(f"reports  {r['count']} requested at once, {b['at_once']} at a time (the service's bound): "
          f"{b['wall']} s, {len(b['failures'])} failed, ratio {r['ratio']}; all {u['at_once']} at once "
          f"(previous design): {u['wall']} s, {len(u['failures'])} failed, ratio {r['ratio_unbounded']}; "
          f"one run {r['single_cpu']['p50']} CPU-s, {r['single_wall']['p50']} s; ideal {r['ideal_wall']} s; "
          f"load={r['loadavg_parallel'][0]}", flush=True)
    return r


async def run_only_reports(args: argparse.Namespace) -> dict:
    """``--only reports``: the report runs alone (:mod:`.reports`)."""
    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "cores": os.cpu_count(), "loadavg_start": loadavg(), "ratios": {}, "spread": {}}
    results["reports"] = await asyncio.to_thread(report_runs_printed, args)
    results["ratios"]["reports_parallel_wall_vs_cpu_over_cores"] = results["reports"]["ratio"]
    results["ratios"]["reports_all_at_once_wall_vs_cpu_over_cores"] = results["reports"]["ratio_unbounded"]
    results["loadavg_end"] = loadavg()
    return results


def print_views(d: dict) -> None:
    for design in ("previous", "current"):
        v = d[design]
        extra = f" preheated={v['preheated']}" if "preheated" in v else f" live_warm={v['live_warm']}"
        print(f"map      {design}: cold={v['cold']} warm={v['warm']}{extra} home_fcp={v['home_fcp']}\n"
              f"map      {design}: the live page, warm (P50, seconds from its own navigation): "
              f"{v['live_profile_warm']}", flush=True)
    print(f"map      load={[r['loadavg_before'][0] for r in d['rounds']]}; requests off loopback (refused by the "
          f"egress trap): {len(d['off_loopback'])} {d['off_loopback'][:3]}", flush=True)


async def viewer_rounds(args: argparse.Namespace, rounds: int) -> list[dict]:
    """``rounds`` rounds of ``--dashboard-viewers`` people opening the map at once, in
    the previous then the current design each (:func:`.dashboard.concurrent_viewers`),
    then the floors (:func:`.dashboard.static_viewers`): the page the current design's
    hub gave, then a blank page, from a server that costs nothing."""
    from .dashboard import BLANK_PAGE, DESIGNS, concurrent_viewers, static_viewers
    from .hub_scale import postgres

    out = []
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres()) if args.viewer_db == "postgresql" else None
        for n in range(1, rounds + 1):
            for design in [d for d in DESIGNS if d in args.viewer_designs.split(",")]:
                db_url = pg.create(f"viewers_{design}_{n}") if pg else None
                v = await asyncio.to_thread(concurrent_viewers, args.dashboard_viewers, args.timeout * 3, design,
                                            args.viewer_spy, db_url, args.viewer_service_session,
                                            args.viewer_browser_nice)
                v["db"], v["service_session"] = args.viewer_db, args.viewer_service_session
                page_html = v.pop("page_html", None)
                out.append(v)
                print_viewers(n, v)
                if design != "current":  # the floors follow the current design, once a round
                    continue
                for name, page in (("floor", page_html), ("blank", BLANK_PAGE)):
                    if page and name in args.viewer_designs.split(","):
                        floor = await asyncio.to_thread(static_viewers, args.dashboard_viewers, page,
                                                        args.timeout * 3, args.viewer_browser_nice, name)
                        out.append(floor)
                        print_floor(n, floor)
    return out


def print_floor(n: int, v: dict) -> None:
    """One floor round of :func:`viewer_rounds`, printed as it ends."""
    steps = ", ".join(f"{key} {s['p50']}/{s['p95']}" for key, s in v["arrivals"].items())
    page = "the current design's page" if v["design"] == "floor" else "a blank page"
    print(f"viewers  round {n} {v['design']} ({page} from a static server of the bench's own, browser "
          f"niceness {v['browser_nice']}): {v['viewers']} at once: painted={v['painted']} "
          f"errors={len(v['errors'])} load {v['loadavg_before'][0]} -> {v['loadavg_after'][0]}; pages told within "
          f"{v['asked_within']} s; seconds after that instant (P50/P95): {steps}; requests off loopback: "
          f"{len(v['off_loopback'])}", flush=True)
    for error in v["errors"][:5]:
        print(f"viewers error: {error}", flush=True)


def print_viewers(n: int, v: dict) -> None:
    """One round of :func:`viewer_rounds`, printed as it ends."""
    design = v["design"]
    print(f"viewers  round {n} {design} (hub database {v['db']}, service session before {v['service_session']}, "
          f"browser niceness {v['browser_nice']}): "
          f"{v['viewers']} at once: painted={v['painted']} live={v['live']} "
          f"sliders moved={v['sliders']['moved']} own map only={v['sliders']['own_map_only']} "
          f"busy={v['busy']} errors={len(v['errors'])} kernels={v['kernels_alive']} "
          f"memory={v['author_memory_bytes'] / 2**30:.2f} GiB (RSS {v['author_rss_bytes'] / 2**30:.2f}) "
          f"load {v['loadavg_before'][0]} -> {v['loadavg_after'][0]}", flush=True)
    steps = ", ".join(f"{key} {s['p50']}/{s['p95']}" for key, s in v["arrivals"].items())
    print(f"viewers  round {n} {design}: {v['viewers']} pages told within {v['asked_within']} s to arrive "
          f"together; seconds after that instant (P50/P95): {steps}", flush=True)
    print(f"viewers  round {n} {design}: CPU seconds in the {v['window_seconds']} s until every page was "
          f"live: {v['cpu_seconds']}", flush=True)
    for second, used in enumerate(v["cpu_timeline"], 1):
        print(f"viewers  round {n} {design}: CPU seconds in second {second}: {used}", flush=True)
    for name, profile in v["profiles"].items():
        print(f"viewers  round {n} {design}: py-spy {name}, {profile['samples']} samples: own time "
              f"{profile.get('self')}; project functions on the stack {profile.get('within')}", flush=True)
    print(f"viewers  round {n} {design}: requests off loopback (refused by the egress trap): "
          f"{len(v['off_loopback'])} {v['off_loopback'][:3]}", flush=True)
    for error in (v["errors"] + v["sliders"]["errors"])[:5]:
        print(f"viewers error: {error}", flush=True)


def viewer_ratios(rounds: list[dict]) -> dict:
    """The current design's 50-viewer P95 paint and memory against the previous one's,
    and its P95 paint against each floor's, per round (median of the rounds)."""
    by_design: dict[str, list[dict]] = {}
    for v in rounds:
        by_design.setdefault(v["design"], []).append(v)
    pairs = list(zip(by_design.get("previous", []), by_design.get("current", [])))
    paint = [ratio(c["painted"]["p95"], p["painted"]["p95"]) for p, c in pairs]
    memory = [ratio(c["author_memory_bytes"], p["author_memory_bytes"]) for p, c in pairs]
    floors = {name: [ratio(c["painted"]["p95"], f["painted"]["p95"])
                     for c, f in zip(by_design.get("current", []), by_design.get(name, []))]
              for name in ("floor", "blank")}
    return {"viewers_paint_p95_current_vs_previous": spread([r for r in paint if r is not None])["median"],
            "viewers_memory_current_vs_previous": spread([r for r in memory if r is not None])["median"],
            **{f"viewers_paint_p95_current_vs_{name}": spread([r for r in found if r is not None])["median"]
               for name, found in floors.items()}}


async def run_only_viewers(args: argparse.Namespace) -> dict:
    """``--only viewers``: one viewer at a time (``--dashboard-views``), then
    ``--viewer-rounds`` rounds of ``--dashboard-viewers`` people opening the map at once,
    each in the previous and the current design."""
    from .dashboard import dashboard_views

    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "cores": os.cpu_count(), "loadavg_start": loadavg(), "ratios": {}, "spread": {}}
    if args.dashboard_views:
        results["dashboard"] = await asyncio.to_thread(dashboard_views, args.dashboard_views, args.timeout)
        print_views(results["dashboard"])
    results["viewers"] = await viewer_rounds(args, args.viewer_rounds)
    results["ratios"].update(viewer_ratios(results["viewers"]))
    results["loadavg_end"] = loadavg()
    return results


async def run_only_proxy(args: argparse.Namespace) -> dict:
    """``--only proxy``: configurable-http-proxy at scale (:mod:`.proxy`)."""
    from .proxy import proxy_at_scale

    results = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "label": args.label,
               "cores": os.cpu_count(), "loadavg_start": loadavg(), "ratios": {}, "spread": {}}
    proxy = results["proxy"] = await proxy_at_scale(args.proxy_routes, args.proxy_websockets, args.proxy_clients,
                                                    args.proxy_seconds, args.proxy_rounds, args.proxy_soak_seconds)
    for n, r in enumerate(proxy["rounds"], 1):
        print(f"proxy round {n}: through the proxy {r['proxy']['rps']} req/s (P95 {r['proxy']['latency']['p95']} s, "
              f"errors {r['proxy']['errors']}, load {r['proxy']['loadavg'][0]}), direct {r['direct']['rps']} req/s "
              f"(P95 {r['direct']['latency']['p95']} s, load {r['direct']['loadavg'][0]}), ratio {r['ratio']}",
              flush=True)
    soak = proxy["soak"]
    print(f"proxy {proxy['version']}: {proxy['routes']} routes; route add {proxy['route_add']}; GET /api/routes "
          f"{proxy['routes_get']}; RSS empty {proxy['rss_empty_mib']} MiB, with the routes {proxy['rss_routes_mib']} "
          f"MiB\nproxy soak {soak['seconds']} s, {proxy['websockets']} websockets: echo {soak['echo_rtt']}, "
          f"websocket errors {len(soak['websocket_errors'])}, {soak['routes_churned']} routes churned, "
          f"{soak['background_requests']} requests ({soak['background_errors']} errors); RSS first "
          f"{soak['rss_first_mib']} max {soak['rss_max_mib']} last {soak['rss_last_mib']} MiB; load "
          f"{soak['loadavg'][0]}", flush=True)
    results["ratios"]["proxy_rps_vs_direct"] = proxy["rps_ratio"]["median"]
    results["spread"]["proxy_rps_vs_direct"] = proxy["rps_ratio"]
    results["loadavg_end"] = loadavg()
    return results


ONLY = {"slurm-start": run_only_slurm_start, "hub-scale": run_only_hub_scale, "proxy": run_only_proxy,
        "reports": run_only_reports, "viewers": run_only_viewers}


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    deadline = time.monotonic() + args.wait_quiet
    quiet, reading = quiet_enough(args.max_load, args.max_busy)
    while not quiet and time.monotonic() < deadline:
        quiet, reading = quiet_enough(args.max_load, args.max_busy, seconds=10)
    if not quiet:
        print(f"The machine is busy (1-minute load {reading['loadavg'][0]} on {reading['cores']} cores, "
              f"limit {args.max_load * reading['cores']:.2f}; CPU busy {reading['cpu_busy']:.0%}, limit "
              f"{args.max_busy:.0%}): figures taken now would not hold.", file=sys.stderr)
        if not args.allow_busy:
            print("Stop the other programs and run again (or --allow-busy to run anyway).", file=sys.stderr)
            return 2
        print("!!! --allow-busy: running on a busy machine; results are marked busy_machine !!!", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(ONLY[args.only](args) if args.only else run(args))
    results["busy_machine"] = not quiet
    results["quiet_check"] = reading
    if "image" in results:
        subprocess.run(["docker", "rmi", results["image"]], capture_output=True)
    stamp = results["started"].replace(":", "").replace("+0000", "Z")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not args.only:
        plot(results, RESULTS / f"{stamp}.png")
    print("\nRatios (reference measured in this run; median [min-max] over n repetitions):")
    for key, value in results["ratios"].items():
        rounds = results["spread"].get(key)
        spread = f"  median {rounds['median']} [{rounds['min']}-{rounds['max']}] n={rounds['n']}" if rounds else ""
        print(f"  {key:45} {value}{spread}")
    if not quiet:
        print("!!! taken on a busy machine: these figures do not hold !!!")
    print(f"\nResults: {RESULTS / stamp}.json" + ("" if args.only else " and .png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
