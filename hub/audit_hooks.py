"""Where the hub writes its audit events (:mod:`hub.audit`), using what JupyterHub offers.

- **login, refusals**: :func:`audited_authenticator` wraps the authenticator class;
  its ``get_authenticated_user`` (JupyterHub's single entry of every login) writes
  ``login`` with ``success``, ``failure`` (wrong password, not allowed) or ``refused``
  (an OIDC claim refusal, :class:`hub.oidc.Refused`, whose username is kept).
- **logout**: the wrapped authenticator serves ``/logout`` with a subclass of its logout
  handler whose ``handle_logout`` (JupyterHub's hook for it) writes ``logout``.
- **groups from the identity provider**: the same wrapper writes ``identity.groups``
  (actor ``identity-provider``, the groups added and removed) when a login or an auth
  refresh changes the groups JupyterHub is about to synchronise (``manage_groups``).
  Offboarding (:meth:`hub.oidc.DataLabOIDCAuthenticator.offboard`) writes
  ``identity.offboard`` (``revoked``: how many API tokens; ``groups_left``) and stops
  servers as ``hub:offboarding``.
- **server start and stop, with their true actor**: :func:`audited_spawner` wraps the
  spawner class; ``start`` writes ``server.start`` (``success``/``failure``, the backend
  in ``detail``), ``stop`` writes ``server.stop``. Usage accounting reads these lines.
  The actor of a start is whoever made the request JupyterHub hands the spawner
  (``spawner.handler``: the owner, or an admin through ``/hub/spawn/<user>`` or the
  API). A stop runs in a task of its own, so :func:`apply` wraps JupyterHub's
  ``BaseHandler.stop_single_user`` (every stop asked through the hub: the owner, an
  admin, the idle culler's ``service:idle-culler``) to name the request's actor
  (:func:`hub.audit.acting_as`); a stop no request asked for (the hub's shutdown, a
  failed start's clean-up) is the ``hub``'s.
- **admin actions, shares, access to a server**: :func:`log_request`, the tornado
  ``log_function`` (JupyterHub's own request log runs first), audits requests once
  they are answered: changes to users, groups, servers and tokens of *another* person
  through the REST API (``admin.*``), one's own API tokens created and revoked
  (``token.*``: the token page uses the same API), shares and share codes granted and revoked,
  accepted and declined (``share.*``), and the OAuth authorisation that lets a person
  into a lab (``server.access``; owner or shared). The request's body is never
  written; only the ``user``/``group`` a share names is read from it.

The sharing page's group shares are written by :mod:`hub.sharing` (one ``share.grant``
per member).

**Who opened my lab** (JupyterHub#4647): the French page ``/hub/acces``
(:class:`AccessPage`) lists, for the logged-in person, the events where someone else
acted on or opened their labs or acted on their account
(:func:`hub.audit.acted_on_by_others`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from urllib.parse import parse_qs, unquote

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.handlers.login import LogoutHandler
from jupyterhub.log import log_request as jupyterhub_log_request
from jupyterhub.orm import Spawner as OrmSpawner
from tornado import web

from . import audit
from .groups import partners_of
from .settings import Settings

log = logging.getLogger("datalab.audit")

VERBS = {"POST": "create", "PATCH": "modify", "PUT": "modify", "DELETE": "delete"}


def user_partners(user) -> list[str]:
    """Partner ids of a hub ``user`` (wrapper or ORM object; None -> [])."""
    if user is None:
        return []
    return sorted(partners_of({g.name for g in getattr(user, "groups", [])}))


def actor_of(handler) -> tuple[str, object]:
    """(name, object) of who made the request: a user's name, ``service:<name>``, or ""."""
    try:
        who = handler.current_user
    except (web.HTTPError, RuntimeError):
        return "", None
    if who is None:
        return "", None
    if getattr(who, "kind", "user") == "service":
        return f"service:{who.name}", who
    return who.name, who


