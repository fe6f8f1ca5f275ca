"""The Normandy map dashboard in Chromium (Playwright, Debian's /usr/bin/chromium), in the
current design (:data:`DESIGNS`: kernels forked from a template, the published version's
snapshot page first) and in the previous one (cold kernels, the live page only), each on
a hub of its own started in the same run.

One viewer: time from navigation to the map's first paint, on the first view after the
hub started (cold: Voilà process and kernel start), on later views (warm: Voilà running,
a new kernel per view), and for the previous design on a hub that keeps one
pre-executed kernel (preheated); with the current design also the time until the live
page (own kernel, working widgets) replaced the snapshot. The reference measured in the
same run: the hub's own home page, to its first contentful paint.

Then ``viewers`` people, each on the hub's home page, open the map at the same moment
(caps raised to let every one of them have a kernel): time to each paint and to each live page, then each moves their
date slider one step (it works, and changes their own map only: every readout ends one
step back, none two), kernels alive, memory of the author's processes (where Voilà and
the kernels run: the sum of their proportional set sizes, so that memory shared by
forked kernels is counted once; their resident sizes too), busy pages and errors. Uses
the dashboards tests' hub settings (tests/dashboardhub.py) as a library."""

from __future__ import annotations

import contextlib
import http.server
import json
import pwd
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from playwright.sync_api import Error as PlaywrightError, sync_playwright

from tests.conftest import PASSWORD, RunningHub, open_workdir, served
from hub.names import system_account
from tests.dashboardhub import MAP_ID, DashboardsClient, dashboards_overrides, wait_published
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

from .measure import loadavg, summary

