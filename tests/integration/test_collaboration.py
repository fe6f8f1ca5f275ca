"""Collaboration on a real hub: project spaces across partners, sharing a lab through
JupyterHub's shares (API and French page), a library update while people work."""

from __future__ import annotations

import grp
import os
import re
import time
from html import unescape

import pytest
import yaml

from hub.names import system_account
from hub.sharing import REVOCATION_SECONDS
from tests.collabhub import ENDED, PROJECT
from tests.hubclient import HubClient, KernelError

pytestmark = pytest.mark.integration

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="per-user accounts (isolation) need the hub to run as root"
)
SPACE_LINK = f"projet-{PROJECT}"


def started(hub, username: str) -> HubClient:
    client = hub.client(username)
    r = client.start_server({"profile": "standard"})
    assert r.status_code in (201, 202), r.text
    client.open_lab()
    return client


@pytest.fixture(scope="module")
def labs(collab_hub):
    """analyste1, analyste2 (project members) and analyste3 (outsider) with their labs."""
    clients = {name: started(collab_hub, name) for name in ("analyste1", "analyste2", "analyste3")}
    yield clients
    for client in clients.values():
        client.stop_server()


def visit(client: HubClient, owner: str) -> int:
    """Status of ``client`` (a person's browser session) opening ``owner``'s lab page,
    following the lab's OAuth redirects like a browser, then (when that worked) listing
    the lab's files with the cookie it got."""
    page = client.session.get(f"{client.base}/user/{owner}/lab", allow_redirects=True)
    if page.status_code == 200 and "/hub/api/oauth2/authorize" in page.url:
        # the hub asks the person to confirm they are opening someone else's lab
        scopes = re.findall(r'name="scopes" value="([^"]*)"', page.text)
        page = client.session.post(
            page.url, data={"_xsrf": client._xsrf("/hub/"), "scopes": scopes}, allow_redirects=True
        )
    if page.status_code != 200:
        return page.status_code
    return api_status(client, owner)


def after_revocation() -> None:
    """Wait out the lab's cache of the hub's answers (one second)."""
    time.sleep(REVOCATION_SECONDS + 0.2)


def api_status(client: HubClient, owner: str) -> int:
    """Status of a file listing in ``owner``'s lab with the cookies ``client`` holds."""
    return client.session.get(f"{client.base}/user/{owner}/api/contents/").status_code


def account(hub, username: str) -> str:
    """The Unix account of ``username`` on ``hub``."""
    prefix = yaml.safe_load(hub.config_path.read_text())["spawner"]["account_prefix"]
    return system_account(username, prefix)


# -- project spaces ---------------------------------------------------------------------

def test_members_find_the_project_space_beside_their_home(labs):
    for name in ("analyste1", "analyste2"):
        listing = labs[name].lab_api("GET", "/contents/").json()
        assert SPACE_LINK in {item["name"] for item in listing["content"]}, name


@needs_root
def test_members_of_two_partners_read_and_write_each_others_files(labs):
    one, two = labs["analyste1"], labs["analyste2"]
    r = one.lab_api("PUT", f"/contents/{SPACE_LINK}/plan.md",
                    json={"type": "file", "format": "text", "content": "# Plan\n"})
    assert r.status_code in (200, 201), r.text
    # analyste2 (another partner, another Unix account) reads and changes it in their lab
    got = two.lab_api("GET", f"/contents/{SPACE_LINK}/plan.md").json()
    assert got["content"] == "# Plan\n"
    r = two.lab_api("PUT", f"/contents/{SPACE_LINK}/plan.md",
                    json={"type": "file", "format": "text", "content": "# Plan\nrelu\n"})
    assert r.status_code == 200, r.text
    assert one.execute(f"print(open('{SPACE_LINK}/plan.md').read())").strip() == "# Plan\nrelu"
    # a file one member's code creates can be appended to by another's (umask 007)
    one.execute(f"open('{SPACE_LINK}/journal.txt', 'w').write('analyste1\\n')")
    two.execute(f"open('{SPACE_LINK}/journal.txt', 'a').write('analyste2\\n')")
    assert one.execute(f"print(open('{SPACE_LINK}/journal.txt').read())").split() == ["analyste1", "analyste2"]


@needs_root
def test_project_space_is_group_owned_and_closed_to_others(collab_hub, labs):
    space = collab_hub.layout.project_space(PROJECT)
    info = space.stat()
    assert oct(info.st_mode & 0o7777) == oct(0o2770)
    group = grp.getgrgid(info.st_gid)
    assert group.gr_name == f"project-{PROJECT}"
    members = set(group.gr_mem)
    assert account(collab_hub, "analyste1") in members
    assert account(collab_hub, "analyste2") in members
    assert account(collab_hub, "analyste3") not in members