# -- login and logout -----------------------------------------------------------------
def audited_authenticator(cls: type) -> type:
    """A subclass of the authenticator ``cls`` that audits logins and logouts."""

    class Audited(cls):
        async def get_authenticated_user(self, handler, data):
            source = audit.request_source(handler)
            try:
                model = await super().get_authenticated_user(handler, data)
            except web.HTTPError as e:
                name = getattr(e, "username", None) or ""
                reason = getattr(getattr(e, "refusal", None), "reason", None)
                found = handler.find_user(name) if name else None
                audit.record("login", actor=name, target=f"user:{name}" if name else "",
                             partner=user_partners(found), source=source, result="refused",
                             status=e.status_code, reason=reason)
                raise
            if model is None:
                name = (data or {}).get("username", "") if isinstance(data, dict) else ""
                audit.record("login", actor=name[:64], target=f"user:{name[:64]}" if name else "",
                             source=source, result="failure")
                return None
            groups = model.get("groups")
            found = handler.find_user(model["name"])
            partner = sorted(partners_of(groups)) if groups else user_partners(found)
            audit.record("login", actor=model["name"], target=f"user:{model['name']}",
                         partner=partner, source=source)
            self._audit_groups(model["name"], found, model, source)
            return model

        async def refresh_user(self, user, handler=None, **kwargs):
            model = await super().refresh_user(user, handler, **kwargs)
            if isinstance(model, dict):
                self._audit_groups(user.name, user, model, audit.request_source(handler) if handler else "")
            return model

        def _audit_groups(self, name: str, user, model: dict, source: str) -> None:
            """``identity.groups`` when the provider's groups (about to be synchronised
            by JupyterHub) differ from the person's current ones."""
            if not getattr(self, "manage_groups", False) or model.get("groups") is None:
                return
            before = {g.name for g in getattr(user, "groups", [])} if user is not None else set()
            after = set(model["groups"])
            if before == after:
                return
            audit.record("identity.groups", actor=audit.PROVIDER, target=f"user:{name}",
                         partner=sorted(partners_of(before | after)), source=source,
                         added=",".join(sorted(after - before)), removed=",".join(sorted(before - after)))

        def get_handlers(self, app):
            handlers = list(super().get_handlers(app))
            base = next((h[1] for h in handlers if h[0] == "/logout"), LogoutHandler)
            handlers = [h for h in handlers if h[0] != "/logout"]
            return [*handlers, ("/logout", audited_logout(base))]

    Audited.__name__ = Audited.__qualname__ = f"Audited{cls.__name__}"
    return Audited


def audited_logout(base: type) -> type:
    """A subclass of the logout handler ``base`` writing ``logout`` before logging out."""

    class AuditedLogout(base):
        async def default_handle_logout(self):
            user = self.current_user
            if user is not None:
                audit.record("logout", actor=user.name, target=f"user:{user.name}",
                             partner=user_partners(user), source=audit.request_source(self))
            await super().default_handle_logout()

    return AuditedLogout


# -- server start and stop ------------------------------------------------------------
def _backend(spawner) -> str:
    profile = getattr(spawner, "selected_profile", None)
    settings = getattr(spawner, "datalab_settings", None)
    if profile is not None and settings is not None:
        return settings.backend_of(profile).value
    return settings.spawner.backend.value if settings is not None else ""


def audited_spawner(cls: type) -> type:
    """A subclass of the spawner ``cls`` writing ``server.start`` and ``server.stop``
    (target ``<owner>/<server name>``, the true actor, the backend in detail)."""

    class Audited(cls):
        def _audit(self, action: str, actor: str, result: str = "success", **detail) -> None:
            audit.record(action, actor=actor, target=f"{self.user.name}/{self.name}",
                         partner=user_partners(self.user), result=result,
                         backend=_backend(self), **detail)

        def _starter(self) -> str:
            handler = getattr(self, "handler", None)
            actor = actor_of(handler)[0] if handler is not None else ""
            return actor or self.user.name

        async def start(self):
            actor = self._starter()
            try:
                started = await super().start()
            except BaseException as e:
                self._audit("server.start", actor, "failure", error=type(e).__name__)
                raise
            self._audit("server.start", actor)
            return started

        async def stop(self, now=False):
            actor = audit.acting() or audit.HUB
            try:
                await super().stop(now=now)
            except BaseException as e:
                self._audit("server.stop", actor, "failure", error=type(e).__name__)
                raise
            self._audit("server.stop", actor)

    Audited.__name__ = Audited.__qualname__ = f"Audited{cls.__name__}"
    return Audited


