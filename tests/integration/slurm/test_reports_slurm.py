"""Report runs on the real test Slurm cluster: a batch job under the owner's cluster login
and partner account produces the report; a failing job shows Slurm's state and reason."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import time

import pytest
import yaml

from hub.backends.slurm.report import job_name
from tests.clock import QUIET_CRON
from tests.conftest import REPO, RunningHub, open_workdir, served
from tests.polling import wait_for
from tests.services.reports_hub import SKIP_AFTER, ReportsClient, reports_library, restart_service, run_handle
from tests.services.slurm import slurm_hub_overrides

pytestmark = pytest.mark.integration

REPORT = "bibliotheque/03-rapport-departement.ipynb"
TESTS = "bibliotheque/tests-rapports"
CELL_TIMEOUT_HERE = 300


@pytest.fixture(scope="module")
def reports_slurm_hub(slurm_cluster, austral_logins):
    """A hub whose univ-alpha users may schedule reports on the ``austral`` profile. Their
    jobs get the entitlement's default walltime, one minute here; cells may run longer
    (:data:`CELL_TIMEOUT_HERE`), so that a hanging cell meets the walltime first."""
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    workdir = open_workdir("datalab-reports-slurm-")
    library = reports_library(workdir)
    overrides = {
        **slurm_hub_overrides(slurm_cluster, austral_logins),
        "storage": {"data_dir": str(workdir / "data"), "library_source": str(library)},
        "reports": {**example["reports"], "cell_timeout": CELL_TIMEOUT_HERE, "skip_after": SKIP_AFTER,
                    "schedules": []},
    }
    overrides["slurm"]["entitlements"][0]["default_walltime"] = "0:01"
    with served(RunningHub(workdir, overrides), "reports-slurm-hub.log") as running:
        try:
            yield running
        finally:
            slurm_cluster.cancel_all()


def job_of(cluster, owner: str, job: str | None = None) -> dict[str, str]:
    """The last job of ``owner``'s report runs (or the one numbered ``job``), as squeue
    lists it (ended jobs included)."""
    out = cluster.run("squeue", "-h", "-t", "all", "-n", job_name(owner), "-o", "%i|%a|%u|%P|%T").stdout
    rows = [dict(zip(("id", "account", "user", "partition", "state"), line.split("|")))
            for line in out.splitlines() if line.strip() and (job is None or line.split("|")[0] == job)]
    assert rows, f"no report job of {owner}" + (f" numbered {job}" if job else "")
    return max(rows, key=lambda r: int(r["id"]))


def script_of(log: str) -> str:
    """The batch script the run's log shows (from its ``#!`` line to the command; the log
    the audience reads shortens absolute paths, ``#!/bin/bash`` included)."""
    start = log.index("#!")
    return log[start:log.index("\n", log.index("hub.services.reports.execute", start))]


def test_slurm_run_produces_the_report_as_the_owner_login_and_account(reports_slurm_hub, slurm_cluster,
                                                                      austral_logins):
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="eure-austral", notebook=REPORT, cron=QUIET_CRON, profile="austral",
                         parameters={"department": "27", "report_date": "2020-03-27"})
    assert r.status_code == 201, r.text
    began = time.monotonic()
    run = analyste1.wait(analyste1.run_now("eure-austral")["id"], timeout=240)
    elapsed = time.monotonic() - began
    assert run["status"] == "succeeded", run["error"]
    html = analyste1.get(run["links"]["report.html"].removeprefix("/services/reports/")).text
    assert "Eure (27)" in html and "Personnes hospitalisées</strong> : 39" in html and "<img" in html
    job = job_of(slurm_cluster, "analyste1")
    assert job["user"] == austral_logins.login("ana1")
    assert (job["account"], job["partition"], job["state"]) == ("univ-alpha", "debug", "COMPLETED")
    log = analyste1.get(run["links"]["run.log"].removeprefix("/services/reports/")).text
    assert f"Slurm job {job['id']}: COMPLETED" in log and "Exécution réussie." in log
    script = script_of(log)
    assert "#SBATCH --account=univ-alpha" in script and "#SBATCH --partition=debug" in script
    assert "#SBATCH --time=0:01:00" in script
    assert "2020-03-27" not in script and "department" not in script
    print(f"Slurm run of the department report: {run['duration']:.1f} s in the archive, "
          f"{elapsed:.1f} s from run now (submit) to done")


def test_a_run_job_goes_on_and_the_restarted_service_follows_it(reports_slurm_hub, slurm_cluster):
    """The reports service killed while its job runs: the job goes on, the hub starts
    the service again, which follows the same job to its end (one run, succeeded)."""
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="suivi-austral", notebook=f"{TESTS}/bloque.ipynb", cron=QUIET_CRON,
                         profile="austral", parameters={"secondes": 15})
    assert r.status_code == 201, r.text
    run = analyste1.run_now("suivi-austral")
    handle = wait_for(lambda: run_handle(reports_slurm_hub, run["id"]), 120, "the run's job")
    wait_for(lambda: job_of(slurm_cluster, "analyste1", handle["job"])["state"] == "RUNNING", 120, "the job running")
    restart_service(reports_slurm_hub, analyste1, signal.SIGKILL)
    assert job_of(slurm_cluster, "analyste1")["id"] == handle["job"], "a second job was submitted"
    assert job_of(slurm_cluster, "analyste1", handle["job"])["state"] == "RUNNING", "the job ended with the service"
    ended = analyste1.wait(run["id"], timeout=180)
    assert ended["status"] == "succeeded", ended["error"]
    assert [(x["id"], x["trigger"]) for x in analyste1.runs("suivi-austral")] == [(run["id"], "manual")]
    assert job_of(slurm_cluster, "analyste1", handle["job"])["state"] == "COMPLETED"


