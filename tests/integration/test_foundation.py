"""The foundation, end to end on a real hub and proxy: login form, REST API, a real lab,
kernels over the websocket, the library's notebooks on the real Normandy data."""

from __future__ import annotations

import html
import json
import os

import pytest
import requests

from tests.conftest import PASSWORD
from tests.hubclient import HubClient, KernelError

pytestmark = pytest.mark.integration

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="per-user accounts (isolation) need the hub to run as root"
)


@pytest.fixture(scope="module")
def analyste1(hub):
    client = HubClient(hub.url, "analyste1", PASSWORD)
    r = client.start_server({"profile": "standard"})
    assert r.status_code in (201, 202), r.text
    client.open_lab()
    yield client
    client.stop_server()


def test_login_form_sets_the_hub_cookie(hub):
    client = HubClient(hub.url, "analyste2", PASSWORD)
    assert client.login_response.status_code == 302
    assert client.api("GET", "/user").json()["name"] == "analyste2"


def test_the_demo_login_hint_names_every_demo_account(hub):
    page = requests.get(f"{hub.url}/hub/login", timeout=30).content.decode()
    assert "Démonstration : comptes analyste1, analyste2, decideur1 et coordinateur." in page


def test_wrong_password_is_refused_in_french(hub):
    client = HubClient(hub.url, "analyste1", "not-the-password")
    assert client.login_response.status_code == 403
    assert "Identifiant ou mot de passe incorrect" in client.login_response.content.decode()


def test_user_is_in_partner_and_role_groups(hub):
    client = HubClient(hub.url, "analyste1", PASSWORD)
    groups = set(client.api("GET", "/user").json()["groups"])
    assert groups == {"partner-univ-alpha", "role-analyst", "project-sante-territoires"}


def test_kernel_loads_the_tidy_table_with_real_figures(analyste1):
    out = analyste1.execute(
        "import normandie\n"
        "t = normandie.load_reports()\n"
        "row = t[(t.department_code == '76') & (t.date == '2020-03-27')]\n"
        "print(row.department_name.item(), row.hospitalised.item())\n"
    )
    assert out.strip() == "Seine-Maritime 170"


def test_library_and_partner_space_are_beside_the_home(analyste1):
    listing = analyste1.lab_api("GET", "/contents/").json()
    names = {item["name"] for item in listing["content"]}
    assert {"bibliotheque", "partenaire-univ-alpha"} <= names
    library = analyste1.lab_api("GET", "/contents/bibliotheque").json()
    notebooks = {item["name"] for item in library["content"]}
    assert {"01-exploration-covid19.ipynb", "02-carte-normandie.ipynb",
            "03-rapport-departement.ipynb", "normandie.py"} <= notebooks


def run_headless(client: HubClient, notebook: str, parameters: dict[str, str]) -> str:
    """Run a library notebook with papermill in the lab, as its user, in a process of its
    own (``-r``: values stay strings); returns the executed notebook's JSON text. A cell
    running over 120 s fails the run, with papermill's log in the error."""
    argv = ["-m", "papermill", "--cwd", "bibliotheque", "--no-progress-bar", "--log-output",
            "--start-timeout", "120", "--execution-timeout", "120",
            f"bibliotheque/{notebook}", f"sortie-{notebook}"]
    for name, value in parameters.items():
        argv += ["-r", name, value]
    return client.execute(
        "import subprocess, sys\n"
        f"done = subprocess.run([sys.executable, *{argv!r}], capture_output=True, text=True)\n"
        "assert done.returncode == 0, done.stderr[-3000:]\n"
        f"print(open('sortie-{notebook}', encoding='utf-8').read())\n",
        timeout=400,
    )


@pytest.mark.parametrize(
    "notebook, parameters, produced",
    [
        ("01-exploration-covid19.ipynb", {}, "image/png"),
        # the map is drawn inside the date-slider widget's output
        ("02-carte-normandie.ipynb", {}, "application/vnd.jupyter.widget-view+json"),
        ("03-rapport-departement.ipynb", {"department": "14", "report_date": "2020-03-20"}, "image/png"),
    ],
)
def test_library_notebooks_run_headless_in_the_lab(analyste1, notebook, parameters, produced):
    executed = json.loads(run_headless(analyste1, notebook, parameters))
    code_cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(c["execution_count"] for c in code_cells)
    assert not any(o["output_type"] == "error" for c in code_cells for o in c["outputs"])
    assert any(produced in o.get("data", {}) for c in code_cells for o in c["outputs"])


def test_report_notebook_prints_the_department_figures(analyste1):
    executed = run_headless(
        analyste1, "03-rapport-departement.ipynb", {"department": "76", "report_date": "2020-03-27"}
    )
    assert "Seine-Maritime (76)" in executed
    assert "Personnes hospitalisées** : 170" in executed


def test_decision_maker_cannot_start_a_lab(hub):
    client = HubClient(hub.url, "decideur1", PASSWORD)
    r = client.api("POST", "/users/decideur1/server", json={})
    assert r.status_code == 403
    assert client.login_response.headers["Location"] == "/hub/home"
    home = client.session.get(f"{hub.url}/hub/home").content.decode()
    assert "Votre rôle ne comprend pas de lab" in home
    assert 'id="start"' not in home


def _no_lab_for(admin: HubClient, name: str) -> None:
    model = admin.api("GET", f"/users/{name}")
    assert model.status_code == 200, model.text
    assert model.json()["servers"] == {}
    assert model.json()["pending"] is None


