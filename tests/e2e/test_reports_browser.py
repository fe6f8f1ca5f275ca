"""The coordinator in a real browser: the French scheduled-reports page, "Lancer
maintenant", the gallery with a succeeded and a failed run, an archived HTML report."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.clock import QUIET_CRON
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.services.reports_hub import ReportsClient

pytestmark = pytest.mark.integration


def test_coordinator_runs_a_report_and_sees_the_gallery(page, reports_hub):
    api = ReportsClient(reports_hub, "coordinateur")
    r = api.create(id="rapport-en-erreur", title="Rapport en erreur (démonstration)",
                   notebook="bibliotheque/tests-rapports/erreur.ipynb", cron=QUIET_CRON,
                   audience={"all": True})
    assert r.status_code == 201, r.text
    assert api.wait(api.run_now("rapport-en-erreur")["id"])["status"] == "failed"

    page.goto(f"{reports_hub.url}/hub/login")
    page.fill("#username_input", "coordinateur")
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    page.goto(f"{reports_hub.url}/services/reports/")
    expect(page.locator("h1")).to_have_text("Tous les rapports planifiés")
    card = page.locator("#schedule-rapport-76")
    expect(card).to_contain_text("department=\"76\"")
    card.get_by_role("button", name="Lancer maintenant").click()
    expect(page.locator("#notice")).to_contain_text("Exécution de « rapport-76 » lancée.")
    run_id = api.runs("rapport-76")[0]["id"]
    assert api.wait(run_id)["status"] == "succeeded"
    page.reload()
    expect(page.locator("#schedule-rapport-76 .badge").first).to_have_text("Réussi")
    screenshot(page, "reports-schedules")

    page.goto(f"{reports_hub.url}/services/reports/galerie")
    expect(page.locator("h1")).to_have_text("Galerie des rapports")
    succeeded = page.locator(f"#run-{run_id}")
    expect(succeeded.locator(".badge")).to_have_text("Réussi")
    failed = page.locator(".gallery-run[data-status=failed]").filter(has_text="Rapport en erreur").first
    expect(failed.locator(".badge")).to_have_text("Échoué")
    expect(failed.locator(".run-error")).to_contain_text("RuntimeError: données incohérentes au-delà de 100")
    expect(failed.locator(".run-html")).to_have_count(0)
    screenshot(page, "reports-gallery")

    succeeded.locator(".run-html").click()
    expect(page.get_by_text("Seine-Maritime (76) — point de situation du 2020-03-27")).to_be_visible()
    expect(page.locator("img").first).to_be_visible()
    screenshot(page, "reports-html")
