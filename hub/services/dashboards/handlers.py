"""HTTP side of the dashboards service: the gallery, the REST API and the reverse proxy
(HTTP and websockets) to each dashboard's Voilà server.

Every request is authenticated by the hub's OAuth (cookie) or a hub API token, and every
request to a dashboard (page, assets, widgets' websockets) checks the viewer against its
audience. The viewer's hub cookies and tokens never reach the dashboard's server: the
proxy sends that server's own token instead.

Only what Voilà's page needs is forwarded (:func:`route`): the page (one kernel per view,
admitted under the caps), its static files, and its own kernel (its model, its
websocket, its shutdown when the page is left). A kernel is its page view's: the service
reads the kernel's id from the page as it serves it, and accepts requests for that
kernel only from the same person in the same browser session (:func:`browser_session`).
Listings (``datalab/kernels``, ``api/kernels``, ``api/sessions``) and everything else
are refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import re
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import jinja2
from jupyterhub.services.auth import HubOAuthenticated
from tornado import httputil, web, websocket
from tornado.httpclient import HTTPClientError, HTTPRequest

from ... import audit
from ...messages import CATALOGUE, hub_error
from ...metrics import DASHBOARD_VIEWS
from ...groups import partners_of, role_group
from ...settings import Role
from .assets import MAX_FILE, Asset, keepable, make_asset
from .runners import FilesError, StartError, UpstreamResolver, upstream_client
from .service import Busy, DashboardService, Slot
from .store import Dashboard, PublishError, Said

log = logging.getLogger("datalab.dashboards")

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Request headers never passed to a dashboard's server: hop-by-hop ones, the viewer's
#: credentials, and the header only the service may set.
DROPPED_REQUEST = {
    "connection", "keep-alive", "proxy-authorization", "te", "trailer", "transfer-encoding",
    "upgrade", "cookie", "authorization", "x-datalab-viewer", "content-length",
}
DROPPED_RESPONSE = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "set-cookie",
    "server", "date",
}
PUBLISHERS = {role_group(Role.analyst), role_group(Role.admin)}
#: Voilà's static files a page loads (its template's, its own, the widgets' extensions,
#: themes, the files next to the notebook Voilà's allow-list serves, and Font Awesome).
ASSETS = (
    "voila/static/", "voila/templates/", "voila/labextensions/", "voila/api/themes/", "voila/files/",
    "datalab/fontawesome/",
)
KERNEL = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: What a page may ask of its own kernel: its model (GET) and its shutdown when left (POST).
KERNEL_PATHS = {
    "GET": re.compile(rf"api/kernels/({KERNEL})"),
    "POST": re.compile(rf"voila/api/shutdown/({KERNEL})"),
}
#: The kernel id in the page's configuration (the first occurrence: the configuration
#: precedes every cell's output).
PAGE_KERNEL = re.compile(rb'"kernelId":\s*"(' + KERNEL.encode() + rb')"')
#: The query argument of a live page requested by its snapshot page.
LIVE_PAGE = "datalab-live"
#: How many times a live page asks for its turn (each ask waits up to
#: :data:`.service.TURN_WAIT` seconds; a browser follows some 20 redirects in a row).
LIVE_ASKS = 15
#: A picture served on its own runs no script and loads nothing but its embedded images.
PICTURE_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"
LAB_TREE = re.compile(r"/user/(?P<user>[^/]+)/(?:[^/]+/)?lab(?:/workspaces/[^/]+)?/tree/(?P<path>.+\.ipynb)$")


class Base(HubOAuthenticated, web.RequestHandler):
    """Authenticated by the hub; renders French (or English) pages. A handler that sets
    ``audit_event`` (action, target, partner ids) has it written to the audit trail with
    the request's result once answered."""

    audit_event: tuple[str, str, list[str]] | None = None

    def on_finish(self):
        if self.audit_event is not None:
            action, target, partner = self.audit_event
            user = self.current_user or {}
            audit.record_request(self, action, user.get("name", ""), target, partner)

    @property
    def service(self) -> DashboardService:
        return self.settings["dashboards"]

    async def prepare(self):
        await self.hub_auth.get_user(self, sync=False)

    def render_page(self, name: str, status: int = 200, **values) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        template = self.settings["jinja"].get_template(name)
        self.finish(template.render(
            t=self.t_catalogue(), lang=self.service.settings.hub.language, prefix=self.service.prefix,
            hub_prefix=self.settings["hub_prefix"], user=self.current_user, **values,
        ))

    def said(self, error: Exception) -> str:
        """What ``error`` says to the person: in their language when it is one of the
        service's own (:class:`Said`); the hub's other errors are already."""
        return error.say(self.service.settings.hub.language) if isinstance(error, Said) else str(error)

    def t_catalogue(self) -> dict:
        return CATALOGUE[self.service.settings.hub.language]

    def message_page(self, status: int, title_key: str, body_key: str, **values) -> None:
        t = self.t_catalogue()
        self.render_page(
            "message.html", status, title=t[title_key],
            body=t[body_key].format(contact=self.service.settings.hub.contact, **values),
            retry_after=values.get("seconds"),
        )

    def dashboard_or_page(self, dashboard_id: str) -> Dashboard | None:
        """The dashboard if this viewer may see it; otherwise renders the 404 page, None.
        A dashboard hidden from the viewer gets the very page of an absent one: the answer
        never tells that it exists."""
        dashboard = self.service.store.get(dashboard_id)
        if dashboard is not None and not self.service.may_view(self.current_user, dashboard):
            log.info("%s refused dashboard %s", self.current_user["name"], dashboard_id)
            dashboard = None
        if dashboard is None:
            self.message_page(404, "dash_not_found_title", "dash_not_found")
        return dashboard

    def partner_name(self, partner_id: str) -> str:
        try:
            return self.service.settings.partner(partner_id).name
        except KeyError:
            return partner_id


