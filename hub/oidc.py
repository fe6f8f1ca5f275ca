"""Partner login through OpenID Connect: oauthenticator's GenericOAuthenticator, with the
DataLab claim rules of :mod:`hub.identity`, offboarding and token renewal.

- At hub start, :func:`endpoints` discovers the provider's endpoints from
  ``<issuer>/.well-known/openid-configuration`` (or takes them from the file) and
  :func:`client_secret` reads the client secret from the environment or a file.
- At login, the userinfo claims become the hub username and the groups ``partner-<id>``
  and ``role-<role>`` (``manage_groups``: hub groups follow the provider at each login
  and refresh). A person the rules refuse gets a French page naming the reason and whom
  to contact (HTTP 403), never a 500.
- Partner groups carry properties (``partner``, ``name``, ``type``). JupyterHub refuses
  ``load_groups`` when the authenticator manages groups, so the authenticator itself
  writes the groups it is about to assign, with their properties, through the hub's own
  database session (``handler.db`` / ``user.db``), before JupyterHub syncs the user's
  membership (:func:`hub.partners.ensure_groups`). Role groups are bound to roles by
  ``load_roles``, which ``manage_groups`` allows.
- Every ``refresh_interval`` seconds (JupyterHub's ``auth_refresh_age``) the claims are
  fetched again with the stored access token, renewed first with the refresh token when
  it expires within ``refresh_before_expiry`` seconds. When a partner membership has
  disappeared, the person's running servers are stopped and their API tokens revoked at
  once; with no partner left, their groups are emptied and they must log in again (and
  are refused). A failed renewal also means a new login, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import ssl
import time
import urllib.error
import urllib.request

import jwt
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Any, Integer, Unicode

from . import audit, identity, partners
from .groups import partners_of, project_group
from .messages import text
from .settings import ConfigError, Oidc, OidcEndpoints, Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"


def endpoints(oidc: Oidc, timeout: float = 10) -> OidcEndpoints:
    """The provider's endpoints: ``oidc.endpoints`` when given, else discovered from the
    issuer (one HTTP GET). Raises :class:`ConfigError` naming ``auth.oidc.issuer`` when
    discovery fails or the document's ``issuer`` differs from the configured one."""
    if oidc.endpoints is not None:
        return oidc.endpoints
    issuer = oidc.issuer.rstrip("/")
    url = issuer + DISCOVERY_PATH
    context = None if oidc.verify_tls else ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            document = json.loads(response.read(1_000_000))
    except (OSError, ValueError) as e:
        raise ConfigError(f"auth.oidc.issuer: cannot read {url}: {e}") from None
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != issuer:
        got = document.get("issuer") if isinstance(document, dict) else None
        raise ConfigError(f"auth.oidc.issuer: {url} describes issuer {got!r}, not {oidc.issuer!r}")
    try:
        return OidcEndpoints(
            authorize_url=document["authorization_endpoint"],
            token_url=document["token_endpoint"],
            userinfo_url=document["userinfo_endpoint"],
            jwks_url=document.get("jwks_uri"),
            end_session_url=document.get("end_session_endpoint"),
        )
    except (KeyError, ValueError) as e:
        raise ConfigError(f"auth.oidc.issuer: {url} lacks a usable endpoint ({e})") from None


def client_secret(oidc: Oidc, settings: Settings) -> str:
    """The client secret: the content of ``client_secret_file`` (relative to the
    deployment file), else the environment variable ``client_secret_env``.
    Raises :class:`ConfigError` when neither gives one."""
    if oidc.client_secret_file is not None:
        path = settings.path(oidc.client_secret_file)
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"auth.oidc.client_secret_file: cannot read {path} ({e.strerror})") from None
        if not secret:
            raise ConfigError(f"auth.oidc.client_secret_file: {path} is empty")
        return secret
    secret = os.environ.get(oidc.client_secret_env, "").strip()
    if not secret:
        raise ConfigError(
            f"auth.oidc.client_secret_env: the environment variable {oidc.client_secret_env} "
            "is not set (or give auth.oidc.client_secret_file)"
        )
    return secret


