"""The identity provider's decisions in the audit trail, through a real OpenID Connect
provider (tests/services/oidc.py): the groups a login brings, a partner change at the
next refresh (``identity.groups``), the offboarding it triggers (``identity.offboard``)
and the lab it stops, recorded with ``hub:offboarding`` as the actor, not the owner."""

from __future__ import annotations

import time

import pytest
import requests

from hub import audit
from tests.services.oidc import login_with_requests, oidc_hub, stop_hub

pytestmark = pytest.mark.integration

LOGIN = "auditee"  # an account of this module only (the provider's accounts are shared)
CLAIMS = {"preferred_username": LOGIN, "email": "auditee@example.net", "email_verified": True,
          "groups": ["/datalab/univ-beta"]}


@pytest.fixture(scope="module")
def hub(oidc_provider):
    running = oidc_hub(oidc_provider, "oidc-audit-hub")
    try:
        running.start()
        yield running
    finally:
        stop_hub(running, "oidc-audit-hub")


def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_a_partner_change_is_audited_and_its_offboarding_stop_names_the_offboarding(hub, oidc_provider):
    oidc_provider.set_claims(LOGIN, CLAIMS)
    session = requests.Session()
    assert login_with_requests(session, hub.url, LOGIN).status_code == 302

    def api(method: str, path: str, **kwargs) -> requests.Response:
        xsrf = max((c for c in session.cookies if c.name == "_xsrf" and "/hub/".startswith(c.path)),
                   key=lambda c: len(c.path)).value
        return session.request(method, f"{hub.url}/hub/api{path}", headers={"X-XSRFToken": xsrf},
                               timeout=120, **kwargs)

    started = api("POST", f"/users/{LOGIN}/server", json={"profile": "standard"})
    assert started.status_code in (201, 202), started.text
    until(lambda: api("GET", f"/users/{LOGIN}").json()["servers"].get("", {}).get("ready"), 90, "no lab")

    oidc_provider.set_claims(LOGIN, {**CLAIMS, "groups": ["/datalab/labo-atlas"]})
    until(lambda: "partner-labo-atlas" in api("GET", "/user").json().get("groups", []), 30,
          "the new partner never reached the hub")
    until(lambda: api("GET", f"/users/{LOGIN}").json()["servers"] == {}, 60, "the lab was not stopped")

    events = [e for e in audit.read(hub.data_dir / audit.DIRECTORY) if e["target"] in (f"user:{LOGIN}", f"{LOGIN}/")]
    groups = [(e["actor"], e["detail"]["added"], e["detail"]["removed"])
              for e in events if e["action"] == "identity.groups"]
    assert groups == [("identity-provider", "partner-univ-beta,role-analyst", ""),
                      ("identity-provider", "partner-labo-atlas", "partner-univ-beta")]
    (offboard,) = [e for e in events if e["action"] == "identity.offboard"]
    assert (offboard["actor"], offboard["partner"], offboard["detail"]["groups_left"]) == (
        "hub:offboarding", ["univ-beta"], "")
    stops = [(e["actor"], e["result"]) for e in events if e["action"] == "server.stop"]
    assert stops == [("hub:offboarding", "success")]
    start = next(e for e in events if e["action"] == "server.start")
    assert start["actor"] == LOGIN
