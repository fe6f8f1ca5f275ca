"""The dashboards tests' hub (one per test module): the dashboards service with small caps
and short idle and view times, the library's map published by the deployment (as analyste1, one
pre-executed kernel) and an author whose user name needs escaping in URLs and account
names; a client for the service."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ARTIFACTS, PASSWORD, REPO, RunningHub
from tests.hubclient import HubClient

MAP_ID = "carte-covid-normandie"
ODD_AUTHOR = "jean.dupont@univ-alpha.example.org"
CAP_PER_DASHBOARD = 2
CAP_TOTAL = 4
CAP_PER_PERSON = 2
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


def wait_published(hub: RunningHub, dashboard_id: str, timeout: float = 60) -> None:
    """Wait for the service to publish the deployment's dashboard."""
    meta = hub.layout.dashboard(dashboard_id) / "dashboard.json"
    deadline = time.monotonic() + timeout
    while not meta.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dashboard_id} not published:\n{hub.log_tail()}")
        time.sleep(0.3)


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
