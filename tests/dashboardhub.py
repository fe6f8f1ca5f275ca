"""The dashboards tests' hub (one per test module): the dashboards service with small caps
and short idle and view times, the library's map published by the deployment (as
analyste1, one pre-executed kernel) and an author whose user name needs escaping in URLs
and account names; a client for the service; the checks both backends' tests run
(viewers kept apart, caps under a rush, views without websocket released)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import websocket
import yaml

from tests.conftest import ARTIFACTS, PASSWORD, REPO, RunningHub
from tests.hubclient import HubClient
from tests.polling import wait_for

MAP_ID = "carte-covid-normandie"
ODD_AUTHOR = "jean.dupont@univ-alpha.example.org"
CAP_PER_DASHBOARD = 3
CAP_TOTAL = 5
CAP_PER_PERSON = 3
#: Pre-executed kernels of the identity-free map (counted in the caps).
PREHEATED = 1
IDLE_TIMEOUT = 10
#: Seconds a served page has to open its kernel's websocket (the deployment's default: 30).
VIEW_TIMEOUT = 20


_hubs = itertools.count()


def dashboards_overrides() -> dict:
    demo_users = [
        {"name": "analyste1", "partner": "univ-alpha", "role": "analyst"},
        {"name": "analyste2", "partner": "chu-exemple-nord", "role": "analyst"},
        {"name": "decideur1", "partner": "region-exemple", "role": "decision-maker"},
        {"name": "decideur2", "partner": "metropole-ex", "role": "decision-maker"},
        {"name": "coordinateur", "partner": "region-exemple", "role": "admin"},
        {"name": ODD_AUTHOR, "partner": "univ-alpha", "role": "analyst"},
    ]
    # Unix accounts of its own: an account's home cannot change while another hub of this
    # test run still has processes running as it (usermod refuses)
    spawner = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))["spawner"]
    spawner["account_prefix"] = f"d{next(_hubs)}{os.getpid() % 100000}-"
    return {
        "spawner": spawner,
        "auth": {"type": "demo", "demo_users": demo_users},
        "dashboards": {
            "max_kernels_per_dashboard": CAP_PER_DASHBOARD,
            "max_kernels_total": CAP_TOTAL,
            "max_kernels_per_person": CAP_PER_PERSON,
            "view_timeout": VIEW_TIMEOUT,
            "idle_timeout": IDLE_TIMEOUT,
            "kernel_idle_timeout": 600,
            "retry_after": 20,
            "preheat_kernels": PREHEATED,
            "publish": [{
                "id": MAP_ID,
                "notebook": "shared_notebooks/02-carte-normandie.ipynb",
                "author": "analyste1",
                "title": "Carte : la COVID-19 dans les départements normands",
                "description": "Indicateurs de l'ARS Normandie par département et par date.",
                "audience": {"all": True},
                "identity_free": True,
            }],
        },
    }


@pytest.fixture(scope="module")
def dashboards_hub():
    workdir = Path(tempfile.mkdtemp(prefix="datalab-dash-"))
    workdir.chmod(0o755)
    running = RunningHub(workdir, overrides=dashboards_overrides())
    try:
        running.start()
        wait_published(running, MAP_ID)
        yield running
    finally:
        running.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(running.log_path, ARTIFACTS / "hub-dashboards.log")
        if os.geteuid() == 0:
            running.remove_accounts()
        shutil.rmtree(workdir, ignore_errors=True)


def wait_published(hub: RunningHub, dashboard_id: str, timeout: float = 120) -> None:
    """Wait for the service to publish the deployment's dashboard and to make its
    gallery picture (an execution of the notebook as its author, which would otherwise
    run beside the first tests)."""
    directory = hub.layout.dashboard(dashboard_id)
    deadline = time.monotonic() + timeout
    while not picture_made(directory):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dashboard_id} not published with its picture:\n{hub.log_tail()}")
        time.sleep(0.3)


def picture_made(directory: Path) -> bool:
    """True once the live version of the dashboard in ``directory`` has its picture and
    its snapshot page (written last of what its execution gives), or the marks that it
    has none."""
    try:
        version = json.loads((directory / "dashboard.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError):
        return False
    made = [(directory / f"v{version}" / name).exists()
            for name in ("preview.png", "preview.svg", "preview.none", "snapshot.html", "snapshot.none")]
    return any(made[:3]) and any(made[3:])


class DashboardsClient(HubClient):
    """A logged-in person talking to the dashboards service (cookies, like a browser)."""

    @property
    def service(self) -> str:
        return f"{self.base}/services/dashboards"

    def get(self, path: str, **kwargs):
        return self.session.get(f"{self.service}/{path}", **kwargs)

    def token(self) -> str:
        r = self.api("POST", f"/users/{self.username}/tokens", json={"note": "dashboards test"})
        r.raise_for_status()
        return r.json()["token"]

    def call(self, method: str, path: str, **kwargs):
        """The service's REST API with one of this person's hub API tokens."""
        if not hasattr(self, "_token"):
            self._token = self.token()
        headers = {"Authorization": f"token {self._token}"}
        return self.session.request(method, f"{self.service}/api/{path}", headers=headers,
                                    cookies={}, **kwargs)

    def publish(self, notebook: dict, **fields):
        return self.call("POST", "dashboards", json={"notebook": notebook, **fields})


def people_of(hub: RunningHub):
    """name -> DashboardsClient of ``hub``, each logged in once."""
    cache: dict[str, DashboardsClient] = {}

    def person(name: str) -> DashboardsClient:
        if name not in cache:
            cache[name] = DashboardsClient(hub.url, name, PASSWORD)
            cache[name].get("")  # completes the service's OAuth login
        return cache[name]

    return person


@pytest.fixture(scope="module")
def people(dashboards_hub):
    """name -> DashboardsClient, logged in once per module."""
    return people_of(dashboards_hub)


def docker_dashboards_overrides(prefix: str, image: str) -> dict:
    """The dashboards tests' deployment on the docker backend (name prefix ``prefix``,
    lab image ``image``): the same users, caps and published map."""
    from tests.services.dockerd import docker_hub_overrides

    overrides = docker_hub_overrides(prefix, image)
    dashboards = dashboards_overrides()
    overrides["auth"] = dashboards["auth"]
    overrides["dashboards"] = dashboards["dashboards"]
    return overrides


@pytest.fixture(scope="module")
def docker_dashboards_hub(lab_image):
    """A docker-backend hub whose dashboards run in containers of the lab image; on exit
    its containers and volumes are removed."""
    from tests.conftest import open_workdir, served
    from tests.services.dockerd import remove_docker_objects, run_prefix

    prefix = run_prefix("dash")
    running = RunningHub(open_workdir("datalab-dash-docker-"),
                         overrides=docker_dashboards_overrides(prefix, lab_image))
    running.name_prefix = prefix
    try:
        with served(running, "hub-dashboards-docker.log"):
            wait_published(running, MAP_ID)
            yield running
    finally:
        remove_docker_objects(prefix)


def notebook(*cells: str | tuple[str, list]) -> dict:
    """A notebook of code cells (a cell given as (source, outputs) keeps those outputs)."""
    out = []
    for cell in cells:
        source, outputs = cell if isinstance(cell, tuple) else (cell, [])
        out.append({"cell_type": "code", "metadata": {}, "execution_count": None,
                    "outputs": outputs, "source": source})
    return {"cells": out, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
            "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def map_notebook() -> dict:
    return json.loads((REPO / "shared_notebooks" / "02-carte-normandie.ipynb").read_text(encoding="utf-8"))


def record_timing(name: str, seconds: float) -> None:
    """Keep a measured duration in ``tests/artifacts/dashboards-timings.json`` (merged
    across tests and runs; a report, not a threshold)."""
    path = ARTIFACTS / "dashboards-timings.json"
    ARTIFACTS.mkdir(exist_ok=True)
    timings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    timings[name] = round(seconds, 2)
    path.write_text(json.dumps(timings, indent=1, sort_keys=True), encoding="utf-8")


KERNEL_IN_PAGE = re.compile(r'"kernelId":\s*"([0-9a-f-]{36})"')


def live_page(dashboard_id: str) -> str:
    """The path of a dashboard's live page (its own kernel), as the snapshot page in
    front of an identity-free dashboard's asks for it; other dashboards serve it at once."""
    return f"d/{dashboard_id}/?datalab-live=1"


