"""An analyst of an Austral-entitled partner starts a lab on Slurm from the French form,
waits in the queue with Slurm's reason, expected start and queue position, then runs the
library's map notebook there."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.integration

#: The pending message with Slurm's reason, expected start (the blocker's end, 10 minutes
#: on) and the job's position in the partition's queue.
PENDING = re.compile(r"Raison Slurm : Resources \(les ressources demandées ne sont pas libres\)\. "
                     r"Début prévu : (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\. "
                     r"Position dans la file de la partition debug : 1 sur 1\.")


def login(page, hub, username: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")


def fill_austral(page, memory: str = "1G") -> None:
    page.check("input[name=profile][value=austral]")
    page.select_option("#slurm-austral-partition", "debug")
    page.fill("#slurm-austral-cores", "1")
    page.fill("#slurm-austral-memory", memory)
    page.fill("#slurm-austral-walltime", "0:30")


def test_form_error_names_the_field_and_its_range(page, slurm_hub, slurm_cluster):
    login(page, slurm_hub, "analyste1")
    expect(page.locator("h1")).to_have_text("Choisir un environnement")
    fill_austral(page, memory="64G")
    page.click("input[type=submit]")
    expect(page.locator(".spawn-error-msg")).to_have_text(
        "Champ « Mémoire » (memory) refusé : attendu un nombre suivi de M ou G, de 128M à 4G."
    )
    assert slurm_cluster.jobs() == []


def test_analyst_runs_the_map_notebook_on_austral(page, slurm_hub, slurm_cluster, blocker):
    login(page, slurm_hub, "analyste1")
    expect(page.locator("h1")).to_have_text("Choisir un environnement")
    fill_austral(page)
    expect(page.locator("fieldset.datalab-slurm legend")).to_have_text("Ressources demandées sur Austral")
    screenshot(page, "slurm-spawn-form")
    with blocker:
        page.click("input[type=submit]")
        expect(page.locator("#progress-message")).to_contain_text(
            "Raison Slurm : Resources (les ressources demandées ne sont pas libres)", timeout=30_000)
        expect(page.locator("#progress-message")).to_contain_text(PENDING, timeout=30_000)
        expected = datetime.fromisoformat(PENDING.search(page.locator("#progress-message").inner_text()).group(1))
        assert timedelta(minutes=9) <= expected - datetime.now() <= timedelta(minutes=11), expected
        screenshot(page, "slurm-pending-start")
        expect(page.locator("h1")).to_have_text("Votre lab démarre")
        expect(page.locator("#cancel")).to_have_text("Annuler le démarrage")
        expect(page.locator("#progress-log")).to_contain_text("Lab demandé.")
        page.locator("#progress-details").evaluate("d => d.open = true")
        screenshot(page, "slurm-spawn-pending")
    page.wait_for_url(re.compile(r".*/user/analyste1/lab.*"), timeout=60_000)
    [job] = slurm_cluster.jobs(account="univ-alpha")
    assert (job["name"], job["state"]) == ("datalab-analyste1", "RUNNING")

    expect(page.get_by_text("bibliotheque", exact=True).first).to_be_visible(timeout=60_000)
    page.goto(f"{slurm_hub.url}/user/analyste1/lab/tree/bibliotheque/02-carte-normandie.ipynb")
    run_menu = page.get_by_role("menuitem", name="Exécution", exact=True)
    expect(run_menu).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Inactif")).to_be_visible(timeout=60_000)
    run_menu.click()
    page.get_by_role("menuitem", name=re.compile("^Exécuter toutes les cellules")).click()
    expect(page.locator(".jp-OutputArea-output img").first).to_be_visible(timeout=120_000)
    expect(page.locator(".widget-slider, .widget-hslider").first).to_be_visible()
    page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
    screenshot(page, "slurm-lab-map-notebook")

    page.goto(f"{slurm_hub.url}/hub/home")
    expect(page.locator("#walltime")).to_contain_text("Votre lab sur Austral s'arrêtera au plus tard à")
    expect(page.locator("#walltime")).to_contain_text("temps restant : 0 h 2")
    screenshot(page, "slurm-home-walltime")
    page.click("#stop")
    expect(page.locator("#start")).to_contain_text("Démarrer", timeout=60_000)
    assert slurm_cluster.job_state(job["id"]) in {"CANCELLED", "COMPLETED", ""}