def test_an_admin_cannot_start_a_lab_for_a_role_without_labs_through_the_api(hub):
    admin = HubClient(hub.url, "coordinateur", PASSWORD)
    for body in ({}, {"profile": "standard"}):
        r = admin.api("POST", "/users/decideur1/server", json=body)
        assert r.status_code == 403, r.text
        assert r.json()["message"] == (
            "Le rôle de « decideur1 » ne comprend pas de lab : aucun lab ne peut être démarré "
            "pour cette personne."
        )
        _no_lab_for(admin, "decideur1")


def test_an_admin_cannot_start_a_lab_for_a_role_without_labs_through_the_spawn_page(hub):
    admin = HubClient(hub.url, "coordinateur", PASSWORD)
    page = admin.session.get(f"{hub.url}/hub/spawn/decideur1")
    assert page.status_code == 403
    assert "Le rôle de « decideur1 » ne comprend pas de lab" in html.unescape(page.content.decode())
    _no_lab_for(admin, "decideur1")
    posted = admin.session.post(
        f"{hub.url}/hub/spawn/decideur1", data={"profile": "standard", "_xsrf": admin._xsrf()},
    )
    assert posted.status_code == 403
    assert "ne comprend pas de lab" in html.unescape(posted.content.decode())
    _no_lab_for(admin, "decideur1")


def test_a_decision_makers_sharing_page_has_no_share_form(hub):
    client = HubClient(hub.url, "decideur1", PASSWORD)
    page = client.session.get(f"{hub.url}/hub/partage")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert 'id="share-no-lab"' in text and "Votre rôle ne comprend pas de lab" in text
    for form_part in ('id="share-target"', 'id="share-submit"', 'id="share-code"', 'id="my-shares"'):
        assert form_part not in text
    analyst = HubClient(hub.url, "analyste1", PASSWORD).session.get(f"{hub.url}/hub/partage").text
    assert 'id="share-submit"' in analyst and 'id="share-no-lab"' not in analyst


def test_profile_not_entitled_is_refused_with_the_allowed_ones(hub):
    client = HubClient(hub.url, "analyste2", PASSWORD)
    r = client.api("POST", "/users/analyste2/server", json={"profile": "calcul"})
    assert r.status_code == 403
    message = r.json()["message"]
    assert "calcul" in message and "Profils autorisés : standard" in message


def test_unknown_option_is_refused(hub):
    client = HubClient(hub.url, "analyste2", PASSWORD)
    r = client.api("POST", "/users/analyste2/server", json={"mem_limit": "64G"})
    assert r.status_code == 400
    assert "mem_limit" in r.json()["message"]


@needs_root
def test_library_is_read_only_in_the_lab(analyste1):
    with pytest.raises(KernelError, match="PermissionError"):
        analyste1.execute("open('bibliotheque/normandie.py', 'a').write('# x')")
    r = analyste1.lab_api("PUT", "/contents/bibliotheque/nouveau.txt",
                          json={"type": "file", "format": "text", "content": "x"})
    assert r.status_code >= 400


@needs_root
def test_analyst_cannot_write_into_another_partners_space(hub, analyste1):
    other = hub.layout.partner_space("chu-exemple-nord")
    # analyste2 (CHU Exemple Nord) has its space created at its first start
    client = HubClient(hub.url, "analyste2", PASSWORD)
    assert client.start_server().status_code in (201, 202)
    try:
        with pytest.raises(KernelError, match="PermissionError"):
            analyste1.execute(f"open({str(other / 'intrusion.txt')!r}, 'w').write('x')")
        with pytest.raises(KernelError, match="PermissionError"):
            analyste1.execute(f"import os; os.listdir({str(other)!r})")
        client.open_lab()
        assert client.execute(
            "open('partenaire-chu-exemple-nord/note.txt', 'w').write('ok'); print('written')"
        ).strip() == "written"
    finally:
        client.stop_server()


@needs_root
def test_analyst_writes_own_partner_space(analyste1):
    out = analyste1.execute(
        "open('partenaire-univ-alpha/partage.txt', 'w').write('bonjour'); "
        "import os; print(os.stat('partenaire-univ-alpha/partage.txt').st_gid == "
        "os.stat('partenaire-univ-alpha').st_gid)"
    )
    assert out.strip() == "True"


def test_the_admin_cannot_join_a_health_partners_group(hub):
    """Attack: coordinateur (the admin) adds themselves to analyste2's health partner group
    (its space would then be mounted in their lab): refused, membership unchanged."""
    admin = HubClient(hub.url, "coordinateur", PASSWORD)
    group = "/groups/partner-chu-exemple-nord"
    assert admin.api("GET", group).json()["users"] == ["analyste2"]
    r = admin.api("POST", f"{group}/users", json={"users": ["coordinateur"]})
    assert r.status_code == 403, r.text
    assert admin.api("GET", group).json()["users"] == ["analyste2"]
    assert "partner-chu-exemple-nord" not in admin.api("GET", "/user").json()["groups"]
    assert "auth_state" not in admin.api("GET", "/users/analyste2").text


def test_the_hub_starts_without_a_proxy_reset_or_a_websocket_warning(hub):
    """Issue 21: `make run` printed ConfigProxy's ECONNRESET and a websocket_ping_timeout
    warning at every start. The shared hub starts as `make run` does: until it says it is
    running, its log has neither."""
    log = hub.log_path.read_text(errors="replace")
    start = log[: log.index("JupyterHub is now running")]
    assert "ECONNRESET" not in start and "websocket_ping_timeout" not in start
