"""Scheduled reports on a real hub and its real reports service (local runner): the
demo schedules, run now, a cron firing, parameters, failures, 21 parallel runs, the
audience of outputs, retention, and a hub restart across a fire time."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psutil
import pytest
import requests
import yaml

from hub.backends.local.processes import kill_family
from hub.names import system_account
from tests.clock import QUIET_CRON
from tests.conftest import ARTIFACTS, REPO
from tests.polling import wait_for
from tests.services.reports_hub import CELL_TIMEOUT, SKIP_AFTER, ReportsClient, restart_service, run_handle

pytestmark = pytest.mark.integration

PARIS = ZoneInfo("Europe/Paris")
REPORT = "bibliotheque/03-rapport-departement.ipynb"
TESTS = "bibliotheque/tests-rapports"
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def coordinateur(reports_hub):
    return ReportsClient(reports_hub, "coordinateur")


@pytest.fixture(scope="module")
def analyste1(reports_hub):
    return ReportsClient(reports_hub, "analyste1")


def html_of(client: ReportsClient, run: dict) -> str:
    r = client.get(run["links"]["report.html"].removeprefix("/services/reports/"))
    assert r.status_code == 200, r.text
    return r.text


def outputs_text(client: ReportsClient, run: dict) -> str:
    """Every text output of the run's archived notebook, joined."""
    r = client.get(run["links"]["notebook.ipynb"].removeprefix("/services/reports/"))
    assert r.status_code == 200
    out = []
    for cell in r.json()["cells"]:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"]))
            out.append(json.dumps(o.get("data", {}), ensure_ascii=False))
            out.append(o.get("evalue", ""))
    return "\n".join(out)


def next_minute(margin: float = 20) -> datetime:
    """The next whole minute in Paris at least ``margin`` seconds away."""
    now = datetime.now(PARIS)
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (target - now).total_seconds() < margin:
        target += timedelta(minutes=1)
    return target


def cron_at(moment: datetime) -> str:
    return f"{moment.minute} {moment.hour} * * *"


# -- out of the box ---------------------------------------------------------------------
def test_demo_deployment_schedules_the_five_department_reports(coordinateur):
    schedules = {s["id"]: s for s in coordinateur.get("api/schedules").json()}
    demo = {s["id"]: s for s in schedules.values() if s["origin"] == "deployment"}
    assert sorted(s["parameters"]["department"] for s in demo.values()) == ["14", "27", "50", "61", "76"]
    for s in demo.values():
        assert s["owner"] == "coordinateur"
        assert s["notebook"] == REPORT
        assert s["time_zone"] == "Europe/Paris"
        assert s["kernel"] == "python3"
        assert s["next_run"] is not None