def page_kernel(person, dashboard_id: str) -> str:
    """Open the dashboard's page as ``person``; the id of the kernel it was given."""
    page = person.get(live_page(dashboard_id))
    assert page.status_code == 200, page.text
    return KERNEL_IN_PAGE.search(page.text).group(1)


def kernel_socket(person, dashboard_id: str, kernel_id: str):
    """Open the websocket of a dashboard's kernel with ``person``'s browser cookies."""
    url = person.service.replace("http", "ws", 1) + f"/d/{dashboard_id}/api/kernels/{kernel_id}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in person.session.cookies)
    return websocket.create_connection(url, cookie=cookies, origin=person.base, timeout=30)


def kernel_info(ws, timeout: float = 60) -> dict:
    """Ask the kernel behind ``ws`` for its info; its reply's content."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": "", "session": msg_id,
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [], "content": {},
    }))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "kernel_info_reply":
            return msg["content"]
    raise TimeoutError("no kernel_info_reply")


def refused_socket(person, dashboard_id: str, kernel_id: str) -> int:
    """The HTTP status refusing ``person`` the kernel's websocket (fails if accepted)."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        kernel_socket(person, dashboard_id, kernel_id).close()
    return refused.value.status_code


def wait_load(author, dashboard_id: str, done, timeout: float) -> dict:
    """Poll the dashboard's load (as its author) until ``done(load)``; the last load."""
    deadline = time.monotonic() + timeout
    while True:
        load = author.call("GET", f"dashboards/{dashboard_id}").json()
        if done(load):
            return load
        assert time.monotonic() < deadline, f"still {load}"
        time.sleep(0.5)


