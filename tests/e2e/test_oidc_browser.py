"""Partner login in a real browser: French login page -> the provider's page -> back to
the hub -> the lab of a person whose partner came from the provider's claims; the
refusal pages; losing access when the provider removes the partner."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.services.oidc import oidc_hub, stop_hub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(oidc_provider):
    running = oidc_hub(oidc_provider, "oidc-browser-hub")
    try:
        running.start()
        yield running
    finally:
        stop_hub(running, "oidc-browser-hub")


def sign_in(page, hub, login: str, shot: str | None = None) -> None:
    """From the hub's login page through the provider's login page, as ``login``."""
    page.goto(f"{hub.url}/hub/login")
    page.get_by_role("button", name="Se connecter avec Keycloak de test").click()
    page.wait_for_selector("input[name=login]")
    if shot:
        screenshot(page, shot)
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")


def test_partner_from_claims_reaches_the_lab(page, hub):
    page.goto(f"{hub.url}/hub/login")
    expect(page.locator("h1")).to_have_text("Connexion")
    expect(page.get_by_role("button", name="Se connecter avec Keycloak de test")).to_be_visible()
    screenshot(page, "oidc-login-page")
    sign_in(page, hub, "lea", shot="oidc-provider-page")
    # back at the hub: univ-alpha (from the groups claim) is entitled to two profiles
    expect(page.locator("h1")).to_have_text("Choisir un environnement", timeout=30_000)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/user/lea\.martin/lab.*"), timeout=120_000)
    expect(page.get_by_text("partenaire-univ-alpha", exact=True).first).to_be_visible(timeout=60_000)
    screenshot(page, "oidc-lab-partner-from-claims")
    page.goto(f"{hub.url}/hub/home")
    page.click("#stop")
    expect(page.locator("#start")).to_contain_text("Démarrer", timeout=60_000)


@pytest.mark.parametrize(
    "login, reason",
    [
        ("sans-partenaire", "no_partner"),
        ("sans-groupes", "claim_missing"),
        ("groupes-casses", "bad_claim"),
        ("cyrillique", "bad_username"),
    ],
)
def test_refusal_pages_are_french(page, hub, login, reason):
    sign_in(page, hub, login)
    expect(page.locator("h1")).to_have_text("Accès refusé", timeout=30_000)
    refusal = page.locator("#datalab-refusal")
    expect(refusal).to_have_attribute("data-reason", reason)
    expect(refusal).to_contain_text("datalab@example.org")
    screenshot(page, f"oidc-refused-{reason}")


def test_partner_removed_at_the_provider_loses_access(page, hub, oidc_provider):
    oidc_provider.set_claims("remi", {"preferred_username": "remi", "groups": ["/datalab/ent-numerique"]})
    sign_in(page, hub, "remi")
    page.wait_for_url(re.compile(r".*/user/remi/lab.*"), timeout=120_000)  # one profile: straight in
    oidc_provider.set_claims("remi", {"preferred_username": "remi", "groups": []})
    time.sleep(2.5)  # the hub's refresh_interval
    page.goto(f"{hub.url}/hub/home")
    expect(page.get_by_role("button", name="Se connecter avec Keycloak de test")).to_be_visible()
    page.get_by_role("button", name="Se connecter avec Keycloak de test").click()
    # still signed in at the provider, now refused by the hub
    expect(page.locator("#datalab-refusal")).to_have_attribute("data-reason", "no_partner", timeout=30_000)
    screenshot(page, "oidc-offboarded")
