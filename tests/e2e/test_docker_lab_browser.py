"""An analyst's French lab running in a container, seen in a real browser: the file
browser shows the library and the partner space mounted inside the container."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_lab_browser import login

pytestmark = pytest.mark.integration


def test_french_lab_in_a_container_shows_library_and_partner_space(page, docker_hub):
    login(page, docker_hub, "analyste1")
    expect(page.locator("h1")).to_have_text("Choisir un environnement")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/user/analyste1/lab.*"), timeout=120_000)
    expect(page.get_by_text("bibliotheque", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("partenaire-univ-alpha", exact=True).first).to_be_visible()
    expect(page.get_by_role("menuitem", name="Exécution", exact=True)).to_be_visible()
    expect(page.get_by_role("menuitem", name="Fichier", exact=True)).to_be_visible()
    screenshot(page, "docker-lab-home")
    page.get_by_text("bibliotheque", exact=True).first.dblclick()
    expect(page.get_by_text("02-carte-normandie.ipynb").first).to_be_visible(timeout=30_000)
    screenshot(page, "docker-lab-library")
    page.goto(f"{docker_hub.url}/hub/home")
    page.click("#stop")
    expect(page.locator("#start")).to_contain_text("Démarrer", timeout=60_000)