def rules(settings: Settings) -> identity.Rules:
    """The claim rules of a deployment whose ``auth.oidc`` is set."""
    oidc = settings.auth.oidc
    return identity.Rules.from_settings(
        settings,
        username_claim=oidc.effective("username_claim"),
        membership_claim=oidc.effective("membership_claim"),
        separator=oidc.effective("separator"),
        email_claim=oidc.email_claim,
        require_verified_email=oidc.effective("require_verified_email"),
    )


class Refused(web.HTTPError):
    """A login refused by the claim rules: HTTP 403 whose page shows ``message`` (in the
    deployment's language); ``refusal`` is the :class:`hub.identity.Refusal`; ``username``
    and ``sub`` name the provider account refused, when known."""

    def __init__(self, refusal: identity.Refusal, message: str, username: str | None = None,
                 sub: str | None = None):
        super().__init__(403, "login refused (%s): %s", refusal.reason, refusal.detail)
        self.refusal = refusal
        self.username = username
        self.sub = sub
        self.jupyterhub_message = message


class NonceLoginHandler(OAuthLoginHandler):
    """The login redirect with a fresh random ``nonce`` (required by ProConnect,
    recommended by OpenID Connect)."""

    def authorize_redirect(self, *args, extra_params=None, **kwargs):
        extra_params = {**(extra_params or {}), "nonce": secrets.token_urlsafe(32)}
        return super().authorize_redirect(*args, extra_params=extra_params, **kwargs)


class DataLabOIDCAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator deciding usernames and groups with :mod:`hub.identity`."""

    login_handler = NonceLoginHandler

    datalab_settings = Any(help="The deployment's hub.settings.Settings").tag(config=True)
    refresh_before_expiry = Integer(
        60, help="Renew an access token this many seconds before it expires"
    ).tag(config=True)
    jwks_url = Unicode("", help="The provider's signing keys, for signed userinfo").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._renewals: dict[str, asyncio.Lock] = {}

    @property
    def rules(self) -> identity.Rules:
        return rules(self.datalab_settings)

    def _refused(self, refusal: identity.Refusal, username: str | None = None,
                 sub: str | None = None) -> Refused:
        settings = self.datalab_settings
        message = text(settings.hub.language, "refused_" + refusal.reason, contact=settings.hub.contact)
        self.log.warning("DataLab login refused for %s: %s", username or "(unknown)", refusal)
        return Refused(refusal, message, username, sub)

    def _identity(self, claims: object) -> identity.Identity:
        try:
            return identity.resolve(claims, self.rules)
        except identity.Refusal as refusal:
            name = sub = None
            if isinstance(claims, dict):
                sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
                try:
                    name = identity.normalise_username(
                        identity.claim_at(claims, self.rules.username_claim), sub=sub
                    )
                except identity.Refusal:
                    name = None
            raise self._refused(refusal, name, sub) from None

    # -- claims -> username and groups ----------------------------------------------
    def user_info_to_username(self, user_info):
        return self._identity(user_info).username

    async def get_user_groups(self, auth_state):
        """Partner and role groups from the claims, plus the groups of the projects the
        deployment file lists the person in (projects are not the provider's to say)."""
        person = self._identity(auth_state.get(self.user_auth_state_key))
        projects = self.datalab_settings.projects_of(person.username)
        return set(person.groups) | {project_group(p.id) for p in projects}

    async def update_auth_model(self, auth_model):
        """The auth model with ``user_info.display_name``: the name pages show
        (:func:`hub.identity.display_name`), kept by JupyterHub on the user."""
        auth_model = await super().update_auth_model(auth_model)
        person = self._identity((auth_model.get("auth_state") or {}).get(self.user_auth_state_key))
        auth_model["user_info"] = {**(auth_model.get("user_info") or {}), "display_name": person.display_name}
        return auth_model

    async def check_allowed(self, username, auth_model):
        return bool(partners_of(auth_model.get("groups") or []))

    # -- userinfo: JSON, or a signed JWT (ProConnect) ----------------------------------
    async def token_to_user(self, token_info):
        response = await self.httpfetch(
            self.userdata_url,
            "Fetching user info...",
            method="GET",
            headers=self.build_userdata_request_headers(
                token_info["access_token"], token_info["token_type"]
            ),
            validate_cert=self.validate_server_cert,
            parse_json=False,
        )
        body = response.body.decode("utf-8", "replace")
        if response.headers.get("Content-Type", "").startswith("application/jwt"):
            return await self._verified_jwt(body)
        try:
            return json.loads(body)
        except ValueError:
            raise self._refused(identity.Refusal("bad_claim", "userinfo is not JSON")) from None

    async def _verified_jwt(self, token: str) -> dict:
        if not self.jwks_url:
            raise self._refused(identity.Refusal("bad_claim", "signed userinfo but no jwks_uri"))
        keys = jwt.PyJWKSet.from_dict(await self.httpfetch(self.jwks_url, "Fetching signing keys..."))
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next(k for k in keys.keys if kid is None or k.key_id == kid)
            return jwt.decode(
                token, key=key, algorithms=[key.algorithm_name], audience=self.client_id,
                options={"require": []},
            )
        except (StopIteration, jwt.PyJWTError) as e:
            raise self._refused(identity.Refusal("bad_claim", f"signed userinfo rejected: {e}")) from None

    def build_auth_state_dict(self, token_info, user_info):
        state = super().build_auth_state_dict(token_info, user_info)
        expires_in = token_info.get("expires_in")
        if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            state["expires_at"] = time.time() + expires_in
        return state

    # -- login ------------------------------------------------------------------------
    async def authenticate(self, handler, data=None, **kwargs):
        try:
            model = await super().authenticate(handler, data, **kwargs)
        except Refused as refused:
            user = handler.find_user(refused.username) if refused.username else None
            if user is not None and await self._recorded_sub(user) in (None, refused.sub):
                await self.offboard(user, handler, leave_groups=True)
            raise
        user = handler.find_user(model["name"])
        if user is not None:
            sub = ((model.get("auth_state") or {}).get(self.user_auth_state_key) or {}).get("sub")
            recorded = await self._recorded_sub(user)
            if recorded is not None and recorded != sub:
                raise self._refused(identity.Refusal(
                    "account_conflict", f"hub user {user.name} belongs to another provider account",
                ), model["name"], sub)
            await self._offboard_lost_partners(user, handler, model["groups"])
        partners.ensure_groups(handler.db, self.datalab_settings, model["groups"])
        return model

    async def _recorded_sub(self, user) -> str | None:
        """The provider's ``sub`` recorded for ``user`` at their last login (their
        encrypted ``auth_state``), None when there is none."""
        state = await user.get_auth_state()
        claims = (state or {}).get(self.user_auth_state_key)
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) and sub else None

    # -- refresh ----------------------------------------------------------------------
    async def refresh_user(self, user, handler=None, **kwargs):
        try:
            if not await self._renew_expiring_token(user, handler):
                return False
            model = await super().refresh_user(user, handler, **kwargs)
        except Refused:
            await self.offboard(user, handler, leave_groups=True)
            return False
        except (HTTPClientError, OSError, web.HTTPError) as e:
            self.log.warning("Refreshing %s failed (%s): a new login is required", user.name, e)
            return False
        if isinstance(model, dict):
            await self._offboard_lost_partners(user, handler, model["groups"])
            partners.ensure_groups(user.db, self.datalab_settings, model["groups"])
        return model

    async def _renew_expiring_token(self, user, handler) -> bool:
        """Exchange the refresh token when the access token expires within
        ``refresh_before_expiry`` seconds; False when that is needed and fails.
        One renewal at a time per person: providers that rotate refresh tokens refuse
        (and may revoke) a refresh token used twice."""
        lock = self._renewals.setdefault(user.name, asyncio.Lock())
        async with lock:
            return await self._renew_locked(user, handler)

    async def _renew_locked(self, user, handler) -> bool:
        state = await user.get_auth_state()
        if not state:
            return False
        expires_at = state.get("expires_at")
        if expires_at is None or expires_at - time.time() > self.refresh_before_expiry:
            return True
        if not state.get("refresh_token"):
            return False
        try:
            token_info = await self.get_token_info(
                handler, self.build_refresh_token_request_params(state["refresh_token"])
            )
        except Exception as e:  # any failure of the provider means: log in again
            self.log.info("Renewing %s's access token failed (%s): new login required", user.name, e)
            return False
        if not token_info.get("refresh_token"):  # providers may keep the same one
            token_info["refresh_token"] = state["refresh_token"]
        renewed = {**state, **self.build_auth_state_dict(token_info, state.get(self.user_auth_state_key))}
        await user.save_auth_state(renewed)
        self.log.info("Renewed %s's access token before its expiry", user.name)
        return True

    # -- offboarding ------------------------------------------------------------------
    async def _offboard_lost_partners(self, user, handler, new_groups: list[str]) -> None:
        before = partners_of([g.name for g in user.groups])
        lost = before - partners_of(new_groups)
        if lost:
            self.log.warning("%s left partner(s) %s", user.name, ", ".join(sorted(lost)))
            await self.offboard(user, handler, leave_groups=False)

    async def offboard(self, user, handler, leave_groups: bool) -> None:
        """Revoke ``user``'s API tokens and, with ``leave_groups``, remove them from every
        group (first: both take effect at once), then stop their running servers."""
        tokens = list(user.api_tokens)
        for token in tokens:
            user.db.delete(token)
        user.db.commit()
        if tokens:
            self.log.warning("Revoked %d API token(s) of %s", len(tokens), user.name)
        groups = sorted(g.name for g in user.groups)
        if leave_groups:
            user.sync_groups([])
        audit.record("identity.offboard", actor=audit.OFFBOARDING, target=f"user:{user.name}",
                     partner=sorted(partners_of(groups)), revoked=len(tokens),
                     groups_left=",".join(groups) if leave_groups else "")
        with audit.acting_as(audit.OFFBOARDING):
            for name, spawner in list(user.spawners.items()):
                if not spawner.active or spawner.pending:
                    continue
                self.log.warning("Stopping %s's server %r: partner membership lost", user.name, name)
                if handler is not None:
                    await handler.stop_single_user(user, name)
                else:
                    await user.stop(name)