class GalleryHandler(Base):
    """``GET /``: the dashboards this viewer may see; ``?q=`` filters them."""

    @web.authenticated
    def get(self):
        query = self.get_argument("q", "").strip()[:200]
        cards = [
            {"d": d, "partner": self.partner_name(d.partner),
             "preview": self.service.store.preview(d) is not None,
             "pending": self.service.store.needs_preview(d)}
            for d in self.service.visible(self.current_user)
        ]
        published = self.service.store.get(self.get_argument("published", ""))
        if published is not None and not self.service.may_view(self.current_user, published):
            published = None
        if query:
            words = query.lower().split()
            cards = [
                c for c in cards
                if all(w in f"{c['d'].title} {c['partner']} {c['d'].description} {c['d'].excerpt}".lower() for w in words)
            ]
        self.render_page("gallery.html", cards=cards, query=query, published=published,
                         may_publish=bool(PUBLISHERS & set(self.current_user.get("groups", []))))


class PublishHandler(Base):
    """``GET /publish``: the publish form (the author's notebooks, listed as the author;
    ``?path=`` or the lab page it was opened from, via ``Referer``, selects one);
    ``POST``: publish, then the gallery says so. Analysts and admins only."""

    def publisher(self) -> dict | None:
        if PUBLISHERS & set(self.current_user.get("groups", [])):
            return self.current_user
        self.message_page(403, "dash_forbidden_title", "dash_publish_forbidden")
        return None

    @web.authenticated
    async def get(self):
        user = self.publisher()
        if user is not None:
            path = self.get_argument("path", "") or lab_notebook(self.request.headers.get("Referer", ""), user["name"])
            own = sorted(partners_of(user.get("groups", [])))
            await self.form(user, {"path": path, "partners": own[:1], "roles": []})

    async def form(self, user: dict, values: dict, error: str = "", status: int = 200) -> None:
        partners = partners_of(user.get("groups", []))
        listing_error, notebooks = "", []
        try:
            notebooks = await self.service.author_notebooks(user)
        except (FilesError, PermissionError) as e:
            listing_error = self.said(e)
        xsrf = self.xsrf_token
        self.render_page(
            "publish.html", status, values=values, error=error, notebooks=notebooks,
            listing_error=listing_error, partners=self.service.settings.partners,
            roles=[r.value for r in Role], profiles=self.service.settings.profiles_for(partners),
            xsrf=xsrf.decode() if isinstance(xsrf, bytes) else xsrf,
        )

    @web.authenticated
    async def post(self):
        self.audit_event = ("dashboard.publish", "", [])
        user = self.publisher()
        if user is None:
            return
        values = {k: self.get_argument(k, "").strip() for k in ("title", "description", "audience", "profile")}
        values["path"] = self.get_argument("notebook", "").strip() or self.get_argument("path", "").strip()
        values["partners"] = self.get_arguments("partners")
        values["roles"] = self.get_arguments("roles")
        values["identity_free"] = bool(self.get_argument("identity_free", ""))
        t = self.t_catalogue()
        if not values["path"]:
            await self.form(user, values, t["dash_publish_no_notebook"], 400)
            return
        audience = {
            "all": {"all": True},
            "some": {"partners": values["partners"], "roles": values["roles"]},
        }.get(values["audience"])  # otherwise the service's default: the author's partner
        try:
            notebook = await self.service.author_notebook(user, values["path"], values["profile"])
            dashboard, _ = self.service.publish(user, notebook, {
                "title": values["title"], "description": values["description"], "audience": audience,
                "profile": values["profile"] or None, "identity_free": values["identity_free"],
            })
        except (FilesError, PublishError, PermissionError, ValueError) as e:
            await self.form(user, values, t["dash_publish_error"].format(reason=self.said(e)), 400)
            return
        self.audit_event = ("dashboard.publish", f"dashboard:{dashboard.id}", [dashboard.partner])
        await self.service.stop(dashboard.id)
        self.service.preview_later(dashboard)
        log.info("%s published %s version %d from %s", user["name"], dashboard.id, dashboard.version, values["path"])
        self.redirect(f"{self.service.prefix}?published={dashboard.id}")


