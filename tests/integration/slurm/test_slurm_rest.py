"""Labs and report runs submitted through Slurm's REST API (``slurm.transport: rest``):
the hub signs a JWT per request with the cluster's key and talks to slurmrestd only."""

from __future__ import annotations

import pytest
import yaml

from hub.backends.slurm.transport import REST_VERSION
from tests.clock import QUIET_CRON
from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient
from tests.services.reports_hub import ReportsClient, reports_library
from tests.services.slurm import rest_overrides, slurm_hub_overrides

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:20"}
REPORT = "bibliotheque/03-rapport-departement.ipynb"
SUBMIT = f"POST /slurm/{REST_VERSION}/job/submit"


@pytest.fixture(scope="module")
def rest_hub(slurm_cluster, austral_logins, slurm_rest):
    """A hub on the test cluster through slurmrestd, with reports (schedules off)."""
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    workdir = open_workdir("datalab-slurm-rest-")
    overrides = {
        **rest_overrides(slurm_hub_overrides(slurm_cluster, austral_logins), slurm_cluster, slurm_rest),
        "storage": {"data_dir": str(workdir / "data"), "library_source": str(reports_library(workdir))},
        "reports": {**example["reports"], "schedules": []},
    }
    with served(RunningHub(workdir, overrides), "slurm-rest-hub.log") as running:
        try:
            yield running
        finally:
            slurm_cluster.cancel_all()


def test_a_lab_starts_and_stops_through_slurmrestd(rest_hub, slurm_cluster, slurm_rest, austral_logins):
    submitted = slurm_rest.requests(SUBMIT)
    client = HubClient(rest_hub.url, "analyste1", PASSWORD)
    r = client.start_server(AUSTRAL, timeout=90)
    assert r.status_code in (201, 202), r.text
    try:
        assert slurm_rest.requests(SUBMIT) == submitted + 1
        jobs = slurm_cluster.jobs(account="univ-alpha")
        assert [(j["name"], j["user"], j["state"]) for j in jobs] == [
            ("datalab-analyste1", austral_logins.login("ana1"), "RUNNING")
        ]
        client.open_lab()
        out = client.execute("import os\nprint(os.environ['SLURM_JOB_ID'], os.environ['USER'])")
        assert out.split() == [jobs[0]["id"], austral_logins.login("ana1")]
    finally:
        client.stop_server()
    assert slurm_cluster.job_state(jobs[0]["id"]) in {"CANCELLED", "COMPLETED", ""}
    assert slurm_rest.requests(f"DELETE /slurm/{REST_VERSION}/job/{jobs[0]['id']}") >= 1


def test_a_report_runs_through_slurmrestd(rest_hub, slurm_cluster, slurm_rest, austral_logins):
    submitted = slurm_rest.requests(SUBMIT)
    analyste1 = ReportsClient(rest_hub, "analyste1")
    r = analyste1.create(id="eure-rest", notebook=REPORT, cron=QUIET_CRON, profile="austral",
                         parameters={"department": "27", "report_date": "2020-03-27"})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("eure-rest")["id"], timeout=240)
    assert run["status"] == "succeeded", run["error"]
    assert slurm_rest.requests(SUBMIT) == submitted + 1
    log = analyste1.get(run["links"]["run.log"].removeprefix("/services/reports/")).text
    assert ": COMPLETED reason=" in log and "exit=0:0" in log