def test_slurm_run_keeps_parameters_out_of_the_batch_script(reports_slurm_hub):
    """A parameter that would be a shell command in a script stays a string value in
    spec.json: the run prints it back and the script never contains it."""
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    hostile = '"; touch /tmp/datalab-pwned; echo "'
    r = analyste1.create(id="params-austral", notebook=f"{TESTS}/parametres.ipynb", cron=QUIET_CRON,
                         profile="austral", parameters={"code": "07", "libelle": hostile})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("params-austral")["id"], timeout=240)
    assert run["status"] == "succeeded", run["error"]
    notebook = analyste1.get(run["links"]["notebook.ipynb"].removeprefix("/services/reports/")).json()
    printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    assert f"valeurs str '07' {hostile!r} int" in printed
    assert "secrets []" in printed
    log = analyste1.get(run["links"]["run.log"].removeprefix("/services/reports/")).text
    assert "datalab-pwned" not in script_of(log)


def test_failing_slurm_job_shows_the_slurm_reason_and_keeps_the_partial_notebook(reports_slurm_hub):
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="erreur-austral", notebook=f"{TESTS}/erreur.ipynb", cron=QUIET_CRON,
                         profile="austral")
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("erreur-austral")["id"], timeout=240)
    assert run["status"] == "failed"
    assert "report.html" not in run["links"]
    assert run["error"].startswith("Le job Slurm "), run["error"]
    assert ("s'est terminé avec l'état FAILED (raison Slurm : NonZeroExitCode, code de sortie 1:0). "
            "La cellule 3 a échoué : RuntimeError: données incohérentes au-delà de 100") in run["error"]
    notebook = analyste1.get(run["links"]["notebook.ipynb"].removeprefix("/services/reports/")).json()
    printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    assert "avant l'erreur" in printed and "jamais exécutée" not in printed


def test_slurm_run_of_an_owner_without_cluster_login_fails_clearly(reports_slurm_hub):
    """sanscompte maps (by the pattern) to a login that does not exist on the cluster."""
    client = ReportsClient(reports_slurm_hub, "sanscompte")
    r = client.create(id="sans-compte", notebook=REPORT, cron=QUIET_CRON, profile="austral")
    assert r.status_code == 201, r.text
    run = client.wait(client.run_now("sans-compte")["id"], timeout=120)
    assert run["status"] == "failed"
    assert run["error"].startswith("Votre identifiant « ") and "n'existe pas sur Austral" in run["error"]


def test_missing_kernelspec_on_slurm_fails_clearly(reports_slurm_hub):
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="noyau-austral", notebook=f"{TESTS}/erreur.ipynb", cron=QUIET_CRON,
                         profile="austral", kernel="absent")
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("noyau-austral")["id"], timeout=240)
    assert run["status"] == "failed"
    assert "Noyau (kernelspec) « absent » introuvable. Noyaux disponibles : " in run["error"]
    assert "raison Slurm : NonZeroExitCode" in run["error"]


def test_a_notebook_of_the_cluster_login_home_runs_as_a_job(reports_slurm_hub, austral_logins):
    """``perso.ipynb`` in analyste1's cluster login home (their lab's home on Austral)."""
    home = austral_logins.home("ana1")
    target = home / "perso.ipynb"
    shutil.copy(REPO / "tests" / "integration" / "reports_notebooks" / "parametres.ipynb", target)
    entry = pwd.getpwnam(austral_logins.login("ana1"))
    os.chown(target, entry.pw_uid, entry.pw_gid)
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="perso-austral", notebook="perso.ipynb", cron=QUIET_CRON, profile="austral",
                         parameters={"libelle": "Région"})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("perso-austral")["id"], timeout=240)
    assert run["status"] == "succeeded", run["error"]
    notebook = analyste1.get(run["links"]["notebook.ipynb"].removeprefix("/services/reports/")).json()
    printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    assert "valeurs str '00' 'Région' int" in printed
    assert f"compte {entry.pw_name}" in printed


def test_a_job_past_its_walltime_fails_with_the_slurm_reason(reports_slurm_hub):
    """A hanging cell: Slurm ends the job at its walltime (one minute); the run shows
    TIMEOUT and the reason, and keeps the notebook up to the hanging cell."""
    analyste1 = ReportsClient(reports_slurm_hub, "analyste1")
    r = analyste1.create(id="bloque-austral", notebook=f"{TESTS}/bloque.ipynb", cron=QUIET_CRON,
                         profile="austral")
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("bloque-austral")["id"], timeout=240)
    assert run["status"] == "failed"
    assert "s'est terminé avec l'état TIMEOUT (raison Slurm : TimeLimit" in run["error"], run["error"]
    assert "report.html" not in run["links"] and "notebook.ipynb" in run["links"]