def test_run_now_produces_the_report_with_real_figures(coordinateur):
    run = coordinateur.wait(coordinateur.run_now("rapport-76")["id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["trigger"] == "manual"
    assert run["parameters"] == {"department": "76", "report_date": "2020-03-27"}
    assert run["duration"] > 0 and run["started"] <= run["ended"]
    html = html_of(coordinateur, run)
    assert "Seine-Maritime (76)" in html
    assert "Personnes hospitalisées</strong> : 170" in html
    assert "<img" in html  # the chart, embedded
    log = coordinateur.get(run["links"]["run.log"].removeprefix("/services/reports/"))
    assert log.status_code == 200 and "Exécution réussie." in log.text


def test_run_now_refuses_a_second_run_while_one_is_active(coordinateur):
    first = coordinateur.run_now("rapport-61")
    second = coordinateur.request("POST", "api/schedules/rapport-61/runs")
    assert second.status_code == 409
    assert "déjà en attente ou en cours" in second.json()["message"]
    assert coordinateur.wait(first["id"])["status"] == "succeeded"


def test_the_coordinator_schedules_from_the_cli_and_it_fires_on_time(reports_hub, coordinateur):
    """The CLI creates a schedule one minute ahead; the service fires it near that
    minute and the report holds the Calvados figures of 2020-03-27."""
    import subprocess

    fire_at = next_minute()
    env = {**os.environ, "DATALAB_CONFIG": str(reports_hub.config_path), "DATALAB_PORT": str(reports_hub.port),
           "JUPYTERHUB_API_TOKEN": coordinateur.token}
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "datalab"), "reports", "create", "calvados-cron",
         "--notebook", REPORT, "-p", "department", "14", "-p", "report_date", "2020-03-27",
         "--cron", cron_at(fire_at), "--audience-all", "--title", "Calvados (planifié)"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + (fire_at - datetime.now(PARIS)).total_seconds() + 90
    runs = []
    while time.monotonic() < deadline:
        runs = coordinateur.runs("calvados-cron")
        if runs and runs[0]["status"] in ("succeeded", "failed"):
            break
        time.sleep(1)
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["trigger"] == "cron"
    assert run["status"] == "succeeded", run["error"]
    started = datetime.fromisoformat(run["started"])
    assert timedelta(0) <= started - fire_at < timedelta(seconds=15)
    html = html_of(coordinateur, run)
    assert "Calvados (14)" in html and "Personnes hospitalisées</strong> : 65" in html
    listed = subprocess.run([str(REPO / ".venv" / "bin" / "datalab"), "reports", "runs", "calvados-cron"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert "succeeded" in listed.stdout and "report.html" in listed.stdout


# -- parameters -------------------------------------------------------------------------
def test_a_decision_makers_schedules_page_does_not_offer_scheduling(reports_hub, analyste1):
    decideur = ReportsClient(reports_hub, "decideur1")
    page = decideur.get("")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="no-scheduling"' in text
    assert "Votre rôle ne comprend pas la planification de rapports" in text
    assert "datalab reports create" not in text
    assert 'id="no-scheduling"' not in analyste1.get("").content.decode()


def test_notebook_without_a_tagged_parameters_cell_is_refused_with_parameters(analyste1):
    r = analyste1.create(id="sans-tag", notebook=f"{TESTS}/sans-tag.ipynb", cron=QUIET_CRON,
                         parameters={"department": "14"})
    assert r.status_code == 400
    assert "n'a pas de cellule marquée « parameters »" in r.json()["message"]
    assert f"« {TESTS}/sans-tag.ipynb »" in r.json()["message"]  # the path as the person gave it


def test_notebook_without_a_tagged_parameters_cell_is_scheduled_and_runs_without_parameters(analyste1):
    r = analyste1.create(id="sans-tag-ok", notebook=f"{TESTS}/sans-tag.ipynb", cron=QUIET_CRON)
    assert r.status_code == 201, r.text
    assert r.json()["parameters"] == {}
    run = analyste1.wait(analyste1.run_now("sans-tag-ok")["id"])
    assert run["status"] == "succeeded", run["error"]
    assert "76" in outputs_text(analyste1, run)


def test_a_run_log_shows_no_server_path(reports_hub, analyste1):
    r = analyste1.create(id="journal", notebook=f"{TESTS}/sans-tag.ipynb", cron=QUIET_CRON,
                         audience={"partners": ["univ-alpha"]})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("journal")["id"])
    assert run["status"] == "succeeded", run["error"]
    log = analyste1.get(run["links"]["run.log"].removeprefix("/services/reports/"))
    assert log.status_code == 200
    assert "Notebook d'entrée : …/" in log.text  # papermill names its files
    for server_path in (str(reports_hub.data_dir), str(REPO), "/tmp/", "/work/", "/srv/", "/var/"):
        assert server_path not in log.text, server_path


def test_unknown_parameter_is_refused_naming_the_declared_ones(analyste1):
    r = analyste1.create(id="inconnu", notebook=REPORT, cron=QUIET_CRON, parameters={"departement": "76"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "Paramètre « departement » inconnu du notebook. Paramètres déclarés : department, report_date."
    )


def test_value_of_the_wrong_type_is_refused(analyste1):
    r = analyste1.create(id="mauvais-type", notebook=f"{TESTS}/parametres.ipynb", cron=QUIET_CRON,
                         parameters={"code": 7})
    assert r.status_code == 400
    assert "« code » attend une valeur str, pas 7" in r.json()["message"]


def test_missing_kernelspec_is_refused_at_creation(analyste1):
    r = analyste1.create(id="noyau-absent", notebook=REPORT, cron=QUIET_CRON, kernel="julia-9")
    assert r.status_code == 400
    assert "Noyau (kernelspec) « julia-9 » introuvable" in r.json()["message"]


def test_path_outside_the_owner_spaces_is_refused(analyste1):
    for path in ("../../hub/jupyterhub.sqlite", "/etc/passwd", "partenaire-chu-exemple-nord/x.ipynb"):
        r = analyste1.create(id="evasion", notebook=path, cron=QUIET_CRON)
        assert r.status_code == 400, path


def test_values_keep_their_types_and_accents_and_run_as_the_owner(reports_hub, analyste1):
    r = analyste1.create(id="parametres", notebook=f"{TESTS}/parametres.ipynb", cron=QUIET_CRON,
                         parameters={"code": "07", "libelle": "Région", "seuil": 2})
    assert r.status_code == 201, r.text
    assert r.json()["parameters"] == {"code": "07", "libelle": "Région", "seuil": 2}
    run = analyste1.wait(analyste1.run_now("parametres")["id"])
    assert run["status"] == "succeeded", run["error"]
    out = outputs_text(analyste1, run)
    assert "valeurs str '07' 'Région' int" in out
    if os.geteuid() == 0:
        account = pwd.getpwnam(f"{reports_hub.account_prefix}analyste1").pw_name
        assert f"compte {account}" in out
    assert f"dossier {reports_hub.layout.root / 'reports' / 'work' / str(run['id']) / 'work'}" in out
    assert "secrets []" in out


def assert_no_piece_of(secret: str, message: str) -> None:
    """No run of 6 characters of ``secret`` appears in ``message``."""
    assert not [secret[i:i + 6] for i in range(len(secret) - 5) if secret[i:i + 6] in message], message


def test_a_link_to_the_proxy_token_given_as_the_notebook_is_refused_without_its_content(reports_hub, analyste1):
    """The hub's proxy token (root-only, 0600) behind a link in the owner's home: the
    service refuses the path and its message carries no piece of the token."""
    token_file = reports_hub.layout.hub / "proxy_token"
    token = token_file.read_text(encoding="ascii").strip()
    assert len(token) >= 32 and token_file.stat().st_mode & 0o077 == 0
    home = reports_hub.layout.home(system_account("analyste1", reports_hub.account_prefix))
    home.mkdir(parents=True, exist_ok=True)
    (home / "jeton.ipynb").symlink_to(token_file)
    try:
        r = analyste1.create(id="fuite", notebook="jeton.ipynb", cron=QUIET_CRON)
        assert r.status_code == 400, r.text
        assert "« jeton.ipynb »" in r.json()["message"]
        assert_no_piece_of(token, r.text)
    finally:
        (home / "jeton.ipynb").unlink()


def test_a_file_that_is_not_a_notebook_is_refused_without_quoting_it(reports_hub, analyste1):
    """The old message quoted the start of an unreadable notebook (nbformat's error)."""
    secret = "SECRET-" + secrets.token_hex(24)
    home = reports_hub.layout.home(system_account("analyste1", reports_hub.account_prefix))
    home.mkdir(parents=True, exist_ok=True)
    (home / "casse.ipynb").write_text(secret + "\n", encoding="ascii")
    try:
        r = analyste1.create(id="casse", notebook="casse.ipynb", cron=QUIET_CRON)
        assert r.status_code == 400, r.text
        assert "Notebook illisible : « casse.ipynb »" in r.json()["message"]
        assert_no_piece_of(secret, r.text)
    finally:
        (home / "casse.ipynb").unlink()


# -- failures ---------------------------------------------------------------------------
def run_failing(client: ReportsClient, schedule_id: str, notebook: str) -> dict:
    r = client.create(id=schedule_id, notebook=f"{TESTS}/{notebook}", cron=QUIET_CRON)
    assert r.status_code == 201, r.text
    run = client.wait(client.run_now(schedule_id)["id"])
    assert run["status"] == "failed"
    assert "report.html" not in run["links"]
    assert client.get(f"runs/{run['id']}/report.html").status_code == 404
    return run


def test_raising_notebook_fails_and_keeps_the_partial_notebook(analyste1):
    run = run_failing(analyste1, "erreur", "erreur.ipynb")
    assert run["error"] == "La cellule 3 a échoué : RuntimeError: données incohérentes au-delà de 100"
    out = outputs_text(analyste1, run)
    assert "avant l'erreur" in out and "données incohérentes" in out and "jamais exécutée" not in out


def test_memory_beyond_the_profile_limit_fails_the_run(analyste1):
    """The run's address space is limited to its profile's memory (standard: 2G);
    a cell allocating 3 GiB fails with MemoryError."""
    run = run_failing(analyste1, "memoire", "memoire.ipynb")
    assert "MemoryError" in run["error"]


def test_killed_kernel_fails_the_run_and_keeps_the_partial_notebook(analyste1):
    """The kernel gets SIGKILL, as from the kernel's OOM killer: the run fails as
    such, the notebook keeps what ran and the error on the cell that was running."""
    run = run_failing(analyste1, "noyau-tue", "noyau-tue.ipynb")
    assert run["error"].startswith("La cellule 3 a échoué : le noyau s'est arrêté brutalement")
    out = outputs_text(analyste1, run)
    assert "avant l'arrêt du noyau" in out and "le noyau s'est arrêté" in out


def test_hanging_cell_is_bounded_by_the_cell_timeout(analyste1):
    started = time.monotonic()
    run = run_failing(analyste1, "bloque", "bloque.ipynb")
    assert f"la cellule a dépassé le délai de {CELL_TIMEOUT} s" in run["error"]
    assert time.monotonic() - started < CELL_TIMEOUT + 60


def test_failed_run_is_shown_as_failed_in_the_gallery_data(analyste1):
    runs = {r["schedule"]: r for r in analyste1.get("api/reports").json()}
    assert runs["erreur"]["status"] == "failed" and "RuntimeError" in runs["erreur"]["error"]


# -- scale ------------------------------------------------------------------------------
def test_21_parallel_runs_one_per_partner_all_succeed(reports_hub):
    partners = [p["id"] for p in EXAMPLE["partners"]]
    assert len(partners) == 21
    departments = ["14", "27", "50", "61", "76"]
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda p: ReportsClient(reports_hub, f"a-{p}"), partners))
    for i, client in enumerate(clients):
        r = client.create(id=f"par-{i:02d}", notebook=REPORT, cron=QUIET_CRON,
                          parameters={"department": departments[i % 5], "report_date": "2020-03-27"})
        assert r.status_code == 201, r.text
    started = time.monotonic()
    queued = [(client, client.run_now(f"par-{i:02d}")["id"]) for i, client in enumerate(clients)]
    runs = [client.wait(run_id, timeout=600) for client, run_id in queued]
    wall = time.monotonic() - started
    failed = [(r["schedule"], r["error"]) for r in runs if r["status"] != "succeeded"]
    assert not failed
    durations = sorted(r["duration"] for r in runs)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reports-parallel.txt").write_text(
        f"21 runs, max_parallel={EXAMPLE['reports']['max_parallel']}: wall {wall:.1f} s, "
        f"run durations {durations[0]}-{durations[-1]} s (median {durations[10]} s)\n"
    )
    print(f"21 parallel runs: wall {wall:.1f} s, durations {durations[0]}-{durations[-1]} s")


