"""The fault suite's common parts (issue 18): a probe measuring how long labs did not
answer through the proxy, what must hold after each fault, and the table each fault
module (docker, Slurm) rewrites for its own rows in tests/artifacts/faults.md (the
committed docs/faults.md is a copy of one run's table)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.conftest import ARTIFACTS, PASSWORD, RunningHub
from tests.hubclient import HubClient
from tests.services.reports_hub import ReportsClient, run_handle

TABLE = ARTIFACTS / "faults.md"
HEADER = "| backend | fault | what was running | lost | longest outage | note |"
#: The report the fault tests keep running by default: the demo deployment's
#: Seine-Maritime department report, owned by coordinateur.
REPORT = ("coordinateur", "rapport-76")


class Probe(threading.Thread):
    """Asks every lab's ``/api/status`` through the proxy every 0.1 s (180 s at most);
    ``longest``: the longest time any lab did not answer 200."""

    def __init__(self, labs):
        super().__init__(daemon=True)
        self.sessions = []
        for client, _, _ in labs:
            session = requests.Session()
            session.cookies.update(client.session.cookies)
            self.sessions.append((session, f"{client.lab_url}/api/status"))
        self.stopped = threading.Event()
        self.longest = 0.0

    def run(self) -> None:
        down_since: dict[int, float] = {}
        deadline = time.monotonic() + 180
        while not self.stopped.is_set() and time.monotonic() < deadline:
            for i, (session, url) in enumerate(self.sessions):
                try:
                    ok = session.get(url, timeout=1, allow_redirects=False).status_code == 200
                except requests.RequestException:
                    ok = False
                now = time.monotonic()
                if not ok:
                    down_since.setdefault(i, now)
                elif i in down_since:
                    self.longest = max(self.longest, now - down_since.pop(i))
            self.stopped.wait(0.1)
        now = time.monotonic()
        for since in down_since.values():
            self.longest = max(self.longest, now - since)

    def stop(self) -> float:
        self.stopped.set()
        self.join(10)
        return self.longest


@contextlib.contextmanager
def labs_holding_a_variable(hub: RunningHub, users: dict[str, dict], units, state: str) -> Iterator[list]:
    """Start a lab for each of ``users`` (name -> user_options) and set a variable in a
    kernel of each: ``(client, kernel id, value)`` each, read back after each fault;
    the labs are stopped at the end. ``units()``: the backend's units of the labs (id ->
    state: containers, jobs), all ``state`` once started, kept as ``hub.lab_units``."""
    started = []
    try:
        for user, options in users.items():
            client = HubClient(hub.url, user, PASSWORD)
            r = client.start_server(options, timeout=150)
            assert r.status_code in (201, 202), r.text
            started.append((client, None, None))
            client.open_lab()
            kernel = client.lab_api("POST", "/kernels", json={"name": "python3"}).json()["id"]
            value = uuid.uuid4().hex
            client._execute_in(kernel, f"marqueur = {value!r}", 60)
            started[-1] = (client, kernel, value)
        hub.lab_units = units()
        assert sorted(hub.lab_units.values()) == [state] * len(users)
        yield started
    finally:
        for client, _, _ in started:
            client.stop_server()


@pytest.fixture(scope="module")
def dashboard(hub):
    """The module's ``hub`` fixture with a :class:`DashboardViewed`."""
    viewed = DashboardViewed(hub)
    yield viewed
    viewed.close()


def all_answer(labs) -> bool:
    try:
        return all(c.session.get(f"{c.lab_url}/api/status", timeout=1, allow_redirects=False).status_code == 200
                   for c, _, _ in labs)
    except requests.RequestException:
        return False


