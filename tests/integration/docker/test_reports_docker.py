"""Report runs on the docker backend: a fresh container of the lab image per run, with
the owner's identity and data, the profile's limits and no network; failures (a raising
cell, a kernel killed for memory, a missing kernelspec) keep the partial notebook."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path

import docker
import pytest
import yaml

from hub.backends.docker.policy import names
from tests.clock import QUIET_CRON
from tests.conftest import REPO, RunningHub, open_workdir, served
from tests.services.dockerd import docker_hub_overrides, remove_docker_objects, run_prefix
from tests.polling import wait_for
from tests.services.reports_hub import (
    CELL_TIMEOUT, SKIP_AFTER, ReportsClient, reports_library, restart_service, run_handle,
)

pytestmark = pytest.mark.integration

REPORT = "bibliotheque/03-rapport-departement.ipynb"
TESTS = "bibliotheque/tests-rapports"


@pytest.fixture(scope="module")
def reports_docker_hub(lab_image):
    """A docker-backend hub with the reports service and the report test notebooks."""
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    workdir = open_workdir("datalab-reports-docker-")
    library = reports_library(workdir)
    prefix = run_prefix("r")
    overrides = {
        **docker_hub_overrides(prefix, lab_image),
        "storage": {"data_dir": str(workdir / "data"), "library_source": str(library)},
        "reports": {**example["reports"], "cell_timeout": CELL_TIMEOUT, "skip_after": SKIP_AFTER},
    }
    running = RunningHub(workdir, overrides)
    running.name_prefix = prefix
    try:
        with served(running, "reports-docker-hub.log"):
            yield running
    finally:
        remove_docker_objects(prefix)


@pytest.fixture(scope="module")
def engine(dockerd):
    return docker.from_env()


def html_of(client: ReportsClient, run: dict) -> str:
    r = client.get(run["links"]["report.html"].removeprefix("/services/reports/"))
    assert r.status_code == 200, r.text
    return r.text


def outputs_text(client: ReportsClient, run: dict) -> str:
    r = client.get(run["links"]["notebook.ipynb"].removeprefix("/services/reports/"))
    assert r.status_code == 200
    out = []
    for cell in r.json()["cells"]:
        for o in cell.get("outputs", []):
            out.append("".join(o.get("text", "")))
            out.append(o.get("evalue", ""))
    return "\n".join(out)


def report_containers(engine, hub) -> list:
    return engine.containers.list(all=True, filters={"label": [f"org.datalab.prefix={hub.name_prefix}",
                                                                "org.datalab.report-run"]})


def run_failing(client: ReportsClient, schedule_id: str, notebook: str, **spec) -> dict:
    r = client.create(id=schedule_id, notebook=f"{TESTS}/{notebook}", cron=QUIET_CRON, **spec)
    assert r.status_code == 201, r.text
    run = client.wait(client.run_now(schedule_id)["id"], timeout=240)
    assert run["status"] == "failed"
    assert "report.html" not in run["links"]
    return run


def test_docker_run_of_the_department_report_has_real_figures(reports_docker_hub, engine):
    coordinateur = ReportsClient(reports_docker_hub, "coordinateur")
    began = time.monotonic()
    run = coordinateur.wait(coordinateur.run_now("rapport-76")["id"], timeout=240)
    elapsed = time.monotonic() - began
    assert run["status"] == "succeeded", run["error"]
    html = html_of(coordinateur, run)
    assert "Seine-Maritime (76)" in html
    assert "Personnes hospitalisées</strong> : 170" in html
    assert "<img" in html
    log = coordinateur.get(run["links"]["run.log"].removeprefix("/services/reports/"))
    assert log.status_code == 200 and "Exécution réussie." in log.text
    assert report_containers(engine, reports_docker_hub) == []
    print(f"docker run of the department report: {run['duration']:.1f} s in the archive, "
          f"{elapsed:.1f} s from run now to done")


def test_a_run_container_goes_on_and_the_restarted_service_follows_it(reports_docker_hub, engine):
    """The reports service killed during a run: the run's container goes on, the hub
    starts the service again, which follows that container to its end (one run,
    succeeded) and then removes it."""
    analyste1 = ReportsClient(reports_docker_hub, "analyste1")
    r = analyste1.create(id="suivi-docker", notebook=f"{TESTS}/bloque.ipynb", cron=QUIET_CRON,
                         parameters={"secondes": 12})
    assert r.status_code == 201, r.text
    run = analyste1.run_now("suivi-docker")
    handle = wait_for(lambda: run_handle(reports_docker_hub, run["id"]), 120, "the run's container")
    container = engine.containers.get(handle["container"])
    restart_service(reports_docker_hub, analyste1, signal.SIGKILL)
    container.reload()
    assert container.status == "running", "the run's container ended with the service"
    ended = analyste1.wait(run["id"], timeout=180)
    assert ended["status"] == "succeeded", ended["error"]
    assert [(x["id"], x["trigger"]) for x in analyste1.runs("suivi-docker")] == [(run["id"], "manual")]
    assert report_containers(engine, reports_docker_hub) == []


def test_docker_run_has_the_owner_identity_and_data_and_no_network(reports_docker_hub, engine):
    """analyste1 (univ-alpha): the lab user in its own working directory, its partner
    space only, the library read-only, no network interface but loopback, and what the
    run writes lands in analyste1's home volume."""
    analyste1 = ReportsClient(reports_docker_hub, "analyste1")
    r = analyste1.create(id="identite", notebook=f"{TESTS}/identite.ipynb", cron=QUIET_CRON,
                         parameters={"trace": "rapport de l'Orne"})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("identite")["id"], timeout=240)
    assert run["status"] == "succeeded", run["error"]
    out = outputs_text(analyste1, run)
    assert "compte jovyan" in out
    assert "dossier /srv/rapport/work" in out
    assert "partenaires ['partenaire-univ-alpha']" in out
    assert "bibliotheque False True" in out
    assert "reseau ['lo']" in out
    volume = engine.volumes.get(names(reports_docker_hub.name_prefix, "analyste1")["volume"])
    trace = Path(volume.attrs["Mountpoint"]) / "trace-rapport.txt"
    assert trace.read_text(encoding="utf-8") == "rapport de l'Orne"