# -- requests: admin actions, shares, server access -----------------------------------
API = re.compile(r"^/api/(?P<rest>.*)$")


def log_request(handler) -> None:
    """The hub's tornado ``log_function``: JupyterHub's request log, then
    :func:`audit_request`. An audit failure is logged, never raised."""
    jupyterhub_log_request(handler)
    try:
        audit_request(handler)
    except Exception:
        log.exception("audit: cannot audit %s %s", handler.request.method, handler.request.path)


def _body_field(handler, *names: str) -> tuple[str, str]:
    """(kind, value) of the first of ``names`` in the request's JSON body, else ("", "")."""
    try:
        body = json.loads(handler.request.body or b"{}")
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    for name in names:
        if isinstance(body.get(name), str):
            return name, body[name]
    return "", ""


def audit_request(handler) -> None:
    """Write the event of an answered hub request, if it is one that is audited (see
    the module's docstring)."""
    request = handler.request
    hub_prefix = handler.hub.base_url.rstrip("/") if getattr(handler, "hub", None) else "/hub"
    if not request.path.startswith(hub_prefix + "/"):
        return
    path = request.path[len(hub_prefix):]
    method, status = request.method, handler.get_status()
    if path == "/api/oauth2/authorize" and status in (302, 403):
        _audit_access(handler, status)
        return
    if path == "/accept-share" and method == "POST":
        actor, who = actor_of(handler)
        audit.record("share.accept", actor=actor, partner=user_partners(who),
                     source=audit.request_source(handler), result=audit.result_of(status), status=status)
        return
    match = API.match(path)
    if not match or method not in VERBS:
        return
    parts = [unquote(p) for p in match["rest"].rstrip("/").split("/")] if match["rest"] else []
    actor, who = actor_of(handler)
    fields = {"actor": actor, "source": audit.request_source(handler), "result": audit.result_of(status),
              "status": status}
    if parts[:1] in (["shares"], ["share-codes"]):
        _audit_share(handler, parts, method, fields)
    elif parts[:1] == ["users"] and len(parts) >= 4 and parts[2] == "shared":
        owner, server = parts[3], parts[4] if len(parts) > 4 else ""
        audit.record("share.revoke", target=f"{owner}/{server}", partner=_partners_of_name(handler, owner),
                     recipient=f"user:{parts[1]}", **fields)
    elif parts[:1] == ["users"]:
        _audit_admin_user(handler, parts, method, actor, who, fields)
    elif parts[:1] == ["groups"]:
        _audit_admin_group(handler, parts, method, who, fields)


def _partners_of_name(handler, name: str) -> list[str]:
    return user_partners(handler.find_user(name)) if name else []


def _audit_access(handler, status: int) -> None:
    client_id = parse_qs(handler.request.query).get("client_id", [""])[0]
    if not client_id and handler.request.method == "POST":
        client_id = handler.get_body_argument("client_id", "")
    spawner = handler.db.query(OrmSpawner).filter_by(oauth_client_id=client_id).first() if client_id else None
    if spawner is None:
        return  # a service's client, not a lab
    actor, who = actor_of(handler)
    owner = spawner.user.name
    audit.record("server.access", actor=actor, target=f"{owner}/{spawner.name}",
                 partner=user_partners(spawner.user), source=audit.request_source(handler),
                 result=audit.result_of(status), status=status, shared=actor != owner)


def _audit_share(handler, parts: list[str], method: str, fields: dict) -> None:
    owner = parts[1] if len(parts) > 1 else ""
    server = parts[2] if len(parts) > 2 else ""
    codes = parts[0] == "share-codes"
    if codes:
        action = "share.code.create" if method == "POST" else "share.code.revoke"
        recipient = ""
    else:
        action = "share.grant" if method == "POST" else "share.revoke"
        kind, name = _body_field(handler, "user", "group")
        recipient = f"{kind}:{name}" if kind else ("all" if method == "DELETE" else "")
    audit.record(action, target=f"{owner}/{server}", partner=_partners_of_name(handler, owner),
                 recipient=recipient, **fields)


