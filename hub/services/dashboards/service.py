"""The dashboards service's state: published dashboards, their running Voilà servers,
open views, capacity caps and culling. The HTTP side is in :mod:`.handlers`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ... import audit
from ...messages import text
from ...backends.confinement import refusal
from ...groups import partners_of
from ...settings import Profile, Settings
from .runners import Launch, Runner, StartError, Upstream, voila_arguments, voila_environment
from .store import Dashboard, PublishError, Store

log = logging.getLogger("datalab.dashboards")

#: Seconds a kernel stays after its last view's websocket closed (a reconnecting page
#: keeps it).
CLOSE_GRACE = 2.0


class HubAPI:
    """The hub's REST API with the service's own token (scopes: read users' groups)."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    async def user(self, name: str) -> dict | None:
        """The hub's model of user ``name`` (with its groups), or None when unknown."""
        response = await AsyncHTTPClient().fetch(
            f"{self.url}/users/{quote(name, safe='')}",
            headers={"Authorization": f"token {self.token}"}, raise_error=False,
        )
        if response.code == 404:
            return None
        if response.code != 200:
            raise RuntimeError(f"hub API: GET user {name!r}: HTTP {response.code}")
        return json.loads(response.body)


class DashboardService:
    """Everything the handlers ask: who may see what, starting and stopping dashboards'
    servers, admission under the caps, views (websockets) per kernel."""

    def __init__(self, settings: Settings, store: Store, runner: Runner, hub: HubAPI, prefix: str):
        self.settings = settings
        self.conf = settings.dashboards
        self.store = store
        self.runner = runner
        self.hub = hub
        self.prefix = prefix
        self.upstreams: dict[str, Upstream] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.last_seen: dict[str, float] = {}
        self.views: dict[str, dict[str, int]] = {}
        self.pending: dict[str, int] = {}
        self.requests: dict[str, int] = {}

    def t(self, key: str, /, **values: object) -> str:
        return text(self.settings.hub.language, key, **values)

    # -- who may do what ---------------------------------------------------------------
    @staticmethod
    def may_view(user: dict, dashboard: Dashboard) -> bool:
        """The author, the audience (see :class:`hub.settings.Audience`; admins too)."""
        return user["name"] == dashboard.author or dashboard.audience.admits(user.get("groups", []))

    @staticmethod
    def may_manage(user: dict, dashboard: Dashboard) -> bool:
        """The author and admins may republish, unpublish and see a dashboard's load."""
        return user["name"] == dashboard.author or "role-admin" in user.get("groups", [])

    def visible(self, user: dict) -> list[Dashboard]:
        return [d for d in self.store.published() if self.may_view(user, d)]

    def dashboard_prefix(self, dashboard_id: str) -> str:
        """Public URL prefix a dashboard is served under (ends with /)."""
        return f"{self.prefix}d/{dashboard_id}/"

    # -- publishing ----------------------------------------------------------------------
    def publish(self, author: dict, notebook: dict, fields: dict) -> tuple[Dashboard, bool]:
        """Publish for ``author`` (hub user model with groups). ``fields``: title,
        description, audience, profile, partner, identity_free, id (all but title
        optional). Returns ``(dashboard, created)``. ``PublishError`` (400) for bad
        input, ``PermissionError`` (403) when the id is someone else's or the author
        may not use the partner or profile."""
        from .store import slug_from_title

        partners = sorted(partners_of(author.get("groups", [])))
        if not partners:
            raise PermissionError("you belong to no DataLab partner")
        unknown = set(fields) - {"id", "title", "description", "audience", "profile", "partner", "identity_free"}
        if unknown:
            raise PublishError(f"unknown field(s): {', '.join(sorted(unknown))}")
        if not isinstance(fields.get("title"), str):
            raise PublishError("a title is required")
        dashboard_id = fields.get("id") or slug_from_title(fields["title"])
        owner = self.store.owner(dashboard_id)
        if owner is not None and owner != author["name"]:
            raise PermissionError(f"the dashboard id {dashboard_id!r} belongs to another author")
        partner = fields.get("partner") or partners[0]
        if partner not in partners:
            raise PermissionError(f"you are not a member of partner {partner!r}")
        allowed = [p.id for p in self.settings.profiles_for(set(partners))]
        profile = fields.get("profile") or (allowed[0] if allowed else None)
        if profile not in allowed:
            raise PermissionError(f"profile {profile!r} is not open to you; allowed: {', '.join(allowed)}")
        audience = fields.get("audience") or {"all": True}
        known = {p.id for p in self.settings.partners}
        if isinstance(audience, dict):
            strangers = set(audience.get("partners") or []) - known
            if strangers:
                raise PublishError(f"unknown partner(s) in the audience: {', '.join(sorted(strangers))}")
        dashboard = self.store.publish(
            notebook, by=author["name"], id=dashboard_id, title=fields["title"],
            description=fields.get("description") or "", author=author["name"],
            partner=partner, audience=audience, profile=profile,
            identity_free=bool(fields.get("identity_free", False)),
        )
        return dashboard, owner is None

    async def seed(self, attempts: int = 60) -> None:
        """Publish the deployment's own dashboards (``dashboards.publish``): a new version
        when the notebook changed. Waits for the hub's API (``attempts`` half-seconds)."""
        for seed in self.conf.publish:
            author = None
            for _ in range(attempts):
                try:
                    author = await self.hub.user(seed.author)
                    break
                except (OSError, HTTPClientError, RuntimeError):
                    await asyncio.sleep(0.5)
            if author is None:
                log.error("dashboards.publish %s: author %r is not a hub user", seed.id, seed.author)
                continue
            try:
                notebook = json.loads(self.settings.path(seed.notebook).read_text(encoding="utf-8"))
                current = self.store.get(seed.id)
                if self.store.is_current(seed.id, notebook) and current.title == seed.title:
                    continue
                dashboard, _ = self.publish(author, notebook, {
                    "id": seed.id, "title": seed.title, "description": seed.description,
                    "audience": seed.audience.model_dump(mode="json"), "profile": seed.profile,
                    "identity_free": seed.identity_free,
                })
                await self.stop(dashboard.id)
                audit.record("dashboard.publish", actor="deployment", target=f"dashboard:{dashboard.id}",
                             partner=[dashboard.partner], version=dashboard.version, author=seed.author)
                log.info("published %s version %d from the deployment file", dashboard.id, dashboard.version)
            except (OSError, ValueError, PermissionError) as e:
                log.error("dashboards.publish %s: %s", seed.id, e)

    def author_profile(self, user: dict, profile_id: str = "") -> tuple[set[str], Profile]:
        """``(partners, profile)`` an author's code runs with: ``profile_id`` if open to
        them, else their first profile. ``PermissionError`` when none is."""
        partners = partners_of(user.get("groups", []))
        allowed = self.settings.profiles_for(partners)
        for profile in allowed:
            if profile.id == profile_id or not profile_id:
                return partners, profile
        raise PermissionError(f"profile {profile_id!r} is not open to you")

    async def author_notebooks(self, user: dict) -> list[str]:
        """The notebooks in ``user``'s home, listed as that user (see
        :meth:`Runner.notebooks`). Raises :class:`FilesError`, ``PermissionError``."""
        partners, profile = self.author_profile(user)
        return await self.runner.notebooks(user["name"], partners, profile)

    async def author_notebook(self, user: dict, path: str, profile_id: str = "") -> dict:
        """``user``'s notebook at ``path`` (relative to their home), read as that user.
        Raises :class:`FilesError`, ``PermissionError``."""
        partners, profile = self.author_profile(user, profile_id)
        return await self.runner.read_notebook(user["name"], partners, profile, path)

    async def unpublish(self, dashboard: Dashboard) -> None:
        self.store.unpublish(dashboard.id)
        await self.stop(dashboard.id)

    # -- servers -----------------------------------------------------------------------
    async def upstream(self, dashboard: Dashboard) -> Upstream:
        """The dashboard's running server, started (as its author) when needed.
        Raises :class:`StartError`."""
        self.last_seen[dashboard.id] = time.monotonic()
        lock = self.locks.setdefault(dashboard.id, asyncio.Lock())
        async with lock:
            upstream = self.upstreams.get(dashboard.id)
            if upstream is not None and self.runner.running(dashboard.id):
                return upstream
            self.upstreams.pop(dashboard.id, None)
            self.views.pop(dashboard.id, None)
            author = await self.hub.user(dashboard.author)
            if author is None:
                raise StartError(f"author {dashboard.author!r} is no longer a hub user")
            refused = refusal(self.settings, self.settings.spawner.backend, partners_of(author.get("groups", [])))
            if refused:
                raise StartError(refused)
            profile = next(p for p in self.settings.profiles if p.id == dashboard.profile)
            launch = Launch(
                dashboard=dashboard,
                notebook=self.store.notebook_path(dashboard),
                prefix=self.dashboard_prefix(dashboard.id),
                author_partners=partners_of(author.get("groups", [])),
                profile=profile,
            )
            launch.environment = voila_environment(launch, self.t("dash_error"))
            started = time.monotonic()
            upstream = await self.runner.start(
                launch, voila_arguments(self.settings, launch), self.conf.start_timeout
            )
            log.info("dashboard %s started as %s in %.1f s", dashboard.id, dashboard.author,
                     time.monotonic() - started)
            self.upstreams[dashboard.id] = upstream
            return upstream

    async def stop(self, dashboard_id: str) -> None:
        """Shut the dashboard's kernels down and stop its server."""
        lock = self.locks.setdefault(dashboard_id, asyncio.Lock())
        async with lock:
            upstream = self.upstreams.pop(dashboard_id, None)
            if upstream is not None and self.runner.running(dashboard_id):
                kernels, _ = await self.kernels(dashboard_id, upstream)
                for kernel in kernels:
                    await self.shutdown_kernel(dashboard_id, kernel["id"], upstream)
            await self.runner.stop(dashboard_id)
            self.views.pop(dashboard_id, None)

    async def kernels(self, dashboard_id: str, upstream: Upstream | None = None) -> tuple[list[dict], int]:
        """``(kernel models, pool size)`` of a running dashboard; ``([], 0)`` if stopped."""
        upstream = upstream or self.upstreams.get(dashboard_id)
        if upstream is None:
            return [], 0
        response = await AsyncHTTPClient().fetch(
            f"{upstream.url}{self.dashboard_prefix(dashboard_id)}datalab/kernels",
            headers={"Authorization": f"token {upstream.token}"}, raise_error=False,
            request_timeout=10,
        )
        if response.code != 200:
            return [], 0
        body = json.loads(response.body)
        return body["kernels"], body["pool_size"]

    async def live_views(self, dashboard_id: str) -> int:
        """Kernels serving views (pre-executed ones waiting in the pool excluded), plus
        pages admitted whose kernel is starting."""
        kernels, pool = await self.kernels(dashboard_id)
        return max(0, len(kernels) - pool) + self.pending.get(dashboard_id, 0)

    async def admit(self, dashboard: Dashboard) -> bool:
        """May one more view of ``dashboard`` start a kernel under the caps? When True,
        the caller must call :meth:`admitted` once the page's response has begun."""
        running = [d for d in self.upstreams if self.runner.running(d)]
        counts = dict(zip(running, await asyncio.gather(*(self.live_views(d) for d in running))))
        mine = counts.get(dashboard.id, self.pending.get(dashboard.id, 0))
        total = sum(counts.values()) + (0 if dashboard.id in counts else mine)
        if mine >= self.conf.max_kernels_per_dashboard or total >= self.conf.max_kernels_total:
            log.info("dashboard %s busy: %d views of it, %d in total", dashboard.id, mine, total)
            return False
        self.pending[dashboard.id] = self.pending.get(dashboard.id, 0) + 1
        return True

    def request_started(self, dashboard_id: str) -> None:
        """A proxied HTTP request began (the dashboard is in use until it ends)."""
        self.requests[dashboard_id] = self.requests.get(dashboard_id, 0) + 1
        self.last_seen[dashboard_id] = time.monotonic()

    def request_ended(self, dashboard_id: str) -> None:
        self.requests[dashboard_id] = max(0, self.requests.get(dashboard_id, 0) - 1)
        self.last_seen[dashboard_id] = time.monotonic()

    def admitted(self, dashboard_id: str) -> None:
        self.pending[dashboard_id] = max(0, self.pending.get(dashboard_id, 0) - 1)

    async def shutdown_kernel(self, dashboard_id: str, kernel_id: str, upstream: Upstream | None = None) -> None:
        upstream = upstream or self.upstreams.get(dashboard_id)
        if upstream is None:
            return
        await AsyncHTTPClient().fetch(
            f"{upstream.url}{self.dashboard_prefix(dashboard_id)}api/kernels/{quote(kernel_id)}",
            method="DELETE", headers={"Authorization": f"token {upstream.token}"},
            raise_error=False, request_timeout=30,
        )

    # -- views (websockets) and culling ----------------------------------------------------
    def view_opened(self, dashboard_id: str, kernel_id: str) -> None:
        kernels = self.views.setdefault(dashboard_id, {})
        kernels[kernel_id] = kernels.get(kernel_id, 0) + 1
        self.last_seen[dashboard_id] = time.monotonic()

    async def view_closed(self, dashboard_id: str, kernel_id: str) -> None:
        """A page's kernel websocket closed: unless the page reconnects within
        :data:`CLOSE_GRACE` seconds, its kernel is shut down (one kernel per open view)."""
        kernels = self.views.get(dashboard_id, {})
        kernels[kernel_id] = max(0, kernels.get(kernel_id, 0) - 1)
        self.last_seen[dashboard_id] = time.monotonic()
        await asyncio.sleep(CLOSE_GRACE)
        if self.views.get(dashboard_id, {}).get(kernel_id, 0) == 0:
            self.views.get(dashboard_id, {}).pop(kernel_id, None)
            await self.shutdown_kernel(dashboard_id, kernel_id)

    async def cull(self) -> None:
        """Stop the servers of dashboards with no open view and no request for
        ``dashboards.idle_timeout`` seconds (identity-free ones excepted) and of
        unpublished ones, forget servers that died, and start identity-free dashboards'
        servers that are not running (at the service's start, after a republish)."""
        now = time.monotonic()
        for dashboard_id in list(self.upstreams):
            if not self.runner.running(dashboard_id):
                log.warning("dashboard %s: its server exited", dashboard_id)
                await self.stop(dashboard_id)
                continue
            open_views = sum(self.views.get(dashboard_id, {}).values()) + self.requests.get(dashboard_id, 0)
            idle = now - self.last_seen.get(dashboard_id, now)
            dashboard = self.store.get(dashboard_id)
            if dashboard is None:
                await self.stop(dashboard_id)
            elif open_views == 0 and idle >= self.conf.idle_timeout and not dashboard.identity_free:
                log.info("dashboard %s not viewed for %.0f s: stopping its server", dashboard_id, idle)
                await self.stop(dashboard_id)
        for dashboard in self.store.published():
            if dashboard.identity_free and not self.runner.running(dashboard.id):
                try:
                    await self.upstream(dashboard)
                except (StartError, OSError, RuntimeError) as e:
                    log.error("dashboard %s cannot start: %s", dashboard.id, e)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.upstreams)))
        await self.runner.stop_all()