def apply(c, settings: Settings) -> None:
    """Configure JupyterHub's ``c`` for ``auth.type: oidc`` (endpoints discovered now).
    Raises :class:`ConfigError` (discovery, client secret)."""
    oidc = settings.auth.oidc
    found = endpoints(oidc)
    c.JupyterHub.authenticator_class = DataLabOIDCAuthenticator
    a = c.DataLabOIDCAuthenticator
    a.datalab_settings = settings
    a.client_id = oidc.client_id
    a.client_secret = client_secret(oidc, settings)
    a.authorize_url = found.authorize_url
    a.token_url = found.token_url
    a.userdata_url = found.userinfo_url
    a.jwks_url = found.jwks_url or ""
    if found.end_session_url:
        a.logout_redirect_url = found.end_session_url
    if oidc.callback_url:
        a.oauth_callback_url = oidc.callback_url
    a.scope = list(oidc.effective("scopes"))
    a.enable_pkce = oidc.pkce
    a.validate_server_cert = oidc.verify_tls
    a.login_service = oidc.effective("display_name")
    a.manage_groups = True
    a.enable_auth_state = True
    a.auth_refresh_age = oidc.refresh_interval
    a.refresh_before_expiry = oidc.refresh_before_expiry
    a.refresh_pre_spawn = True
    a.auth_refresh_strict = True


def provider_buttons(settings: Settings) -> list[dict[str, str]]:
    """The login page's buttons: one per configured provider (``name``)."""
    if settings.auth.type != "oidc":
        return []
    return [{"name": settings.auth.oidc.effective("display_name")}]

