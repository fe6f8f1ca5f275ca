"""Labs and report runs on the multi-host cluster (tests/services/austral.py), through
each transport: the hub runs on a host of its own outside the cluster's network, labs
land on both compute hosts, the hub reaches each lab at its node's address and the lab
reaches the hub's API back."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta

import pytest
import yaml

from hub.backends.slurm.report import job_name as report_job_name
from hub.backends.slurm.transport import REST_VERSION
from tests.clock import QUIET_CRON
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient
from tests.integration.slurm.conftest import progress_events, wait_gone
from tests.services.austral import NODES, hub_overrides, start_on_hub_host
from tests.services.reports_hub import ReportsClient, reports_library
from tests.services.slurm import rest_overrides, slurm_hub_overrides

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:20"}
REPORT = "bibliotheque/03-rapport-departement.ipynb"
SUBMIT = f"POST /slurm/{REST_VERSION}/job/submit"
WHERE_AM_I = """\
import json, os, urllib.request
request = urllib.request.Request(os.environ["JUPYTERHUB_API_URL"] + "/user",
                                 headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]})
print(os.environ["SLURMD_NODENAME"], json.load(urllib.request.urlopen(request, timeout=10))["name"],
      os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_SERVICE_URL"], os.environ["DATALAB_WALLTIME_END"])
"""


@pytest.fixture(scope="module", params=["cli", "rest"])
def hosts_hub(request, austral, austral_hosts_logins):
    """A hub on the ``hub`` host, submitting through the parameter's transport."""
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    workdir = open_workdir(f"datalab-austral-{request.param}-")
    overrides = hub_overrides(austral, slurm_hub_overrides(austral.cluster, austral_hosts_logins))
    if request.param == "rest":
        overrides = rest_overrides(overrides, austral.cluster, austral.rest)
    overrides.update({
        "storage": {"data_dir": str(workdir / "data"), "library_source": str(reports_library(workdir))},
        "reports": {**example["reports"], "schedules": []},
    })
    running = start_on_hub_host(austral, RunningHub(workdir, overrides))
    with served(running, f"austral-{request.param}-hub.log"):
        try:
            yield request.param, running
        finally:
            austral.cluster.cancel_all()


def lab_job(austral, name: str) -> dict:
    jobs = [j for j in austral.cluster.jobs() if j["name"] == name and j["state"] == "RUNNING"]
    assert len(jobs) == 1, austral.cluster.jobs()
    return jobs[0]


def report_node(austral, owner: str) -> str:
    out = austral.cluster.run("squeue", "-h", "-t", "all", "-n", report_job_name(owner), "-o", "%i|%N").stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return max(rows, key=lambda row: int(row[0]))[1]


def run_report(client: ReportsClient, schedule: str) -> dict:
    r = client.create(id=schedule, notebook=REPORT, cron=QUIET_CRON, profile="austral",
                      parameters={"department": "27", "report_date": "2020-03-27"})
    assert r.status_code == 201, r.text
    return client.wait(client.run_now(schedule)["id"], timeout=240)


def test_labs_and_reports_land_on_both_hosts(hosts_hub, austral, austral_hosts_logins):
    transport, hub = hosts_hub
    submitted = austral.rest.requests(SUBMIT)
    clients = {user: HubClient(hub.url, user, PASSWORD) for user in ("analyste1", "cartographe")}
    nodes, running = {}, set()
    try:
        for user, client in clients.items():
            r = client.start_server(AUSTRAL, timeout=90)
            assert r.status_code in (201, 202), r.text
            running.add(user)
            nodes[user] = austral.node_of(lab_job(austral, f"datalab-{user}")["id"])
        assert sorted(nodes.values()) == sorted(NODES), nodes
        for user, client in clients.items():
            client.open_lab()
            node, name, api_url, service_url, walltime_end = client.execute(WHERE_AM_I).split()
            left = datetime.fromisoformat(walltime_end) - datetime.now()
            assert timedelta(minutes=18) <= left <= timedelta(minutes=20), walltime_end
            assert (node, name) == (nodes[user], user)
            assert api_url.startswith(f"http://{austral.hub_address}:")
            assert service_url.startswith(f"http://{NODES[node]}:")

        clients["cartographe"].stop_server()
        running.discard("cartographe")
        reports = ReportsClient(hub, "analyste1")
        run = run_report(reports, f"eure-{transport}-1")
        assert run["status"] == "succeeded", run["error"]
        first = report_node(austral, "analyste1")
        assert first != nodes["analyste1"]
    finally:
        for user in running:
            clients[user].stop_server()

    login = austral_hosts_logins.login("bloc")
    blocker = austral.cluster.run(
        "sbatch", "--parsable", "--account=autre", f"--nodelist={first}", "--cpus-per-task=1", "--mem=256M",
        "--time=0:10:00", "--output=/dev/null", "--wrap", "sleep 600", user=login).stdout.strip()
    try:
        austral.cluster.wait_state(blocker, {"RUNNING"})
        run = run_report(reports, f"eure-{transport}-2")
        assert run["status"] == "succeeded", run["error"]
        assert {first, report_node(austral, "analyste1")} == set(NODES)
    finally:
        austral.cluster.run("scancel", blocker, check=False)
    expected = 4 if transport == "rest" else 0
    assert austral.rest.requests(SUBMIT) == submitted + expected


def test_a_pending_lab_shows_reason_position_and_expected_start(hosts_hub, austral, austral_hosts_logins):
    """Both compute hosts full with 10-minute jobs: the lab waits, and its progress
    gives Slurm's reason, its position in the partition's queue and the start Slurm
    expects (when the blockers end), through either transport."""
    _, hub = hosts_hub
    login = austral_hosts_logins.login("bloc")
    blockers = [austral.cluster.run(
        "sbatch", "--parsable", "--account=autre", f"--nodelist={node}", "--cpus-per-task=1", "--mem=256M",
        "--time=0:10:00", "--output=/dev/null", "--wrap", "sleep 600", user=login).stdout.strip() for node in NODES]
    client = HubClient(hub.url, "analyste1", PASSWORD)
    try:
        for job in blockers:
            austral.cluster.wait_state(job, {"RUNNING"})
        filled = datetime.now()
        r = client.api("POST", "/users/analyste1/server", json=AUSTRAL)
        assert r.status_code == 202, r.text
        events = progress_events(client, until=lambda e: "Début prévu" in e.get("message", "")
                                 and "Raison Slurm : Resources" in e["message"], timeout=60)
        message = events[-1]["message"]
        assert "Raison Slurm : Resources (les ressources demandées ne sont pas libres)." in message, message
        assert "Position dans la file de la partition debug : 1 sur 1." in message, message
        expected = datetime.fromisoformat(re.search(r"Début prévu : ([0-9-]+ [0-9:]+)\.", message).group(1))
        assert timedelta(minutes=9) <= expected - filled <= timedelta(minutes=11), message
        [lab] = [j for j in austral.cluster.jobs() if j["name"] == "datalab-analyste1" and j["state"] == "PENDING"]
        austral.cluster.run("scancel", lab["id"])
        assert progress_events(client, until=lambda e: e.get("failed"), timeout=30)[-1].get("failed")
        wait_gone(client)
    finally:
        austral.cluster.run("scancel", *blockers, check=False)


PROBE_PAGES = """\
import sys, urllib.error, urllib.request
for path in ("/hub/api/", "/hub/login", "/hub/admin", "/hub/token", "/hub/api/../login", "/hub/"):
    request = urllib.request.Request(sys.argv[1] + path, headers={"X-Forwarded-For": "127.0.0.1"})
    try:
        r = urllib.request.urlopen(request, timeout=10); body = r.read().decode(); code = r.status
    except urllib.error.HTTPError as e:
        body = e.read().decode(); code = e.code
    print(code, "password" in body.lower() or "mot de passe" in body.lower())
"""


def test_a_compute_node_gets_the_hubs_api_and_none_of_its_pages(hosts_hub, austral):
    """Attack from compute node n1 (where labs run) at the address where labs reach the
    hub's API: its login form, admin and token pages, a path climbing out of the API, a
    forged client address; only the API answers."""
    _, hub = hosts_hub
    api = f"http://{austral.hub_address}:{hub.port + 1}"
    done = subprocess.run([*austral.network.exec("n1"), "python3", "-c", PROBE_PAGES, api],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answers = [line.split() for line in done.stdout.strip().splitlines()]
    assert answers[0] == ["200", "False"]
    assert len(answers) == 6 and all(code == "404" and page == "False" for code, page in answers[1:]), answers
