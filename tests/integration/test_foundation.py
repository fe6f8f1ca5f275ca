"""The foundation, end to end on a real hub and proxy: login form, REST API, a real lab,
kernels over the websocket, the library's notebooks on the real Normandy data."""

from __future__ import annotations

import os

import pytest

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


def test_wrong_password_is_refused_in_french(hub):
    client = HubClient(hub.url, "analyste1", "not-the-password")
    assert client.login_response.status_code == 403
    assert "Identifiant ou mot de passe incorrect" in client.login_response.content.decode()


def test_user_is_in_partner_and_role_groups(hub):
    client = HubClient(hub.url, "analyste1", PASSWORD)
    groups = set(client.api("GET", "/user").json()["groups"])
    assert groups == {"partner-univ-alpha", "role-analyst"}


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


@pytest.mark.parametrize(
    "notebook, parameters",
    [
        ("01-exploration-covid19.ipynb", {}),
        ("02-carte-normandie.ipynb", {}),
        ("03-rapport-departement.ipynb", {"department": "14", "report_date": "2020-03-20"}),
    ],
)
def test_library_notebooks_run_headless_in_the_lab(analyste1, notebook, parameters):
    out = analyste1.execute(
        "import os, papermill\n"
        f"source, target = os.path.abspath('bibliotheque/{notebook}'), os.path.abspath('sortie-{notebook}')\n"
        f"nb = papermill.execute_notebook(source, target, parameters={parameters!r},\n"
        "    cwd='bibliotheque', progress_bar=False)\n"
        "print(sum(1 for c in nb.cells if c.cell_type == 'code'), os.path.getsize(target) > 0)\n",
        timeout=180,
    )
    code_cells, written = out.splitlines()[-1].split()
    assert int(code_cells) >= 2 and written == "True"


def test_report_notebook_prints_the_department_figures(analyste1):
    out = analyste1.execute(
        "import papermill, json\n"
        "import os\n"
        "nb = papermill.execute_notebook(os.path.abspath('bibliotheque/03-rapport-departement.ipynb'),\n"
        "    os.path.abspath('r76.ipynb'),\n"
        "    parameters={'department': '76', 'report_date': '2020-03-27'}, cwd='bibliotheque',\n"
        "    progress_bar=False)\n"
        "print(json.dumps([o for c in nb.cells for o in c.get('outputs', [])], ensure_ascii=False))\n",
        timeout=180,
    )
    assert "Seine-Maritime (76)" in out
    assert "Personnes hospitalisées** : 170" in out


def test_decision_maker_cannot_start_a_lab(hub):
    client = HubClient(hub.url, "decideur1", PASSWORD)
    r = client.api("POST", "/users/decideur1/server", json={})
    assert r.status_code == 403
    assert client.login_response.headers["Location"] == "/hub/home"
    home = client.session.get(f"{hub.url}/hub/home").content.decode()
    assert "Votre rôle ne comprend pas de lab" in home
    assert 'id="start"' not in home


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