# -- audience ---------------------------------------------------------------------------
def test_outputs_are_shown_to_their_audience_only(reports_hub, analyste1):
    r = analyste1.create(id="pour-chu", notebook=REPORT, cron=QUIET_CRON,
                         parameters={"department": "50", "report_date": "2020-03-27"},
                         audience={"partners": ["chu-exemple-nord"]})
    assert r.status_code == 201, r.text
    run = analyste1.wait(analyste1.run_now("pour-chu")["id"])
    assert run["status"] == "succeeded", run["error"]
    html_path = f"runs/{run['id']}/report.html"
    chu = ReportsClient(reports_hub, "analyste2")        # member of chu-exemple-nord
    decideur = ReportsClient(reports_hub, "decideur1")   # region-exemple, decision-maker
    admin = ReportsClient(reports_hub, "coordinateur")
    for client in (analyste1, chu, admin):
        assert client.get(html_path).status_code == 200, client.username
        assert run["id"] in {x["id"] for x in client.get("api/reports").json()}, client.username
    # outside the audience a run is answered as absent (404, the text of a run that never was)
    assert decideur.get(html_path).status_code == 404
    assert decideur.get(f"runs/{run['id']}/notebook.ipynb").status_code == 404
    hidden, absent = decideur.get(f"api/runs/{run['id']}"), decideur.get("api/runs/999999")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.json()["message"].replace(str(run["id"]), "N") == absent.json()["message"].replace("999999", "N")
    assert run["id"] not in {x["id"] for x in decideur.get("api/reports").json()}
    # the audience does not manage: no run now, no deletion, no schedule listing
    assert chu.request("POST", "api/schedules/pour-chu/runs").status_code == 403
    assert chu.request("DELETE", "api/schedules/pour-chu").status_code == 403
    assert "pour-chu" not in {s["id"] for s in chu.get("api/schedules").json()}
    # anonymous: no access at all
    assert requests.get(f"{reports_hub.url}/services/reports/api/reports", timeout=30).status_code == 403