def _audit_admin_user(handler, parts: list[str], method: str, actor: str, who, fields: dict) -> None:
    if len(parts) == 1:  # POST /users: several users created
        audit.record("admin.user.create", target="users", partner=user_partners(who), **fields)
        return
    name = parts[1]
    if name == actor:  # one's own server or tokens: not an admin action (servers: see the spawner)
        if len(parts) >= 3 and parts[2] == "tokens":
            action = "token.create" if method == "POST" else "token.revoke"
            audit.record(action, target=f"user:{name}", partner=user_partners(who), **fields)
        return
    partner = _partners_of_name(handler, name) or user_partners(who)
    if len(parts) == 2:
        audit.record(f"admin.user.{VERBS[method]}", target=f"user:{name}", partner=partner, **fields)
    elif parts[2] in ("server", "servers") and not parts[-1] == "progress":
        server = parts[3] if parts[2] == "servers" and len(parts) > 3 else ""
        action = "admin.server.start" if method == "POST" else "admin.server.stop"
        audit.record(action, target=f"{name}/{server}", partner=partner, **fields)
    elif parts[2] == "tokens":
        action = "admin.token.create" if method == "POST" else "admin.token.revoke"
        audit.record(action, target=f"user:{name}", partner=partner, **fields)


def _audit_admin_group(handler, parts: list[str], method: str, who, fields: dict) -> None:
    if len(parts) < 2:
        return
    group = parts[1]
    partner = sorted(partners_of({group})) or user_partners(who)
    if len(parts) == 2:
        action = f"admin.group.{VERBS[method]}"
    elif parts[2] == "users":
        action = "admin.group.add" if method == "POST" else "admin.group.remove"
    else:
        action = "admin.group.modify"
    audit.record(action, target=f"group:{group}", partner=partner, **fields)


# -- who opened my lab ---------------------------------------------------------------------
ACCESS_PAGE = "/acces"


class AccessPage(BaseHandler):
    """``GET /hub/acces``: who else acted on or opened the logged-in person's labs.
    Registered through ``c.JupyterHub.extra_handlers`` with the settings."""

    def initialize(self, datalab_settings: Settings):
        self.datalab_settings = datalab_settings

    @web.authenticated
    async def get(self):
        user = self.current_user
        directory = self.datalab_settings.data_dir / audit.DIRECTORY
        events = audit.acted_on_by_others(audit.read(directory), user.name)
        self.finish(await self.render_template("acces.html", user=user, events=events))


def handlers(settings: Settings) -> list[tuple]:
    """``c.JupyterHub.extra_handlers`` entries (paths below the hub prefix)."""
    return [(ACCESS_PAGE, AccessPage, {"datalab_settings": settings})]


def stop_with_actor(stop_single_user):
    """JupyterHub's ``BaseHandler.stop_single_user`` naming the request's actor for the
    stop task it starts (see the module's docstring)."""

    @functools.wraps(stop_single_user)
    async def wrapper(self, user, server_name=""):
        with audit.acting_as(actor_of(self)[0] or audit.HUB):
            return await stop_single_user(self, user, server_name)

    wrapper.datalab_audited = True
    return wrapper


def apply(c, spawner_class: object, authenticator_class: object) -> None:
    """Wrap the configured spawner and authenticator classes (when they are classes) and
    JupyterHub's ``stop_single_user`` (once), and install :func:`log_request` (merged
    into ``c.JupyterHub.tornado_settings``)."""
    if not getattr(BaseHandler.stop_single_user, "datalab_audited", False):
        BaseHandler.stop_single_user = stop_with_actor(BaseHandler.stop_single_user)
    if isinstance(spawner_class, type):
        c.JupyterHub.spawner_class = audited_spawner(spawner_class)
    if isinstance(authenticator_class, type):
        c.JupyterHub.authenticator_class = audited_authenticator(authenticator_class)
    c.JupyterHub.tornado_settings = {**c.JupyterHub.get("tornado_settings", {}), "log_function": log_request}