def static_files_kept_by_the_service(people) -> None:
    """A static file of a dashboard's page, relayed once from its Voilà server, is then
    answered by the service: the same bytes, gzip-compressed, 304 to a browser holding
    its ETag; the audience is still checked first (someone outside a partner-only
    dashboard's audience gets 404 for the file its author just loaded)."""
    author, outsider = people("analyste1"), people("analyste2")
    r = author.publish(notebook("print('statiques')"), id="statiques", title="Statiques",
                       audience={"partners": ["univ-alpha"]})
    assert r.status_code == 201, r.text
    path = "d/statiques/voila/static/voila.js"
    try:
        relayed = author.get(path)
        assert relayed.status_code == 200 and "Content-Encoding" not in relayed.headers, relayed.headers
        kept = wait_for(lambda: (a := author.get(path)).headers.get("Content-Encoding") == "gzip" and a, 30,
                        "the service's own gzip answer")
        assert kept.content == relayed.content and kept.headers["Etag"] == relayed.headers["Etag"]
        assert author.get(path, headers={"If-None-Match": kept.headers["Etag"]}).status_code == 304
        assert outsider.get(path).status_code == 404
        assert outsider.get(path, headers={"If-None-Match": kept.headers["Etag"]}).status_code == 404
    finally:
        author.call("DELETE", "dashboards/statiques")


def viewers_kept_apart(hub: RunningHub, people) -> None:
    """Viewer B holding viewer A's kernel id (and A in another browser session) gets its
    websocket, its model, its DELETE, restart, interrupt and shutdown refused, and no
    listing shows it; A's own websocket works; the author sees counts, not ids."""
    author = people("analyste1")
    assert author.publish(notebook("print('isolement')"), id="isolement", title="Isolement", audience={"all": True}).status_code == 201
    viewer, intruder = people("decideur1"), people("analyste2")
    try:
        kernel_id = page_kernel(viewer, "isolement")
        # no listing, to anyone (the author included): by the browser's cookies or a token
        for person in (intruder, viewer, author):
            for path in ("datalab/kernels", "api/kernels", "api/sessions", "api/kernels/"):
                listed = person.get(f"d/isolement/{path}")
                assert listed.status_code == 403, (person.username, path)
                assert kernel_id not in listed.text
        headers = {"Authorization": f"token {intruder.token()}"}
        base = f"{intruder.service}/d/isolement"
        for method, path in (("GET", "datalab/kernels"), ("GET", "api/sessions"), ("GET", f"api/kernels/{kernel_id}"),
                             ("DELETE", f"api/kernels/{kernel_id}"), ("POST", f"api/kernels/{kernel_id}/restart"),
                             ("POST", f"api/kernels/{kernel_id}/interrupt"),
                             ("POST", f"voila/api/shutdown/{kernel_id}")):
            r = requests.request(method, f"{base}/{path}", headers=headers, timeout=60)
            assert r.status_code == 403, (method, path, r.status_code)
            assert kernel_id not in r.text
        # the kernel's websocket: refused to another person, and to the same person in
        # another browser session
        assert refused_socket(intruder, "isolement", kernel_id) == 403
        other_browser = DashboardsClient(hub.url, "decideur1", PASSWORD)
        other_browser.get("")
        assert refused_socket(other_browser, "isolement", kernel_id) == 403
        # the viewer's own kernel survived all that and answers its page's websocket
        ws = kernel_socket(viewer, "isolement", kernel_id)
        try:
            assert kernel_info(ws)["status"] == "ok"
            load = author.call("GET", "dashboards/isolement").json()
            assert load["kernels"] == 1 and load["views"] == 1 and load["open_views"] == 1
            assert kernel_id not in json.dumps(load)
        finally:
            ws.close()
    finally:
        assert author.call("DELETE", "dashboards/isolement").status_code == 204


