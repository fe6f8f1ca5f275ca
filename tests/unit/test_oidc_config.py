"""The ``auth.oidc`` section: presets, secrets, endpoints, what apply() configures."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub import identity, oidc
from hub.settings import ConfigError, OidcPreset, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
ENDPOINTS = {
    "authorize_url": "https://idp.example.org/auth",
    "token_url": "https://idp.example.org/token",
    "userinfo_url": "https://idp.example.org/userinfo",
}


def settings_with(tmp_path: Path, **oidc_keys):
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    data["auth"] = {"type": "oidc", "oidc": {"issuer": "https://idp.example.org", "client_id": "datalab",
                                              "endpoints": ENDPOINTS, **oidc_keys}}
    return parse(data, tmp_path)


def error_of(tmp_path, **oidc_keys) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, **oidc_keys)
    return str(caught.value)


@pytest.mark.parametrize("preset", list(OidcPreset))
def test_every_preset_gives_every_default(tmp_path, preset):
    settings = settings_with(tmp_path, preset=preset.value)
    for key in ("display_name", "scopes", "username_claim", "membership_claim"):
        assert settings.auth.oidc.effective(key), key
    assert "openid" in settings.auth.oidc.effective("scopes")


def test_presets_match_their_providers(tmp_path):
    keycloak = settings_with(tmp_path, preset="keycloak").auth.oidc
    assert keycloak.effective("membership_claim") == "groups"
    proconnect = settings_with(tmp_path, preset="proconnect").auth.oidc
    assert proconnect.effective("username_claim") == "email"
    assert proconnect.effective("membership_claim") == "siret"
    assert {"given_name", "usual_name", "siret"} <= set(proconnect.effective("scopes"))
    lemon = settings_with(tmp_path, preset="lemonldap").auth.oidc
    assert lemon.effective("separator") == "; "


#: A userinfo document with exactly the claims ProConnect publishes (hub/settings/access.py
#: names the source): no email_verified.
PROCONNECT_CLAIMS = {
    "sub": "b6f4a7c0-3c55-4d9c-9a1e-2f0c8f6f3b21", "given_name": "Sophie", "usual_name": "Leroy",
    "email": "sophie.leroy@chu-nord.example.org", "uid": "8723", "siret": "13002526500013",
    "idp_id": "71144ab3-ee1a-4401-b7b3-79b44f7daeeb", "organization_label": "CHU Exemple Nord",
}


def test_proconnect_preset_admits_a_member_from_the_claims_proconnect_sends(tmp_path):
    settings = settings_with(tmp_path, preset="proconnect")
    assert settings.auth.oidc.effective("require_verified_email") is False
    person = identity.resolve(PROCONNECT_CLAIMS, oidc.rules(settings))
    assert person.username == "sophie.leroy@chu-nord.example.org"
    assert person.partners == {"chu-exemple-nord"}
    assert person.display_name == "Sophie Leroy"
    assert person.sub == PROCONNECT_CLAIMS["sub"]


def test_other_presets_still_need_a_verified_address(tmp_path):
    for preset in ("generic", "keycloak", "lemonldap"):
        assert settings_with(tmp_path, preset=preset).auth.oidc.effective("require_verified_email") is True
    keys = settings_with(tmp_path, preset="proconnect", require_verified_email=True).auth.oidc
    assert keys.effective("require_verified_email") is True
    with pytest.raises(identity.Refusal) as refused:
        identity.resolve(PROCONNECT_CLAIMS, oidc.rules(settings_with(tmp_path, preset="proconnect",
                                                                     require_verified_email=True)))
    assert refused.value.reason == "no_partner"  # the siret is not a partner's, the address unverified


def test_file_keys_win_over_the_preset(tmp_path):
    o = settings_with(tmp_path, preset="keycloak", membership_claim="resource_access.datalab.roles",
                      scopes=["openid"]).auth.oidc
    assert o.effective("membership_claim") == "resource_access.datalab.roles"
    assert o.effective("scopes") == ["openid"]


def test_mistakes_name_their_key(tmp_path):
    assert "auth.oidc.preset" in error_of(tmp_path, preset="okta")
    assert "auth.oidc.client_secret: unknown key" in error_of(tmp_path, client_secret="s3cr3t")
    assert "auth.oidc.membership_claim" in error_of(tmp_path, membership_claim="groups[0]")
    assert "auth.oidc.issuer" in error_of(tmp_path, issuer="ftp://idp")
    assert "auth.oidc.endpoints.token_url" in error_of(tmp_path, endpoints={**ENDPOINTS, "token_url": "x"})


def test_oidc_type_needs_its_section(tmp_path):
    data = copy.deepcopy(EXAMPLE)
    data["auth"] = {"type": "oidc"}
    with pytest.raises(ConfigError, match=r"auth\.oidc: required when auth\.type is oidc"):
        parse(data, tmp_path)


def test_the_example_documents_an_oidc_section_that_validates(tmp_path):
    lines = (REPO / "datalab.example.yaml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# auth:")
    block = [lines[start][2:]]
    for line in lines[start + 1:]:
        if not line.startswith("#  "):
            break
        block.append(line[2:])
    section = yaml.safe_load("\n".join(block))
    data = copy.deepcopy(EXAMPLE)
    data["auth"] = section["auth"]
    assert parse(data, tmp_path).auth.oidc.preset is OidcPreset.keycloak


def test_client_secret_from_env_or_file(tmp_path, monkeypatch):
    settings = settings_with(tmp_path)
    monkeypatch.delenv("DATALAB_OIDC_CLIENT_SECRET", raising=False)
    with pytest.raises(ConfigError, match="auth.oidc.client_secret_env: the environment variable DATALAB_OIDC_CLIENT_SECRET"):
        oidc.client_secret(settings.auth.oidc, settings)
    monkeypatch.setenv("DATALAB_OIDC_CLIENT_SECRET", "from-env\n")
    assert oidc.client_secret(settings.auth.oidc, settings) == "from-env"
    (tmp_path / "secret").write_text("from-file\n")
    settings = settings_with(tmp_path, client_secret_file="secret")
    assert oidc.client_secret(settings.auth.oidc, settings) == "from-file"
    settings = settings_with(tmp_path, client_secret_file="missing")
    with pytest.raises(ConfigError, match="auth.oidc.client_secret_file: cannot read"):
        oidc.client_secret(settings.auth.oidc, settings)


def test_discovery_failure_is_a_config_error(tmp_path):
    settings = settings_with(tmp_path, endpoints=None, issuer="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=r"auth\.oidc\.issuer: cannot read http://127\.0\.0\.1:9/\.well-known"):
        oidc.endpoints(settings.auth.oidc, timeout=2)


def test_apply_configures_the_authenticator(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_OIDC_CLIENT_SECRET", "s")
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    monkeypatch.setattr(hub_apply, "apply_spawner", lambda c, s, host: None)
    settings = settings_with(tmp_path, preset="keycloak", refresh_interval=120)
    c = Config()
    hub_apply.configure(c, settings)
    a = c.DataLabOIDCAuthenticator
    assert issubclass(c.JupyterHub.authenticator_class, oidc.DataLabOIDCAuthenticator)  # audited
    assert (a.authorize_url, a.token_url, a.userdata_url) == tuple(ENDPOINTS.values())
    assert a.manage_groups and a.enable_auth_state and a.enable_pkce
    assert a.auth_refresh_age == 120
    assert "load_groups" not in c.JupyterHub  # JupyterHub refuses it with manage_groups
    assert any(r.get("groups") == ["role-analyst"] for r in c.JupyterHub.load_roles)
    assert c.JupyterHub.template_vars["login_providers"] == [{"name": "Keycloak"}]


def test_crypt_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_OIDC_CLIENT_SECRET", "s")
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    monkeypatch.setattr(hub_apply, "apply_spawner", lambda c, s, host: None)
    settings = settings_with(tmp_path)
    first, second = Config(), Config()
    hub_apply.configure(first, settings)
    hub_apply.configure(second, settings)
    key_file = tmp_path / "data" / "hub" / "crypt_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first.CryptKeeper["keys"] == second.CryptKeeper["keys"]
    assert len(first.CryptKeeper["keys"]) == 1 and len(first.CryptKeeper["keys"][0]) == 64
    key_file.write_text("a" * 64 + "\n" + first.CryptKeeper["keys"][0] + "\n")  # rotation
    rotated = Config()
    hub_apply.configure(rotated, settings)
    assert rotated.CryptKeeper["keys"] == ["a" * 64, first.CryptKeeper["keys"][0]]


def test_demo_login_is_unchanged(tmp_path):
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    settings = parse(data, tmp_path)
    assert oidc.provider_buttons(settings) == []
