"""The airlock in the hub: the French page ``/hub/export`` and the REST API
``/hub/api/airlock/...`` (JupyterHub ``extra_handlers``, see :func:`handlers`).

REST API (JSON; a token from the hub's token page, or the browser's cookie with
JupyterHub's XSRF header):

- ``GET /hub/api/airlock/requests``: ``{"mine": [...], "to_decide": [...]}``;
- ``POST /hub/api/airlock/requests`` ``{"path", "reason"}``: a new request (201);
- ``GET /hub/api/airlock/requests/<id>``: one request (its requester, or a steward);
- ``POST /hub/api/airlock/requests/<id>/approve``, ``.../refuse`` ``{"reason"}``;
- ``GET /hub/api/airlock/requests/<id>/file``: the exported file (approved only).

Scopes (custom JupyterHub scopes, :data:`SCOPES`): ``custom:datalab-airlock:request``
(make, list and download one's own requests) and ``custom:datalab-airlock:decide``
(approve or refuse), both held by every DataLab role (role ``datalab-airlock``), so that
a token from the token page carries them unless its owner narrows it (a token made for a
script that only requests cannot approve). They are a gate, not the rule: the rule is the
deployment file's data stewards and the membership of the space (:mod:`.core`). A lab's
own token (``JUPYTERHUB_API_TOKEN``, JupyterHub's ``server`` role) holds neither: code
running in a lab cannot request or approve an export.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers import BaseHandler
from tornado import web

from .. import audit
from ..groups import role_group
from ..settings import Role, Settings
from .core import Airlock, Person, Refused
from .store import ExportRequest

PAGE_PATH = "/export"
API_PATH = "/api/airlock/requests"
REQUEST_SCOPE = "custom:datalab-airlock:request"
DECIDE_SCOPE = "custom:datalab-airlock:decide"
SCOPES = {
    REQUEST_SCOPE: {"description": "Request the export of files out of one's health data spaces; "
                                   "list and download one's own requests"},
    DECIDE_SCOPE: {"description": "Approve or refuse export requests as a data steward"},
}
ROLE_NAME = "datalab-airlock"
CHUNK = 1024 * 1024

_airlocks: dict[Path, Airlock] = {}


def airlock_of(settings: Settings) -> Airlock:
    """The process's :class:`Airlock` of ``settings``' data directory (made on first use:
    its directories and store)."""
    found = _airlocks.get(settings.data_dir)
    if found is None:
        found = _airlocks[settings.data_dir] = Airlock(settings)
    return found


def load_roles() -> list[dict]:
    """The role granting :data:`SCOPES` to every DataLab role's group."""
    return [{
        "name": ROLE_NAME,
        "description": "Use the airlock: request exports out of health spaces, decide as a data steward",
        "scopes": sorted(SCOPES),
        "groups": [role_group(role) for role in Role],
    }]


def nav_shown(settings: Settings):
    """A template variable (called with the page's user): whether the menu shows the
    page, i.e. the person belongs to a health space."""

    def shown(user) -> bool:
        if user is None:
            return False
        return bool(airlock_of(settings).spaces_of(Person(user.name, frozenset(g.name for g in user.groups))))

    return shown


class AirlockMixin:
    """What the page and the API share: the person, the airlock, scope checks."""

    datalab_settings: Settings

    def initialize(self, datalab_settings: Settings):
        self.datalab_settings = datalab_settings

    @property
    def airlock(self) -> Airlock:
        return airlock_of(self.datalab_settings)

    @property
    def language(self) -> str:
        return self.datalab_settings.hub.language

    def person(self) -> Person:
        user = self.current_user
        if user is None or getattr(user, "kind", "user") != "user":
            raise web.HTTPError(403)
        return Person(user.name, frozenset(g.name for g in user.groups), audit.request_source(self))

    def require(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise web.HTTPError(403, f"this action needs the scope {scope}")

    async def act(self, action: str, person: Person, request_id: int | None, **body) -> ExportRequest:
        """Run ``action`` (request, approve, refuse) off the event loop (files are read,
        hashed and copied)."""
        airlock = self.airlock
        if action == "request":
            self.require(REQUEST_SCOPE)
            return await asyncio.to_thread(airlock.request, person, body.get("path"), body.get("reason"))
        self.require(DECIDE_SCOPE)
        if action == "approve":
            return await asyncio.to_thread(airlock.approve, person, request_id)
        return await asyncio.to_thread(airlock.refuse, person, request_id, body.get("reason"))

    async def send_file(self, person: Person, request_id: int) -> None:
        self.require(REQUEST_SCOPE)
        try:
            row, path = self.airlock.exported_file(person, request_id)
        except Refused as refusal:
            raise web.HTTPError(refusal.status, refusal.message(self.language)) from None
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(row.exported)}")
        self.set_header("X-Content-SHA256", row.sha256)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()


