"""The dashboards service on a real hub: publishing (REST API and CLI), versions, the
audience on the gallery, the API and direct URLs, the author's identity, errors shown to
viewers and authors, capacity caps (under 100 concurrent first requests too), views
without websocket, each viewer's kernel kept from others, and idle servers."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import time

import pytest
import requests

from tests.conftest import PASSWORD, REPO
from tests.dashboardhub import (  # noqa: F401 (fixtures)
    CAP_PER_DASHBOARD,
    CAP_TOTAL,
    IDLE_TIMEOUT,
    KERNEL_IN_PAGE,
    MAP_ID,
    DashboardsClient,
    ODD_AUTHOR,
    PREHEATED,
    caps_hold_under_a_rush,
    dashboards_hub,
    font_awesome_served_by_the_hub,
    kernel_socket,
    notebook,
    people,
    static_files_kept_by_the_service,
    view_without_websocket_released,
    viewers_kept_apart,
    wait_load,
)

pytestmark = pytest.mark.integration

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="running as the author's account needs the hub to run as root"
)


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.text)


def test_decision_maker_sees_the_deployment_map_in_the_french_gallery(people):
    gallery = people("decideur1").get("")
    assert gallery.status_code == 200
    text = page_text(gallery)
    assert "Tableaux de bord" in text
    assert "Carte : la COVID-19 dans les départements normands" in text
    assert "Université Exemple Alpha" in text
    assert f'href="/hub/tableau/{MAP_ID}"' in gallery.text  # opened at the hub (hub.dashboard_page)


def test_the_execution_at_publish_lists_the_modules_the_kernel_template_imports(dashboards_hub, people):
    directory = dashboards_hub.layout.dashboard(MAP_ID)
    version = json.loads((directory / "dashboard.json").read_text(encoding="utf-8"))["version"]
    modules = json.loads((directory / f"v{version}" / "kernel-modules.json").read_text(encoding="utf-8"))
    assert {"normandie", "geopandas", "matplotlib.pyplot", "ipywidgets"} <= set(modules)
    people("decideur1").get(f"d/{MAP_ID}/datalab/fontawesome/css/all.min.css")  # its server runs
    deadline = time.monotonic() + 60
    while "kernel template ready" not in dashboards_hub.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, dashboards_hub.log_tail()
        time.sleep(0.5)
    ready = [line for line in dashboards_hub.log_path.read_text(errors="replace").splitlines()
             if "kernel template ready" in line]
    assert all("forking=yes" in line for line in ready), ready


def test_a_viewer_of_the_identity_free_map_gets_its_snapshot_page_first_the_author_the_live_page(people):
    snapshot = people("decideur1").get(f"d/{MAP_ID}/")
    assert snapshot.status_code == 200
    text = page_text(snapshot)
    assert "Version publiée, telle que dessinée à la publication" in text
    assert 'class="jp-OutputArea-output"><img alt="" src="data:image/png;base64,' in snapshot.text
    assert 'frame.src = "?datalab-live=1"' in snapshot.text and "kernelId" not in snapshot.text
    author_page = people("analyste1").get(f"d/{MAP_ID}/")
    assert author_page.status_code == 200 and "kernelId" in author_page.text and "datalab-snapshot" not in author_page.text


def test_the_maps_live_page_loads_the_widgets_extension_and_neither_plotly_nor_collaboration(people):
    author = people("analyste1")
    views_before = wait_load(author, MAP_ID, lambda load: True, 10)["views"]
    page = author.get(f"d/{MAP_ID}/")  # the author's: the live page at once
    assert page.status_code == 200
    try:
        config = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text,
                           re.S)
        loaded = {extension["name"] for extension in json.loads(config[1])["federated_extensions"]}
        assert "@jupyter-widgets/jupyterlab-manager" in loaded, loaded
        assert not loaded & {"jupyterlab-plotly", "@jupyter/docprovider-extension", "@jupyter/collaboration-extension"}
    finally:  # the view is given back (its websocket opened and closed): later tests find the caps as they were
        kernel_socket(author, MAP_ID, KERNEL_IN_PAGE.search(page.text).group(1)).close()
        wait_load(author, MAP_ID, lambda load: load["views"] <= views_before, 60)


def hub_page(person, dashboard_id: str, **kwargs):
    """``/hub/tableau/<id>`` (hub.dashboard_page) as ``person``'s browser asks it."""
    return person.session.get(f"{person.base}/hub/tableau/{dashboard_id}", allow_redirects=False, **kwargs)


