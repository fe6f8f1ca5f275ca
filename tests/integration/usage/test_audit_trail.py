"""The audit trail on a real hub: every audited action writes exactly one line with the
right fields, no token or secret of the run appears in any log or audit line, container
usage comes out of the trail per partner, and ``datalab audit`` filters it."""

from __future__ import annotations

import datetime as dt
import json
import pwd
import re
import subprocess
import sys
import time

from pathlib import Path

import pytest
import yaml

from hub import audit, usage
from hub.names import system_account
from tests.clock import QUIET_CRON
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient
from tests.integration.test_collaboration import visit

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
NOT_CREDENTIALS = {"jupyterhub-session-id", "_xsrf"}
USAGE_DASHBOARD = "usage-partenaires"


def overrides() -> dict:
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    auth = example["auth"]
    auth["demo_users"].append({"name": "analyste3", "partner": "labo-atlas", "role": "analyst"})
    usage_seed = [d for d in example["dashboards"]["publish"] if d["id"] == USAGE_DASHBOARD]
    return {"auth": auth, "reports": {**example["reports"], "schedules": []},
            "dashboards": {**example["dashboards"], "publish": usage_seed}}


TINY_NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Tableau"}],
                 "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                 "nbformat": 4, "nbformat_minor": 5}


class Scenario:
    """What the module's scripted session did: clients, secrets it saw, measured times."""

    def __init__(self, hub: RunningHub):
        self.hub = hub
        # tokens, share codes, login and OAuth cookies and the hub's secrets seen in this
        # run. Not: the demo password (the demo hub prints it at start, for `make run`);
        # the session id and XSRF cookies (identifiers, not credentials: the labs'
        # Jupyter Server logs them when it sets its XSRF cookie)
        self.secrets: set[str] = set()
        self.clients: dict[str, HubClient] = {}
        self.times: dict[str, float] = {}
        self.statuses: dict[str, int] = {}
        self.run_id = 0  # the report run made

    def login(self, name: str) -> HubClient:
        client = HubClient(self.hub.url, name, PASSWORD)
        assert client.login_response.status_code == 302, client.login_response.text[:300]
        self.clients[name] = client
        return client

    def events(self) -> list[dict]:
        return list(audit.read(self.hub.data_dir / audit.DIRECTORY))

    def collect_secrets(self) -> None:
        for client in self.clients.values():
            self.secrets.update(c.value for c in client.session.cookies
                                if c.name not in NOT_CREDENTIALS and len(c.value) >= 16)
        for name in ("proxy_token", "cookie_secret"):
            path = self.hub.layout.hub / name
            if path.exists():
                self.secrets.add(path.read_bytes().strip().decode("ascii", "replace"))