def view_without_websocket_released(people) -> None:
    """A served page whose websocket never comes gives its kernel and place back."""
    author = people("analyste1")
    assert author.publish(notebook("print('sans websocket')"), id="sans-socket", title="Sans socket", audience={"all": True}).status_code == 201
    try:
        page_kernel(people("decideur1"), "sans-socket")
        load = author.call("GET", "dashboards/sans-socket").json()
        assert load["views"] == 1 and load["kernels"] == 1
        wait_load(author, "sans-socket", lambda s: s["views"] == 0 and s["kernels"] == 0, VIEW_TIMEOUT + 30)
    finally:
        assert author.call("DELETE", "dashboards/sans-socket").status_code == 204


def rush(people, names: list[str], dashboards: list[str], count: int = 100) -> list[tuple[str, str, int, str]]:
    """``count`` first requests of the dashboards' pages at once, from ``names`` in
    turn, each in a connection of its own; ``(person, dashboard, status, text)`` each."""
    jobs = [(names[i % len(names)], dashboards[i % len(dashboards)]) for i in range(count)]
    cookies = {name: people(name).session.cookies for name in names}
    start = threading.Barrier(count, timeout=60)

    def one(job):
        name, dashboard_id = job
        with requests.Session() as session:
            session.cookies.update(cookies[name])
            start.wait()
            r = session.get(f"{people(name).service}/{live_page(dashboard_id)}", timeout=300)
            return name, dashboard_id, r.status_code, r.text

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, jobs))


def caps_hold_under_a_rush(people) -> None:
    """100 concurrent first requests of cold dashboards never exceed the per-dashboard,
    total and per-person caps."""
    author = people("analyste1")
    dashboards = ["ruee-a", "ruee-b", "ruee-c"]
    for dashboard_id in dashboards:
        published = author.publish(notebook("print('ruée')"), id=dashboard_id, title=dashboard_id, audience={"all": True})
        assert published.status_code == 201
    try:
        # several people: the per-dashboard and total caps (the map's pre-executed
        # kernel counts in the total)
        results = rush(people, ["decideur1", "analyste2", "coordinateur"], dashboards)
        assert {status for _, _, status, _ in results} <= {200, 503}
        shown = [(name, d) for name, d, status, _ in results if status == 200]
        assert 1 <= len(shown) <= CAP_TOTAL - PREHEATED, shown
        for dashboard_id in dashboards:
            assert sum(1 for _, d in shown if d == dashboard_id) <= CAP_PER_DASHBOARD, shown
            load = author.call("GET", f"dashboards/{dashboard_id}").json()
            assert load["views"] <= CAP_PER_DASHBOARD and load["kernels"] <= CAP_PER_DASHBOARD, load
        assert all("Tableau de bord très demandé" in text or "Trop de tableaux" in text
                   for _, _, status, text in results if status == 503)
        for dashboard_id in dashboards:  # no websocket: the views give their places back
            wait_load(author, dashboard_id, lambda s: s["views"] == 0, VIEW_TIMEOUT + 30)
        # one person: their own cap, below what the dashboards and the hub have room for
        results = rush(people, ["decideur1"], dashboards)
        shown = [(name, d) for name, d, status, _ in results if status == 200]
        assert 1 <= len(shown) <= CAP_PER_PERSON, shown
        assert any("Trop de tableaux de bord ouverts" in text for *_, text in results)
    finally:
        for dashboard_id in dashboards:
            assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204


def font_awesome_served_by_the_hub(person, dashboard_id: str) -> None:
    """The dashboard's page links Font Awesome on its own server, not on a public CDN, and
    the style sheets and their fonts answer through the service. ``person`` manages the
    dashboard (an admin): the page view is given back before returning (its websocket
    opened and closed), so that later tests find the caps as they were."""
    views_before = wait_load(person, dashboard_id, lambda load: True, 10)["views"]
    page = person.get(live_page(dashboard_id))
    assert page.status_code == 200, page.text
    try:
        assert "cdn.jsdelivr.net" not in page.text
        sheets = re.findall(r'href="[^"]*/d/' + re.escape(dashboard_id) + r'/(datalab/fontawesome/css/[^"]+\.css)"',
                            page.text)
        assert {s.rsplit("/", 1)[1] for s in sheets} >= {"all.min.css", "v4-shims.min.css"}, sheets
        for sheet in sheets:
            answer = person.get(f"d/{dashboard_id}/{sheet}")
            assert answer.status_code == 200 and "text/css" in answer.headers["Content-Type"], sheet
        font = person.get(f"d/{dashboard_id}/datalab/fontawesome/webfonts/fa-solid-900.woff2")
        assert font.status_code == 200 and len(font.content) > 10_000
    finally:
        kernel_socket(person, dashboard_id, KERNEL_IN_PAGE.search(page.text).group(1)).close()
        wait_load(person, dashboard_id, lambda load: load["views"] <= views_before, 60)
