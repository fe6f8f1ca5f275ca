"""How people reach the hub: where it listens, the proxy, the login (demo users, OpenID
Connect and its presets)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import Model, Slug, UserName
from .people import Role


class HubSection(Model):
    """The hub process: where it listens, its language, its database.

    ``db_url`` defaults to SQLite in ``<data_dir>/hub/jupyterhub.sqlite``.
    The ``DATALAB_PORT`` environment variable overrides ``port``. ``config_dir``
    (relative to the deployment file; null: none): a folder whose ``*.py`` files are
    loaded, in name order, after the deployment is applied, as extra JupyterHub
    configuration (the escape hatch, like TLJH's and Z2JH's ``jupyterhub_config.d``).
    """

    ip: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    base_url: Annotated[str, StringConstraints(pattern=r"^/([A-Za-z0-9._~-]+/)*$")] = "/"
    language: Literal["fr", "en"] = "fr"
    db_url: str | None = None
    contact: str = "l'équipe DataLab Normandie"
    config_dir: Path | None = Path("jupyterhub_config.d")


class ProxySection(Model):
    """The public proxy (configurable-http-proxy) in front of the hub and the labs.

    ``managed``: true, the hub starts and stops the proxy itself; false, the proxy runs
    on its own (a systemd unit, see ``ansible/``) on ``hub.ip``/``hub.port`` with its API
    on 127.0.0.1, hub port + 2, and the token of ``<data_dir>/hub/proxy_token``: the hub
    connects to it, and stops without stopping the labs (``cleanup_servers`` off), so a
    hub restart (an upgrade) cuts nobody off.
    """

    managed: bool = True


class DemoUser(Model):
    """A demo account: its hub name, its partner and its role."""

    name: UserName
    partner: Slug
    role: Role = Role.analyst


HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=2000)]


ClaimPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+){0,7}$")]


class OidcEndpoints(Model):
    """The provider's endpoints, when they are not discovered from
    ``<issuer>/.well-known/openid-configuration`` at hub start."""

    authorize_url: HttpUrl
    token_url: HttpUrl
    userinfo_url: HttpUrl
    jwks_url: HttpUrl | None = None
    end_session_url: HttpUrl | None = None


class OidcPreset(str, Enum):
    """Known providers: each fills the defaults listed in :data:`OIDC_PRESETS`."""

    generic = "generic"
    keycloak = "keycloak"
    proconnect = "proconnect"
    lemonldap = "lemonldap"


#: Defaults each preset gives to the keys of :class:`Oidc` left out of the file.
#: Keycloak: a realm's "Group Membership" mapper named ``groups`` with "Full group path"
#: on (values ``/datalab/<partner>``). ProConnect: no groups, members come from their
#: organisation's SIRET (``siret`` claim) or e-mail domain; its userinfo is a signed JWT.
#: LemonLDAP::NG: a ``groups`` scope exporting the session's groups, multi-valued
#: attributes joined with "; " (its default separator).
#: ProConnect's claims, as published in its service providers' documentation
#: ("Données fournies", https://partenaires.proconnect.gouv.fr/docs/fournisseur-service/donnees_fournies,
#: source proconnect-gouv/proconnect-espace-partenaires,
#: src/pages/docs/fournisseur-service/donnees_fournies.md): ``given_name``, ``usual_name``,
#: ``email``, ``uid``, ``siret`` (always sent by the identity providers), ``sub``,
#: ``idp_id``, ``organization_label`` (always added by ProConnect), ``roles`` (optional).
#: There is no ``email_verified``: the addresses come from the federation's identity
#: providers, so the preset's e-mail-domain rule does not require it.
OIDC_PRESETS: dict[OidcPreset, dict] = {
    OidcPreset.generic: {
        "display_name": "votre fournisseur d'identité",
        "scopes": ["openid", "profile", "email"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": None,
        "require_verified_email": True,
    },
    OidcPreset.keycloak: {
        "display_name": "Keycloak",
        "scopes": ["openid", "profile", "email"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": None,
        "require_verified_email": True,
    },
    OidcPreset.proconnect: {
        "display_name": "ProConnect",
        "scopes": ["openid", "email", "given_name", "usual_name", "uid", "siret"],
        "username_claim": "email",
        "membership_claim": "siret",
        "separator": None,
        "require_verified_email": False,
    },
    OidcPreset.lemonldap: {
        "display_name": "LemonLDAP::NG",
        "scopes": ["openid", "profile", "email", "groups"],
        "username_claim": "preferred_username",
        "membership_claim": "groups",
        "separator": "; ",
        "require_verified_email": True,
    },
}


class Oidc(Model):
    """Login through an OpenID Connect provider (``auth.type: oidc``).

    ``issuer``: the provider's issuer URL; its endpoints are discovered at start unless
    ``endpoints`` gives them. ``client_secret_env`` / ``client_secret_file``: where the
    client secret is read (the secret itself never goes in this file). Keys left out take
    the ``preset``'s value (see :data:`OIDC_PRESETS`); :meth:`effective` resolves them.
    ``refresh_interval``: seconds between two checks of a logged-in person's claims;
    ``refresh_before_expiry``: seconds before its expiry an access token is renewed.
    """

    preset: OidcPreset = OidcPreset.generic
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    issuer: HttpUrl
    endpoints: OidcEndpoints | None = None
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    client_secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] = "DATALAB_OIDC_CLIENT_SECRET"
    client_secret_file: Path | None = None
    callback_url: HttpUrl | None = None
    scopes: list[Annotated[str, StringConstraints(pattern=r"^[!#-\[\]-~]+$")]] | None = None
    pkce: bool = True
    username_claim: ClaimPath | None = None
    membership_claim: ClaimPath | None = None
    separator: Annotated[str, StringConstraints(min_length=1, max_length=4)] | None = None
    email_claim: ClaimPath = "email"
    require_verified_email: bool | None = None
    refresh_interval: Annotated[int, Field(ge=1, le=86400)] = 300
    refresh_before_expiry: Annotated[int, Field(ge=0, le=3600)] = 60
    verify_tls: bool = True

    def effective(self, key: str):
        """The value of ``key``: the file's, else the preset's."""
        value = getattr(self, key)
        return OIDC_PRESETS[self.preset][key] if value is None else value


class Auth(Model):
    """How people log in. ``demo``: a shared password (``DATALAB_DEMO_PASSWORD``, else
    generated once into ``<data_dir>/hub/demo_password``) for the declared demo users.
    ``oidc``: an OpenID Connect provider, described in the ``oidc`` section."""

    type: Literal["demo", "oidc"] = "demo"
    demo_users: list[DemoUser] = []
    oidc: Oidc | None = None
