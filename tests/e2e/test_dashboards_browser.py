"""Decision-makers in a real browser: the French gallery, the map dashboard (the published
version's snapshot page at once, then the live page whose widgets work under the hub's
prefix, each viewer's own), reloads that leave no kernel behind, the busy page."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.dashboardhub import (  # noqa: F401 (fixtures)
    CAP_PER_DASHBOARD,
    MAP_ID,
    VIEW_TIMEOUT,
    dashboards_hub,
    map_notebook,
    people,
    record_timing,
    wait_load,
)
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.integration

MAP_TITLE = "Carte : la COVID-19 dans les départements normands"


def login(page, hub, username: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")


def open_dashboard(page, hub, dashboard_id: str):
    """Open a dashboard; returns the HTTP response of its page."""
    return page.goto(f"{hub.url}/services/dashboards/d/{dashboard_id}/", timeout=120_000)


def map_image(page):
    return page.locator(".widget-output img, .jp-OutputArea-output img").first


class BrowserLog:
    """What a page asked for and did not get: requests started and not finished, failed
    requests, script errors. Shown when a wait for the map fails."""

    def __init__(self, page):
        self.pending: dict = {}
        self.errors: list[str] = []
        page.on("request", lambda r: self.pending.__setitem__(r, r.url))
        page.on("requestfinished", lambda r: self.pending.pop(r, None))
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))

    def _failed(self, request) -> None:
        self.pending.pop(request, None)
        self.errors.append(f"failed: {request.url}: {request.failure}")

    def __str__(self) -> str:
        lines = [f"unfinished: {url}" for url in self.pending.values()] + self.errors[-20:]
        return "\n".join(lines) or "no unfinished request, no error"


def wait_for_map(page, log: BrowserLog | None = None) -> None:
    """The map image is visible (the page's kernel ran and its widgets connected)."""
    try:
        expect(map_image(page)).to_be_visible(timeout=120_000)
    except AssertionError as e:
        raise AssertionError(f"{e}\nbrowser: {log}") from None


def test_the_gallery_shows_the_picture_of_the_map_with_its_text_below(page, dashboards_hub):
    login(page, dashboards_hub, "decideur1")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    page.goto(f"{dashboards_hub.url}/services/dashboards/")
    card = page.locator(f"article[data-dashboard={MAP_ID}]")
    picture = card.locator(".preview img")
    expect(picture).to_have_attribute("alt", MAP_TITLE)
    expect(picture).to_be_visible()
    page.wait_for_function("img => img.complete", arg=picture.element_handle(), timeout=30_000)
    assert picture.evaluate("img => img.naturalWidth") > 0
    text = card.locator(".body")
    expect(text.locator(".excerpt")).to_contain_text("Choisissez un indicateur et une date")
    assert text.bounding_box()["y"] >= picture.bounding_box()["y"] + picture.bounding_box()["height"]
    screenshot(page, "dashboards-gallery-preview")


def live_view(page):
    """The live page behind an identity-free dashboard's snapshot page, once it has
    replaced the snapshot (its own kernel, working widgets)."""
    expect(page.locator("#datalab-live.shown")).to_be_attached(timeout=120_000)
    assert page.locator("#datalab-snapshot").count() == 0
    return page.frame_locator("#datalab-live")


def move_the_date_one_step_back(page, view) -> None:
    """Move the date slider of ``view`` one step back (keyboard); its readout and its
    map change."""
    image = map_image(view)
    readout = view.locator(".widget-readout").first
    expect(readout).to_have_text("2020-03-27")
    before = image.get_attribute("src")
    slider = view.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle").first
    expect(slider).to_be_visible()
    slider.focus()
    page.keyboard.press("ArrowLeft")  # one step: one new map, the one the readout shows
    expect(readout).to_have_text("2020-03-26", timeout=30_000)
    expect(map_image(view)).not_to_have_attribute("src", before, timeout=60_000)
    expect(map_image(view)).to_be_visible()


def test_decision_maker_sees_the_published_map_at_once_then_moves_the_date_slider_of_the_live_map(page, dashboards_hub):
    login(page, dashboards_hub, "decideur1")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    page.click("#dashboards")
    expect(page.locator("h1")).to_have_text("Tableaux de bord")
    card = page.locator(f"article[data-dashboard={MAP_ID}]")
    expect(card.locator("h2")).to_have_text(MAP_TITLE)
    expect(card.locator(".meta")).to_contain_text("Université Exemple Alpha")
    screenshot(page, "dashboards-gallery-decideur1")
    with page.expect_response(lambda r: "datalab-live=1" in r.url and r.status == 200, timeout=120_000) as live:
        card.get_by_role("link", name="Ouvrir le tableau de bord").click()
        page.wait_for_url(re.compile(rf".*/hub/tableau/{MAP_ID}$"))  # the hub's page: the snapshot
    assert "kernelId" in live.value.text()  # its live page, given its turn by the service
    # the snapshot page: the published version's map and controls, before any kernel
    expect(page.locator("#datalab-status")).to_contain_text("Version publiée", timeout=30_000)
    expect(page.locator("#datalab-snapshot .jp-OutputArea-output img")).to_be_visible()
    expect(page.locator("#datalab-snapshot .control").last).to_contain_text("2020-03-27")
    screenshot(page, "dashboard-map-snapshot")
    view = live_view(page)
    screenshot(page, "dashboard-map-before")
    move_the_date_one_step_back(page, view)
    screenshot(page, "dashboard-map-after")


def test_two_decision_makers_at_once_each_move_their_own_slider_and_see_their_own_map(browser, dashboards_hub, people):
    wait_load(people("analyste1"), MAP_ID, lambda load: load["views"] == 0, VIEW_TIMEOUT + 30)
    contexts = [browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800}) for _ in range(2)]
    try:
        pages = []
        for context, name in zip(contexts, ("decideur1", "decideur2")):
            page = context.new_page()
            login(page, dashboards_hub, name)
            page.wait_for_url(re.compile(r".*/hub/home$"))
            pages.append(page)
        for page in pages:  # both open the map's link before either has its live page
            page.goto(f"{dashboards_hub.url}/hub/tableau/{MAP_ID}", wait_until="commit")
        views = [live_view(page) for page in pages]
        move_the_date_one_step_back(pages[0], views[0])
        expect(views[1].locator(".widget-readout").first).to_have_text("2020-03-27")
        move_the_date_one_step_back(pages[1], views[1])
        expect(views[0].locator(".widget-readout").first).to_have_text("2020-03-26")
        kernels = [page.frame(name="datalab-live").evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId") for page in pages]
        assert kernels[0] != kernels[1]
    finally:
        for context in contexts:
            context.close()


def test_ten_reloads_leave_one_kernel_for_the_open_view(page, dashboards_hub, people):
    author = people("analyste1")
    dashboard_id = "carte-rechargements"
    r = author.publish(map_notebook(), id=dashboard_id, title="Carte (rechargements)", audience={"all": True})
    assert r.status_code == 201, r.text
    try:
        login(page, dashboards_hub, "decideur1")
        page.wait_for_url(re.compile(r".*/hub/home$"))
        log = BrowserLog(page)
        for _ in range(11):
            response = open_dashboard(page, dashboards_hub, dashboard_id)
            assert response.status == 200
            wait_for_map(page, log)
        deadline = time.monotonic() + 30
        while True:
            state = author.call("GET", f"dashboards/{dashboard_id}").json()
            if state["kernels"] <= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert state["kernels"] == 1, state
        assert state["open_views"] == 1, state
    finally:
        assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204


def test_a_viewer_past_the_cap_gets_the_busy_page(browser, dashboards_hub, people):
    author = people("analyste1")
    dashboard_id = "carte-affluence"
    r = author.publish(map_notebook(), id=dashboard_id, title="Carte (affluence)", audience={"all": True})
    assert r.status_code == 201, r.text
    contexts = []
    try:
        pages = []
        for _ in range(CAP_PER_DASHBOARD + 1):
            context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
            contexts.append(context)
            page = context.new_page()
            login(page, dashboards_hub, "decideur1")
            page.wait_for_url(re.compile(r".*/hub/home$"))
            pages.append(page)
        for page in pages[:CAP_PER_DASHBOARD]:
            log = BrowserLog(page)
            assert open_dashboard(page, dashboards_hub, dashboard_id).status == 200
            wait_for_map(page, log)
        late = pages[-1]
        response = open_dashboard(late, dashboards_hub, dashboard_id)
        assert response.status == 503
        assert response.headers["retry-after"] == "20"
        expect(late.locator("h1")).to_have_text("Tableau de bord très demandé")
        expect(late.locator("body")).to_contain_text("réessayer dans un instant")
        screenshot(late, "dashboard-busy")
    finally:
        for context in contexts:
            context.close()
        assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204


def test_an_analyst_publishes_from_the_lab_menu_and_the_dashboard_joins_the_gallery(page, dashboards_hub, people):
    login(page, dashboards_hub, "analyste1")
    page.click("input[type=submit]")  # the spawn form: the first profile
    page.wait_for_url(re.compile(r".*/user/analyste1/lab.*"), timeout=120_000)
    page.goto(f"{dashboards_hub.url}/user/analyste1/lab/tree/bibliotheque/02-carte-normandie.ipynb")
    file_menu = page.get_by_role("menuitem", name="Fichier", exact=True)
    expect(file_menu).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Inactif")).to_be_visible(timeout=60_000)
    file_menu.click()
    entry = page.get_by_role("menuitem", name="Publier comme tableau de bord…")
    expect(entry).to_be_visible()
    screenshot(page, "lab-publish-menu")
    with page.context.expect_page() as opened:
        entry.click()
    form = opened.value
    expect(form.locator("h1")).to_have_text("Publier un tableau de bord", timeout=60_000)
    # opened from the map notebook's tab: that notebook is selected, listed as analyste1 sees it
    expect(form.locator("#notebook")).to_have_value("bibliotheque/02-carte-normandie.ipynb")
    form.fill("#title", "Carte publiée depuis le lab")
    form.fill("#description", "Publiée depuis le menu Fichier.")
    form.check("input[name=audience][value=some]")
    # the form proposes the author's partner; without it, the decision-makers of every partner
    form.uncheck("input[name=partners][value=univ-alpha]")
    form.check("input[name=roles][value=decision-maker]")
    screenshot(form, "dashboard-publish-form")
    form.click("#publish")
    expect(form.locator("#published")).to_contain_text("« Carte publiée depuis le lab » est publié (version 1)")
    card = form.locator("article[data-dashboard=carte-publiee-depuis-le-lab]")
    expect(card.locator("h2")).to_have_text("Carte publiée depuis le lab")
    screenshot(form, "dashboard-published-gallery")
    try:
        decision_maker = people("decideur1")
        assert "Carte publiée depuis le lab" in decision_maker.get("").text
        assert "Carte publiée depuis le lab" not in people("analyste2").get("").text
        model = people("analyste1").call("GET", "dashboards/carte-publiee-depuis-le-lab").json()
        audience = model["audience"]
        assert (audience["all"], audience["partners"], audience["roles"]) == (False, [], ["decision-maker"])
    finally:
        assert people("analyste1").call("DELETE", "dashboards/carte-publiee-depuis-le-lab").status_code == 204
        page.goto(f"{dashboards_hub.url}/hub/home")
        page.click("#stop")
        expect(page.locator("#start")).to_contain_text("Démarrer", timeout=60_000)


def first_paint(page, hub, dashboard_id: str) -> float:
    """Seconds from opening a map dashboard to its map image being visible."""
    log = BrowserLog(page)
    started = time.monotonic()
    assert open_dashboard(page, hub, dashboard_id).status == 200
    wait_for_map(page, log)
    return time.monotonic() - started


def measure_first_paint(page, hub, people, backend: str) -> None:
    """The map's first paint for a viewer: cold (the dashboard's server stopped), warm
    (server running, a fresh kernel), and from the identity-free map's pre-executed
    kernel (the test hubs preheat one). Timings go to tests/artifacts/dashboards-timings.json."""
    author = people("analyste1")
    dashboard_id = f"carte-mesure-{backend}"
    assert author.publish(map_notebook(), id=dashboard_id, title="Carte (mesure)", audience={"all": True}).status_code == 201
    try:
        assert author.call("GET", f"dashboards/{dashboard_id}").json()["running"] is False
        login(page, hub, "decideur1")
        page.wait_for_url(re.compile(r".*/hub/home$"))
        record_timing(f"{backend}: first paint, cold", first_paint(page, hub, dashboard_id))
        record_timing(f"{backend}: first paint, warm server", first_paint(page, hub, dashboard_id))
    finally:
        assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204
    page.goto(f"{hub.url}/hub/home")
    deadline = time.monotonic() + 120
    while author.call("GET", f"dashboards/{MAP_ID}").json()["pool_size"] < 1:
        assert time.monotonic() < deadline, "the identity-free map has no pre-executed kernel"
        time.sleep(0.5)
    record_timing(f"{backend}: first paint, identity-free (snapshot page)", first_paint(page, hub, MAP_ID))


def test_first_paint_of_the_map_cold_warm_and_preheated(page, dashboards_hub, people):
    measure_first_paint(page, dashboards_hub, people, "local")
