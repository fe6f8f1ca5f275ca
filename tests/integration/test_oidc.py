"""Partner login through a real OpenID Connect provider (tests/services/oidc.py): the
redirect flow, claims to groups, refusals, token renewal, offboarding."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
import requests

from hub import audit
from hub.identity import derived_name
from tests.services.oidc import ACCOUNTS, login_with_requests, oidc_hub, stop_hub

pytestmark = pytest.mark.integration

CONTACT = "l'équipe DataLab Normandie (datalab@example.org)"


@pytest.fixture(scope="module")
def hub(oidc_provider):
    running = oidc_hub(oidc_provider, "oidc-hub")
    try:
        running.start()
        yield running
    finally:
        stop_hub(running, "oidc-hub")


@pytest.fixture(scope="module")
def nested_hub(oidc_provider):
    """A hub reading membership from ``resource_access.datalab.roles``."""
    running = oidc_hub(oidc_provider, "oidc-nested-hub", membership_claim="resource_access.datalab.roles")
    try:
        running.start()
        yield running
    finally:
        stop_hub(running, "oidc-nested-hub")


@pytest.fixture(scope="module")
def proconnect_hub(oidc_provider):
    """A hub with the ProConnect preset; the provider signs its userinfo (a JWT)."""
    running = oidc_hub(
        oidc_provider, "oidc-proconnect-hub", client_metadata={"userinfo_signed_response_alg": "RS256"},
        preset="proconnect", scopes=None,
    )
    try:
        running.start()
        yield running
    finally:
        stop_hub(running, "oidc-proconnect-hub")


class Person:
    """A browser-like session logged in through the provider."""

    def __init__(self, hub, login: str):
        self.hub = hub
        self.session = requests.Session()
        self.callback = login_with_requests(self.session, hub.url, login)

    def _xsrf(self) -> str:
        cookies = [c for c in self.session.cookies if c.name == "_xsrf" and "/hub/".startswith(c.path)]
        return max(cookies, key=lambda c: len(c.path)).value

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-XSRFToken": self._xsrf(), **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.hub.url}/hub/api{path}", headers=headers, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def admin(hub):
    person = Person(hub, "coord")
    assert person.callback.status_code == 302, person.callback.text
    return person


def test_login_page_offers_the_provider_in_french(hub):
    page = requests.get(f"{hub.url}/hub/login", timeout=10).text
    assert "Se connecter avec Keycloak de test" in page
    assert 'name="password"' not in page


def test_discovery_found_the_provider_endpoints(hub, oidc_provider):
    r = requests.get(f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(f"{oidc_provider.issuer}/auth?")
    assert "code_challenge_method=S256" in location and "nonce=" in location


@pytest.mark.parametrize(
    "login, username, groups",
    [
        ("lea", "lea.martin", {"partner-univ-alpha", "role-analyst"}),  # list of full paths
        ("hugo", "hugo", {"partner-chu-exemple-nord", "role-analyst"}),  # a single string
        ("ines", "ines", {"partner-chu-exemple-nord", "role-analyst"}),  # e-mail domain rule
        ("decideuse", "decideuse", {"partner-region-exemple", "role-decision-maker"}),
        ("coord", "coord", {"partner-region-exemple", "role-admin"}),
    ],
)
def test_claims_become_partner_and_role_groups(hub, login, username, groups):
    person = Person(hub, login)
    assert person.callback.status_code == 302, person.callback.text
    model = person.api("GET", "/user").json()
    assert model["name"] == username
    assert set(model["groups"]) == groups


def test_nested_claim_becomes_the_partner_group(nested_hub):
    person = Person(nested_hub, "noah")
    assert person.callback.status_code == 302, person.callback.text
    assert set(person.api("GET", "/user").json()["groups"]) == {"partner-labo-atlas", "role-analyst"}


def test_proconnect_signed_userinfo_and_e_mail_partner(proconnect_hub):
    # the userinfo answer is a signed JWT (application/jwt): read only after verification
    person = Person(proconnect_hub, "sophie")
    assert person.callback.status_code == 302, person.callback.text
    model = person.api("GET", "/user").json()
    assert model["name"] == "sophie.leroy@chu-nord.example.org"
    assert set(model["groups"]) == {"partner-chu-exemple-nord", "role-analyst"}
    # ProConnect sends no email_verified: the preset's e-mail rule does not need it
    assert "email_verified" not in ACCOUNTS["sophie"]
    assert model["user_info"] == {"display_name": "Sophie Leroy"}


def test_accented_70_character_claim_logs_in_under_a_derived_name_showing_the_display_name(hub):
    claim = ACCOUNTS["accentuee"]["preferred_username"]
    assert len(claim) == 70
    person = Person(hub, "accentuee")
    assert person.callback.status_code == 302, person.callback.text
    model = person.api("GET", "/user").json()
    expected = derived_name(claim, "accentuee")  # the provider's sub is the login
    assert model["name"] == expected
    assert model["name"].startswith("marie-eloise.dupont-lefevre-de-la-heriss-")
    assert model["user_info"] == {"display_name": "Marie-Éloïse Dupont-Lefèvre"}
    assert set(model["groups"]) == {"partner-univ-alpha", "role-analyst"}
    page = person.session.get(f"{hub.url}/hub/home", timeout=60)
    assert page.status_code == 200
    html = page.content.decode("utf-8")  # the page says utf-8 in <meta>
    shown = re.search(r'<span[^>]*id="datalab-display-name"[^>]*>([^<]*)</span>', html)
    assert shown is not None and unescape(shown.group(1)) == "Marie-Éloïse Dupont-Lefèvre"
    again = Person(hub, "accentuee")  # stable: the same account, the same name
    assert again.api("GET", "/user").json()["name"] == expected


def test_two_accounts_whose_claims_normalise_the_same_are_two_hub_users(hub):
    names = set()
    for login in ("heloise-1", "heloise-2"):
        person = Person(hub, login)
        assert person.callback.status_code == 302, person.callback.text
        names.add(person.api("GET", "/user").json()["name"])
    assert names == {derived_name("Héloïse", "heloise-1"), derived_name("héloïse", "heloise-2")}
    assert len(names) == 2


def test_a_reused_username_of_another_account_is_refused_and_the_owner_kept(hub, admin):
    """``lea-recyclee`` (another sub) sends the username of ``lea``: refused, and lea's
    groups are left alone."""
    assert Person(hub, "lea").callback.status_code == 302
    person = Person(hub, "lea-recyclee")
    assert person.callback.status_code == 403
    page = unescape(person.callback.content.decode("utf-8"))
    assert 'data-reason="account_conflict"' in page
    assert CONTACT in page
    assert "partner-univ-alpha" in admin.api("GET", "/users/lea.martin").json()["groups"]
    # refused for its claims (no partner), another account does not offboard lea either
    intruder = Person(hub, "lea-intruse")
    assert intruder.callback.status_code == 403
    assert 'data-reason="no_partner"' in unescape(intruder.callback.content.decode("utf-8"))
    assert "partner-univ-alpha" in admin.api("GET", "/users/lea.martin").json()["groups"]


def test_partner_groups_carry_their_properties(hub, admin):
    Person(hub, "lea")
    group = admin.api("GET", "/groups/partner-univ-alpha").json()
    assert group["properties"] == {"partner": "univ-alpha", "name": "Université Exemple Alpha", "type": "université"}
    assert "lea.martin" in group["users"]


@pytest.mark.parametrize(
    "login, reason, words",
    [
        ("sans-partenaire", "no_partner", "aucun partenaire DataLab"),
        ("sans-groupes", "claim_missing", "n'a pas indiqué votre établissement"),
        ("groupes-casses", "bad_claim", "mal formées"),
        ("enorme", "bad_claim", "mal formées"),
        ("cyrillique", "bad_username", "caractères non acceptés"),
    ],
)
def test_refusals_are_french_pages_naming_the_contact(hub, admin, login, reason, words):
    person = Person(hub, login)
    assert person.callback.status_code == 403
    page = unescape(person.callback.content.decode("utf-8"))  # the page says utf-8 in <meta>
    assert "Accès refusé" in page
    assert f'data-reason="{reason}"' in page
    assert words in page
    assert CONTACT in page
    assert admin.api("GET", f"/users/{ACCOUNTS[login]['preferred_username'].lower()}").status_code == 404


def test_logins_and_refusals_are_audited(hub, admin):
    """A refusal writes one ``login`` line, result refused, with the refusal's reason;
    the admin's login is a success line with their partner."""
    def logins() -> list[dict]:
        return [e for e in audit.read(hub.data_dir / audit.DIRECTORY) if e["action"] == "login"]

    before = len(logins())
    assert Person(hub, "sans-partenaire").callback.status_code == 403
    (refused,) = logins()[before:]
    name = ACCOUNTS["sans-partenaire"]["preferred_username"].lower()
    assert (refused["actor"], refused["result"], refused["source"]) == (name, "refused", "127.0.0.1")
    assert refused["detail"] == {"status": 403, "reason": "no_partner"}
    coord = ACCOUNTS["coord"]["preferred_username"].lower()
    assert any(e["actor"] == coord and e["result"] == "success" and e["partner"] for e in logins())


