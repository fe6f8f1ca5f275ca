"""An analyst in a real browser: French login page, the lab, the library's map notebook."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.integration


def login(page, hub, username: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")


def test_login_page_is_french(page, hub):
    page.goto(f"{hub.url}/hub/login")
    expect(page.locator("h1")).to_have_text("Connexion")
    expect(page.locator("#login_submit")).to_have_value("Se connecter")
    screenshot(page, "login-page")


def test_analyst_runs_the_map_notebook_in_the_french_lab(page, hub):
    login(page, hub, "analyste1")
    # analyste1's partner has three profiles (two local, one on Austral): the form lists them
    expect(page.locator("h1")).to_have_text("Choisir un environnement")
    expect(page.locator("input[name=profile]")).to_have_count(3)
    screenshot(page, "spawn-form")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/user/analyste1/lab.*"), timeout=120_000)
    # the file browser shows the library and the partner space beside the home
    expect(page.get_by_text("bibliotheque", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("partenaire-univ-alpha", exact=True).first).to_be_visible()
    page.goto(f"{hub.url}/user/analyste1/lab/tree/bibliotheque/02-carte-normandie.ipynb")
    # the French UI: the "Exécution" (Run) menu runs every cell
    run_menu = page.get_by_role("menuitem", name="Exécution", exact=True)
    expect(run_menu).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Inactif")).to_be_visible(timeout=60_000)
    run_menu.click()
    page.get_by_role("menuitem", name=re.compile("^Exécuter toutes les cellules")).click()
    # the map: a rendered image inside an output, and the date slider widget
    expect(page.locator(".jp-OutputArea-output img").first).to_be_visible(timeout=120_000)
    expect(page.locator(".widget-slider, .widget-hslider").first).to_be_visible()
    page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
    screenshot(page, "lab-map-notebook")
    page.goto(f"{hub.url}/hub/home")
    page.click("#stop")
    expect(page.locator("#start")).to_contain_text("Démarrer", timeout=60_000)
    # a link into the stopped lab gets the French "not running" page, not the lab
    page.goto(f"{hub.url}/hub/user/analyste1/lab")
    expect(page.locator("h1")).to_have_text("Votre lab n'est pas démarré")
    expect(page.locator("#start")).to_have_text("Démarrer mon lab")


def test_decision_maker_lands_on_home_without_a_lab(page, hub):
    login(page, hub, "decideur1")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    expect(page.locator(".alert-info")).to_contain_text("ne comprend pas de lab")
    expect(page.locator("#start")).to_have_count(0)
    screenshot(page, "decision-maker-home")
