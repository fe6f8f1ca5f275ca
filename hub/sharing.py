"""Sharing a lab with other DataLab users (JupyterHub 5+ shares and share codes).

A share grants ``access:servers!server=<owner>/<server>`` to a hub user or a hub group
(a partner ``partner-<id>`` or a project ``project-<id>``); a share code is a link that
any logged-in DataLab user can accept. The hub checks every request to the lab against
the current shares: a revoked person's requests are refused from
:data:`REVOCATION_SECONDS` after the revocation (the labs keep the hub's answer that
long instead of JupyterHub's default five minutes, see :data:`LAB_ARGS`). Connections
already open (a kernel's or a document's websocket) are not cut: they last until they
close or the lab stops.

Scopes (least privilege):

- role ``datalab-sharing``, bound only to the groups of partners whose ``sharing`` is
  true: ``shares!user`` (share and revoke their own servers), ``read:shares!user``
  (list them), ``read:users:name`` and ``read:groups:name`` (needed by JupyterHub to
  share with a user or a group by name). Members of a partner with ``sharing: false``
  (health data) cannot share. A person in several partners may share when one of them
  allows it.
- every user (:data:`hub.partners.USER_SCOPES`): see what is shared with them and
  decline it.

Health spaces (:mod:`hub.confinement`): the owner of a lab that reads a health partner's
or project's space shares it only with members of that space, never through a share code.
The hub checks it before JupyterHub's own share API (:func:`confined_authenticator`
serves ``/api/shares/<user>/<server>`` and ``/api/share-codes/<user>/<server>`` ahead of
JupyterHub's handlers) and on the page's group share; a refusal is a 403 whose message
names the rule.

The French page ``/hub/partage`` (:class:`SharingPage`) lists the possible recipients
(hub users, partner groups, the person's project groups) and calls the REST API from the
browser with the person's own cookie.

Sharing with a group: JupyterHub 6.1.1 records a group share, and the hub's own pages
honour it, but the lab refuses the group's members: the OAuth token the lab checks only
carries the scopes of the roles and *user* shares of its owner (``scopes.get_scopes_for``
skips group shares for tokens). So the page shares with a group by sharing with each of
its current members (``POST /hub/partage``, :meth:`SharingPage.post`): later members do
not get it, and each member's share is withdrawn one by one.
"""

from __future__ import annotations

import json

from jupyterhub.apihandlers.shares import ServerShareAPIHandler, ServerShareCodeAPIHandler
from jupyterhub.handlers import BaseHandler
from jupyterhub.orm import Group, Share, User
from tornado import web

from . import audit, confinement
from .groups import partner_group, partners_of, project_group
from .partners import may_have_lab
from .settings import Settings

ROLE_NAME = "datalab-sharing"
SHARING_SCOPES = ["shares!user", "read:shares!user", "read:users:name", "read:groups:name"]
PAGE_PATH = "/partage"
#: Seconds a lab keeps the hub's answer about who may use it (JupyterHub's smallest
#: cache: 0 would mean forever).
REVOCATION_SECONDS = 1
#: Arguments every lab gets, so that a revoked share takes effect within a second.
LAB_ARGS = [f"--HubOAuth.cache_max_age={REVOCATION_SECONDS}"]


def load_roles(settings: Settings) -> list[dict]:
    """The ``datalab-sharing`` role, bound to the groups of partners allowed to share."""
    return [
        {
            "name": ROLE_NAME,
            "description": "Share one's own servers with other DataLab users",
            "scopes": SHARING_SCOPES,
            "groups": [partner_group(p.id) for p in settings.partners if p.sharing],
        }
    ]


def recipients(db, me: str, settings: Settings) -> dict[str, list[dict]]:
    """Who ``me`` may share with, as ``{"users": [{"name"}], "groups": [{"name",
    "label"}]}``: every other hub user, every partner group, and the project groups
    ``me`` is a member of (labels: partner name, project title). ``db``: the hub's
    SQLAlchemy session."""
    users = [{"name": u.name} for u in db.query(User).order_by(User.name) if u.name != me]
    names = {g.name for g in db.query(Group)}
    groups = []
    for p in settings.partners:
        if partner_group(p.id) in names:
            groups.append({"name": partner_group(p.id), "label": p.name})
    for project in settings.projects_of(me):
        if project_group(project.id) in names:
            groups.append({"name": project_group(project.id), "label": project.title})
    return {"users": users, "groups": groups}


def group_labels(settings: Settings) -> dict[str, str]:
    """Hub group name -> what a person calls it (partner name, project title)."""
    labels = {partner_group(p.id): p.name for p in settings.partners}
    labels.update({project_group(p.id): p.title for p in settings.projects})
    return labels