def test_access_token_is_renewed_before_expiry(hub, oidc_provider):
    person = Person(hub, "ines")
    before = oidc_provider.grants("refresh_token", "ines")
    time.sleep(6)  # the access token (30 s) now expires within refresh_before_expiry (25 s)
    assert person.api("GET", "/user").status_code == 200
    assert oidc_provider.grants("refresh_token", "ines") == before + 1
    assert person.api("GET", "/user").status_code == 200  # renewed once, not at each request
    assert oidc_provider.grants("refresh_token", "ines") == before + 1


def test_failed_refresh_means_a_new_login_not_an_error(hub, oidc_provider):
    oidc_provider.set_claims("zoe", {"preferred_username": "zoe", "groups": ["/datalab/ecole-gamma"]})
    person = Person(hub, "zoe")
    assert person.callback.status_code == 302
    oidc_provider.disable("zoe")
    time.sleep(6)
    r = person.session.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=30)
    assert r.status_code == 302
    assert "/hub/login" in r.headers["Location"]


def test_removed_partner_loses_access_at_the_next_refresh(hub, admin, oidc_provider):
    paul = Person(hub, "paul")
    assert set(paul.api("GET", "/user").json()["groups"]) == {"partner-univ-beta", "role-analyst"}
    started = paul.api("POST", "/users/paul/server", json={"profile": "standard"})
    assert started.status_code in (201, 202), started.text
    deadline = time.monotonic() + 90
    while not paul.api("GET", "/users/paul").json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, "paul's lab did not start"
        time.sleep(0.5)
    token = paul.api("POST", "/users/paul/tokens", json={"note": "script"}).json()["token"]
    assert requests.get(f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=10).ok

    oidc_provider.set_claims("paul", {**ACCOUNTS["paul"], "groups": []})
    time.sleep(2.5)  # refresh_interval
    assert paul.api("GET", "/user").status_code == 403  # refreshed: no partner, logged out

    model = admin.api("GET", "/users/paul").json()
    assert model["groups"] == []
    assert model["servers"] == {}
    assert requests.get(f"{hub.url}/hub/api/user", headers={"Authorization": f"token {token}"}, timeout=10).status_code == 403
    again = Person(hub, "paul")
    assert again.callback.status_code == 403
    assert 'data-reason="no_partner"' in again.callback.content.decode("utf-8")


