"""Issue 18, item 1: the fault suite on the Slurm backend. One hub with two labs running as
Slurm jobs on the test cluster (each kernel holding a variable), a dashboard open in a
viewer's browser and a report run in progress as a Slurm job during each fault; one at a
time: SIGTERM then SIGKILL of the hub (the test starts it again), SIGKILL of the reports
service (the hub starts it again), a restart of slurmctld. After each: every lab answers
through the proxy with its kernel's variable, the hub lists it ready, its job is the
same one (never cancelled nor submitted again); the report run ends succeeded or is run
again once; the viewer's page reconnects to its kernel or, when it is gone, a reload
shows the dashboard. The rows go into tests/artifacts/faults.md next to the docker ones."""

from __future__ import annotations

import os
import signal

import pytest

from tests.clock import QUIET_CRON
from tests.conftest import RunningHub, open_workdir, served
from tests.services.faults import (  # noqa: F401 (fixture dashboard)
    Fault, ReportInProgress, dashboard, labs_holding_a_variable, write_rows,
)
from tests.services.reports_hub import ReportsClient, restart_service
from tests.services.slurm import slurm_hub_overrides

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:30"}
USERS = {"analyste1": AUSTRAL, "cartographe": AUSTRAL}
RUNNING = "2 Slurm labs (a variable in a kernel of each), a dashboard viewed, a Slurm report run"
REPORT = ("analyste1", "seine-maritime-austral")
ROWS: list[tuple[str, str, str, float, str]] = []


@pytest.fixture(scope="module")
def hub(slurm_cluster, austral_logins):
    """The Slurm hub of the faults. Its local accounts (the dashboard runs as its author's)
    have a prefix of their own: the other Slurm test hubs keep the example's, and an
    account busy with another hub's process cannot be prepared."""
    overrides = slurm_hub_overrides(slurm_cluster, austral_logins)
    overrides["spawner"] = {**overrides["spawner"], "account_prefix": f"f{os.getpid() % 100000}-"}
    with served(RunningHub(open_workdir("datalab-faults-slurm-"), overrides), "hub-faults-slurm.log") as running:
        try:
            owner, schedule_id = REPORT
            r = ReportsClient(running, owner).create(
                id=schedule_id, notebook="bibliotheque/03-rapport-departement.ipynb", cron=QUIET_CRON,
                profile="austral", parameters={"department": "76", "report_date": "2020-03-27"})
            assert r.status_code == 201, r.text
            yield running
        finally:
            slurm_cluster.cancel_all()
    if ROWS:
        write_rows("slurm", ROWS)


def lab_jobs(cluster) -> dict[str, str]:
    """Job id -> state of the labs' jobs."""
    return {j["id"]: j["state"] for j in cluster.jobs() if j["name"].startswith("datalab-")
            and not j["name"].startswith("datalab-rapport-")}


@pytest.fixture(scope="module")
def labs(hub, slurm_cluster):
    with labs_holding_a_variable(hub, USERS, lambda: lab_jobs(slurm_cluster), "RUNNING") as started:
        yield started


def fault_of(hub, cluster, labs, dashboard) -> Fault:
    return Fault(labs, dashboard, ReportInProgress(hub, REPORT), lambda: lab_jobs(cluster), ROWS, RUNNING)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_the_hub_killed_and_started_again(hub, slurm_cluster, labs, dashboard, sig):
    fault = fault_of(hub, slurm_cluster, labs, dashboard)
    if sig == signal.SIGKILL:
        hub.kill()
    else:
        hub.process.send_signal(sig)
        hub.process.wait(timeout=60)
    assert lab_jobs(slurm_cluster) == hub.lab_units, "the labs' jobs while the hub is down"
    hub.start()
    fault.done(f"hub {sig.name}, started again", "no scancel at the hub's stop; the new hub reattaches the jobs")


def test_the_reports_service_killed(hub, slurm_cluster, labs, dashboard):
    fault = fault_of(hub, slurm_cluster, labs, dashboard)
    away = restart_service(hub, fault.report.client, signal.SIGKILL)
    fault.done("reports service SIGKILL", f"service back {away:.1f} s after the signal")


def test_slurmctld_restarted(hub, slurm_cluster, labs, dashboard):
    fault = fault_of(hub, slurm_cluster, labs, dashboard)
    away = slurm_cluster.restart_controller()
    fault.done("slurmctld restarted", f"controller answering again {away:.1f} s after its stop; "
               "queries that failed meanwhile dropped no job")
