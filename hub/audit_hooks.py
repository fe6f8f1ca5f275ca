"""Where the hub writes its audit events (:mod:`hub.audit`), using what JupyterHub offers.

- **login, refusals**: :func:`audited_authenticator` wraps the authenticator class;
  its ``get_authenticated_user`` (JupyterHub's single entry of every login) writes
  ``login`` with ``success``, ``failure`` (wrong password, not allowed) or ``refused``
  (an OIDC claim refusal, :class:`hub.oidc.Refused`, whose username is kept).
- **logout**: the wrapped authenticator serves ``/logout`` with a subclass of its logout
  handler whose ``handle_logout`` (JupyterHub's hook for it) writes ``logout``.
- **server start and stop**: :func:`audited_spawner` wraps the spawner class;
  ``start`` writes ``server.start`` (``success``/``failure``, the backend in
  ``detail``), ``stop`` writes ``server.stop``. Usage accounting reads these lines.
- **admin actions, shares, access to a server**: :func:`log_request`, the tornado
  ``log_function`` (JupyterHub's own request log runs first), audits requests once
  they are answered: changes to users, groups, servers and tokens of *another* person
  through the REST API (``admin.*``), shares and share codes granted and revoked,
  accepted and declined (``share.*``), and the OAuth authorisation that lets a person
  into a lab (``server.access``; owner or shared). The request's body is never
  written; only the ``user``/``group`` a share names is read from it.

The sharing page's group shares are written by :mod:`hub.sharing` (one ``share.grant``
per member).
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, unquote

from jupyterhub.handlers.login import LogoutHandler
from jupyterhub.log import log_request as jupyterhub_log_request
from jupyterhub.orm import Spawner as OrmSpawner
from tornado import web

from . import audit
from .groups import partners_of

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
            partner = sorted(partners_of(groups)) if groups else user_partners(handler.find_user(model["name"]))
            audit.record("login", actor=model["name"], target=f"user:{model['name']}",
                         partner=partner, source=source)
            return model

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
    (target ``<owner>/<server name>``, the owner as actor, the backend in detail)."""

    class Audited(cls):
        def _audit(self, action: str, result: str = "success", **detail) -> None:
            audit.record(action, actor=self.user.name, target=f"{self.user.name}/{self.name}",
                         partner=user_partners(self.user), result=result,
                         backend=_backend(self), **detail)

        async def start(self):
            try:
                started = await super().start()
            except BaseException as e:
                self._audit("server.start", "failure", error=type(e).__name__)
                raise
            self._audit("server.start")
            return started

        async def stop(self, now=False):
            try:
                await super().stop(now=now)
            except BaseException as e:
                self._audit("server.stop", "failure", error=type(e).__name__)
                raise
            self._audit("server.stop")

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
    if name == actor:
        return  # one's own server or tokens: not an admin action (servers: see the spawner)
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


def apply(c, spawner_class: object, authenticator_class: object) -> None:
    """Wrap the configured spawner and authenticator classes (when they are classes) and
    install :func:`log_request` (merged into ``c.JupyterHub.tornado_settings``)."""
    if isinstance(spawner_class, type):
        c.JupyterHub.spawner_class = audited_spawner(spawner_class)
    if isinstance(authenticator_class, type):
        c.JupyterHub.authenticator_class = audited_authenticator(authenticator_class)
    c.JupyterHub.tornado_settings = {**c.JupyterHub.get("tornado_settings", {}), "log_function": log_request}
