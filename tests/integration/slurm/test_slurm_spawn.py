"""Labs on a real Slurm cluster through the hub API: start, squeue, kernels, stop."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:20"}


def test_lab_runs_as_a_job_under_the_partners_account(slurm_hub, slurm_cluster, austral_logins):
    client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
    r = client.start_server(AUSTRAL, timeout=60)
    assert r.status_code in (201, 202), r.text
    try:
        jobs = slurm_cluster.jobs(account="univ-alpha")
        assert [(j["name"], j["user"], j["state"]) for j in jobs] == [
            ("datalab-analyste1", austral_logins.login("ana1"), "RUNNING")
        ]
        client.open_lab()
        out = client.execute("import os, normandie\nprint(os.environ['SLURM_JOB_ID'], os.getcwd(), os.environ['USER'])")
        job_id, cwd, user = out.split()
        assert job_id == jobs[0]["id"]
        assert cwd == str(austral_logins.home("ana1"))
        assert user == austral_logins.login("ana1")
    finally:
        client.stop_server()
    assert slurm_cluster.job_state(jobs[0]["id"]) in {"CANCELLED", "COMPLETED", ""}
