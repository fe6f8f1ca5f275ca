"""A hub with the reports service, for the reports tests (integration and browser).

The library it publishes is the real one plus the test notebooks in
``bibliotheque/tests-rapports/``; its users are the demo ones plus one analyst per
partner (``a-<partner id>``), for the 21 parallel runs."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.collabhub import git, library_repository
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient
from tests.polling import wait_for

NOTEBOOKS = REPO / "tests" / "integration" / "reports_notebooks"
CELL_TIMEOUT = 20
SKIP_AFTER = 5


def reports_overrides(library: Path, data_dir: Path) -> dict:
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    users = example["auth"]["demo_users"] + [
        {"name": f"a-{p['id']}", "partner": p["id"], "role": "analyst"} for p in example["partners"]
    ]
    return {
        "auth": {"type": "demo", "demo_users": users},
        "storage": {"data_dir": str(data_dir), "library_source": str(library)},
        "reports": {**example["reports"], "cell_timeout": CELL_TIMEOUT, "skip_after": SKIP_AFTER},
    }


def reports_library(workdir: Path) -> Path:
    """A library repository in ``workdir``: the real library plus the test notebooks in
    ``tests-rapports/``; returns its library folder (a ``storage.library_source``)."""
    library = library_repository(workdir / "library-source")
    shutil.copytree(NOTEBOOKS, library / "tests-rapports")
    git(library.parent, "add", "library")
    git(library.parent, "commit", "--quiet", "-m", "Report test notebooks")
    return library


@pytest.fixture(scope="session")
def reports_hub():
    """A running hub (and its reports service) shared by the reports tests."""
    workdir = open_workdir("datalab-reports-")
    library = reports_library(workdir)
    running = RunningHub(workdir, reports_overrides(library, workdir / "data"))
    with served(running, "reports-hub.log"):
        yield running


class ReportsClient:
    """One person using the reports service with a hub API token (as the CLI does)."""

    def __init__(self, hub: RunningHub, username: str):
        self.hub = hub
        self.username = username
        self.hub_client = HubClient(hub.url, username, PASSWORD)
        r = self.hub_client.api("POST", f"/users/{username}/tokens", json={"note": "tests"})
        r.raise_for_status()
        self.token = r.json()["token"]
        self.base = f"{hub.url}/services/reports"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """``path`` below the service prefix, e.g. ``api/schedules``."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        return requests.request(method, f"{self.base}/{path}", headers=headers, **kwargs)

    def create(self, **spec) -> requests.Response:
        return self.request("POST", "api/schedules", json=spec)

    def run_now(self, schedule_id: str) -> dict:
        r = self.request("POST", f"api/schedules/{schedule_id}/runs")
        assert r.status_code == 202, r.text
        return r.json()

    def wait(self, run_id: int, timeout: float = 180) -> dict:
        """The run once it has ended (succeeded or failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(f"api/runs/{run_id}").json()
            if run["status"] in ("succeeded", "failed"):
                return run
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} still running after {timeout} s")

    def runs(self, schedule_id: str) -> list[dict]:
        r = self.get(f"api/schedules/{schedule_id}/runs")
        r.raise_for_status()
        return r.json()


def run_handle(hub: RunningHub, run_id: int) -> dict | None:
    """What the reports service recorded of run ``run_id``'s process, container or job
    once it launched it (None before), read from the service's database."""
    path = hub.layout.root / "reports" / "reports.sqlite"
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        row = db.execute("SELECT handle_json FROM datalab_report_runs WHERE id = ?", (run_id,)).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def answers(client: ReportsClient) -> bool:
    try:
        return client.get("api/schedules", timeout=10).status_code == 200
    except requests.ConnectionError:
        return False


def restart_service(hub: RunningHub, client: ReportsClient, sig: int) -> float:
    """Send ``sig`` to the hub's reports service and wait until the hub has started
    another one that answers ``client``; the seconds it was away."""
    service = hub.service_process("hub.services.reports")
    service.send_signal(sig)
    sent = time.monotonic()
    service.wait(timeout=30)

    def replaced() -> bool:
        try:
            return hub.service_process("hub.services.reports").pid != service.pid
        except AssertionError:
            return False

    wait_for(lambda: replaced() and answers(client), 90, "the hub starting the reports service again")
    return time.monotonic() - sent