def test_an_admin_reads_no_ones_tokens_nor_joins_a_managed_group(hub, admin):
    """Attack: coord (an admin) reads the auth_state (OIDC tokens) of ines, logged in, and
    adds themselves to ines's health partner group; makes ines an admin, creates or
    deletes a group: each refused, memberships unchanged."""
    ines = Person(hub, "ines")
    assert ines.callback.status_code == 302
    for path in ("/users/ines", "/users", "/users?include_stopped_servers=1"):
        r = admin.api("GET", path)
        assert r.status_code == 200, r.text
        assert "auth_state" not in r.text and "access_token" not in r.text and "refresh_token" not in r.text
    coord = ACCOUNTS["coord"]["preferred_username"].lower()
    group = "/groups/partner-chu-exemple-nord"
    members = admin.api("GET", group).json()["users"]
    assert "ines" in members and coord not in members
    assert admin.api("POST", f"{group}/users", json={"users": [coord]}).status_code == 403
    assert admin.api("GET", group).json()["users"] == members
    assert "partner-chu-exemple-nord" not in admin.api("GET", "/user").json()["groups"]
    assert admin.api("DELETE", f"{group}/users", json={"users": ["ines"]}).status_code == 403
    assert admin.api("GET", group).json()["users"] == members
    assert admin.api("PATCH", "/users/ines", json={"admin": True}).status_code == 403
    assert admin.api("GET", "/users/ines").json()["admin"] is False
    assert admin.api("POST", "/groups/intrus").status_code == 403
    assert admin.api("DELETE", group).status_code == 403