def lab_notebook(referer: str, user: str) -> str:
    """The notebook path of a JupyterLab page URL of ``user``
    (``.../user/<user>/[<server>/]lab[/workspaces/<w>]/tree/<path>.ipynb``), else ``""``."""
    match = LAB_TREE.search(urlsplit(referer).path)
    if match is None or unquote(match["user"]) != user:
        return ""
    return unquote(match["path"])


class PreviewHandler(Base):
    """``GET /preview/<id>``: the picture of the dashboard's live version, for its audience
    only. A dashboard this person may not see gets the answer of one that does not exist,
    as does one without a picture. The content type is the service's own (PNG, or SVG
    sanitized at publication), and the picture may run or load nothing even when opened
    on its own."""

    @web.authenticated
    def get(self, dashboard_id: str):
        dashboard = self.service.store.get(dashboard_id)
        found = None
        if dashboard is not None and self.service.may_view(self.current_user, dashboard):
            found = self.service.store.preview(dashboard)
        if found is None:
            self.message_page(404, "dash_not_found_title", "dash_not_found")
            return
        path, content_type = found
        self.set_header("Content-Type", content_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", PICTURE_POLICY)
        self.set_header("Cache-Control", "private, max-age=300")
        self.finish(path.read_bytes())


def route(method: str, rest: str) -> tuple[str, str]:
    """What a request to ``d/<id>/<rest>`` is: ``("page", "")``, ``("asset", "")``,
    ``("kernel", <kernel id>)`` (a request for one kernel: its owner's only), or
    ``("refused", "")`` for everything else."""
    if any(part in (".", "..") for part in rest.split("/")):
        return "refused", ""
    if rest == "" and method == "GET":
        return "page", ""
    if method in ("GET", "HEAD") and rest.startswith(ASSETS):
        return "asset", ""
    pattern = KERNEL_PATHS.get(method)
    match = pattern.fullmatch(rest) if pattern else None
    if match:
        return "kernel", match[1]
    return "refused", ""


def live_asks(request) -> int:
    """How many times a live page has asked for its turn, with this request (the value
    of :data:`LIVE_PAGE`, 1 to :data:`LIVE_ASKS`); 0 for a request that is no live page's."""
    value = request.query_arguments.get(LIVE_PAGE, [b""])[0]
    if not value:
        return 0
    return min(int(value), LIVE_ASKS) if value.isdigit() and len(value) <= 3 else 1


def snapshot_first(conf, dashboard: Dashboard, viewer: str) -> bool:
    """Whether ``viewer`` gets ``dashboard``'s snapshot page (:mod:`.snapshot_page`) in
    front of its live page, with the deployment's dashboards settings ``conf``: a viewer
    (the author always gets the live page and its real errors) of an identity-free
    dashboard. Shared by the service's page and the hub's (:mod:`hub.dashboard_page`)."""
    return dashboard.identity_free and conf.snapshot_pages and viewer != dashboard.author


def live_query(query_arguments: dict, asks: int) -> str:
    """The query (``?...``) of a live page's request asking for the ``asks``-th time:
    the page's own arguments kept, :data:`LIVE_PAGE` set."""
    kept = [(k, v) for k, values in query_arguments.items() for v in values if k != LIVE_PAGE]
    return "?" + urlencode([*kept, (LIVE_PAGE, str(asks))])


def browser_session(handler: web.RequestHandler) -> str:
    """A digest of what ties a request to one browser session of its person: the hub's
    session id cookie, else the credential the request carries (the service's OAuth
    cookie or a hub API token)."""
    key = handler.get_cookie("jupyterhub-session-id", "") or handler.hub_auth.get_token(handler) or ""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ProxyHandler(Base):
    """``/d/<id>/...``: the dashboard's page and assets, from its Voilà server; see
    :func:`route` for what is forwarded."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    async def prepare(self):
        if self.request.method == "GET" and self.path_args[1:] == [""] and live_asks(self.request) <= 1:
            self.service.arrival()  # before the login: the redirect to it counts
        await super().prepare()

    def on_connection_close(self):
        waiting = getattr(self, "waiting", None)
        if waiting is not None:
            waiting.cancel()

    @web.authenticated
    async def get(self, dashboard_id: str, rest: str):
        await self.proxy(dashboard_id, rest)

    @web.authenticated
    async def head(self, dashboard_id: str, rest: str):
        await self.proxy(dashboard_id, rest)

    async def post(self, dashboard_id: str, rest: str):
        await self.proxy_api(dashboard_id, rest)

    async def put(self, dashboard_id: str, rest: str):
        await self.proxy_api(dashboard_id, rest)

    async def patch(self, dashboard_id: str, rest: str):
        await self.proxy_api(dashboard_id, rest)

    async def delete(self, dashboard_id: str, rest: str):
        await self.proxy_api(dashboard_id, rest)

    async def options(self, dashboard_id: str, rest: str):
        await self.proxy_api(dashboard_id, rest)

    async def proxy_api(self, dashboard_id: str, rest: str):
        if self.current_user is None:
            raise web.HTTPError(403)
        await self.proxy(dashboard_id, rest)

    async def proxy(self, dashboard_id: str, rest: str) -> None:
        kind, kernel_id = route(self.request.method, rest)
        if kind == "page":
            known = self.service.store.get(dashboard_id)
            self.audit_event = ("dashboard.view", f"dashboard:{dashboard_id}", [known.partner] if known else [])
        dashboard = self.dashboard_or_page(dashboard_id)
        if dashboard is None:
            return
        user = self.current_user["name"]
        if kind == "refused":
            log.info("%s refused %s %s of dashboard %s", user, self.request.method, rest, dashboard_id)
            self.message_page(403, "dash_refused_title", "dash_refused")
            return
        slot = None
        if kind == "kernel":
            slot = self.service.slot_of(dashboard_id, kernel_id, user, browser_session(self))
            if slot is None:
                log.warning("%s refused kernel %s of dashboard %s: not given to this session",
                            user, kernel_id, dashboard_id)
                self.message_page(403, "dash_refused_title", "dash_refused")
                return
        if kind == "page" and self.snapshot_first(dashboard):
            body = self.service.store.snapshot_page(dashboard)
            if body is not None:
                DASHBOARD_VIEWS.labels(dashboard=dashboard_id, outcome="snapshot").inc()
                self.render_page("snapshot.html", title=dashboard.title, body=body,
                                 live_url=live_query(self.request.query_arguments, 1))
                return
        if kind == "page" and not await self.live_turn(dashboard):
            return
        if kind == "page":
            try:
                slot = self.service.admit(dashboard, user, browser_session(self))
            except Busy as busy:
                DASHBOARD_VIEWS.labels(dashboard=dashboard_id, outcome="busy").inc()
                seconds = self.service.conf.retry_after
                self.set_header("Retry-After", str(seconds))
                if busy.person:
                    self.message_page(503, "dash_busy_person_title", "dash_busy_person", seconds=seconds)
                else:
                    self.message_page(503, "dash_busy_title", "dash_busy", seconds=seconds)
                return
            DASHBOARD_VIEWS.labels(dashboard=dashboard_id, outcome="shown").inc()
        self.service.request_started(dashboard.id)
        try:
            await self.forward(dashboard, slot if kind == "page" else None, rest if kind == "asset" else None)
        finally:
            self.service.request_ended(dashboard.id)
            if kind == "page":
                self.service.page_served(slot)
        if kind == "kernel" and self.request.method == "POST" and self.get_status() < 300:
            await self.service.release(slot)

    async def forward(self, dashboard: Dashboard, page: Slot | None, asset: str | None = None) -> None:
        """Relay the request to the dashboard's server; for a ``page`` view, the kernel id
        the page names is granted to that view before the browser receives it. A static
        file (``asset``: its path) the server already gave is answered from
        :mod:`.assets`; one it gives now is kept there."""
        try:
            upstream = await self.service.upstream(dashboard)
        except (StartError, OSError, RuntimeError) as e:
            log.error("dashboard %s cannot start: %s", dashboard.id, e)
            self.message_page(503, "dash_unavailable_title", "dash_unavailable")
            return
        if asset is not None and self.request.method == "GET":
            kept = self.service.assets.get(upstream.token, self.request.uri)
            if kept is not None:
                self.answer_asset(kept)
                return
        headers = upstream_headers(self.request.headers, upstream.token, self.viewer_kind(dashboard))
        started = {"done": False}
        scanned = {"tail": b""}
        texts = PageTexts(voila_texts(self.t_catalogue())) if page is not None else None

        def on_header(line: str) -> None:
            if line.startswith("HTTP/"):
                start = httputil.parse_response_start_line(line.strip())
                started["code"], started["reason"] = start.code, start.reason
                started["headers"] = httputil.HTTPHeaders()
            elif line.strip():
                started["headers"].parse_line(line)
            elif started.get("code", 100) >= 200 and not started["done"]:
                started["done"] = True
                self.clear()
                self.set_status(started["code"], started["reason"])
                seen = set()
                for name, value in started["headers"].get_all():
                    if name.lower() in DROPPED_RESPONSE:
                        continue
                    (self.add_header if name.lower() in seen else self.set_header)(name, value)
                    seen.add(name.lower())

        body_parts: list[bytes] | None = [] if asset is not None and self.request.method == "GET" else None
        size = {"bytes": 0}

        def on_chunk(chunk: bytes) -> None:
            nonlocal body_parts
            if body_parts is not None:
                size["bytes"] += len(chunk)
                body_parts = body_parts if size["bytes"] <= MAX_FILE else None
                if body_parts is not None:
                    body_parts.append(chunk)
            if page is not None and page.kernel is None:
                text = scanned["tail"] + chunk
                match = PAGE_KERNEL.search(text)
                if match:
                    self.service.grant(page, match[1].decode("ascii"))
                else:
                    scanned["tail"] = text[-200:]
            self.write(texts.feed(chunk) if texts else chunk)
            self.flush()

        body = self.request.body if self.request.method in ("POST", "PUT", "PATCH") else None
        request = HTTPRequest(
            upstream.url + self.request.uri, method=self.request.method, headers=headers,
            body=body, follow_redirects=False, decompress_response=False,
            allow_nonstandard_methods=True, header_callback=on_header,
            streaming_callback=on_chunk, request_timeout=3600, connect_timeout=10,
        )
        try:
            await upstream_client().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as e:
            body_parts = None  # a cut answer is never kept
            if started["done"]:
                log.warning("dashboard %s: response cut: %s", dashboard.id, e)
            else:
                log.error("dashboard %s: server unreachable: %s", dashboard.id, e)
                self.message_page(503, "dash_unavailable_title", "dash_unavailable")
                return
        if texts and started["done"] and not self._finished:
            self.write(texts.end())
        if not self._finished:
            self.finish()
        if body_parts is not None and started["done"]:
            headers = list(started["headers"].get_all())
            if (keepable("GET", asset, started["code"], headers, size["bytes"])
                    and self.service.assets.claim(upstream.token, self.request.uri)):
                kept = None
                try:
                    kept = await asyncio.to_thread(make_asset, headers, b"".join(body_parts))
                finally:
                    self.service.assets.put(upstream.token, self.request.uri, kept)

    def answer_asset(self, asset: Asset) -> None:
        """Answer with a kept static file: 304 when the browser has it (its ETag), the
        gzip copy when the browser takes gzip."""
        for name, value in asset.headers:
            self.set_header(name, value)
        if asset.gzipped is not None:
            self.set_header("Vary", "Accept-Encoding")
        if asset.etag is not None and self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        if asset.gzipped is not None and "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(asset.gzipped)
        else:
            self.finish(asset.body)

    async def live_turn(self, dashboard: Dashboard) -> bool:
        """For the live page behind a snapshot page (query argument :data:`LIVE_PAGE`),
        wait for its turn (:meth:`.service.DashboardService.live_turn`; the wait ends
        with the browser's connection). True when the page may load now; otherwise the
        answer is given: the same request again (its count of asks one more), or after
        :data:`LIVE_ASKS` asks the busy page, which the snapshot page shows as
        unavailable. Any other page loads at once."""
        if not (LIVE_PAGE in self.request.query_arguments and dashboard.identity_free
                and self.service.conf.snapshot_pages):
            return True
        self.waiting = asyncio.ensure_future(self.service.live_turn(dashboard.id, browser_session(self)))
        try:
            if await self.waiting:
                return True
        except asyncio.CancelledError:
            return False
        self.audit_event = None  # the view is recorded once, when its page loads
        asks = live_asks(self.request)
        if asks >= LIVE_ASKS:
            DASHBOARD_VIEWS.labels(dashboard=dashboard.id, outcome="busy").inc()
            self.set_header("Retry-After", str(self.service.conf.retry_after))
            self.message_page(503, "dash_busy_title", "dash_busy", seconds=self.service.conf.retry_after)
            return False
        self.set_header("Cache-Control", "no-store")
        self.redirect(live_query(self.request.query_arguments, asks + 1))
        return False

    def viewer_kind(self, dashboard: Dashboard) -> str:
        return "author" if self.current_user["name"] == dashboard.author else "viewer"

    def snapshot_first(self, dashboard: Dashboard) -> bool:
        """Whether this page request gets the snapshot page (:mod:`.snapshot_page`) in
        front of its live page: a viewer (the author always gets the live page and its
        real errors) of an identity-free dashboard, unless the request is the live
        page's own (query argument :data:`LIVE_PAGE`)."""
        return (snapshot_first(self.service.conf, dashboard, self.current_user["name"])
                and LIVE_PAGE not in self.request.query_arguments)


#: Voilà's page markup (its spinner, its progress script) holding its English texts.
VOILA_SPINNER = b'<div id="loading" style="display: flex;">'
VOILA_RUNNING = b'<h2 id="loading_text">Running '
VOILA_PROGRESS = (b"`Executing ${cell_index} of ${cell_count}`", b"`Reading ${cell_index} of ${cell_count}`")
#: The texts its widget manager writes in place of a widget (bundled, not translatable).
VOILA_WIDGET_TEXTS = {
    "Loading widget...": "dash_voila_widget_loading",
    "Error displaying widget": "dash_voila_widget_error",
    "Error displaying widget: model not found": "dash_voila_widget_missing",
}
#: Put before Voilà's spinner: says the widget manager's texts in the page's language
#: as they appear (TEXTS is filled in by :func:`voila_texts`).
WIDGET_TEXTS_SCRIPT = """<script>(() => {
  const texts = TEXTS;
  const say = (node) => {
    if (node.nodeType === Node.TEXT_NODE && Object.hasOwn(texts, node.data)) node.data = texts[node.data];
  };
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "characterData") say(record.target);
      for (const node of record.addedNodes) { say(node); node.childNodes.forEach(say); }
    }
  }).observe(document.documentElement, {childList: true, characterData: true, subtree: true});
})();</script>"""


def voila_texts(t: dict) -> dict[bytes, bytes]:
    """What :class:`PageTexts` replaces in a Voilà page, from the catalogue ``t``."""
    cell = t["dash_voila_cell"].format(index="${cell_index}", count="${cell_count}")
    widgets = {english: t[key] for english, key in VOILA_WIDGET_TEXTS.items()}
    script = WIDGET_TEXTS_SCRIPT.replace("TEXTS", json.dumps(widgets, ensure_ascii=False).replace("</", "<\\/"))
    return {
        VOILA_SPINNER: script.encode() + VOILA_SPINNER,
        VOILA_RUNNING: b'<h2 id="loading_text">' + html.escape(t["dash_voila_running"]).encode(),
        **{progress: f"`{cell}`".encode() for progress in VOILA_PROGRESS},
    }


class PageTexts:
    """Replaces texts in a page as it streams through: a chunk's end that could begin
    one of them is held back until the next chunk (or :meth:`end`) completes it."""

    def __init__(self, replacements: dict[bytes, bytes]):
        self.replacements = replacements
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        text = self.pending + chunk
        for old, new in self.replacements.items():
            text = text.replace(old, new)
        held = max((k for old in self.replacements for k in range(1, len(old)) if text.endswith(old[:k])), default=0)
        self.pending = text[len(text) - held:] if held else b""
        return text[:len(text) - held]

    def end(self) -> bytes:
        rest, self.pending = self.pending, b""
        return rest


def upstream_headers(incoming: httputil.HTTPHeaders, token: str, viewer: str) -> httputil.HTTPHeaders:
    """The headers sent to a dashboard's server: the browser's, minus hop-by-hop ones and
    the viewer's credentials, plus the server's token and who is viewing."""
    headers = httputil.HTTPHeaders()
    for name, value in incoming.get_all():
        if name.lower() not in DROPPED_REQUEST and not name.lower().startswith("sec-websocket"):
            headers.add(name, value)
    headers["Authorization"] = f"token {token}"
    headers["X-DataLab-Viewer"] = viewer
    return headers


class WebSocketProxyHandler(HubOAuthenticated, websocket.WebSocketHandler):
    """``/d/<id>/api/kernels/<kernel>/channels``: the websocket of a page view's kernel,
    relayed to the dashboard's server, for the person and browser session the kernel was
    given to only."""

    upstream_socket: websocket.WebSocketClientConnection | None = None
    slot: Slot | None = None

    @property
    def service(self) -> DashboardService:
        return self.settings["dashboards"]

    async def prepare(self):
        await self.hub_auth.get_user(self, sync=False)

    async def get(self, dashboard_id: str, kernel_id: str):
        user = self.current_user
        dashboard = self.service.store.get(dashboard_id)
        if user is None:
            raise web.HTTPError(403)
        if dashboard is None or not self.service.may_view(user, dashboard):
            raise web.HTTPError(404)
        slot = self.service.slot_of(dashboard_id, kernel_id, user["name"], browser_session(self))
        if slot is None:
            log.warning("%s refused the websocket of kernel %s of dashboard %s: not given to this session",
                        user["name"], kernel_id, dashboard_id)
            raise web.HTTPError(403)
        upstream = self.service.upstreams.get(dashboard_id)
        if upstream is None or not self.service.runner.running(dashboard_id):
            raise web.HTTPError(503)
        viewer = "author" if user["name"] == dashboard.author else "viewer"
        headers = upstream_headers(self.request.headers, upstream.token, viewer)
        protocols = [
            p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        url = upstream.url.replace("http://", "ws://", 1) + self.request.uri
        try:
            self.upstream_socket = await websocket.websocket_connect(
                HTTPRequest(url, headers=headers, connect_timeout=10, request_timeout=30),
                on_message_callback=self.on_upstream_message, subprotocols=protocols or None,
                max_message_size=256 * 2**20, resolver=UpstreamResolver(),
            )
        except (OSError, HTTPClientError, websocket.WebSocketError) as e:
            log.warning("dashboard %s: websocket refused upstream: %s", dashboard_id, e)
            raise web.HTTPError(502) from None
        self.slot = slot
        await super().get(dashboard_id, kernel_id)

    def select_subprotocol(self, subprotocols):
        return self.upstream_socket.selected_subprotocol if self.upstream_socket else None

    def open(self, *args):
        self.service.view_opened(self.slot)

    def on_message(self, message):
        if self.upstream_socket is not None:
            self.upstream_socket.write_message(message, binary=isinstance(message, bytes))

    def on_upstream_message(self, message):
        if message is None:
            self.close()
            return
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            pass

    def on_close(self):
        if self.upstream_socket is not None:
            self.upstream_socket.close()
            self.upstream_socket = None
        if self.slot is not None:
            asyncio.ensure_future(self.service.view_closed(self.slot))

    def get_compression_options(self):
        return None


class ApiHandler(Base):
    """Base of the REST API: JSON in and out, token or cookie authentication."""

    def write_error(self, status_code, **kwargs):
        self.set_header("Content-Type", "application/json")
        reason = kwargs.get("exc_info", (None, None))[1]
        message = hub_error(self.service.settings.hub.language, status_code, getattr(reason, "log_message", None))
        self.finish(json.dumps({"status": status_code, "message": message}))

    def refuse(self, status: int, key: str, **values) -> web.HTTPError:
        """The refusal ``status`` saying the catalogue's ``dash_err_<key>``."""
        return web.HTTPError(status, self.t_catalogue()[f"dash_err_{key}"].format(**values))

    def send(self, payload, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def require_user(self) -> dict:
        if self.current_user is None:
            raise self.refuse(403, "auth_required")
        return self.current_user

    async def model(self, dashboard: Dashboard) -> dict:
        """A dashboard as the API shows it; its load (counts, never kernel ids) only to
        its author and admins: live kernels, pre-executed ones, admitted page views and
        their open websockets."""
        out = dashboard.model_dump(mode="json", exclude={"published"})
        out["partner_name"] = self.partner_name(dashboard.partner)
        out["url"] = f"{self.settings['hub_prefix']}tableau/{dashboard.id}"  # where it is opened: hub.dashboard_page
        if self.service.may_manage(self.current_user, dashboard):
            running = self.service.runner.running(dashboard.id) and dashboard.id in self.service.upstreams
            kernels, pool = await self.service.kernels(dashboard.id) if running else ([], 0)
            views = self.service.slots_of(dashboard.id)
            out["running"] = running
            out["kernels"] = len(kernels)
            out["pool_size"] = pool
            out["views"] = len(views)
            out["open_views"] = sum(view.sockets for view in views)
        return out


class NotFoundHandler(ApiHandler):
    """Any other path: the service's own 404 page (its JSON error under ``api/``)."""

    async def prepare(self):
        await super().prepare()
        if self.request.path.startswith(self.service.prefix + "api/"):
            raise web.HTTPError(404)
        t = self.t_catalogue()
        self.render_page("message.html", 404, title=t["error_title"].format(code=404), body=t["error_404"])


class DashboardsApiHandler(ApiHandler):
    """``GET /api/dashboards``: those the caller may see. ``POST``: publish (analysts,
    admins): ``{"notebook": {...}, "title": ..., "description", "audience", "profile",
    "partner", "identity_free", "id"}``; 201 created, 200 new version."""

    async def get(self):
        user = self.require_user()
        self.send({"dashboards": [await self.model(d) for d in self.service.visible(user)]})

    async def post(self):
        self.audit_event = ("dashboard.publish", "", [])
        user = self.require_user()
        if not PUBLISHERS & set(user.get("groups", [])):
            raise web.HTTPError(403, self.t_catalogue()["dash_publish_forbidden"])
        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError:
            raise self.refuse(400, "body_json") from None
        if not isinstance(body, dict) or not isinstance(body.get("notebook"), dict):
            raise self.refuse(400, "body_notebook")
        notebook = body.pop("notebook")
        try:
            dashboard, created = self.service.publish(user, notebook, body)
        except PublishError as e:
            raise web.HTTPError(400, self.said(e)) from None
        except PermissionError as e:
            raise web.HTTPError(403, self.said(e)) from None
        self.audit_event = ("dashboard.publish", f"dashboard:{dashboard.id}", [dashboard.partner])
        await self.service.stop(dashboard.id)
        self.service.preview_later(dashboard)
        log.info("%s published %s version %d", user["name"], dashboard.id, dashboard.version)
        self.send(await self.model(dashboard), 201 if created else 200)


class DashboardApiHandler(ApiHandler):
    """``GET /api/dashboards/<id>``; ``DELETE``: unpublish (author, admins)."""

    def visible_or_404(self, dashboard_id: str) -> Dashboard:
        user = self.require_user()
        dashboard = self.service.store.get(dashboard_id)
        if dashboard is None or not self.service.may_view(user, dashboard):
            raise self.refuse(404, "not_found", id=dashboard_id)
        return dashboard

    async def get(self, dashboard_id: str):
        self.send(await self.model(self.visible_or_404(dashboard_id)))

    async def delete(self, dashboard_id: str):
        self.audit_event = ("dashboard.unpublish", f"dashboard:{dashboard_id}", [])
        dashboard = self.visible_or_404(dashboard_id)
        self.audit_event = ("dashboard.unpublish", f"dashboard:{dashboard.id}", [dashboard.partner])
        if not self.service.may_manage(self.current_user, dashboard):
            raise self.refuse(403, "unpublish_forbidden")
        await self.service.unpublish(dashboard)
        log.info("%s unpublished %s", self.current_user["name"], dashboard.id)
        self.set_status(204)
        self.finish()


def jinja_environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