def test_a_viewer_logged_in_to_the_hub_only_gets_the_maps_snapshot_page_from_the_hub(dashboards_hub):
    viewer = DashboardsClient(dashboards_hub.url, "decideur2", PASSWORD)  # never logged in to the service
    page = hub_page(viewer, MAP_ID)
    assert page.status_code == 200, page.status_code
    assert "Version publiée, telle que dessinée à la publication" in page_text(page)
    assert 'class="jp-OutputArea-output"><img alt="" src="data:image/png;base64,' in page.text
    assert f'frame.src = "/services/dashboards/d/{MAP_ID}/?datalab-live=1"' in page.text
    assert "kernelId" not in page.text
    assert not [c.name for c in viewer.session.cookies if c.path.startswith("/services/")]  # no service login
    # the frame's request logs the viewer in to the service, then waits for its turn
    live = viewer.session.get(f"{viewer.service}/d/{MAP_ID}/?datalab-live=1", allow_redirects=False)
    assert live.status_code == 302 and "/hub/api/oauth2/authorize" in live.headers["Location"]


def test_the_hub_page_sends_everyone_else_to_the_services_page_which_says_nothing_more(dashboards_hub, people):
    """Attack: a viewer outside a dashboard's audience asks the hub's page of it (its
    snapshot page made), a path climbing out, no login at all."""
    author = people("analyste1")
    r = author.publish(notebook("print('chiffres internes Alpha')"), id="interne-alpha", title="Interne Alpha",
                       audience={"partners": ["univ-alpha"]}, identity_free=True)
    assert r.status_code == 201, r.text
    try:
        assert r.json()["url"] == "/hub/tableau/interne-alpha"
        snapshot = dashboards_hub.layout.dashboards / "interne-alpha" / "v1" / "snapshot.html"
        deadline = time.monotonic() + 120
        while not snapshot.exists():  # executed once at publish: its snapshot page is made
            assert time.monotonic() < deadline, dashboards_hub.log_tail()
            time.sleep(0.5)
        viewer = people("decideur1")
        hidden, absent = hub_page(viewer, "interne-alpha"), hub_page(viewer, "jamais-publie")
        assert (hidden.status_code, absent.status_code) == (302, 302)
        assert hidden.headers["Location"] == "/services/dashboards/d/interne-alpha/"
        assert absent.headers["Location"] == "/services/dashboards/d/jamais-publie/"
        assert "chiffres internes" not in hidden.text
        refused, never = viewer.get("d/interne-alpha/"), viewer.get("d/jamais-publie/")
        assert refused.status_code == never.status_code == 404 and page_text(refused) == page_text(never)
        own = hub_page(author, "interne-alpha", params={"jour": "3"})  # the author: the live page
        assert own.status_code == 302 and own.headers["Location"] == "/services/dashboards/d/interne-alpha/?jour=3"
        for climbing in ("..%2F..%2Fhub", "interne-alpha%2F..%2F..%2Fsecret", "%2Fetc%2Fpasswd", "INTERNE"):
            assert hub_page(viewer, climbing).status_code == 404, climbing
        anonymous = requests.get(f"{dashboards_hub.url}/hub/tableau/{MAP_ID}", allow_redirects=False)
        assert anonymous.status_code == 302 and "/hub/login" in anonymous.headers["Location"]
    finally:
        assert author.call("DELETE", "dashboards/interne-alpha").status_code == 204


