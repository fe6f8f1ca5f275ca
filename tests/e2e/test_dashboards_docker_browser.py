"""Dashboards on the docker backend (real Docker engine, real lab image): each dashboard's
Voilà runs in a container as its author; the map in a browser (the snapshot page, then
the live page whose kernels are forked from the container's template), the audience, a
raising notebook, the author's identity inside the container, an idle container freed."""

from __future__ import annotations

import html
import re
import time

import docker
import pytest
import yaml
from playwright.sync_api import expect

from hub.settings import memory_bytes
from tests.dashboardhub import (  # noqa: F401 (fixtures)
    IDLE_TIMEOUT,
    MAP_ID,
    docker_dashboards_hub,
    notebook,
    people_of,
)
from tests.e2e.conftest import screenshot
from tests.e2e.test_dashboards_browser import (
    MAP_TITLE,
    live_view,
    login,
    measure_first_paint,
    move_the_date_one_step_back,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def people(docker_dashboards_hub):
    return people_of(docker_dashboards_hub)


def containers(hub, dashboard_id: str) -> list:
    return docker.from_env().containers.list(filters={
        "label": [f"org.datalab.prefix={hub.name_prefix}", f"org.datalab.dashboard={dashboard_id}"],
    })


def test_decision_maker_moves_the_slider_of_the_map_served_from_a_container(page, docker_dashboards_hub):
    login(page, docker_dashboards_hub, "decideur1")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    page.click("#dashboards")
    card = page.locator(f"article[data-dashboard={MAP_ID}]")
    expect(card.locator("h2")).to_have_text(MAP_TITLE)
    card.get_by_role("link", name="Ouvrir le tableau de bord").click()
    page.wait_for_url(re.compile(rf".*/hub/tableau/{MAP_ID}$"))  # the hub's page: the snapshot
    expect(page.locator("#datalab-snapshot .jp-OutputArea-output img")).to_be_visible(timeout=120_000)
    view = live_view(page)
    screenshot(page, "dashboard-docker-map-before")
    move_the_date_one_step_back(page, view)
    screenshot(page, "dashboard-docker-map-after")
    [container] = containers(docker_dashboards_hub, MAP_ID)
    assert container.attrs["Config"]["User"] == "1000:100"
    network = yaml.safe_load(docker_dashboards_hub.config_path.read_text(encoding="utf-8"))["docker"]["network"]
    assert list(container.attrs["NetworkSettings"]["Networks"]) == [network]


def test_the_dashboard_runs_as_its_author_in_a_container_without_any_hub_token(people):
    author = people("analyste1")
    code = (
        "import os, socket\n"
        "print('uid:', os.getuid(), 'home:', os.environ['HOME'], 'hote:', socket.gethostname())\n"
        "print('jetons:', sorted(k for k in os.environ if 'TOKEN' in k or k.startswith('JUPYTERHUB')))\n"
        "print('partenaires:', os.environ['DATALAB_PARTNERS'], sorted(os.listdir(os.environ['HOME'])))\n"
        "print('memoire:', open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip())\n"
    )
    assert author.publish(notebook(code), id="identite-docker", title="Identité", audience={"all": True}).status_code == 201
    try:
        text = html.unescape(people("decideur1").get("d/identite-docker/").content.decode())
        assert "uid: 1000 home: /home/jovyan hote: voila-identite-docker" in text
        assert "jetons: []" in text
        assert re.search(r"partenaires: univ-alpha \[.*'bibliotheque'.*'partenaire-univ-alpha'", text), text
        assert "partenaire-chu-exemple-nord" not in text
        assert f"memoire: {memory_bytes('2G')}" in text  # the example's first profile
    finally:
        author.call("DELETE", "dashboards/identite-docker")


def test_outside_the_audience_the_dashboard_is_unlisted_and_refused(docker_dashboards_hub, people):
    author = people("analyste2")
    r = author.publish(notebook("print('chiffres du CHU')"), id="chu-docker", title="Interne CHU Nord",
                       audience={"partners": ["chu-exemple-nord"]})
    assert r.status_code == 201, r.text
    try:
        assert "chiffres du CHU" in author.get("d/chu-docker/").text
        viewer = people("decideur1")
        assert "Interne CHU Nord" not in viewer.get("").text
        refused = viewer.get("d/chu-docker/")
        assert refused.status_code == 404
        assert "chiffres du CHU" not in refused.text
    finally:
        author.call("DELETE", "dashboards/chu-docker")
    assert containers(docker_dashboards_hub, "chu-docker") == []


def test_a_raising_notebook_in_a_container_shows_viewers_a_french_message(people):
    author = people("analyste1")
    nb = notebook("print('avant erreur')", "raise ValueError('detail-secret-42')")
    assert author.publish(nb, id="erreur-docker", title="En erreur", audience={"all": True}).status_code == 201
    try:
        seen = html.unescape(people("decideur1").get("d/erreur-docker/").content.decode())
        assert "avant erreur" in seen
        assert "rencontré une erreur" in seen
        assert "detail-secret-42" not in seen and "Traceback" not in seen
        own = html.unescape(author.get("d/erreur-docker/").content.decode())
        assert "detail-secret-42" in own and "ValueError" in own
    finally:
        author.call("DELETE", "dashboards/erreur-docker")


def test_an_unviewed_dashboard_frees_its_container_and_comes_back(docker_dashboards_hub, people):
    author = people("analyste1")
    assert author.publish(notebook("print('de retour')"), id="sommeil-docker", title="Sommeil", audience={"all": True}).status_code == 201
    viewer = people("decideur1")
    try:
        assert "de retour" in viewer.get("d/sommeil-docker/").text
        assert len(containers(docker_dashboards_hub, "sommeil-docker")) == 1
        deadline = time.monotonic() + IDLE_TIMEOUT + 30
        while containers(docker_dashboards_hub, "sommeil-docker"):
            assert time.monotonic() < deadline, "the idle dashboard's container is still running"
            time.sleep(1)
        assert author.call("GET", "dashboards/sommeil-docker").json()["running"] is False
        assert "de retour" in viewer.get("d/sommeil-docker/").text
    finally:
        author.call("DELETE", "dashboards/sommeil-docker")
    assert containers(docker_dashboards_hub, "sommeil-docker") == []


def test_the_publish_page_reads_the_authors_notebooks_in_a_container(people):
    author = people("analyste1")
    page = author.get("publish")
    assert page.status_code == 200
    assert '<option value="bibliotheque/02-carte-normandie.ipynb">' in page.text
    assert "partenaire-chu-exemple-nord" not in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    published = author.session.post(f"{author.service}/publish", data={
        "_xsrf": xsrf, "notebook": "bibliotheque/02-carte-normandie.ipynb", "title": "Carte conteneur",
        "audience": "all"})
    try:
        assert published.url.endswith("?published=carte-conteneur"), published.text
        assert "Carte conteneur" in people("decideur1").get("").text
    finally:
        assert author.call("DELETE", "dashboards/carte-conteneur").status_code == 204


def test_first_paint_of_the_map_in_containers_cold_warm_and_preheated(page, docker_dashboards_hub, people):
    measure_first_paint(page, docker_dashboards_hub, people, "docker")