@needs_root
def test_non_member_sees_no_project_space_and_cannot_open_it(collab_hub, labs):
    outsider = labs["analyste3"]
    names = {item["name"] for item in outsider.lab_api("GET", "/contents/").json()["content"]}
    assert not any(n.startswith("projet-") for n in names)
    space = collab_hub.layout.project_space(PROJECT)
    with pytest.raises(KernelError, match="PermissionError"):
        outsider.execute(f"import os; print(os.listdir({str(space)!r}))")
    with pytest.raises(KernelError, match="PermissionError"):
        outsider.execute(f"open({str(space / 'intrusion.txt')!r}, 'w').write('x')")


def test_non_member_cannot_open_a_members_lab(labs):
    assert visit(labs["analyste3"], "analyste1") == 403


@needs_root
def test_ended_project_is_readable_but_read_only(collab_hub, labs):
    one = labs["analyste1"]
    space = collab_hub.layout.project_space(ENDED)
    assert space.stat().st_mode & 0o222 == 0 and space.stat().st_uid == 0
    names = {item["name"] for item in one.lab_api("GET", "/contents/").json()["content"]}
    assert f"projet-{ENDED}" in names
    assert one.execute(f"import os; print(os.listdir('projet-{ENDED}'))").strip() == "[]"
    with pytest.raises(KernelError, match="PermissionError"):
        one.execute(f"open('projet-{ENDED}/new.txt', 'w').write('x')")


# -- sharing through the REST API -------------------------------------------------------

def test_share_with_a_user_then_revoke_takes_effect_at_once(labs):
    owner, guest = labs["analyste1"], labs["analyste3"]
    assert visit(guest, "analyste1") == 403
    r = owner.api("POST", "/shares/analyste1/", json={"user": "analyste3"})
    assert r.status_code == 200, r.text
    assert visit(guest, "analyste1") == 200
    shared = guest.api("GET", "/users/analyste3/shared").json()["items"]
    assert [s["server"]["user"]["name"] for s in shared] == ["analyste1"]
    r = owner.api("PATCH", "/shares/analyste1/", json={"user": "analyste3"})
    assert r.status_code == 200, r.text
    # the guest still holds the lab's cookie: their next request is refused
    after_revocation()
    assert api_status(guest, "analyste1") == 403
    assert visit(guest, "analyste1") == 403


def test_share_with_the_project_group_through_the_page(collab_hub, labs):
    # the owner is analyste1: analyste2's lab reads a health partner's space (see below)
    owner, member, outsider = labs["analyste1"], labs["analyste2"], labs["analyste3"]
    r = owner.session.post(
        f"{collab_hub.url}/hub/partage", json={"group": f"project-{PROJECT}"},
        headers={"X-XSRFToken": owner._xsrf("/hub/")},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"users": ["analyste2"]}
    try:
        assert visit(member, "analyste1") == 200
        assert visit(outsider, "analyste1") == 403
    finally:
        owner.api("DELETE", "/shares/analyste1/")
    after_revocation()
    assert api_status(member, "analyste1") == 403


HEALTH_RULE = "Règle des données de santé"


def test_a_health_member_cannot_share_their_lab_outside_their_partner(collab_hub, labs):
    """Attack: analyste2 (CHU Exemple Nord, health data) shares their lab with analyste1
    (another partner) through the REST API, with the project group through the page and
    the API, and through an invitation link: each refused with the rule, nothing granted."""
    owner, outsider = labs["analyste2"], labs["analyste1"]
    attempts = [
        owner.api("POST", "/shares/analyste2/", json={"user": "analyste1"}),
        owner.api("POST", "/shares/analyste2/", json={"group": f"project-{PROJECT}"}),
        owner.api("POST", "/share-codes/analyste2/", json={}),
        owner.session.post(f"{collab_hub.url}/hub/partage", json={"group": f"project-{PROJECT}"},
                           headers={"X-XSRFToken": owner._xsrf("/hub/")}),
    ]
    for r in attempts:
        assert r.status_code == 403, r.text
        json_answer = r.headers.get("Content-Type", "").startswith("application/json")
        assert HEALTH_RULE in (r.json()["message"] if json_answer else unescape(r.content.decode())), r.text
    assert owner.api("GET", "/shares/analyste2/").json()["items"] == []
    assert owner.api("GET", "/share-codes/analyste2/").json()["items"] == []
    assert visit(outsider, "analyste2") == 403