def test_an_id_held_by_a_hidden_schedule_is_answered_as_absent(reports_hub, analyste1):
    """Attack: analyste1 probes the id of analyste2's schedule, whose outputs are for CHU
    Exemple Nord only: every answer is the one of an id that never existed, and creating
    a schedule under that id gives analyste1 one of their own."""
    chu = ReportsClient(reports_hub, "analyste2")
    r = chu.create(id="sante-interne", notebook=REPORT, cron=QUIET_CRON)
    assert r.status_code == 201, r.text
    try:
        for method, path in (("GET", "api/schedules/{}"), ("POST", "api/schedules/{}/runs"),
                             ("DELETE", "api/schedules/{}")):
            hidden = analyste1.request(method, path.format("sante-interne"))
            absent = analyste1.request(method, path.format("jamais-cree"))
            assert hidden.status_code == absent.status_code == 404, (method, hidden.text)
            assert hidden.json()["message"].replace("sante-interne", "X") == absent.json()["message"].replace("jamais-cree", "X")
        mine = analyste1.create(id="sante-interne", notebook=REPORT, cron=QUIET_CRON)
        assert mine.status_code == 201, mine.text
        own_id = mine.json()["id"]
        assert own_id.startswith("sante-int") and own_id != "sante-interne"
        assert analyste1.create(id="sante-interne", notebook=REPORT, cron=QUIET_CRON).status_code == 409
        assert analyste1.request("DELETE", f"api/schedules/{own_id}").status_code == 204
        assert chu.get("api/schedules/sante-interne").json()["owner"] == "analyste2"
    finally:
        assert chu.request("DELETE", "api/schedules/sante-interne").status_code == 204


