"""The airlock's French page in a browser: analyste2 asks for a file's export, the
partner's data steward approves it, the file is downloaded (screenshots
tests/artifacts/airlock-*.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.airlockhub import CHU, STEWARD
from tests.conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.integration

CONTENT = b"indicateur,valeur\nsejours,1204\n"
PATH = f"partenaire-{CHU}/synthese/indicateurs.csv"


def screenshot(page, name: str) -> None:
    """The whole page (its tables run below the window) in tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_export_page(page, hub, username: str) -> None:
    """Log in straight to the page (``next``: an analyst's login would otherwise start
    their lab)."""
    page.goto(f"{hub.url}/hub/login?next=%2Fhub%2Fexport")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    expect(page.locator("h1")).to_have_text("Sortie de fichiers (données de santé)")


def test_a_steward_approves_on_the_french_page(page, airlock_hub):
    hub = airlock_hub
    hub.partner_file("synthese/indicateurs.csv", CONTENT)

    open_export_page(page, hub, "analyste2")
    expect(page.locator("#nav-airlock")).to_have_text("Exports")
    page.fill("#airlock-path", f"partenaire-{CHU}/../hub/cookie_secret")
    page.fill("#airlock-reason", "tentative")
    page.click("#airlock-submit")
    expect(page.locator("#airlock-error")).to_contain_text("Chemin refusé")
    page.fill("#airlock-path", PATH)
    page.fill("#airlock-reason", "indicateurs agrégés pour le comité de pilotage")
    page.click("#airlock-submit")
    expect(page.locator("#airlock-notice")).to_contain_text("enregistrée : elle attend la décision")
    mine = page.locator("#airlock-mine tr", has_text=PATH)
    expect(mine).to_contain_text("en attente")
    expect(mine.get_by_role("link", name="Télécharger")).to_have_count(0)
    screenshot(page, "airlock-request")

    page.goto(f"{hub.url}/hub/logout")
    open_export_page(page, hub, STEWARD)
    row = page.locator("#airlock-to-decide tr", has_text=PATH)
    expect(row).to_contain_text("analyste2")
    expect(row).to_contain_text("indicateurs agrégés pour le comité de pilotage")
    screenshot(page, "airlock-steward")
    row.get_by_role("button", name="Approuver").click()
    expect(page.locator("#airlock-notice")).to_contain_text("approuvée : le fichier est exporté")
    decided = page.locator("#airlock-decided tr", has_text=PATH)
    expect(decided).to_contain_text("approuvée, exportée")
    expect(decided).to_contain_text(f"par {STEWARD}")
    screenshot(page, "airlock-approved")

    page.goto(f"{hub.url}/hub/logout")
    open_export_page(page, hub, "analyste2")
    mine = page.locator("#airlock-mine tr", has_text=PATH)
    with page.expect_download() as download:
        mine.get_by_role("link", name="Télécharger").click()
    assert download.value.suggested_filename.endswith("-indicateurs.csv")
    assert open(download.value.path(), "rb").read() == CONTENT