def test_an_identity_dependent_dashboard_has_no_snapshot_page(dashboards_hub, people):
    author = people("analyste1")
    assert author.publish(notebook("import os\nprint('vue personnelle')"), id="personnel", title="Personnel",
                          audience={"all": True}).status_code == 201
    try:
        page = people("decideur1").get("d/personnel/")
        assert page.status_code == 200 and "kernelId" in page.text and "datalab-snapshot" not in page.text
        sent = hub_page(people("decideur1"), "personnel")
        assert sent.status_code == 302 and sent.headers["Location"] == "/services/dashboards/d/personnel/"
    finally:
        assert author.call("DELETE", "dashboards/personnel").status_code == 204


def test_the_page_takes_font_awesome_from_the_hub_not_a_cdn(people):
    font_awesome_served_by_the_hub(people("coordinateur"), MAP_ID)


def test_partner_only_dashboard_is_invisible_and_refused_to_others(people):
    author = people("analyste2")
    r = author.publish(notebook("print('chiffres du CHU')"), id="chu-nord-interne",
                       title="Tableau interne CHU Nord", audience={"partners": ["chu-exemple-nord"]})
    assert r.status_code == 201, r.text
    try:
        assert "Tableau interne CHU Nord" in author.get("").text
        assert "chiffres du CHU" in author.get("d/chu-nord-interne/").text
        viewer = people("decideur1")
        assert "Tableau interne CHU Nord" not in viewer.get("").text
        ids = [d["id"] for d in viewer.call("GET", "dashboards").json()["dashboards"]]
        assert ids == [MAP_ID]
        # hidden is answered as absent: the very page of an id that never existed
        refused = viewer.get("d/chu-nord-interne/")
        absent = viewer.get("d/jamais-publie/")
        assert refused.status_code == absent.status_code == 404
        assert page_text(refused) == page_text(absent) and "chiffres du CHU" not in refused.text
        assert viewer.get("d/chu-nord-interne/voila/static/voila.js").status_code == 404
        assert viewer.call("GET", "dashboards/chu-nord-interne").status_code == 404
        # publishing under the hidden id gives the publisher a dashboard of their own
        analyst = people("analyste1")
        mine = analyst.publish(notebook("print('le mien')"), id="chu-nord-interne", title="Le mien")
        assert mine.status_code == 201, mine.text
        own_id = mine.json()["id"]
        assert own_id.startswith("chu-nord-interne-") and own_id != "chu-nord-interne"
        again = analyst.publish(notebook("print('le mien, v2')"), id="chu-nord-interne", title="Le mien")
        assert again.status_code == 200 and again.json()["id"] == own_id and again.json()["version"] == 2
        assert analyst.call("DELETE", f"dashboards/{own_id}").status_code == 204
        assert "chiffres du CHU" in author.get("d/chu-nord-interne/").text
        # the admin moderates: sees it
        assert "Tableau interne CHU Nord" in people("coordinateur").get("").text
    finally:
        assert author.call("DELETE", "dashboards/chu-nord-interne").status_code == 204