class SharingPage(BaseHandler):
    """``GET /hub/partage``: the sharing page of the logged-in person. Registered through
    ``c.JupyterHub.extra_handlers`` with the settings as ``settings`` argument."""

    def initialize(self, datalab_settings: Settings):
        self.datalab_settings = datalab_settings

    @web.authenticated
    async def get(self):
        user = self.current_user
        may_share = self.has_scope(f"shares!user={user.name}")
        if may_share:
            user.spawner  # creates the default server's record, which shares refer to
        html = await self.render_template(
            "partage.html",
            user=user,
            may_share=may_share,
            may_start="servers" in self.parsed_scopes and may_have_lab(g.name for g in user.groups),
            recipients=recipients(self.db, user.name, self.datalab_settings),
            group_labels=group_labels(self.datalab_settings),
        )
        self.finish(html)

    @web.authenticated
    async def post(self):
        """Share the person's default server with each current member of a group they
        may share with. Body: ``{"group": "<name>"}``; answers ``{"users": [names]}``.
        HTTP 403 when the person may not share, 400 for a group not offered to them."""
        user = self.current_user
        if not self.has_scope(f"shares!user={user.name}"):
            raise web.HTTPError(403, "sharing is not allowed for your partner")
        try:
            name = json.loads(self.request.body or b"{}").get("group", "")
        except (ValueError, AttributeError):
            raise web.HTTPError(400, "expected a JSON body {\"group\": name}") from None
        offered = {g["name"] for g in recipients(self.db, user.name, self.datalab_settings)["groups"]}
        if name not in offered:
            raise web.HTTPError(400, f"cannot share with group {name!r}")
        try:
            confinement.check_share(self.datalab_settings, {g.name for g in user.groups}, group=name)
        except confinement.HealthConfinementError as refusal:
            raise web.HTTPError(403, str(refusal)) from None
        spawner = user.spawner.orm_spawner
        scopes = [f"access:servers!server={user.name}/"]
        names = []
        for member in Group.find(self.db, name=name).users:
            if member.name != user.name:
                Share.grant(self.db, spawner, member, scopes=scopes)
                names.append(member.name)
                audit.record("share.grant", actor=user.name, target=f"{user.name}/",
                             partner=partners_of({g.name for g in user.groups}),
                             source=audit.request_source(self), recipient=f"user:{member.name}",
                             group=name)
        self.finish(json.dumps({"users": sorted(names)}))


def _confine(handler, settings: Settings, user_name: str, code: bool) -> None:
    """Before JupyterHub's share API: a 403 naming the health-data rule when the caller
    (the owner ``user_name``, or someone who may share their servers) asks for a share
    beyond the owner's health spaces. Anything else is left to JupyterHub's handler (its
    own checks and errors)."""
    owner, caller = handler.find_user(user_name), handler.current_user
    if caller is None or owner is None:
        return
    if caller.name != user_name and not handler.has_scope(f"shares!user={user_name}"):
        return
    owner_groups = {g.name for g in owner.groups}
    try:
        if code:
            confinement.check_share(settings, owner_groups, code=True)
            return
        body = handler.get_json_body() or {}
        if not isinstance(body, dict):
            return
        if isinstance(body.get("group"), str):
            confinement.check_share(settings, owner_groups, group=body["group"])
        elif isinstance(body.get("user"), str):
            recipient = handler.find_user(body["user"])
            if recipient is not None:
                confinement.check_share(settings, owner_groups, user_groups={g.name for g in recipient.groups})
    except confinement.HealthConfinementError as refusal:
        raise web.HTTPError(403, str(refusal)) from None


def confined_share_handlers(settings: Settings) -> list[tuple]:
    """JupyterHub's share and share-code API handlers, checking the health-data rule
    first (see :func:`_confine`); routes relative to the hub prefix, to be served ahead
    of JupyterHub's own."""

    class ConfinedShareAPIHandler(ServerShareAPIHandler):
        async def post(self, user_name, server_name=None):
            _confine(self, settings, user_name, code=False)
            return await super().post(user_name, server_name)

    class ConfinedShareCodeAPIHandler(ServerShareCodeAPIHandler):
        async def post(self, user_name, server_name=None):
            _confine(self, settings, user_name, code=True)
            return await super().post(user_name, server_name)

    return [
        (r"/api/shares/([^/]+)/([^/]*)", ConfinedShareAPIHandler),
        (r"/api/share-codes/([^/]+)/([^/]*)", ConfinedShareCodeAPIHandler),
    ]


def confined_authenticator(cls: type, settings: Settings) -> type:
    """A subclass of the authenticator ``cls`` whose handlers include
    :func:`confined_share_handlers`: JupyterHub serves an authenticator's handlers before
    its own (``c.JupyterHub.extra_handlers`` come after them, too late to take a route)."""

    class Confining(cls):
        def get_handlers(self, app):
            return [*confined_share_handlers(settings), *super().get_handlers(app)]

    Confining.__name__ = Confining.__qualname__ = f"Confining{cls.__name__}"
    return Confining


def handlers(settings: Settings) -> list[tuple]:
    """``c.JupyterHub.extra_handlers`` entries (paths below the hub prefix)."""
    return [(PAGE_PATH, SharingPage, {"datalab_settings": settings})]