@pytest.fixture(scope="module")
def scenario():
    """A hub where people log in (once with a wrong password), start labs, share one
    and revoke the share, open a shared lab, make and delete a share code, an admin
    creates a token and stops someone's lab, someone is refused an admin action,
    someone logs out, and a report schedule is created and deleted."""
    with served(RunningHub(open_workdir("datalab-audit-"), overrides()), "audit-hub.log") as hub:
        s = Scenario(hub)
        wrong = HubClient(hub.url, "analyste1", "not-the-password")
        s.statuses["wrong"] = wrong.login_response.status_code
        a1, a2, a3, admin = (s.login(n) for n in ("analyste1", "analyste2", "analyste3", "coordinateur"))

        for name, client in (("analyste1", a1), ("analyste3", a3)):
            s.times[f"{name}.requested"] = time.time()
            r = client.start_server({"profile": "standard"})
            assert r.status_code in (201, 202), r.text
            s.times[f"{name}.ready"] = time.time()
        a1.open_lab()

        assert a1.api("POST", "/shares/analyste1/", json={"user": "analyste2"}).status_code == 200
        s.statuses["visit"] = visit(a2, "analyste1")
        assert a1.api("PATCH", "/shares/analyste1/", json={"user": "analyste2"}).status_code == 200
        code = a1.api("POST", "/share-codes/analyste1/", json={})
        assert code.status_code == 200, code.text
        s.secrets.add(code.json()["code"])
        assert a1.api("DELETE", f"/share-codes/analyste1/?id={code.json()['id']}").status_code == 204

        token = a1.api("POST", "/users/analyste1/tokens", json={"note": "audit test"})
        assert token.status_code == 201, token.text
        s.secrets.add(token.json()["token"])
        # admins hold no admin:users (it would open people's auth_state): no user creation
        s.statuses["admin_create"] = admin.api("POST", "/users/nouvel-arrivant").status_code
        s.statuses["refused_stop"] = a2.api("DELETE", "/users/analyste1/server").status_code
        s.times["analyste3.stopping"] = time.time()
        r = admin.api("DELETE", "/users/analyste3/server")
        assert r.status_code in (202, 204), r.text
        deadline = time.monotonic() + 60
        while "" in a3.api("GET", "/users/analyste3").json().get("servers", {}) and time.monotonic() < deadline:
            time.sleep(0.3)
        s.times["analyste3.stopped"] = time.time()
        s.times["analyste1.stopping"] = time.time()
        a1.stop_server()
        s.times["analyste1.stopped"] = time.time()

        auth = {"Authorization": f"token {token.json()['token']}"}
        reports = f"{hub.url}/services/reports"
        schedule = a1.session.post(
            f"{reports}/api/schedules", headers=auth,
            json={"id": "audit-test", "notebook": "bibliotheque/03-rapport-departement.ipynb",
                  "cron": QUIET_CRON, "parameters": {"department": "14", "report_date": "2020-03-27"}})
        s.statuses["schedule"] = schedule.status_code
        run = a1.session.post(f"{reports}/api/schedules/audit-test/runs", headers=auth)
        s.statuses["run"] = run.status_code
        deadline = time.monotonic() + 240
        while run.json()["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(1)
            run = a1.session.get(f"{reports}/api/runs/{run.json()['id']}", headers=auth)
        s.run_id = run.json()["id"]
        s.statuses["download"] = a1.session.get(f"{reports}/runs/{s.run_id}/report.html", headers=auth).status_code
        s.statuses["schedule_delete"] = a1.session.delete(f"{reports}/api/schedules/audit-test",
                                                          headers=auth).status_code

        dashboards = f"{hub.url}/services/dashboards"
        published = a1.session.post(f"{dashboards}/api/dashboards", headers=auth, json={
            "notebook": TINY_NOTEBOOK, "id": "audit-tableau", "title": "Tableau audité",
            "audience": {"partners": ["univ-alpha"]}})
        s.statuses["publish"] = published.status_code
        s.statuses["view_refused"] = a2.session.get(f"{dashboards}/d/audit-tableau/").status_code
        s.statuses["unpublish"] = a1.session.delete(f"{dashboards}/api/dashboards/audit-tableau",
                                                    headers=auth).status_code

        assert a2.session.get(f"{hub.url}/hub/logout").status_code == 200
        s.collect_secrets()
        time.sleep(0.5)  # the services' last lines
        yield s


def only(events: list[dict], action: str, **fields) -> dict:
    """The single event of ``action`` whose fields equal ``fields`` (asserts exactly one)."""
    found = [e for e in events if e["action"] == action and all(e.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, f"{action} {fields}: {len(found)} lines\n" + "\n".join(map(json.dumps, found))
    return found[0]


def test_every_line_has_the_fields_and_an_iso_utc_timestamp(scenario):
    events = scenario.events()
    assert events
    for e in events:
        assert set(audit.FIELDS) <= set(e), e
        assert dt.datetime.fromisoformat(e["timestamp"]).utcoffset() == dt.timedelta(0)
        assert e["result"] in audit.RESULTS and isinstance(e["partner"], list)


def test_audit_files_are_private(scenario):
    directory = scenario.hub.data_dir / audit.DIRECTORY
    assert directory.stat().st_mode & 0o777 == 0o750
    for path in audit.files(directory):
        assert path.stat().st_mode & 0o777 == 0o640, path


def test_logins_failed_login_and_logout(scenario):
    events = scenario.events()
    assert scenario.statuses["wrong"] != 302
    failed = only(events, "login", actor="analyste1", result="failure")
    assert failed["source"] == "127.0.0.1"
    for name, partner in (("analyste1", ["univ-alpha"]), ("analyste2", ["chu-exemple-nord"]),
                          ("coordinateur", ["region-exemple"])):
        line = only(events, "login", actor=name, result="success")
        assert (line["target"], line["partner"], line["source"]) == (f"user:{name}", partner, "127.0.0.1")
    logout = only(events, "logout", actor="analyste2")
    assert (logout["partner"], logout["result"]) == (["chu-exemple-nord"], "success")


def test_server_start_and_stop(scenario):
    events = scenario.events()
    for name, partner in (("analyste1", ["univ-alpha"]), ("analyste3", ["labo-atlas"])):
        start = only(events, "server.start", target=f"{name}/")
        stop = only(events, "server.stop", target=f"{name}/")
        assert (start["actor"], start["partner"], start["result"]) == (name, partner, "success")
        assert start["detail"]["backend"] == "local"
        assert stop["result"] == "success" and stop["timestamp"] > start["timestamp"]


def test_shares_granted_revoked_and_the_shared_lab_opened(scenario):
    events = scenario.events()
    grant = only(events, "share.grant", actor="analyste1", target="analyste1/")
    revoke = only(events, "share.revoke", actor="analyste1", target="analyste1/")
    for line in (grant, revoke):
        assert line["detail"]["recipient"] == "user:analyste2" and line["partner"] == ["univ-alpha"]
        assert line["result"] == "success"
    assert scenario.statuses["visit"] == 200
    access = only(events, "server.access", actor="analyste2", target="analyste1/")
    assert (access["partner"], access["result"], access["detail"]["shared"]) == (["univ-alpha"], "success", True)
    only(events, "share.code.create", actor="analyste1", target="analyste1/", result="success")
    only(events, "share.code.revoke", actor="analyste1", target="analyste1/", result="success")


def test_admin_actions_and_a_refused_one(scenario):
    events = scenario.events()
    assert scenario.statuses["admin_create"] == 403
    line = only(events, "admin.user.create", actor="coordinateur", target="user:nouvel-arrivant")
    assert (line["partner"], line["result"]) == (["region-exemple"], "refused")
    assert not [e for e in events if e["action"] == "admin.token.create"]  # one's own token
    stop = only(events, "admin.server.stop", actor="coordinateur", target="analyste3/")
    assert (stop["partner"], stop["result"]) == (["labo-atlas"], "success")
    assert scenario.statuses["refused_stop"] in (403, 404)
    refused = only(events, "admin.server.stop", actor="analyste2", target="analyste1/")
    assert refused["result"] == "refused"


def test_report_schedule_run_download_and_deletion(scenario):
    events = scenario.events()
    assert [scenario.statuses[k] for k in ("schedule", "run", "download", "schedule_delete")] == [201, 202, 200, 204]
    for action in ("report.schedule.create", "report.run", "report.schedule.delete"):
        line = only(events, action, actor="analyste1", target="schedule:audit-test")
        assert (line["partner"], line["result"]) == (["univ-alpha"], "success")
    download = only(events, "report.download", actor="analyste1", target=f"run:{scenario.run_id}/report.html")
    assert (download["partner"], download["result"]) == (["univ-alpha"], "success")


def test_dashboard_published_refused_to_an_outsider_and_unpublished(scenario):
    events = scenario.events()
    assert [scenario.statuses[k] for k in ("publish", "view_refused", "unpublish")] == [201, 404, 204]
    for action in ("dashboard.publish", "dashboard.unpublish"):
        line = only(events, action, actor="analyste1", target="dashboard:audit-tableau")
        assert (line["partner"], line["result"]) == (["univ-alpha"], "success")
    view = only(events, "dashboard.view", actor="analyste2", target="dashboard:audit-tableau")
    assert (view["partner"], view["result"], view["source"]) == (["univ-alpha"], "refused", "127.0.0.1")


def test_no_token_or_secret_in_any_log_or_audit_line(scenario):
    texts = {path: path.read_text(errors="replace")
             for path in [scenario.hub.log_path, *audit.files(scenario.hub.data_dir / audit.DIRECTORY)]}
    assert len(scenario.secrets) >= 5
    for path, text in texts.items():
        for secret in scenario.secrets:
            assert secret not in text, f"a secret of this run is in {path.name}"


def test_container_usage_per_partner_from_the_trail(scenario):
    """Two partners' labs: the accounting of the month gives each partner its lab's
    running time, to the second of the audit lines (from the spawner's start to the end
    of its stop), which lies between the client's ready-to-stop-request time and its
    start-request-to-stopped time."""
    events = scenario.events()
    now = dt.datetime.now(UTC)
    result = usage.compute(now.strftime("%Y-%m"), events, [], {}, now=now)
    for name, partner in (("analyste1", "univ-alpha"), ("analyste3", "labo-atlas")):
        start = dt.datetime.fromisoformat(only(events, "server.start", target=f"{name}/")["timestamp"])
        stop = dt.datetime.fromisoformat(only(events, "server.stop", target=f"{name}/")["timestamp"])
        assert result.partners[partner].container_seconds == round((stop - start).total_seconds())
        times = scenario.times
        seconds = result.partners[partner].container_seconds
        assert times[f"{name}.stopping"] - times[f"{name}.ready"] - 1 <= seconds
        assert seconds <= times[f"{name}.stopped"] - times[f"{name}.requested"] + 1
    assert "chu-exemple-nord" not in result.partners  # analyste2 never started a lab


def test_cli_answers_who_opened_which_servers_of_a_partner(scenario):
    out = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(scenario.hub.config_path), "audit",
         "--partner", "univ-alpha", "--action", "server", "--last", "7d", "--json"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert {(e["actor"], e["action"], e["target"]) for e in lines} == {
        ("analyste1", "server.start", "analyste1/"), ("analyste1", "server.access", "analyste1/"),
        ("analyste2", "server.access", "analyste1/"), ("analyste1", "server.stop", "analyste1/"),
    }
    earlier = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(scenario.hub.config_path), "audit",
         "--partner", "univ-alpha", "--until", "2026-01-01"],
        capture_output=True, text=True, check=True, cwd=REPO,
    ).stdout
    assert earlier == ""


def test_an_admin_sees_the_months_usage_on_the_usage_dashboard(scenario):
    """The deployment's usage dashboard, for admins only: before any export it says so;
    after `datalab usage --output ~coordinateur/usage/...` it shows each partner's hours."""
    admin = scenario.clients["coordinateur"]
    page = f"{scenario.hub.url}/services/dashboards/d/{USAGE_DASHBOARD}/"
    first = admin.session.get(page)
    assert first.status_code == 200 and "Aucun export" in first.text
    assert scenario.clients["analyste1"].session.get(page).status_code == 404

    account = system_account("coordinateur", scenario.hub.account_prefix)
    try:
        home = Path(pwd.getpwnam(account).pw_dir)
    except KeyError:  # no isolation: the author's home is named after them
        home = scenario.hub.layout.home("coordinateur")
    month = dt.datetime.now(UTC).strftime("%Y-%m")
    export = home / "usage" / f"usage-{month}.csv"
    subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(scenario.hub.config_path), "usage",
         "--month", month, "--csv", "--no-slurm", "--output", str(export)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    rows = {line.split(",")[1]: line.split(",") for line in export.read_text().splitlines()[1:]}
    assert set(rows) == {"univ-alpha", "labo-atlas"}
    shown = admin.session.get(page)
    assert shown.status_code == 200 and "Heures de lab" in shown.text
    for partner, row in rows.items():  # the table's text form: partner, then its lab hours
        assert re.search(rf"{partner}\s+{re.escape(row[2])}\s", shown.text), (partner, row)