def when(predicate, timeout: float, what: str) -> float:
    """Poll ``predicate`` every 0.05 s until true; the time it became true (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def when_opened(open_view, timeout: float):
    """``open_view()``'s result once it succeeds (a page answering 200 with its
    kernel), retried every 0.5 s for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return open_view()
        except (AssertionError, requests.RequestException, websocket.WebSocketException, OSError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def labs_kept(labs, fault: str) -> None:
    """Each lab answers with its kernel's variable, runs new code, and the hub lists it
    ready."""
    for client, kernel, value in labs:
        assert client._execute_in(kernel, "print(marqueur)", 60).strip() == value, (fault, client.username)
        assert client.execute("print(6 * 7)").strip() == "42", (fault, client.username)
        server = client.api("GET", f"/users/{client.username}").json()["servers"].get("")
        assert server and server["ready"], (fault, client.username)


class ReportInProgress:
    """A run of ``owner``'s schedule ``schedule_id`` (default :data:`REPORT`) started
    before a fault (``start``) and checked after it (``outcome``): it must end succeeded,
    followed by the restarted service, or be recorded as interrupted and run again once;
    never lost, never run twice."""

    def __init__(self, hub: RunningHub, report: tuple[str, str] = REPORT):
        self.hub = hub
        self.owner, self.schedule_id = report
        self.run_id: int | None = None

    @property
    def client(self) -> ReportsClient:
        return ReportsClient(self.hub, self.owner)

    def start(self) -> None:
        client = self.client
        self.run_id = client.run_now(self.schedule_id)["id"]
        when(lambda: run_handle(self.hub, self.run_id), 120, "the report run launched")
        assert client.get(f"api/runs/{self.run_id}").json()["status"] == "running"

    def outcome(self) -> str:
        """What became of the run: ``followed`` or ``run again``; asserts the rest."""
        client = self.client
        ended = client.wait(self.run_id, timeout=300)
        later = [r for r in client.runs(self.schedule_id) if r["id"] > self.run_id]
        if ended["status"] == "succeeded":
            assert later == [], later
            return "followed"
        assert ended["error"].endswith("relancée une fois."), ended["error"]
        assert [(r["trigger"], r["retry_of"]) for r in later] == [("retry", self.run_id)], later
        assert client.wait(later[0]["id"], timeout=300)["status"] == "succeeded"
        return "run again"


INTRO = """\
The table of one run of the fault suite (issue 18; each run writes its own into
`tests/artifacts/faults.md`): `tests/integration/docker/test_faults.py` (the docker rows)
and `tests/integration/slurm/test_faults_slurm.py` (the Slurm rows), each against the
real components, one fault at a time. While a fault happens, labs hold a variable in a
kernel, a viewer has a dashboard open and a report run is in progress. A probe asks each
lab's API through the proxy every 0.1 s; the outage is the longest time a lab did not
answer. "Lost" counts labs, kernel state (the variable, read after the fault) and report
runs (a run is followed to its end by the restarted reports service, or recorded as
interrupted and run again once) and the viewer's dashboard kernel (the page reconnects
to it as soon as the service answers; when it is gone, a reload must show the
dashboard)."""

NOTES = """\
Covered by other tests: a restart of dockerd (`test_dockerd_restart.py`: labs kept, hub
reattached, no duplicate container), of a proxy run apart (`test_proxy_restart.py`)."""


def write_rows(backend: str, rows: list[tuple[str, str, str, float, str]]) -> None:
    """Rewrite :data:`TABLE` with ``rows`` (fault, what was running, lost, longest
    outage, note) as ``backend``'s, keeping the other backends' rows as they are."""
    kept = []
    if TABLE.exists():
        for line in TABLE.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 6 and cells[0] not in ("backend", "---", backend):
                kept.append(line)
    mine = [f"| {backend} | {fault} | {running} | {lost} | {outage:.1f} s | {note} |"
            for fault, running, lost, outage, note in rows]
    lines = ["# Faults: what a restart or a crash costs", "", INTRO, "", HEADER,
             "| --- | --- | --- | --- | --- | --- |", *sorted(kept + mine, key=lambda r: r.split("|")[1]), "",
             NOTES, ""]
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(lines), encoding="utf-8")


class DashboardViewed:
    """A small dashboard (audience: everyone) published by analyste1 and open in
    decideur1's browser: its page and its kernel's websocket. After a fault,
    ``reconnect`` tells whether the view's kernel survived, ``reload`` opens a new view."""

    ID = "suivi-pannes"

    def __init__(self, hub: RunningHub):
        from tests.dashboardhub import notebook, people_of

        self.people = people_of(hub)
        r = self.people("analyste1").publish(notebook("print('tableau-present')"), id=self.ID, title=self.ID,
                                             audience={"all": True})
        assert r.status_code in (200, 201), r.text
        self.kernel, self.socket = self._open()

    def _open(self):
        from tests.dashboardhub import KERNEL_IN_PAGE, kernel_info, kernel_socket

        viewer = self.people("decideur1")
        page = viewer.get(f"d/{self.ID}/", timeout=120)
        assert page.status_code == 200 and "tableau-present" in page.text, page.status_code
        kernel = KERNEL_IN_PAGE.search(page.text).group(1)
        ws = kernel_socket(viewer, self.ID, kernel)
        assert kernel_info(ws)["status"] == "ok"
        return kernel, ws

    def reconnect(self, timeout: float = 15.0) -> bool:
        """Open a websocket to the view's kernel again, as the page does once its socket
        closed (retrying while the service or the proxy does not answer); whether the
        kernel answered (False: refused, gone)."""
        from tests.dashboardhub import kernel_info, kernel_socket

        self.socket.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ws = kernel_socket(self.people("decideur1"), self.ID, self.kernel)
            except websocket.WebSocketBadStatusException as refused:
                if refused.status_code in (403, 404):
                    return False
            except (websocket.WebSocketException, OSError):
                pass
            else:
                try:
                    self.socket = ws
                    return kernel_info(ws, timeout=30)["status"] == "ok"
                except (websocket.WebSocketException, OSError):
                    return False
            time.sleep(0.5)
        return False

    def reload(self) -> None:
        """Open the dashboard again (a new page view), as a viewer whose page lost its
        kernel does."""
        self.socket.close()
        self.kernel, self.socket = when_opened(self._open, 120)

    def close(self) -> None:
        self.socket.close()


class Fault:
    """One fault's circumstances: a report run in progress (``report``), a probe on the
    labs; ``done(fault, note)`` asserts that nothing was lost once the fault is over
    and appends its row to ``rows``. ``placement()`` names where the labs run (their
    containers or jobs): it must be the same after the fault."""

    def __init__(self, labs, dashboard: DashboardViewed, report: ReportInProgress, placement, rows: list,
                 running: str):
        self.labs, self.dashboard, self.report, self.placement = labs, dashboard, report, placement
        self.rows, self.running = rows, running
        self.before = placement()
        report.start()
        self.probe = Probe(labs)
        self.probe.start()

    def done(self, fault: str, note: str) -> None:
        when(lambda: all_answer(self.labs), 60, "labs answering through the proxy")
        view_kept = self.dashboard.reconnect()
        outage = self.probe.stop()
        labs_kept(self.labs, fault)
        assert self.placement() == self.before, fault
        run = self.report.outcome()
        if not view_kept:
            self.dashboard.reload()
        lost = [part for part, happened in (("the view's kernel (a reload opens the dashboard)", not view_kept),
                                             ("the report run (run again)", run != "followed")) if happened]
        self.rows.append((fault, self.running, "; ".join(lost) or "nothing", outage, f"report run {run}; {note}"))
