"""A real OpenID Connect provider on loopback (npm ``oidc-provider``, installed by
``make install`` from package.json), started once per test run by the session fixture
:func:`oidc_provider` and stopped (by PID) at the end.

Its test accounts cover every shape of claim the hub must read (see :data:`ACCOUNTS`);
their login is the account key, any password is accepted by the provider's development
login page. :func:`login_with_requests` drives the real redirect flow without a browser.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from html import unescape
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc-provider.mjs")
ARTIFACTS = REPO / "tests" / "artifacts"
#: Access tokens live this long (seconds): short, so refreshes renew them.
ACCESS_TOKEN_TTL = 30

#: Test accounts: login -> claims (``sub`` is the login). Membership claim ``groups``
#: (Keycloak full paths, as in datalab.example.yaml) unless said otherwise.
ACCOUNTS: dict[str, dict] = {
    # a list of Keycloak full group paths, one of them a partner
    "lea": {"preferred_username": "Lea.Martin", "email": "lea.martin@example.net",
            "email_verified": True, "groups": ["/datalab/univ-alpha", "/autres/club-photo"]},
    # a single string instead of a list
    "hugo": {"preferred_username": "hugo", "email": "hugo@example.net",
             "email_verified": True, "groups": "/datalab/chu-exemple-nord"},
    # no membership claim: the e-mail domain rule (verified address) makes the partner
    "ines": {"preferred_username": "ines", "email": "ines@chu-nord.example.org",
             "email_verified": True},
    # the membership nested under resource_access.<client>.roles
    "noah": {"preferred_username": "noah", "email": "noah@example.net", "email_verified": True,
             "resource_access": {"datalab": {"roles": ["/datalab/labo-atlas"]}}},
    # roles from claims
    "decideuse": {"preferred_username": "decideuse", "email": "d@example.net", "email_verified": True,
                  "groups": ["/datalab/region-exemple", "/datalab/roles/decideurs"]},
    "coord": {"preferred_username": "coord", "email": "c@example.net", "email_verified": True,
              "groups": ["/datalab/region-exemple", "/datalab/roles/coordination"]},
    # the one removed from their partner during the tests
    "paul": {"preferred_username": "paul", "email": "paul@example.net", "email_verified": True,
             "groups": ["/datalab/univ-beta"]},
    # ProConnect's claims (its published list, see hub/settings/access.py): no groups, no
    # email_verified, a SIRET as one string; the partner comes from the e-mail domain
    "sophie": {"email": "Sophie.Leroy@chu-nord.example.org", "given_name": "Sophie",
               "usual_name": "Leroy", "uid": "8723", "siret": "13002526500013",
               "idp_id": "71144ab3-ee1a-4401-b7b3-79b44f7daeeb", "organization_label": "CHU Exemple Nord"},
    # a username claim of 70 characters with accents: a name derived from sub, the
    # display name shown
    "accentuee": {"preferred_username": "Marie-Éloïse.Dupont-Lefèvre-de-la-Hérissonnière.Ségolène.Anaïs.Béatric",
                  "name": "Marie-Éloïse Dupont-Lefèvre", "email": "me@example.net", "email_verified": True,
                  "groups": ["/datalab/univ-alpha"]},
    # two provider accounts whose claims normalise the same (accents and case folded)
    "heloise-1": {"preferred_username": "Héloïse", "email": "h1@example.net", "email_verified": True,
                  "groups": ["/datalab/univ-alpha"]},
    "heloise-2": {"preferred_username": "héloïse", "email": "h2@example.net", "email_verified": True,
                  "groups": ["/datalab/univ-alpha"]},
    # a new provider account reusing the username of "lea" (another sub)
    "lea-recyclee": {"preferred_username": "lea.martin", "email": "lea2@example.net",
                     "email_verified": True, "groups": ["/datalab/univ-alpha"]},
    # another account with the username of "lea" and no partner: refused, lea untouched
    "lea-intruse": {"preferred_username": "lea.martin", "email": "lea3@example.net",
                    "email_verified": True, "groups": ["/autres/club-photo"]},
    # refusals
    "sans-partenaire": {"preferred_username": "sans-partenaire", "email": "x@example.net",
                        "email_verified": True, "groups": ["/autres/club-photo"]},
    "sans-groupes": {"preferred_username": "sans-groupes", "email": "y@chu-nord.example.org",
                     "email_verified": False},
    "groupes-casses": {"preferred_username": "groupes-casses", "email": "z@example.net",
                       "email_verified": True, "groups": {"/datalab/univ-alpha": True}},
    "enorme": {"preferred_username": "enorme", "email": "e@example.net", "email_verified": True,
               "groups": [f"/datalab/g{i}" for i in range(5000)] + ["/datalab/univ-alpha"]},
    "cyrillique": {"preferred_username": "l\u0435a.martin", "email": "l@example.net",
                   "email_verified": True, "groups": ["/datalab/univ-alpha"]},
}


class OidcProvider:
    """The running provider: ``issuer`` URL and the test control routes."""

    def __init__(self, port: int, process: subprocess.Popen, log_path: Path):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.process = process
        self.log_path = log_path

    def register(self, redirect_uri: str, **metadata) -> tuple[str, str]:
        """Register a client (RFC 7591 dynamic registration); returns (id, secret)."""
        r = requests.post(
            f"{self.issuer}/reg",
            json={"redirect_uris": [redirect_uri], **metadata},
            timeout=10,
        )
        r.raise_for_status()
        body = r.json()
        return body["client_id"], body["client_secret"]

    def set_claims(self, login: str, claims: dict) -> None:
        """Replace an account's claims (what the provider says from now on)."""
        requests.put(f"{self.issuer}/test/accounts/{login}", data=json.dumps(claims), timeout=10).raise_for_status()

    def disable(self, login: str) -> None:
        """Remove an account: its tokens stop working, its refresh fails."""
        requests.delete(f"{self.issuer}/test/accounts/{login}", timeout=10).raise_for_status()

    def grants(self, grant_type: str, login: str) -> int:
        """How many ``grant_type`` grants the token endpoint gave ``login``."""
        events = requests.get(f"{self.issuer}/test/events", timeout=10).json()
        return events.get(f"{grant_type}:{login}", 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def oidc_provider():
    """The provider of the whole run (session scope)."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node or node_modules/oidc-provider missing: run `make install`")
    workdir = Path(tempfile.mkdtemp(prefix="datalab-oidc-"))
    accounts = workdir / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS), encoding="utf-8")
    log_path = workdir / "oidc-provider.log"
    port = _free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [node, str(SCRIPT), str(port), str(accounts)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "OIDC_ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL)},
        )
    provider = OidcProvider(port, process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited:\n{log_path.read_text()}")
            try:
                if requests.get(provider.issuer + "/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"oidc-provider not answering:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield provider
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / "oidc-provider.log")
        shutil.rmtree(workdir, ignore_errors=True)


def login_with_requests(session: requests.Session, hub_url: str, login: str) -> requests.Response:
    """Log ``login`` in through the real redirect flow (hub -> provider login form ->
    hub callback) with ``session``; returns the hub's answer to the callback (a redirect
    when accepted, the 403 refusal page when refused), not followed further."""
    r = session.get(f"{hub_url}/hub/oauth_login", allow_redirects=True, timeout=30)
    r.raise_for_status()
    action = re.search(r'<form[^>]*action="([^"]+)"', r.text)
    if action is None:
        raise AssertionError(f"no login form at {r.url}:\n{r.text[:500]}")
    r = session.post(
        requests.compat.urljoin(r.url, unescape(action.group(1))),
        data={"prompt": "login", "login": login, "password": "any"},
        allow_redirects=False, timeout=30,
    )
    for _ in range(10):  # provider redirects, then the hub's callback
        if r.status_code not in (302, 303) or "/hub/oauth_callback" in r.request.url:
            return r
        r = session.get(requests.compat.urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=60)
    raise AssertionError("too many redirects")


def oidc_hub(provider: OidcProvider, name: str, client_metadata: dict | None = None, **oidc: object):
    """A :class:`tests.conftest.RunningHub` (not started) logging in through
    ``provider``, its client registered (with ``client_metadata``) for the hub's callback
    URL, its client secret in a file; ``oidc`` overrides keys of the ``auth.oidc`` section."""
    import yaml

    from tests.conftest import RunningHub

    workdir = Path(tempfile.mkdtemp(prefix=f"datalab-{name}-"))
    workdir.chmod(0o755)
    hub = RunningHub(workdir)
    client_id, secret = provider.register(f"{hub.url}/hub/oauth_callback", **(client_metadata or {}))
    secret_file = workdir / "client_secret"
    secret_file.write_text(secret + "\n", encoding="utf-8")
    secret_file.chmod(0o600)
    config = yaml.safe_load(hub.config_path.read_text(encoding="utf-8"))
    config["auth"] = {
        "type": "oidc",
        "oidc": {
            "preset": "keycloak",
            "display_name": "Keycloak de test",
            "issuer": provider.issuer,
            "client_id": client_id,
            "client_secret_file": str(secret_file),
            "scopes": ["openid", "profile", "email", "groups"],
            "refresh_interval": 2,
            "refresh_before_expiry": ACCESS_TOKEN_TTL - 5,
            **oidc,
        },
    }
    hub.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return hub


def stop_hub(hub, name: str) -> None:
    """Stop a hub from :func:`oidc_hub`, keep its log, remove its accounts and files."""
    import os

    hub.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    if hub.log_path.exists():
        shutil.copy(hub.log_path, ARTIFACTS / f"{name}.log")
    if os.geteuid() == 0:
        hub.remove_accounts()
    shutil.rmtree(hub.workdir, ignore_errors=True)