def wait_picture(person, dashboard_id: str, timeout: float = 120):
    """The dashboard's picture as ``person`` gets it, once made (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        r = person.get(f"preview/{dashboard_id}")
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_the_picture_is_made_at_publication_and_refused_like_an_absent_dashboard_outside_the_audience(people):
    """Attack: decideur1 (another partner) asks for the picture of a CHU Nord dashboard:
    the same answer as for a dashboard that does not exist."""
    author = people("analyste2")
    drawing = "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('Lits CHU Nord')\nplt.show()"
    r = author.publish(notebook(drawing), id="chu-nord-lits", title="Lits CHU Nord",
                       audience={"partners": ["chu-exemple-nord"]})
    assert r.status_code == 201, r.text
    try:
        picture = wait_picture(author, "chu-nord-lits")
        assert picture.status_code == 200, picture.text
        assert picture.headers["Content-Type"] == "image/png"
        assert picture.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in picture.headers["Content-Security-Policy"]
        assert picture.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert 'src="/services/dashboards/preview/chu-nord-lits?v=1" alt="Lits CHU Nord"' in author.get("").text
        viewer = people("decideur1")
        refused, absent = viewer.get("preview/chu-nord-lits"), viewer.get("preview/aucun-tableau")
        assert refused.status_code == absent.status_code == 404
        assert refused.headers["Content-Type"] == absent.headers["Content-Type"] == "text/html; charset=utf-8"
        assert refused.text == absent.text
        assert b"PNG" not in refused.content
    finally:
        assert author.call("DELETE", "dashboards/chu-nord-lits").status_code == 204
    assert author.get("preview/chu-nord-lits").status_code == 404


def test_search_filters_the_gallery(people):
    viewer = people("decideur1")
    assert MAP_ID in viewer.get("", params={"q": "covid départements"}).text
    nothing = viewer.get("", params={"q": "introuvable"})
    assert MAP_ID not in nothing.text
    assert "Aucun tableau de bord ne correspond" in page_text(nothing)


def test_republish_keeps_versions_and_unpublish_removes_every_url(dashboards_hub, people):
    author = people("analyste1")
    first = author.publish(notebook("print('version un')"), title="Essai de versions", audience={"all": True})
    assert first.status_code == 201, first.text
    dashboard_id = first.json()["id"]
    assert dashboard_id == "essai-de-versions"
    second = author.publish(notebook("print('version deux')"), id=dashboard_id, title="Essai de versions",
                            audience={"all": True})
    assert second.status_code == 200
    assert second.json()["version"] == 2
    assert [v["number"] for v in second.json()["versions"]] == [1, 2]
    directory = dashboards_hub.layout.dashboard(dashboard_id)
    assert (directory / "v1" / "notebook.ipynb").exists() and (directory / "v2" / "notebook.ipynb").exists()
    viewer = people("decideur1")
    assert "version deux" in viewer.get(f"d/{dashboard_id}/").text
    # someone else cannot publish over it (they get an id of their own), nor unpublish it
    other = people("analyste2")
    stolen = other.publish(notebook("print(1)"), id=dashboard_id, title="Vol")
    assert stolen.status_code == 201, stolen.text
    assert stolen.json()["id"] != dashboard_id and stolen.json()["author"] == "analyste2"
    assert "version deux" in viewer.get(f"d/{dashboard_id}/").text
    assert other.call("DELETE", f"dashboards/{stolen.json()['id']}").status_code == 204
    assert other.call("DELETE", f"dashboards/{dashboard_id}").status_code == 403
    assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204
    assert dashboard_id not in viewer.get("").text
    assert viewer.get(f"d/{dashboard_id}/").status_code == 404
    assert viewer.call("GET", f"dashboards/{dashboard_id}").status_code == 404


def test_decision_makers_cannot_publish(people):
    r = people("decideur1").publish(notebook("print(1)"), title="Pas autorisé")
    assert r.status_code == 403


@needs_root
def test_dashboard_runs_as_its_author_without_the_service_credentials(people):
    author = people("analyste1")
    code = (
        "import getpass, os\n"
        "print('compte:', getpass.getuser())\n"
        "print('jetons:', sorted(k for k in os.environ if 'TOKEN' in k or k.startswith('JUPYTERHUB')))\n"
        "print('partenaires:', os.environ['DATALAB_PARTNERS'])\n"
    )
    assert author.publish(notebook(code), id="identite", title="Identité", audience={"all": True}).status_code == 201
    try:
        text = people("decideur1").get("d/identite/").content.decode()
        account = re.search(r"compte: (\S+)", text).group(1)
        assert account.endswith("-analyste1") and account != "root"
        assert "jetons: []" in text
        assert "partenaires: univ-alpha" in text
    finally:
        author.call("DELETE", "dashboards/identite")


def test_a_raising_notebook_shows_viewers_a_french_message_and_its_author_the_traceback(people):
    author = people("analyste1")
    stale = [{"output_type": "stream", "name": "stdout", "text": "SORTIE-PERIMEE\n"}]
    nb = notebook(
        "print('avant erreur')",
        "raise ValueError('detail-secret-42')",
        ("print('apres')", stale),
    )
    assert author.publish(nb, id="en-erreur", title="En erreur", audience={"all": True}).status_code == 201
    try:
        seen = html.unescape(people("decideur1").get("d/en-erreur/").content.decode())
        assert "avant erreur" in seen
        assert "rencontré une erreur" in seen
        assert "detail-secret-42" not in seen and "Traceback" not in seen and "ValueError" not in seen
        assert "SORTIE-PERIMEE" not in seen
        own = html.unescape(author.get("d/en-erreur/").content.decode())
        assert "detail-secret-42" in own and "ValueError" in own
        assert "SORTIE-PERIMEE" not in own
    finally:
        author.call("DELETE", "dashboards/en-erreur")


def test_a_kernel_dying_during_the_render_ends_the_page_with_a_french_message(people):
    """The viewer's kernel ends in the middle of the notebook (as when it is killed for
    memory): the page ends with the output so far and the French message, without
    Voilà's server traceback; the next cells are neither run nor shown with their stored
    outputs."""
    author = people("analyste1")
    stale = [{"output_type": "stream", "name": "stdout", "text": "SORTIE-PERIMEE\n"}]
    nb = notebook("print('avant la fin du noyau')", "import os; os._exit(1)", ("print('apres')", stale))
    assert author.publish(nb, id="noyau-mort", title="Noyau mort", audience={"all": True}).status_code == 201
    try:
        began = time.monotonic()
        page = people("decideur1").get("d/noyau-mort/", timeout=120)
        elapsed = time.monotonic() - began
        seen = html.unescape(page.content.decode())
        print(f"\npage of a dying kernel: HTTP {page.status_code} in {elapsed:.1f} s")
        assert "avant la fin du noyau" in seen
        assert "rencontré une erreur" in seen
        assert "SORTIE-PERIMEE" not in seen and "apres" not in seen
        assert "DeadKernelError" not in seen and "Traceback" not in seen and ".py" not in seen
    finally:
        author.call("DELETE", "dashboards/noyau-mort")


def test_caps_per_dashboard_and_in_total_answer_a_polite_busy_page(people):
    author = people("analyste1")
    viewer, other = people("decideur1"), people("analyste2")
    for dashboard_id in ("affluence-a", "affluence-b"):
        r = author.publish(notebook("print('ok')"), id=dashboard_id, title=dashboard_id, audience={"all": True})
        assert r.status_code == 201
        # its server started (a static file takes no place): the views below come within
        # the view timeout of each other
        assert viewer.get(f"d/{dashboard_id}/voila/static/voila.js").status_code == 200
    try:
        for _ in range(CAP_PER_DASHBOARD):
            assert viewer.get("d/affluence-a/").status_code == 200
        busy = viewer.get("d/affluence-a/")
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "20"
        assert "Tableau de bord très demandé" in busy.text
        # the total cap (the map's pre-executed kernel counts in it): affluence-b has room
        # of its own, but not the hub
        for _ in range(CAP_TOTAL - CAP_PER_DASHBOARD - PREHEATED):
            assert other.get("d/affluence-b/").status_code == 200
        assert other.get("d/affluence-b/").status_code == 503
        state = author.call("GET", "dashboards/affluence-a").json()
        assert state["kernels"] == CAP_PER_DASHBOARD
    finally:
        for dashboard_id in ("affluence-a", "affluence-b"):
            assert author.call("DELETE", f"dashboards/{dashboard_id}").status_code == 204
    # unpublishing shut the kernels down: the hub has room again
    assert author.publish(notebook("print('ok')"), id="affluence-c", title="c", audience={"all": True}).status_code == 201
    try:
        assert viewer.get("d/affluence-c/").status_code == 200
    finally:
        author.call("DELETE", "dashboards/affluence-c")


def test_an_unviewed_dashboard_frees_its_server_and_comes_back(people):
    author = people("analyste1")
    assert author.publish(notebook("print('de retour')"), id="sommeil", title="Sommeil",
                          audience={"all": True}).status_code == 201
    viewer = people("decideur1")
    try:
        assert "de retour" in viewer.get("d/sommeil/").text
        assert author.call("GET", "dashboards/sommeil").json()["running"] is True
        deadline = time.monotonic() + IDLE_TIMEOUT + 30
        while author.call("GET", "dashboards/sommeil").json()["running"]:
            assert time.monotonic() < deadline, "the idle dashboard's server is still running"
            time.sleep(1)
        assert "de retour" in viewer.get("d/sommeil/").text
    finally:
        author.call("DELETE", "dashboards/sommeil")


def test_the_identity_free_map_stays_warm(people):
    state = people("analyste1").call("GET", f"dashboards/{MAP_ID}").json()
    assert state["identity_free"] is True
    deadline = time.monotonic() + 60
    while not people("analyste1").call("GET", f"dashboards/{MAP_ID}").json()["running"]:
        assert time.monotonic() < deadline, "the identity-free dashboard's server did not start"
        time.sleep(1)


def test_an_author_whose_name_needs_escaping_publishes_and_views(people):
    author = people(ODD_AUTHOR)
    r = author.publish(notebook("print('publié par jean')"), id="jean-dupont", title="Par Jean", audience={"all": True})
    assert r.status_code == 201, r.text
    try:
        assert r.json()["author"] == ODD_AUTHOR
        assert "publié par jean" in author.get("d/jean-dupont/").content.decode()
        assert "publié par jean" in people("decideur1").get("d/jean-dupont/").content.decode()
    finally:
        assert author.call("DELETE", "dashboards/jean-dupont").status_code == 204


def test_the_cli_publishes_lists_and_unpublishes(dashboards_hub, people, tmp_path):
    author = people("analyste2")
    token = author.token()
    path = tmp_path / "carte.ipynb"
    path.write_text((REPO / "shared_notebooks" / "02-carte-normandie.ipynb").read_text(encoding="utf-8"))
    cli = [str(REPO / ".venv" / "bin" / "datalab"), "--url", dashboards_hub.url, "--token", token, "dashboards"]

    def run(*args):
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120)

    published = run("publish", str(path), "--title", "Carte (CLI)", "--id", "carte-cli",
                    "--audience", "partner:chu-exemple-nord,role:decision-maker")
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("carte-cli version 1: /hub/tableau/carte-cli")
    assert "carte-cli" in run("list").stdout
    # partners AND roles: the decision-makers of chu-exemple-nord, not those of other partners
    assert "Carte (CLI)" in author.get("").text
    assert "Carte (CLI)" not in people("decideur1").get("").text
    assert "Carte (CLI)" not in people("analyste1").get("").text
    refused = run("publish", str(path), "--title", "Refus", "--audience", "partner:inconnu")
    assert refused.returncode == 1 and "Partenaire(s) inconnu(s)" in refused.stderr
    assert run("unpublish", "carte-cli").returncode == 0
    assert "carte-cli" not in run("list").stdout


def test_the_publish_page_lists_the_authors_notebooks_and_refuses_paths_outside_their_home(people):
    assert people("decideur1").get("publish").status_code == 403
    author = people("analyste1")
    page = author.get("publish?path=bibliotheque/02-carte-normandie.ipynb")
    assert page.status_code == 200
    assert "Publier un tableau de bord" in page.text
    assert '<option value="bibliotheque/02-carte-normandie.ipynb" selected>' in page.text
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    refused = author.session.post(f"{author.service}/publish", data={
        "_xsrf": xsrf, "path": "../../etc/passwd.ipynb", "title": "Intrus", "audience": "all"})
    assert refused.status_code == 400
    assert "Publication impossible" in html.unescape(refused.text)
    assert "Intrus" not in author.get("").text
    published = author.session.post(f"{author.service}/publish", data={
        "_xsrf": xsrf, "notebook": "bibliotheque/02-carte-normandie.ipynb", "title": "Carte du formulaire",
        "audience": "all"})
    try:
        assert published.status_code == 200 and published.url.endswith("?published=carte-du-formulaire")
        assert "« Carte du formulaire » est publié (version 1)" in html.unescape(published.text)
    finally:
        assert author.call("DELETE", "dashboards/carte-du-formulaire").status_code == 204


def test_a_viewer_reaches_only_the_kernel_of_their_own_page_view(dashboards_hub, people):
    viewers_kept_apart(dashboards_hub, people)


def test_a_static_file_once_relayed_is_answered_by_the_service_behind_the_audience_check(people):
    static_files_kept_by_the_service(people)


def test_a_page_view_without_websocket_gives_its_kernel_and_place_back(people):
    view_without_websocket_released(people)


def test_a_hundred_concurrent_first_requests_never_exceed_the_caps(people):
    caps_hold_under_a_rush(people)


# -- health spaces: nothing published beyond the partner ------------------------------------

HEALTH_RULE = "Règle des données de santé"


def test_a_new_dashboard_is_seen_by_the_authors_partner_only(people):
    author = people("analyste1")
    r = author.publish(notebook("print('pour mon partenaire')"), id="par-defaut", title="Par défaut")
    assert r.status_code == 201, r.text
    try:
        assert r.json()["audience"]["partners"] == ["univ-alpha"] and not r.json()["audience"]["all"]
        assert "Par défaut" in author.get("").text
        assert "Par défaut" not in people("decideur1").get("").text
        assert people("decideur1").get("d/par-defaut/").status_code == 404
    finally:
        assert author.call("DELETE", "dashboards/par-defaut").status_code == 204


def test_a_health_member_cannot_publish_beyond_their_partner_through_the_api(people):
    """Attack: analyste2 (CHU Exemple Nord, health data) publishes to every member, to
    another partner, and to an alternative reaching another partner's decision-makers."""
    author = people("analyste2")
    for audience in ({"all": True}, {"partners": ["univ-alpha"]},
                     {"any_of": [{"partners": ["chu-exemple-nord"]}, {"roles": ["decision-maker"]}]}):
        r = author.publish(notebook("print('donnees de sante')"), id="fuite-api", title="Fuite", audience=audience)
        assert r.status_code == 403, (audience, r.text)
        assert HEALTH_RULE in r.json()["message"] and "CHU Exemple Nord" in r.json()["message"]
    assert author.call("GET", "dashboards/fuite-api").status_code == 404
    assert "Fuite" not in people("decideur1").get("").text


