"""Done when: two analysts of different partners, members of one project, co-edit a
notebook in their project space, each in their own browser; a third analyst outside the
project cannot reach it. Sharing goes through the French page /hub/partage."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from hub.sharing import REVOCATION_SECONDS
from tests.collabhub import PROJECT
from tests.e2e.conftest import _loopback_only, screenshot

pytestmark = pytest.mark.integration

NOTEBOOK = f"projet-{PROJECT}/etude-commune.ipynb"
EMPTY_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None},
        {"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def signed_in(browser, hub, username: str):
    """A fresh browser context (French, loopback only) holding ``username``'s hub login,
    made by the login form outside the browser (so no lab is started by the login)."""
    client = hub.client(username)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    context.route("**/*", _loopback_only)
    context.add_cookies([
        {"name": c.name, "value": c.value, "domain": "127.0.0.1", "path": c.path}
        for c in client.session.cookies
    ])
    return client, context, context.new_page()


def cell_editor(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")


def type_into(page, index: int, text: str) -> None:
    editor = cell_editor(page, index)
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type(text)


@pytest.fixture
def people(browser, collab_hub):
    """analyste1 (univ-alpha, lab started, notebook in the project space), analyste2
    (chu-exemple-nord) and analyste3 (labo-atlas, outside the project), each in a browser."""
    one, context1, page1 = signed_in(browser, collab_hub, "analyste1")
    r = one.start_server({"profile": "standard"})
    assert r.status_code in (201, 202), r.text
    one.open_lab()
    r = one.lab_api("PUT", f"/contents/{NOTEBOOK}", json={"type": "notebook", "content": EMPTY_NOTEBOOK})
    assert r.status_code in (200, 201), r.text
    _, context2, page2 = signed_in(browser, collab_hub, "analyste2")
    _, context3, page3 = signed_in(browser, collab_hub, "analyste3")
    yield page1, page2, page3
    one.api("DELETE", "/shares/analyste1/")
    for context in (context1, context2, context3):
        context.close()
    one.stop_server()


def test_two_analysts_of_two_partners_coedit_a_project_notebook(collab_hub, people):
    page1, page2, page3 = people
    url = f"{collab_hub.url}/user/analyste1/lab/tree/{NOTEBOOK}"

    # analyste1 shares their lab with analyste2 on the French sharing page
    page1.goto(f"{collab_hub.url}/hub/partage")
    expect(page1.locator("h1")).to_have_text("Partager mon lab")
    page1.select_option("#share-target", "user:analyste2")
    page1.click("#share-submit")
    expect(page1.locator("#my-shares tbody")).to_contain_text("analyste2")
    screenshot(page1, "sharing-page-owner")

    # analyste2 finds it under "Partagé avec moi" and opens it (confirming on the hub)
    page2.goto(f"{collab_hub.url}/hub/partage")
    link = page2.locator("#shared-with-me a", has_text="analyste1")
    expect(link).to_be_visible()
    screenshot(page2, "sharing-page-guest")
    link.click()
    page2.click("#oauth-authorize")
    page2.wait_for_url(re.compile(r".*/user/analyste1/lab.*"), timeout=60_000)

    # both open the project notebook in analyste1's lab
    page1.goto(url)
    page2.goto(url)
    for page in (page1, page2):
        expect(cell_editor(page, 1)).to_be_visible(timeout=60_000)

    # each sees the other's change as it is typed
    type_into(page1, 0, "tendance = 'écrit par analyste1'")
    expect(cell_editor(page2, 0)).to_contain_text("écrit par analyste1", timeout=30_000)
    type_into(page2, 1, "commentaire = 'ajouté par analyste2'")
    expect(cell_editor(page1, 1)).to_contain_text("ajouté par analyste2", timeout=30_000)
    screenshot(page1, "coediting-analyste1")
    screenshot(page2, "coediting-analyste2")

    # the notebook is saved in the project space, whoever typed
    page1.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    saved = ""
    while time.monotonic() < deadline and "analyste2" not in saved:
        saved = (collab_hub.layout.project_space(PROJECT) / "etude-commune.ipynb").read_text()
        time.sleep(0.5)
    assert "ajouté par analyste2" in saved and "écrit par analyste1" in saved

    # a third analyst, outside the project and not shared with, cannot reach it
    response = page3.goto(url)
    assert response.status == 403
    screenshot(page3, "coediting-outsider-refused")

    # analyste1 withdraws the share on the page: analyste2's next request is refused
    page1.goto(f"{collab_hub.url}/hub/partage")
    page1.locator("#my-shares tbody button").first.click()
    expect(page1.locator("#my-shares tbody")).to_contain_text("Aucun")
    time.sleep(REVOCATION_SECONDS + 0.2)
    refused = page2.request.get(f"{collab_hub.url}/user/analyste1/api/contents/projet-{PROJECT}")
    assert refused.status == 403
