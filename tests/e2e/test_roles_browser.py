"""Each role is offered only what it can do, as a person sees it in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_lab_browser import login

pytestmark = pytest.mark.integration


def test_the_admin_page_offers_no_lab_start_for_a_decision_maker(page, hub):
    login(page, hub, "coordinateur")
    page.goto(f"{hub.url}/hub/admin")
    analyst = page.locator('tr[data-testid="user-row-analyste2"]')
    decision_maker = page.locator('tr[data-testid="user-row-decideur1"]')
    expect(analyst).to_be_visible(timeout=30_000)
    expect(decision_maker).to_be_visible()
    # an analyst's row offers a start (or a stop when their lab runs)
    expect(analyst.locator(".start-button, .stop-button").first).to_be_visible()
    # the decision-maker's row offers neither a start nor the spawn page: JupyterHub's
    # page renders both, DataLab's script hides them
    for offer in (".start-button", "a[href*='/spawn/']"):
        expect(decision_maker.locator(offer)).to_have_count(1)
        expect(decision_maker.locator(offer)).to_be_hidden(timeout=10_000)
    screenshot(page, "admin-no-lab-start")