VIEWER = "decideur1"
MAP = ".widget-output img, .jp-OutputArea-output img"
#: The dashboards settings of each design measured. The previous design held a page
#: view's place 15 minutes when its websocket did not come; with today's 30 s, a crowd of
#: cold live pages (scripts loaded long after the page) loses every kernel.
DESIGNS = {
    "previous": {"kernel_template": False, "snapshot_pages": False, "view_timeout": 900},
    "current": {"kernel_template": True, "snapshot_pages": True},
}
#: Where each design's viewers open the map (``{hub}``: the hub's URL): the current
#: design's link is the hub's page (hub.dashboard_page), the previous one's the service's.
ENTRY = {
    "previous": "{hub}/services/dashboards/d/" + MAP_ID + "/",
    "current": "{hub}/hub/tableau/" + MAP_ID,
}
#: Run in every viewer's page before its own scripts: the wall-clock times (ms since the
#: epoch) at which the map first appears in the page (``window.__datalabPainted``) and
#: at which the live page replaced the snapshot page (``window.__datalabLive``; a page
#: without snapshot is live when painted). Viewers are waited for one after the other;
#: these times are each one's own.
PAINT_PROBE = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const mark = () => {
    if (!window.__datalabPainted && document.querySelector(%s)) {
      window.__datalabPainted = now();
      performance.mark("datalab-map");
    }
    if (!window.__datalabLive && document.querySelector("#datalab-live.shown")) window.__datalabLive = now();
  };
  new MutationObserver(mark).observe(document, {childList: true, subtree: true, attributes: true,
                                                attributeFilter: ["class"]});
})();
""" % json.dumps(MAP)
SLIDER = ".widget-slider .noUi-handle, .widget-hslider .noUi-handle"
#: Where a live page's time went, from its own performance entries (seconds from its
#: navigation): its HTML streamed to the end (Voilà executed the notebook in the page's
#: kernel), its DOM ready, its last script loaded, the map drawn by the widget manager;
#: and the scripts' count and decoded size.
LIVE_PROFILE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const scripts = performance.getEntriesByType("resource").filter((e) => e.initiatorType === "script");
  const map = performance.getEntriesByType("mark").find((m) => m.name === "datalab-map");
  return {html_end: nav.responseEnd / 1000, dom_ready: nav.domContentLoadedEventEnd / 1000,
          last_script: Math.max(0, ...scripts.map((e) => e.responseEnd)) / 1000,
          scripts: scripts.length, script_mib: scripts.reduce((a, e) => a + (e.decodedBodySize || 0), 0) / 2 ** 20,
          map: map ? map.startTime / 1000 : null};
}"""
FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime"
#: Where a crowd viewer's first page went (epoch seconds, from its navigation entry): the
#: navigation began (its arrival), its redirects ended (the service's login through the
#: hub), the page's first byte, its end, the map painted.
ARRIVAL_PROFILE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const at = (ms) => (performance.timeOrigin + ms) / 1000;
  return {arrived: at(0), redirects_end: at(nav.redirectEnd || nav.fetchStart), first_byte: at(nav.responseStart),
          html_end: at(nav.responseEnd), painted: window.__datalabPainted / 1000};
}"""
#: Whose CPU time a crowd costs: processes grouped by what they are (:func:`cpu_by_group`).
GROUPS = (
    ("browser", ("chrom", "headless_shell")),
    ("Playwright driver", ("playwright",)),
    ("voila", ("voila_app",)),
    ("kernels", ("ipykernel", "kernel_template")),
    ("dashboards service", ("hub.services.dashboards",)),
    ("proxy", ("configurable-http-proxy",)),
    ("hub", ("jupyterhub", "hub.app", "hub/app")),
    ("bench", ("-m bench",)),
)
#: Seconds of the crowd's arrival whose CPU use is recorded second by second.
TIMELINE_SECONDS = 15
#: Seconds between asking the pages to navigate and the instant they all do (asking 50
#: pages one after the other takes seconds; each page waits for the same instant).
ARRIVAL_DELAY = 15.0


class EgressTrap(socketserver.ThreadingTCPServer):
    """A listener of the bench's own on loopback, set as the browser's proxy: whatever
    the pages ask of an address other than loopback (which Chromium never sends through
    a proxy) comes here, is refused (403) and recorded in :attr:`asked`, and goes nowhere
    else. Names other than localhost do not resolve either (``--host-resolver-rules``).
    Unlike a Playwright route on every request, it leaves the browser as a viewer's own
    (no request paused for the bench, its HTTP cache on)."""

    daemon_threads = True

    def __init__(self):
        self.asked: list[str] = []
        super().__init__(("127.0.0.1", 0), _Refusal)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def proxy_arg(self) -> str:
        return f"--proxy-server=http://127.0.0.1:{self.server_address[1]}"


class _Refusal(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.server.asked.append(self.rfile.readline(2048).decode("latin-1").strip())
        self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


#: Where the trap is checked at every launch: a name that exists nowhere (RFC 2606).
EGRESS_CHECK = "http://egress-check.invalid/"


@contextlib.contextmanager
def guarded_chromium(p, nice: int = 0):
    """Chromium whose pages reach loopback only (:class:`EgressTrap`): ``(browser,
    trap)``. Checked at launch: a page asked for :data:`EGRESS_CHECK` reaches the trap;
    ``trap.asked`` is then emptied, so that it lists what the measured pages asked.
    ``nice``: the niceness of the browser's processes (checked: none below it). The
    browser runs without CAP_SYS_NICE: run by root, Chromium raises its main process to
    niceness -8, above everything else on the machine, the hub included; without it, it
    keeps ``nice`` (its hidden pages' renderers may still go lower in priority)."""
    with EgressTrap() as trap, tempfile.TemporaryDirectory(prefix="datalab-bench-chromium-") as wrapper_dir:
        trap.thread.start()
        args = [a for a in CHROMIUM_ARGS if a != "--no-proxy-server"] + [trap.proxy_arg]
        executable = Path(wrapper_dir) / "chromium"
        # without CAP_SYS_NICE: run as root, Chromium would raise its main process to -8
        executable.write_text(f'#!/bin/sh\nexec setpriv --bounding-set=-sys_nice --inh-caps=-sys_nice '
                              f'nice -n {int(nice)} {CHROMIUM} "$@"\n')
        executable.chmod(0o755)
        browser = p.chromium.launch(executable_path=str(executable), headless=True, args=args)
        try:
            niceness = set()
            for proc in browser_processes():
                with contextlib.suppress(psutil.NoSuchProcess):
                    niceness.add(proc.nice())
            if not niceness or min(niceness) < nice:
                raise RuntimeError(f"the browser's processes run at niceness {niceness}, below {nice}")
            page = browser.new_page()
            with contextlib.suppress(PlaywrightError):  # the trap's refusal
                page.goto(EGRESS_CHECK)
            page.close()
            if not any(EGRESS_CHECK.rstrip("/").split("//")[1] in line for line in trap.asked):
                raise RuntimeError(f"the browser's egress trap did not receive {EGRESS_CHECK}: {trap.asked}")
            trap.asked.clear()
            yield browser, trap
        finally:
            browser.close()
            trap.shutdown()


def browser_processes() -> list[psutil.Process]:
    """The browser processes this bench started (beneath its Playwright driver)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "/chromium/" in (proc.cmdline()[:1] or [""])[0]:
                found.append(proc)
    return found


def _logged_in_page(browser, hub: RunningHub, timeout_ms: int):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", VIEWER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.url}/hub/home")
    return context, page


def live_view(page):
    """Where the viewer's live page is: the snapshot page's frame once it replaced the
    snapshot, else the page itself."""
    frame = page.frame(name="datalab-live")
    return frame if frame is not None else page.main_frame


def _view(browser, hub: RunningHub, design: str, timeout_ms: int) -> dict:
    """One view in a fresh context: seconds to the home page's first contentful paint
    (reference), to the map image's first paint and to the live page."""
    context, page = _logged_in_page(browser, hub, timeout_ms)
    context.add_init_script(PAINT_PROBE)
    try:
        page.goto(f"{hub.url}/hub/home")
        home = page.wait_for_function(FCP).json_value()
        began = time.time()
        page.goto(ENTRY[design].format(hub=hub.url), wait_until="commit")
        page.wait_for_function("() => window.__datalabPainted")
        painted = page.evaluate("window.__datalabPainted") / 1000 - began
        if page.locator("#datalab-live").count():
            page.wait_for_function("() => window.__datalabLive")
        return {"map": painted, "live": page.evaluate("window.__datalabLive || window.__datalabPainted") / 1000 - began,
                "home_fcp": home / 1000, "live_profile": live_view(page).evaluate(LIVE_PROFILE)}
    finally:
        context.close()


def _hub_views(browser, design: str, preheat: int, views: int, timeout: float) -> dict:
    overrides = dashboards_overrides()
    overrides["dashboards"].update(max_kernels_per_dashboard=views + 1, max_kernels_total=views + 2,
                                   max_kernels_per_person=views + 1, preheat_kernels=preheat, **DESIGNS[design])
    running = RunningHub(open_workdir("datalab-bench-dash-"), overrides=overrides)
    out = {"design": design, "preheat_kernels": preheat, "loadavg_before": loadavg(), "views": [], "errors": []}
    with served(running, f"bench-dashboards-{design}-{preheat}.log"):
        wait_published(running, MAP_ID)
        if preheat:
            _view(browser, running, design, int(timeout * 1000))  # starts Voilà; its pool fills
            time.sleep(10)
        for _ in range(views):
            try:
                out["views"].append(_view(browser, running, design, int(timeout * 1000)))
            except Exception as e:  # recorded, the next view goes on
                out["errors"].append(f"{type(e).__name__}: {e}")
            if preheat:
                time.sleep(10)  # the pool refills
    out["loadavg_after"] = loadavg()
    return out


def dashboard_views(views: int, timeout: float) -> dict:
    """One viewer at a time, each design on a hub of its own: ``{design: {"cold",
    "warm", "live_warm", "preheated" (previous design only), "home_fcp"}}`` summaries
    (seconds) and the raw rounds under ``"rounds"``."""
    out: dict = {"rounds": []}
    with sync_playwright() as p, guarded_chromium(p) as (browser, trap):
        for design in DESIGNS:
            plain = _hub_views(browser, design, 0, views, timeout)
            rounds = [plain]
            maps = [v["map"] for v in plain["views"]]
            profiles = [v["live_profile"] for v in plain["views"][1:]]
            out[design] = {"cold": summary(maps[:1]), "warm": summary(maps[1:]),
                           "live_warm": summary([v["live"] for v in plain["views"][1:]]),
                           "live_profile_warm": {key: summary([p[key] for p in profiles if p[key] is not None])["p50"]
                                                 for key in (profiles[0] if profiles else {})}}
            if design == "previous":
                preheated = _hub_views(browser, design, 1, views, timeout)
                rounds.append(preheated)
                out[design]["preheated"] = summary([v["map"] for v in preheated["views"]])
            out[design]["home_fcp"] = summary([v["home_fcp"] for r in rounds for v in r["views"] if v["home_fcp"]])
            out["rounds"] += rounds
        out["off_loopback"] = list(trap.asked)
    return out


def account_memory(account: str) -> tuple[int, int]:
    """``(proportional, resident)``: bytes of every process of the Unix account
    ``account``, summed (``Pss`` and ``Rss`` of ``/proc/<pid>/smaps_rollup``: a page
    shared by N processes counts 1/N in each proportional size, fully in each resident
    size); (0, 0) when it has none. Raises ``KeyError`` for an unknown account."""
    uid = pwd.getpwnam(account).pw_uid
    pss = rss = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.stat().st_uid != uid:
                continue
            fields = {}
            for line in (proc / "smaps_rollup").read_text().splitlines()[1:]:
                name, value, *_ = line.split()
                fields[name.rstrip(":")] = int(value) * 1024
        except (OSError, ValueError):  # the process ended meanwhile, or a kernel thread
            continue
        pss += fields.get("Pss", 0)
        rss += fields.get("Rss", 0)
    return pss, rss


def _group_of(proc: psutil.Process) -> str:
    try:
        words = " ".join([proc.name(), *proc.cmdline()])
    except psutil.Error:
        return "other"
    group = next((group for group, marks in GROUPS if any(m in words for m in marks)), "other")
    if group == "browser" and "--type=" not in words:
        return "browser's main process"  # every context's navigations and network
    return group


def cpu_times() -> dict[int, tuple[str, float]]:
    """Every process's group (:data:`GROUPS`) and CPU seconds so far (user + system)."""
    out = {}
    for proc in psutil.process_iter():
        try:
            times = proc.cpu_times()
            out[proc.pid] = (_group_of(proc), times.user + times.system)
        except psutil.Error:
            continue
    return out


def cpu_by_group(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each group used between two :func:`cpu_times` (a process started
    meanwhile counts whole; one that ended meanwhile is missing)."""
    out: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        used = seconds - before[pid][1] if pid in before and before[pid][0] == group else seconds
        out[group] = round(out.get(group, 0.0) + max(0.0, used), 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


class CpuTimeline(threading.Thread):
    """CPU seconds per group (:func:`cpu_by_group`) in each second of the first
    ``seconds`` seconds: where the cores go while the crowd arrives."""

    def __init__(self, seconds: int):
        super().__init__(daemon=True)
        self.seconds = seconds
        self.per_second: list[dict[str, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        before = cpu_times()
        for _ in range(self.seconds):
            if self.stopped.wait(1.0):
                return
            after = cpu_times()
            self.per_second.append({g: s for g, s in cpu_by_group(before, after).items() if s >= 0.05})
            before = after

    def stop(self) -> list[dict[str, float]]:
        self.stopped.set()
        self.join(5)
        return self.per_second


def _spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """py-spy sampling process ``pid`` (and its threads) for ``seconds``, collapsed stacks
    into ``out``."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
                             "--duration", str(int(seconds)), "--rate", "50", "--nonblocking",
                             "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(frame: str) -> str:
    """``"fetch (/x/tornado/httpclient.py:123)"`` -> ``"fetch (httpclient.py)"``."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.rsplit(':', 1)[0].rsplit('/', 1)[-1]})" if where else function


def spy_summary(collapsed: Path, top: int = 8) -> dict:
    """``{"samples", "self": [(function, share)], "within": [(function, share)]}`` of a
    py-spy raw profile (one ``frame;frame;... count`` line per stack): the functions the
    samples were in (their own time), and the project's functions (``hub/``, not an
    installed package) on the stack (their time with what they called)."""
    own: dict[str, int] = {}
    within: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f]
        n = int(count)
        total += n
        if frames:
            own[_frame(frames[-1])] = own.get(_frame(frames[-1]), 0) + n
        for name in {_frame(f) for f in frames if "/hub/" in f and "site-packages" not in f}:
            within[name] = within.get(name, 0) + n

    def share(counts: dict[str, int]) -> list[tuple[str, float]]:
        return [(f, round(c / total, 3)) for f, c in sorted(counts.items(), key=lambda kv: -kv[1])[:top]]
    return {"samples": total, "self": share(own) if total else [], "within": share(within) if total else []}


def _move_sliders(pages: list, deadline: float) -> dict:
    """Each viewer moves their date slider one step back, one after the other; then every
    readout must show that step, once: a viewer whose slider moved another's map would
    leave it two steps back. ``{"moved", "own_map_only", "errors"}``."""
    out = {"moved": 0, "own_map_only": 0, "errors": []}
    views = []
    for page in pages:
        view = live_view(page)
        try:
            readout = view.locator(".widget-readout").first
            left = max(1.0, deadline - time.perf_counter()) * 1000
            before = view.locator(MAP).first.get_attribute("src", timeout=left)
            view.locator(SLIDER).first.focus(timeout=left)
            page.keyboard.press("ArrowLeft")
            view.wait_for_function("([sel, src]) => { const i = document.querySelector(sel); "
                                   "return i && i.getAttribute('src') !== src && i.complete; }",
                                   arg=[MAP, before], timeout=left)
            out["moved"] += 1
            views.append((view, readout.text_content(timeout=left)))
        except Exception as e:  # recorded; the next viewer moves theirs
            out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
    for view, moved_to in views:
        try:
            if view.locator(".widget-readout").first.text_content(timeout=5000) == moved_to:
                out["own_map_only"] += 1
        except Exception as e:
            out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
    return out


def concurrent_viewers(viewers: int, timeout: float, design: str = "current", spy: float = 0,
                       db_url: str | None = None, service_session: bool = False, browser_nice: int = 0) -> dict:
    """``viewers`` browser contexts (one logged-in person's cookies, the per-person cap
    raised to ``viewers`` like the others) open the map at once, in ``design``
    (:data:`DESIGNS`); each is waited for until ``timeout`` seconds after the first
    navigation, then moves their slider. Returns ``{"design", "viewers", "painted",
    "live" (summaries, seconds), "sliders", "busy", "errors", "kernels_alive",
    "author_memory_bytes" (proportional), "author_rss_bytes", "loadavg_before",
    "loadavg_after", "cpu_seconds", "cpu_timeline" (:class:`CpuTimeline`), "off_loopback"
    (what the pages asked of the :class:`EgressTrap`)}``; with ``spy`` seconds, also
    ``"profiles"``: py-spy's summary (:func:`spy_summary`) of the dashboards service and
    of the hub over the crowd's first ``spy`` seconds. ``db_url``: the hub's database
    (default: SQLite in its directory). ``service_session``: each viewer went through the
    dashboards service's login (gallery page) before, so none logs in during the crowd.
    ``browser_nice``: the browser's niceness (:func:`guarded_chromium`). Its 50 pages
    are the viewers' 50 browsers, which a deployment does not run; at 0 they take the
    hub's cores as equals (the load generator competing with what it measures), at 10
    the hub, its database, the service and the kernels come first and the browser has
    the rest."""
    overrides = dashboards_overrides()
    overrides["dashboards"].update(max_kernels_per_dashboard=viewers, max_kernels_total=viewers,
                                   max_kernels_per_person=viewers, preheat_kernels=0, idle_timeout=600,
                                   **DESIGNS[design])
    if db_url:
        overrides.setdefault("hub", {})["db_url"] = db_url
    running = RunningHub(open_workdir("datalab-bench-viewers-"), overrides=overrides)
    out: dict = {"design": design, "viewers": viewers, "busy": 0, "errors": [], "loadavg_before": loadavg(),
                 "browser_nice": browser_nice}
    with served(running, f"bench-dashboards-viewers-{design}.log"), sync_playwright() as p:
        wait_published(running, MAP_ID)
        with guarded_chromium(p, browser_nice) as (browser, trap):
            context, _ = _logged_in_page(browser, running, int(timeout * 1000))
            state = context.storage_state()
            context.close()
            before = f"{running.url}/services/dashboards/" if service_session else None
            contexts, pages, began_epoch, out["asked_within"] = _crowd(
                browser, viewers, state, f"{running.url}/hub/home", ENTRY[design].format(hub=running.url), before)
            spies = {}
            if spy:
                service = next(c.pid for c in psutil.Process(running.process.pid).children()
                               if "hub.services.dashboards" in " ".join(c.cmdline()))
                for name, pid in (("dashboards service", service), ("hub", running.process.pid)):
                    collapsed = running.workdir / f"spy-{pid}.txt"
                    spies[name] = (_spy(pid, spy, collapsed), collapsed)
            cpu_began = cpu_times()
            timeline = CpuTimeline(TIMELINE_SECONDS)
            timeline.start()
            began = time.perf_counter() + (began_epoch - time.time())
            painted, live, ready, arrivals = [], [], [], []
            for page in pages:
                left = max(1.0, timeout - (time.perf_counter() - began))
                try:
                    page.wait_for_function("() => window.__datalabPainted", timeout=left * 1000)
                    painted.append(page.evaluate("window.__datalabPainted") / 1000 - began_epoch)
                    arrivals.append({k: v - began_epoch for k, v in page.evaluate(ARRIVAL_PROFILE).items()})
                except Exception as e:  # recorded; the next viewer is waited for
                    if "Tableau de bord très demandé" in page.content():
                        out["busy"] += 1
                    else:
                        out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
                    continue
                left = max(1.0, timeout - (time.perf_counter() - began))
                try:
                    if page.locator("#datalab-live").count():
                        page.wait_for_function("() => window.__datalabLive", timeout=left * 1000)
                        live.append(page.evaluate("window.__datalabLive") / 1000 - began_epoch)
                    else:
                        live.append(painted[-1])
                    ready.append(page)
                except Exception as e:
                    out["errors"].append(f"live page: {type(e).__name__}: {str(e).splitlines()[0]}")
            out["painted"] = summary(painted)
            out["live"] = summary(live)
            out["cpu_seconds"] = cpu_by_group(cpu_began, cpu_times())
            out["cpu_timeline"] = timeline.stop()
            out["profiles"] = {}
            for name, (process, collapsed) in spies.items():
                process.wait(timeout=spy + 60)
                out["profiles"][name] = spy_summary(collapsed) if collapsed.exists() else {"samples": 0}
            out["window_seconds"] = round(time.perf_counter() - began, 1)
            out["arrivals"] = {key: summary([a[key] for a in arrivals]) for key in (arrivals[0] if arrivals else {})}
            out["author_memory_bytes"], out["author_rss_bytes"] = account_memory(
                system_account("analyste1", running.account_prefix))
            author = DashboardsClient(running.url, "analyste1", PASSWORD)
            out["kernels_alive"] = author.call("GET", f"dashboards/{MAP_ID}").json().get("kernels")
            out["sliders"] = _move_sliders(ready, time.perf_counter() + timeout)
            if design == "current":  # what the floor (static_viewers) shows, as the hub gave it
                out["page_html"] = contexts[0].request.get(ENTRY[design].format(hub=running.url)).text()
            for context in contexts:
                context.close()
            out["off_loopback"] = list(trap.asked)
    out["loadavg_after"] = loadavg()
    return out


def _crowd(browser, viewers: int, state, home: str, entry: str, before: str | None = None):
    """``viewers`` contexts with ``state`` (cookies) and :data:`PAINT_PROBE`, each on
    ``home`` (where a person comes from; after ``before``, when given: a page they had
    opened earlier), told to open ``entry`` at the same instant, :data:`ARRIVAL_DELAY`
    from now (asking 50 pages takes seconds). Returns ``(contexts, pages, arrival epoch,
    seconds the asking took)`` just before that instant; the pages keep the time."""
    contexts = [browser.new_context(storage_state=state, viewport={"width": 1280, "height": 800})
                for _ in range(viewers)]
    pages = []
    for context in contexts:
        context.add_init_script(PAINT_PROBE)
        pages.append(context.new_page())
        if before:
            pages[-1].goto(before)
            pages[-1].wait_for_url(before)
        pages[-1].goto(home)
    began_epoch = time.time() + ARRIVAL_DELAY
    asking = time.time()
    for page in pages:
        page.evaluate("([url, at]) => { setTimeout(() => { window.location.href = url; }, at - Date.now()); }",
                      [entry, began_epoch * 1000])
    asked_within = round(time.time() - asking, 3)
    time.sleep(max(0.0, began_epoch - time.time() - 0.5))
    return contexts, pages, began_epoch, asked_within


#: The blank floor's page (:func:`static_viewers`): nothing but what :data:`PAINT_PROBE`
#: takes for the map, a 1-pixel picture in an output area.
BLANK_PAGE = ('<!DOCTYPE html><html><body><div class="jp-OutputArea-output">'
              '<img alt="" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></div></body></html>')


class _StaticSite(http.server.ThreadingHTTPServer):
    """The floor's server (:func:`static_viewers`), on loopback: ``/home`` a bare page,
    ``/hub/tableau/...`` the page given, anything else (the page's live frame) held
    unanswered until :attr:`done` is set, then 204."""

    daemon_threads = True

    def __init__(self, page_html: str):
        self.page = page_html.encode("utf-8")
        self.done = threading.Event()
        super().__init__(("127.0.0.1", 0), _StaticPage)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _StaticPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/home":
            body = b"<!DOCTYPE html><html><body><p>Accueil</p></body></html>"
        elif self.path.startswith("/hub/tableau/"):
            body = self.server.page
        else:
            self.server.done.wait(timeout=600)
            self.send_response(204)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def static_viewers(viewers: int, page_html: str, timeout: float, browser_nice: int = 0,
                   design: str = "floor") -> dict:
    """The floors a crowd's paint is read against: the same browser and as many contexts,
    arriving as in :func:`concurrent_viewers`, open ``page_html`` from
    :class:`_StaticSite`, a server that costs nothing (a live frame is held unanswered).
    With the page the current design's hub gave a viewer, byte for byte (``floor``): what
    showing the crowd the map costs the browser alone on these cores; with
    :data:`BLANK_PAGE` (``blank``): what the browser's 50 navigations cost, whatever the
    page. Returns ``{"design", "viewers", "painted", "arrivals" (summaries, seconds),
    "errors", "loadavg_before", "loadavg_after", "browser_nice"}``."""
    out: dict = {"design": design, "viewers": viewers, "errors": [], "loadavg_before": loadavg(),
                 "browser_nice": browser_nice}
    site = _StaticSite(page_html)
    site.thread.start()
    try:
        with sync_playwright() as p, guarded_chromium(p, browser_nice) as (browser, trap):
            contexts, pages, began_epoch, out["asked_within"] = _crowd(
                browser, viewers, None, f"{site.url}/home", f"{site.url}/hub/tableau/{MAP_ID}")
            began = time.perf_counter() + (began_epoch - time.time())
            painted, arrivals = [], []
            for page in pages:
                left = max(1.0, timeout - (time.perf_counter() - began))
                try:
                    page.wait_for_function("() => window.__datalabPainted", timeout=left * 1000)
                except Exception as e:  # recorded; the next viewer is waited for
                    out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
                    continue
                painted.append(page.evaluate("window.__datalabPainted") / 1000 - began_epoch)
                arrivals.append({k: v - began_epoch for k, v in page.evaluate(ARRIVAL_PROFILE).items()})
            out["painted"] = summary(painted)
            out["arrivals"] = {key: summary([a[key] for a in arrivals]) for key in (arrivals[0] if arrivals else {})}
            site.done.set()
            for context in contexts:
                context.close()
            out["off_loopback"] = list(trap.asked)
    finally:
        site.done.set()
        site.shutdown()
        site.server_close()
    out["loadavg_after"] = loadavg()
    return out