class ExportPage(AirlockMixin, BaseHandler):
    """``GET /hub/export``: the person's requests and, for a data steward, those awaiting
    their decision; ``POST`` (a form with ``action``: request, approve or refuse)."""

    @web.authenticated
    async def get(self):
        await self.render_page()

    @web.authenticated
    async def post(self):
        person = self.person()
        action = self.get_body_argument("action", "")
        if action not in ("request", "approve", "refuse"):
            raise web.HTTPError(400, "unknown action")
        request_id = None
        if action != "request":
            try:
                request_id = int(self.get_body_argument("id", ""))
            except ValueError:
                raise web.HTTPError(400, "bad request id") from None
        body = {"path": self.get_body_argument("path", ""), "reason": self.get_body_argument("reason", "")}
        try:
            row = await self.act(action, person, request_id, **body)
        except Refused as refusal:
            self.set_status(refusal.status)
            await self.render_page(error=refusal.message(self.language), form=body if action == "request" else {})
            return
        done = {"request": "airlock_requested", "approve": "airlock_approved", "refuse": "airlock_refused_done"}
        await self.render_page(notice=(done[action], row.id))

    async def render_page(self, notice: tuple[str, int] | None = None, error: str | None = None,
                          form: dict | None = None) -> None:
        person = self.person()
        airlock = self.airlock
        spaces = airlock.spaces_of(person)
        labels = {s.key: s.label for s in airlock.spaces().values()}
        html = await self.render_template(
            "export.html", user=self.current_user, spaces=spaces, labels=labels,
            mine=airlock.mine(person), to_decide=airlock.to_decide(person),
            decided=airlock.decided_in(person), steward=bool(airlock.stewarded_by(person)),
            notice=notice, error=error, form=form or {},
            example_partner=next((s.id for s in spaces if s.kind == "partner"), "<id>"),
        )
        self.finish(html)


class ExportFilePage(AirlockMixin, BaseHandler):
    """``GET /hub/export/<id>/fichier``: the exported file, from the page."""

    @web.authenticated
    async def get(self, request_id: str):
        await self.send_file(self.person(), int(request_id))


class RequestsAPI(AirlockMixin, APIHandler):
    """``GET``/``POST /hub/api/airlock/requests``."""

    async def get(self):
        self.require(REQUEST_SCOPE)
        person = self.person()
        self.finish(json.dumps({
            "mine": [r.model() for r in self.airlock.mine(person)],
            "to_decide": [r.model() for r in self.airlock.to_decide(person)],
        }))

    async def post(self):
        person = self.person()
        body = self.get_json_body() or {}
        if not isinstance(body, dict):
            raise web.HTTPError(400, "expected a JSON object {\"path\", \"reason\"}")
        try:
            row = await self.act("request", person, None, path=body.get("path"), reason=body.get("reason"))
        except Refused as refusal:
            raise web.HTTPError(refusal.status, refusal.message(self.language)) from None
        self.set_status(201)
        self.finish(json.dumps(row.model()))


class RequestAPI(AirlockMixin, APIHandler):
    """``GET /hub/api/airlock/requests/<id>``."""

    async def get(self, request_id: str):
        self.require(REQUEST_SCOPE)
        try:
            row = self.airlock.get(self.person(), int(request_id))
        except Refused as refusal:
            raise web.HTTPError(refusal.status, refusal.message(self.language)) from None
        self.finish(json.dumps(row.model()))


class DecisionAPI(AirlockMixin, APIHandler):
    """``POST /hub/api/airlock/requests/<id>/approve`` and ``.../refuse``
    (``{"reason"}``)."""

    async def post(self, request_id: str, action: str):
        body = self.get_json_body() or {}
        reason = body.get("reason") if isinstance(body, dict) else None
        try:
            row = await self.act(action, self.person(), int(request_id), reason=reason)
        except Refused as refusal:
            raise web.HTTPError(refusal.status, refusal.message(self.language)) from None
        self.finish(json.dumps(row.model()))


class FileAPI(AirlockMixin, APIHandler):
    """``GET /hub/api/airlock/requests/<id>/file``."""

    def get_content_type(self):
        return "application/octet-stream"

    async def get(self, request_id: str):
        await self.send_file(self.person(), int(request_id))


def handlers(settings: Settings) -> list[tuple]:
    """``c.JupyterHub.extra_handlers`` entries (paths below the hub prefix)."""
    args = {"datalab_settings": settings}
    return [
        (PAGE_PATH, ExportPage, args),
        (rf"{PAGE_PATH}/(\d{{1,12}})/fichier", ExportFilePage, args),
        (API_PATH, RequestsAPI, args),
        (rf"{API_PATH}/(\d{{1,12}})", RequestAPI, args),
        (rf"{API_PATH}/(\d{{1,12}})/(approve|refuse)", DecisionAPI, args),
        (rf"{API_PATH}/(\d{{1,12}})/file", FileAPI, args),
    ]