def test_raising_notebook_on_docker_fails_and_keeps_the_partial_notebook(reports_docker_hub, engine):
    analyste1 = ReportsClient(reports_docker_hub, "analyste1")
    run = run_failing(analyste1, "erreur", "erreur.ipynb")
    assert run["error"] == "La cellule 3 a échoué : RuntimeError: données incohérentes au-delà de 100"
    out = outputs_text(analyste1, run)
    assert "avant l'erreur" in out and "données incohérentes" in out and "jamais exécutée" not in out
    assert report_containers(engine, reports_docker_hub) == []


def test_kernel_killed_for_memory_on_docker_fails_with_an_oom_message(reports_docker_hub):
    """analyste3's profile ``petit`` has 512M: a cell filling 1 GiB gets the kernel
    killed by the container's OOM killer; the run says so and keeps the partial notebook."""
    analyste3 = ReportsClient(reports_docker_hub, "analyste3")
    run = run_failing(analyste3, "memoire", "memoire.ipynb", profile="petit", parameters={"gibioctets": 1})
    assert run["error"].startswith(
        "Mémoire dépassée : le conteneur a atteint la limite de son profil (512M) et le noyau a été tué."
    ), run["error"]
    assert "le noyau s'est arrêté brutalement" in run["error"]
    out = outputs_text(analyste3, run)
    assert "le noyau s'est arrêté" in out


def test_missing_kernelspec_on_docker_fails_clearly(reports_docker_hub):
    """The kernelspec is the image's business: the schedule is accepted, and the run in
    the container fails naming the missing kernel and the image's kernels."""
    analyste1 = ReportsClient(reports_docker_hub, "analyste1")
    run = run_failing(analyste1, "sans-noyau", "erreur.ipynb", kernel="absent")
    assert run["error"] == "Noyau (kernelspec) « absent » introuvable. Noyaux disponibles : python3."


def test_a_notebook_of_the_owner_home_volume_runs_in_a_container(reports_docker_hub, engine):
    """``mes-rapports/perso.ipynb`` is in analyste2's home volume (as in their lab): the
    schedule is accepted and the run reads it there."""
    volume_name = names(reports_docker_hub.name_prefix, "analyste2")["volume"]
    volume = engine.volumes.create(volume_name, labels={"org.datalab.prefix": reports_docker_hub.name_prefix})
    folder = Path(volume.attrs["Mountpoint"]) / "mes-rapports"
    folder.mkdir(exist_ok=True)
    shutil.copy(REPO / "tests" / "integration" / "reports_notebooks" / "parametres.ipynb", folder / "perso.ipynb")
    for path in (folder, folder / "perso.ipynb"):
        os.chown(path, 1000, 100)
    analyste2 = ReportsClient(reports_docker_hub, "analyste2")
    r = analyste2.create(id="perso", notebook="mes-rapports/perso.ipynb", cron=QUIET_CRON,
                         parameters={"code": "14"})
    assert r.status_code == 201, r.text
    run = analyste2.wait(analyste2.run_now("perso")["id"], timeout=240)
    assert run["status"] == "succeeded", run["error"]
    assert "valeurs str '14' 'Normandie' int" in outputs_text(analyste2, run)


def test_a_run_past_its_timeout_is_killed_and_its_container_removed(lab_image, engine, tmp_path):
    """The docker runner on its own: a run longer than ``run_timeout`` fails as such and
    leaves no container."""
    from hub.backends.docker.report import DockerRunner
    from hub.services.reports.runners import RunRequest
    from hub.settings import parse
    from hub.storage import Layout

    workdir = open_workdir("datalab-reports-timeout-")
    prefix = run_prefix("o")
    config = {**yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8")),
              **docker_hub_overrides(prefix, lab_image),
              "storage": {"data_dir": str(workdir / "data"), "library_source": str(REPO / "shared_notebooks")}}
    settings = parse(config, REPO)
    Layout(settings.data_dir).create()
    (workdir / "data" / "work" / "1").mkdir(parents=True)
    request = RunRequest(
        run_id=1, owner="analyste1", partner_ids={"univ-alpha"},
        notebook=REPO / "tests" / "integration" / "reports_notebooks" / "bloque.ipynb", parameters={},
        kernel="python3", profile=settings.profiles[0], work_area=workdir / "data" / "work" / "1",
        log_path=workdir / "run.log", cell_timeout=600, run_timeout=8,
    )
    try:
        began = time.monotonic()
        outcome = asyncio.run(DockerRunner(settings).run(request))
        assert outcome.status == "failed"
        assert outcome.error == "L'exécution a dépassé le délai total de 8 s et a été arrêtée."
        assert time.monotonic() - began < 60
        assert engine.containers.list(all=True, filters={"label": f"org.datalab.prefix={prefix}"}) == []
    finally:
        remove_docker_objects(prefix)
        shutil.rmtree(workdir, ignore_errors=True)