def test_a_health_member_cannot_publish_beyond_their_partner_through_the_form(people):
    author = people("analyste2")
    page = author.get("publish?path=bibliotheque/02-carte-normandie.ipynb")
    assert page.status_code == 200
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    for fields in ({"audience": "all"}, {"audience": "some", "partners": ["region-exemple"]}):
        refused = author.session.post(f"{author.service}/publish", data={
            "_xsrf": xsrf, "notebook": "bibliotheque/02-carte-normandie.ipynb", "title": "Fuite du formulaire",
            **fields})
        assert refused.status_code == 400, fields
        assert HEALTH_RULE in html.unescape(refused.text)
    assert author.call("GET", "dashboards/fuite-du-formulaire").status_code == 404


def test_a_health_member_cannot_publish_beyond_their_partner_through_the_cli(dashboards_hub, people, tmp_path):
    author = people("analyste2")
    path = tmp_path / "fuite.ipynb"
    path.write_text(json.dumps(notebook("print('donnees de sante')")), encoding="utf-8")
    cli = [str(REPO / ".venv" / "bin" / "datalab"), "--url", dashboards_hub.url, "--token", author.token(),
           "dashboards", "publish", str(path), "--title", "Fuite CLI", "--id", "fuite-cli"]
    for audience in ("all", "partner:region-exemple"):
        refused = subprocess.run([*cli, "--audience", audience], capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and HEALTH_RULE in refused.stderr, refused.stderr
    assert author.call("GET", "dashboards/fuite-cli").status_code == 404