def test_share_code_is_accepted_by_a_datalab_user_and_revoked(collab_hub, labs):
    owner, guest = labs["analyste1"], labs["analyste3"]
    code = owner.api("POST", "/share-codes/analyste1/", json={}).json()
    accept = guest.session.get(f"{collab_hub.url}{code['accept_url']}")
    text = accept.content.decode()
    assert accept.status_code == 200 and 'id="accept-share"' in text
    assert "invité(e) à ouvrir le lab de analyste1" in text
    r = guest.session.post(
        f"{collab_hub.url}/hub/accept-share",
        data={"code": code["code"], "_xsrf": guest._xsrf("/hub/")}, allow_redirects=False,
    )
    assert r.status_code == 302, r.text
    assert visit(guest, "analyste1") == 200
    owner.api("DELETE", f"/share-codes/analyste1/?id={code['id']}")
    owner.api("PATCH", "/shares/analyste1/", json={"user": "analyste3"})
    after_revocation()
    assert api_status(guest, "analyste1") == 403


def test_page_refuses_a_group_not_offered(collab_hub, labs):
    outsider = labs["analyste3"]
    r = outsider.session.post(
        f"{collab_hub.url}/hub/partage", json={"group": f"project-{PROJECT}"},
        headers={"X-XSRFToken": outsider._xsrf("/hub/")},
    )
    assert r.status_code == 400


def test_partner_that_forbids_sharing(collab_hub):
    client = collab_hub.client("analyste4")
    assert client.start_server().status_code in (201, 202)
    try:
        r = client.api("POST", "/shares/analyste4/", json={"user": "analyste1"})
        assert r.status_code == 403
        page = client.session.get(f"{collab_hub.url}/hub/partage").content.decode()
        assert 'id="share-forbidden"' in page and "autorise pas le partage" in page
        assert 'id="share-submit"' not in page
    finally:
        client.stop_server()


def test_sharing_page_is_french_and_lists_the_recipients(collab_hub, labs):
    page = labs["analyste1"].session.get(f"{collab_hub.url}/hub/partage")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Partager mon lab" in html and "Partagé avec moi" in html
    assert 'value="user:analyste3"' in html and 'value="user:analyste1"' not in html
    assert f'value="group:project-{PROJECT}"' in html
    assert 'value="group:partner-chu-exemple-nord"' in html
    # analyste3 is in no project: no project group is offered
    other = labs["analyste3"].session.get(f"{collab_hub.url}/hub/partage").content.decode()
    assert "project-" not in re.sub(r"<script>.*?</script>", "", other, flags=re.S)


# -- the versioned library --------------------------------------------------------------

def test_two_people_open_the_same_library_notebook_without_a_checkpoint_refusal(labs):
    """Opening a notebook lists its checkpoints; for a read-only folder Jupyter Server keeps
    them in the temporary directory, which is each person's own (was the machine's /tmp:
    the first person's folder there refused everyone else with a 403)."""
    path = "/contents/bibliotheque/03-rapport-departement.ipynb/checkpoints"
    homes = []
    for name in ("analyste1", "analyste3"):
        r = labs[name].lab_api("GET", path)
        assert r.status_code == 200, (name, r.status_code, r.text)
        homes.append(labs[name].execute("import os, tempfile; print(tempfile.gettempdir(), os.path.expanduser('~'))").split())
    (tmp_one, home_one), (tmp_three, home_three) = homes
    assert tmp_one == f"{home_one}/.tmp" and tmp_three == f"{home_three}/.tmp"


def test_library_update_leaves_peoples_copies_untouched(collab_hub, labs):
    one = labs["analyste1"]
    # analyste1 copies a library notebook into their home and changes it
    r = one.lab_api("POST", "/contents/", json={"copy_from": "bibliotheque/03-rapport-departement.ipynb"})
    assert r.status_code == 201, r.text
    copy_path = r.json()["path"]
    mine = one.lab_api("GET", f"/contents/{copy_path}").json()["content"]
    mine["cells"][0]["source"] = "# Ma version du rapport"
    r = one.lab_api("PUT", f"/contents/{copy_path}", json={"type": "notebook", "content": mine})
    assert r.status_code == 200, r.text
    before = one.execute("import normandie, os; print(os.path.realpath('bibliotheque'))").strip()

    # the library's maintainers commit a new version; the operator publishes it
    commit = collab_hub.publish_new_version()

    # the lab sees the new version at once, whole; the person's copy is as they left it
    listing = one.lab_api("GET", "/contents/bibliotheque").json()["content"]
    assert "NOUVEAUTES.md" in {item["name"] for item in listing}
    after = one.execute("import os; print(os.path.realpath('bibliotheque'))").strip()
    assert after.endswith(commit) and after != before
    kept = one.lab_api("GET", f"/contents/{copy_path}").json()["content"]
    assert kept["cells"][0]["source"] == "# Ma version du rapport"
    if os.geteuid() == 0:
        with pytest.raises(KernelError, match="PermissionError"):
            one.execute("open('bibliotheque/NOUVEAUTES.md', 'a').write('x')")