def test_a_decision_maker_cannot_schedule(reports_hub):
    decideur = ReportsClient(reports_hub, "decideur1")
    r = decideur.create(id="decideur", notebook=REPORT, cron=QUIET_CRON)
    assert r.status_code == 403
    assert "Seuls les analystes et les administrateurs" in r.json()["message"]


def test_a_health_member_cannot_schedule_outputs_beyond_their_partner(reports_hub):
    """Attack: analyste2 (CHU Exemple Nord, health data) schedules a report for every
    member and for another partner, through the REST API and the CLI: refused (403) with
    the rule, nothing scheduled."""
    import subprocess

    chu = ReportsClient(reports_hub, "analyste2")
    for audience in ({"all": True}, {"partners": ["region-exemple"]}):
        r = chu.create(id="fuite-sante", notebook=REPORT, cron=QUIET_CRON, audience=audience)
        assert r.status_code == 403, r.text
        assert "Règle des données de santé" in r.json()["message"]
    env = {**os.environ, "DATALAB_CONFIG": str(reports_hub.config_path), "DATALAB_PORT": str(reports_hub.port),
           "JUPYTERHUB_API_TOKEN": chu.token}
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "datalab"), "reports", "create", "fuite-sante", "--notebook", REPORT,
         "--cron", QUIET_CRON, "--audience-all"], capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode == 1 and "Règle des données de santé" in done.stderr, done.stderr
    assert "fuite-sante" not in {s["id"] for s in chu.get("api/schedules").json()}


def test_retention_keeps_the_latest_runs(reports_hub, analyste1):
    r = analyste1.create(id="retention", notebook=f"{TESTS}/parametres.ipynb", cron=QUIET_CRON, retention=2)
    assert r.status_code == 201, r.text
    ids = [analyste1.wait(analyste1.run_now("retention")["id"])["id"] for _ in range(3)]
    assert [x["id"] for x in analyste1.runs("retention")] == [ids[2], ids[1]]
    archive = reports_hub.layout.root / "reports" / "archive"
    assert not (archive / str(ids[0])).exists() and (archive / str(ids[2]) / "notebook.ipynb").is_file()
    assert analyste1.get(f"api/runs/{ids[0]}").status_code == 404


