"""The audit events issue 17 added, on a running hub: stops and starts recorded with
their true actor (an admin through the API and through ``/hub/spawn/<user>``), one's own
API token, a dashboard published through the HTML form, a deployment file's schedule and
a report run's outcome; the page where a person sees who opened their lab; and the
chain of every process's file intact (``datalab audit verify``)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
import yaml

from hub import audit
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient
from tests.integration.test_collaboration import visit
from tests.polling import wait_for

pytestmark = pytest.mark.integration

SCHEDULE = "rapport-14"  # the first of the example's deployment schedules, owned by coordinateur
NOTEBOOK = "bibliotheque/02-carte-normandie.ipynb"


def overrides() -> dict:
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    schedules = [s for s in example["reports"]["schedules"] if s["id"] == SCHEDULE]
    return {"reports": {**example["reports"], "schedules": schedules},
            "dashboards": {**example["dashboards"], "publish": []}}


def stopped(client: HubClient, owner: str) -> bool:
    return "" not in client.api("GET", f"/users/{owner}").json().get("servers", {})


@pytest.fixture(scope="module")
def trail():
    with served(RunningHub(open_workdir("datalab-audit-events-"), overrides()), "audit-events-hub.log") as hub:
        a1, a2, admin = (HubClient(hub.url, n, PASSWORD) for n in ("analyste1", "analyste2", "coordinateur"))
        for client in (a1, a2, admin):
            assert client.login_response.status_code == 302, client.login_response.text[:300]
        statuses = {}
        r = a1.start_server({"profile": "standard"})
        assert r.status_code in (201, 202), r.text

        dashboards = f"{hub.url}/services/dashboards"
        form = a1.session.get(f"{dashboards}/publish?path={NOTEBOOK}")
        assert form.status_code == 200, form.text[:300]
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
        published = a1.session.post(f"{dashboards}/publish", data={
            "_xsrf": xsrf, "notebook": NOTEBOOK, "title": "Carte audit", "audience": "all"})
        statuses["publish"] = published.status_code

        assert a1.api("POST", "/shares/analyste1/", json={"user": "analyste2"}).status_code == 200
        statuses["visit"] = visit(a2, "analyste1")
        token = a1.api("POST", "/users/analyste1/tokens", json={"note": "audit events"})
        assert token.status_code == 201, token.text

        r = admin.api("DELETE", "/users/analyste1/server")
        assert r.status_code in (202, 204), r.text
        wait_for(lambda: stopped(a1, "analyste1"), 60, "analyste1's lab did not stop")
        spawn = admin.session.post(f"{hub.url}/hub/spawn/analyste1",
                                   data={"_xsrf": admin._xsrf("/hub/"), "profile": "standard"},
                                   allow_redirects=False)  # the admin starts the lab, does not open it
        statuses["admin_spawn"] = spawn.status_code
        a1.wait_ready()
        a1.stop_server()

        admin_token = admin.api("POST", "/users/coordinateur/tokens", json={"note": "audit run"}).json()["token"]
        auth = {"Authorization": f"token {admin_token}"}
        reports = f"{hub.url}/services/reports/api"
        run = admin.session.post(f"{reports}/schedules/{SCHEDULE}/runs", headers=auth)
        assert run.status_code == 202, run.text
        wait_for(lambda: admin.session.get(f"{reports}/runs/{run.json()['id']}", headers=auth).json()["status"]
                 not in ("queued", "running"), 240, "the report run did not end")

        def events():
            return list(audit.read(hub.data_dir / audit.DIRECTORY))

        wait_for(lambda: [e for e in events() if e["action"] == "report.run.end"], 30, "no report.run.end line")
        pages = {name: client.session.get(f"{hub.url}/hub/acces") for name, client in (("a1", a1), ("a2", a2))}
        yield {"hub": hub, "events": events(), "statuses": statuses, "pages": pages, "run_id": run.json()["id"]}


def only(events: list[dict], action: str, **fields) -> dict:
    found = [e for e in events if e["action"] == action and all(e.get(k) == v for k, v in fields.items())]
    assert len(found) == 1, f"{action} {fields}: {len(found)} lines\n" + "\n".join(map(json.dumps, found))
    return found[0]


def test_stops_and_starts_name_their_true_actor(trail):
    events = trail["events"]
    starts = [(e["actor"], e["result"]) for e in events if e["action"] == "server.start"
              and e["target"] == "analyste1/"]
    assert trail["statuses"]["admin_spawn"] == 302
    assert starts == [("analyste1", "success"), ("coordinateur", "success")]
    stops = [(e["actor"], e["result"]) for e in events if e["action"] == "server.stop"
             and e["target"] == "analyste1/"]
    assert stops == [("coordinateur", "success"), ("analyste1", "success")]
    assert all(e["partner"] == ["univ-alpha"] for e in events if e["target"] == "analyste1/")


def test_ones_own_api_token_is_audited_without_the_token(trail):
    line = only(trail["events"], "token.create", actor="analyste1", target="user:analyste1")
    assert (line["partner"], line["result"], line["detail"]["status"]) == (["univ-alpha"], "success", 201)
    assert not [e for e in trail["events"] if e["action"] == "admin.token.create"]


def test_a_dashboard_published_through_the_form_is_audited(trail):
    assert trail["statuses"]["publish"] == 200
    line = only(trail["events"], "dashboard.publish", actor="analyste1", target="dashboard:carte-audit")
    assert (line["partner"], line["result"], line["source"]) == (["univ-alpha"], "success", "127.0.0.1")


def test_the_deployment_schedule_and_the_run_outcome_are_audited(trail):
    created = only(trail["events"], "report.schedule.create", actor="deployment", target=f"schedule:{SCHEDULE}")
    assert (created["partner"], created["detail"]["owner"]) == (["region-exemple"], "coordinateur")
    end = only(trail["events"], "report.run.end", target=f"run:{trail['run_id']}")
    assert (end["actor"], end["result"], end["partner"]) == ("scheduler", "success", ["region-exemple"])
    assert (end["detail"]["schedule"], end["detail"]["owner"], end["detail"]["status"]) == (
        SCHEDULE, "coordinateur", "succeeded")


def test_a_person_sees_who_opened_or_stopped_their_lab(trail):
    assert trail["statuses"]["visit"] == 200
    page = trail["pages"]["a1"]
    assert page.status_code == 200
    text = html.unescape(page.content.decode())  # JupyterHub's pages name no charset: UTF-8
    assert "Qui a accédé à mon lab" in text
    rows = re.findall(r'<tr data-action="([^"]+)" data-actor="([^"]+)">', text)
    assert rows[0] == ("server.start", "coordinateur")  # the newest first
    assert set(rows) == {("server.start", "coordinateur"), ("server.stop", "coordinateur"),
                         ("admin.server.stop", "coordinateur"), ("server.access", "analyste2")}
    assert "a arrêté le lab (administration)" in text and "a ouvert le lab" in text
    other = trail["pages"]["a2"]
    other_text = html.unescape(other.content.decode())
    assert other.status_code == 200 and "Personne d'autre n'a agi sur vos labs" in other_text
    assert "coordinateur" not in other_text.split('id="datalab-access"', 1)[1]


def test_every_process_chain_is_intact(trail):
    hub = trail["hub"]
    done = subprocess.run([sys.executable, "-m", "hub.cli", "--config", str(hub.config_path), "audit", "verify"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {line.split(":")[0] for line in done.stdout.splitlines()} == {
        "ok audit.jsonl", "ok audit-reports.jsonl", "ok audit-dashboards.jsonl"}
