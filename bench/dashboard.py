"""The Normandy map dashboard in Chromium (Playwright, Debian's /usr/bin/chromium): time
from navigation to the map's first paint, on the first view after the hub started
(cold: Voilà process and kernel start), on later views (warm: Voilà running, a new
kernel per view) and on a hub that keeps one pre-executed kernel (preheated). The
reference measured in the same run: the hub's own home page, to its first contentful
paint. Then ``viewers`` people open the map at the same moment (caps raised to let every
one of them have a kernel): time to each paint, kernels alive, memory of the author's
processes (where the kernels run), busy pages and errors. Uses the dashboards tests' hub
settings (tests/dashboardhub.py) as a library."""

from __future__ import annotations

import json
import pwd
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

from tests.conftest import PASSWORD, RunningHub, open_workdir, served
from hub.names import system_account
from tests.dashboardhub import MAP_ID, DashboardsClient, dashboards_overrides, wait_published
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LOOPBACK

from .measure import loadavg, summary

VIEWER = "decideur1"
MAP = ".widget-output img, .jp-OutputArea-output img"
#: Run in every viewer's page before its own scripts: the wall-clock time (ms since the
#: epoch) at which the map first appears in the page, kept in ``window.__datalabPainted``.
#: Viewers are waited for one after the other; this time is each one's own.
PAINT_PROBE = """
(() => {
  const mark = () => {
    if (!window.__datalabPainted && document.querySelector(%s)) {
      window.__datalabPainted = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(mark).observe(document, {childList: true, subtree: true});
})();
""" % json.dumps(MAP)
FCP = "() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null"


def _loopback_only(route):
    if urlsplit(route.request.url).hostname in LOOPBACK or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def _logged_in_page(browser, hub: RunningHub, timeout_ms: int):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    context.route("**/*", _loopback_only)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", VIEWER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.url}/hub/home")
    return context, page


def _view(browser, hub: RunningHub, timeout_ms: int) -> dict:
    """One view in a fresh context: seconds to the home page's first contentful paint
    (reference) and to the map image's first paint."""
    context, page = _logged_in_page(browser, hub, timeout_ms)
    try:
        page.goto(f"{hub.url}/hub/home")
        home = page.evaluate(FCP)
        t0 = time.perf_counter()
        page.goto(f"{hub.url}/services/dashboards/d/{MAP_ID}/")
        page.locator(MAP).first.wait_for(state="visible")
        page.wait_for_function("(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }", arg=MAP)
        return {"map": time.perf_counter() - t0, "home_fcp": home / 1000 if home else None}
    finally:
        context.close()


def _hub_views(browser, preheat: int, views: int, timeout: float) -> dict:
    overrides = dashboards_overrides()
    overrides["dashboards"].update(max_kernels_per_dashboard=views + 1, max_kernels_total=views + 2,
                                   max_kernels_per_person=views + 1, preheat_kernels=preheat)
    running = RunningHub(open_workdir("datalab-bench-dash-"), overrides=overrides)
    out = {"preheat_kernels": preheat, "loadavg_before": loadavg(), "views": [], "errors": []}
    with served(running, f"bench-dashboards-{preheat}.log"):
        wait_published(running, MAP_ID)
        if preheat:
            _view(browser, running, int(timeout * 1000))  # starts Voilà; its pool fills
            time.sleep(10)
        for _ in range(views):
            try:
                out["views"].append(_view(browser, running, int(timeout * 1000)))
            except Exception as e:  # recorded, the next view goes on
                out["errors"].append(f"{type(e).__name__}: {e}")
            if preheat:
                time.sleep(10)  # the pool refills
    out["loadavg_after"] = loadavg()
    return out


def dashboard_views(views: int, timeout: float) -> dict:
    """Cold, warm and preheated views of the map; ``{"cold", "warm", "preheated",
    "home_fcp"}`` summaries (seconds) and the raw rounds."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            plain = _hub_views(browser, 0, views, timeout)
            preheated = _hub_views(browser, 1, views, timeout)
        finally:
            browser.close()
    maps = [v["map"] for v in plain["views"]]
    homes = [v["home_fcp"] for r in (plain, preheated) for v in r["views"] if v["home_fcp"]]
    return {"cold": summary(maps[:1]), "warm": summary(maps[1:]),
            "preheated": summary([v["map"] for v in preheated["views"]]), "home_fcp": summary(homes),
            "rounds": [plain, preheated]}


def account_memory(account: str) -> int:
    """Bytes resident (``VmRSS`` of ``/proc/<pid>/status``) of every process of the Unix
    account ``account``; 0 when it has none. Raises ``KeyError`` for an unknown account."""
    uid = pwd.getpwnam(account).pw_uid
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # the process ended meanwhile
            continue
        if int(fields["Uid"].split()[0]) == uid and "VmRSS" in fields:
            total += int(fields["VmRSS"].split()[0]) * 1024
    return total


def concurrent_viewers(viewers: int, timeout: float) -> dict:
    """``viewers`` browser contexts (one logged-in person's cookies, the per-person cap
    raised to ``viewers`` like the others) open the map at once;
    each is waited for until ``timeout`` seconds after the first navigation. Returns
    ``{"viewers", "painted" (summary, seconds), "busy", "errors", "kernels_alive",
    "author_memory_bytes", "loadavg_before", "loadavg_after"}``."""
    overrides = dashboards_overrides()
    overrides["dashboards"].update(max_kernels_per_dashboard=viewers, max_kernels_total=viewers,
                                   max_kernels_per_person=viewers, preheat_kernels=0, idle_timeout=600)
    running = RunningHub(open_workdir("datalab-bench-viewers-"), overrides=overrides)
    out: dict = {"viewers": viewers, "busy": 0, "errors": [], "loadavg_before": loadavg()}
    with served(running, "bench-dashboards-viewers.log"), sync_playwright() as p:
        wait_published(running, MAP_ID)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context, _ = _logged_in_page(browser, running, int(timeout * 1000))
            state = context.storage_state()
            context.close()
            contexts = [browser.new_context(storage_state=state, viewport={"width": 1280, "height": 800})
                        for _ in range(viewers)]
            pages = []
            began = time.perf_counter()
            began_epoch = time.time()
            for context in contexts:
                context.route("**/*", _loopback_only)
                context.add_init_script(PAINT_PROBE)
                page = context.new_page()
                page.goto(f"{running.url}/services/dashboards/d/{MAP_ID}/", wait_until="commit")
                pages.append(page)
            painted = []
            for page in pages:
                left = max(1.0, timeout - (time.perf_counter() - began))
                try:
                    page.locator(MAP).first.wait_for(state="visible", timeout=left * 1000)
                    painted.append(page.evaluate("window.__datalabPainted") / 1000 - began_epoch)
                except Exception as e:  # recorded; the next viewer is waited for
                    if "Tableau de bord très demandé" in page.content():
                        out["busy"] += 1
                    else:
                        out["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0]}")
            author = DashboardsClient(running.url, "analyste1", PASSWORD)
            out["kernels_alive"] = author.call("GET", f"dashboards/{MAP_ID}").json().get("kernels")
            out["author_memory_bytes"] = account_memory(system_account("analyste1", running.account_prefix))
            out["painted"] = summary(painted)
            for context in contexts:
                context.close()
        finally:
            browser.close()
    out["loadavg_after"] = loadavg()
    return out