# -- restart ----------------------------------------------------------------------------
def test_hub_restart_across_a_fire_time_follows_the_misfire_policy(reports_hub, analyste1):
    """Both schedules fire at a minute the hub is down for: ``run-once`` runs once at
    restart, ``skip`` does not run; neither runs twice."""
    fire_at = next_minute(margin=25)
    for schedule_id, policy in (("rattrapage", "run-once"), ("saut", "skip")):
        r = analyste1.create(id=schedule_id, notebook=f"{TESTS}/parametres.ipynb", cron=cron_at(fire_at),
                             misfire=policy)
        assert r.status_code == 201, r.text
    reports_hub.stop()
    while datetime.now(PARIS) < fire_at + timedelta(seconds=SKIP_AFTER + 5):
        time.sleep(1)
    reports_hub.start()
    client = ReportsClient(reports_hub, "analyste1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = client.runs("rattrapage")
        if runs and runs[0]["status"] in ("succeeded", "failed"):
            break
        time.sleep(1)
    time.sleep(5)
    once = client.runs("rattrapage")
    assert [(r["trigger"], r["status"]) for r in once] == [("cron", "succeeded")]
    assert datetime.fromisoformat(once[0]["started"]) > fire_at + timedelta(seconds=SKIP_AFTER)
    assert client.runs("saut") == []
    next_runs = {s["id"]: s["next_run"] for s in client.get("api/schedules").json()}
    for schedule_id in ("rattrapage", "saut"):
        assert datetime.fromisoformat(next_runs[schedule_id]) == fire_at + timedelta(days=1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_run_in_progress_goes_on_and_the_restarted_service_follows_it(reports_hub, analyste1, sig):
    """The reports service stopped (SIGTERM) or killed (SIGKILL) during a run: the run's
    process goes on, the hub starts the service again, and the new service follows the
    same run to its end: one run, succeeded, nothing run twice."""
    schedule_id = f"suivi-{sig.name.lower()}"
    r = analyste1.create(id=schedule_id, notebook=f"{TESTS}/bloque.ipynb", cron=QUIET_CRON,
                         parameters={"secondes": 12})
    assert r.status_code == 201, r.text
    run = analyste1.run_now(schedule_id)
    handle = wait_for(lambda: run_handle(reports_hub, run["id"]), 60, "the run's process")
    process = psutil.Process(handle["pid"])
    away = restart_service(reports_hub, analyste1, sig)
    print(f"\nreports service {sig.name}: back {away:.1f} s after the signal")
    assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE, "the run ended with the service"
    ended = analyste1.wait(run["id"], timeout=120)
    assert ended["status"] == "succeeded", ended["error"]
    assert [(x["id"], x["trigger"]) for x in analyste1.runs(schedule_id)] == [(run["id"], "manual")]
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_a_run_that_ended_with_the_service_is_recorded_and_run_again_once(reports_hub, analyste1):
    """A run whose process did not outlive the service (here: killed while the hub and
    its services are stopped) is recorded as interrupted by the next service and run
    again, once."""
    r = analyste1.create(id="reprise", notebook=f"{TESTS}/bloque.ipynb", cron=QUIET_CRON,
                         parameters={"secondes": 15})  # still running once the hub has stopped (CELL_TIMEOUT: 20 s)
    assert r.status_code == 201, r.text
    run = analyste1.run_now("reprise")
    handle = wait_for(lambda: run_handle(reports_hub, run["id"]), 60, "the run's process")
    reports_hub.stop()
    process = psutil.Process(handle["pid"])
    assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE, "the run ended before it was killed"
    kill_family(handle["pid"])
    reports_hub.start()
    client = ReportsClient(reports_hub, "analyste1")

    def both_ended():
        runs = client.runs("reprise")
        return runs if len(runs) == 2 and all(x["status"] in ("succeeded", "failed") for x in runs) else None

    runs = wait_for(both_ended, 180, "the interrupted run and its run again")
    assert [(x["trigger"], x["status"], x["retry_of"]) for x in runs] == [
        ("retry", "succeeded", run["id"]), ("manual", "failed", None)]
    assert "relancée une fois" in runs[1]["error"]
