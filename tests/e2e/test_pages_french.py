"""JupyterHub's own pages and messages in French: the admin page, the token page, error
pages of the hub and of the reports service, the spawn progress."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_lab_browser import login

pytestmark = pytest.mark.integration

#: English texts of JupyterHub's pages that a French page must not show
ENGLISH = re.compile(
    r"Start All|Stop All|Shutdown Hub|Start Server|Edit User|Spawn Page|Items per page|Displaying|"
    r"Never|minutes ago|Manage JupyterHub Tokens|Request new API token|Authorized Applications|"
    r"Token expires|Permissions|lots of moons|Not Found|Named servers|You do not have permission|"
    r"Action is not authorized|JupyterHub service"
)


def body_text(page) -> str:
    return page.inner_text("body")


def test_the_admin_page_is_french(page, hub):
    login(page, hub, "coordinateur")
    page.goto(f"{hub.url}/hub/admin")
    expect(page.get_by_role("button", name="Tout démarrer")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Lignes par page :")).to_be_visible()
    expect(page.get_by_placeholder("Rechercher une personne")).to_be_visible()
    screenshot(page, "admin-page")
    assert not ENGLISH.search(body_text(page)), ENGLISH.search(body_text(page))


def test_the_token_page_is_french_and_still_makes_tokens(page, hub):
    login(page, hub, "analyste1")
    page.goto(f"{hub.url}/hub/token")
    expect(page.locator("h1")).to_have_text("Jetons d'accès")
    page.fill("#token-note", "essai")
    page.click("#request-token-form button[type=submit]")
    expect(page.locator("#token-result")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    page.reload()
    expect(page.locator("#api-tokens-table")).to_contain_text("essai")
    expect(page.locator("#api-tokens-table")).to_contain_text("Jamais")
    screenshot(page, "token-page")
    assert not ENGLISH.search(body_text(page)), ENGLISH.search(body_text(page))


@pytest.mark.parametrize(("path", "status", "sentence"), [
    ("/hub/nulle-part", 404, "Cette page n'existe pas."),
    ("/hub/spawn/analyste1/second", 400, "les labs nommés ne sont pas proposés"),
    ("/services/reports/nulle-part", 404, "Cette page n'existe pas."),
])
def test_error_pages_are_french(page, hub, path, status, sentence):
    login(page, hub, "analyste1")
    answer = page.goto(f"{hub.url}{path}")
    assert answer.status == status
    expect(page.locator("h1")).to_have_text(f"Erreur {status}")
    expect(page.get_by_text(sentence)).to_be_visible()
    assert not ENGLISH.search(body_text(page)), ENGLISH.search(body_text(page))
