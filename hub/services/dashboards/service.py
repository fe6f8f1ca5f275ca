"""The dashboards service's state: published dashboards, their running Voilà servers,
open views, capacity caps and culling. The HTTP side is in :mod:`.handlers`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import ValidationError
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ... import audit, confinement
from ...messages import text
from ...names import own_id
from ...backends.confinement import refusal
from ...groups import partners_of
from ...settings import Audience, Profile, Settings
from .assets import AssetCache
from .preview import first_image
from .snapshot_page import render as render_snapshot
from .runners import (
    FilesError, Launch, Runner, StartError, Upstream, upstream_client, voila_arguments, voila_environment,
)
from .store import Dashboard, PublishError, PublishForbidden, Store

#: Derived ids tried for a requested id held by someone else, and their longest length
#: (:data:`hub.settings.DashboardId`).
OWN_ID_ATTEMPTS = 8
DASHBOARD_ID_LENGTH = 40

log = logging.getLogger("datalab.dashboards")

#: Seconds a kernel stays after its last view's websocket closed: a reconnecting page
#: keeps it. A proxy restart closes every websocket for about a second (docs/faults.md)
#: and a page retries with a backoff of 1, 2, 4 s: 10 s covers the first retries. A new
#: view of the same dashboard from the same browser session (a reload) does not wait for
#: it (:meth:`DashboardService.admit`).
CLOSE_GRACE = 10.0


#: Seconds a live page's turn is held at most when its websocket does not come.
TURN_HOLD = 20.0
#: Seconds a snapshot page's request for a turn waits before it is told to ask again.
TURN_WAIT = 30.0
#: Seconds without a viewer arriving (a request for a dashboard's page, before or after
#: the service's login) before a live page gets its turn: a crowd arriving together is
#: served its logins and snapshot pages first, the live pages (scripts, kernels) after.
ARRIVALS_QUIET = 1.0
#: Seconds at most a turn waits for that quiet (viewers arriving steadily).
ARRIVALS_QUIET_MAX = 10.0
#: Seconds a dashboard's server waits, before it starts, for the execution of its version
#: at publish (:meth:`DashboardService.make_preview`) to list its kernels' modules.
PREVIEW_WAIT = 30.0
#: A module name as a kernel lists it (``_sysconfigdata__x86_64-linux-gnu`` included).
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*")
MAX_MODULES = 10_000


def kernel_modules(executed: dict | None) -> list[str]:
    """The module names an execution listed (``metadata.datalab.kernel_modules``, see
    :mod:`.notebook_execute`), those that are module names; [] when it listed none or
    more than :data:`MAX_MODULES`."""
    metadata = executed.get("metadata") if isinstance(executed, dict) else None
    datalab = metadata.get("datalab") if isinstance(metadata, dict) else None
    listed = datalab.get("kernel_modules") if isinstance(datalab, dict) else None
    if not isinstance(listed, list) or len(listed) > MAX_MODULES:
        return []
    return [name for name in listed if isinstance(name, str) and MODULE_NAME.fullmatch(name)]


class Turn:
    """One of the live pages that may load at once (``dashboards.live_page_loads``),
    given back once (:meth:`end`)."""

    def __init__(self, places: asyncio.Semaphore):
        self.places = places
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.places.release()
            if self.timer is not None:
                self.timer.cancel()


class Busy(Exception):
    """No place under the caps for one more page view; ``person``: the viewer's own cap
    (the views they already hold) is the one reached."""

    def __init__(self, person: bool):
        super().__init__("person" if person else "dashboard")
        self.person = person


@dataclass(eq=False)
class Slot:
    """One admitted page view: a place under the caps, held from its admission until its
    kernel's websocket closes, or until ``view_timeout`` after its page was served if no
    websocket came. ``kernel``: the kernel the page was given (read from the page as it
    is served); only ``user``, from the browser session ``session`` (a digest), may reach
    it. ``sockets``: its open websockets; ``connected``: one was opened once."""

    dashboard: str
    user: str
    session: str
    kernel: str | None = None
    sockets: int = 0
    connected: bool = False
    served: bool = False


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
    servers, admission under the caps, which view holds which kernel, views' websockets."""

    def __init__(self, settings: Settings, store: Store, runner: Runner, hub: HubAPI, prefix: str):
        self.settings = settings
        self.conf = settings.dashboards
        self.store = store
        self.runner = runner
        self.hub = hub
        self.prefix = prefix
        self.upstreams: dict[str, Upstream] = {}
        self.assets = AssetCache()
        self.locks: dict[str, asyncio.Lock] = {}
        self.last_seen: dict[str, float] = {}
        self.slots: set[Slot] = set()
        self.requests: dict[str, int] = {}
        self.previewing: dict[tuple[str, int], asyncio.Task] = {}
        self.live_places = asyncio.Semaphore(self.conf.live_page_loads)
        self.last_arrival = 0.0
        self.turns: dict[tuple[str, str], list[Turn]] = {}
        self.preview_turn = asyncio.Semaphore(1)

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
        optional; the audience defaults to the dashboard's partner; an id held by
        someone else becomes one of the author's own, see :meth:`free_id`). Returns
        ``(dashboard, created)``. ``PublishError`` (400) for bad input,
        ``PermissionError`` (403) when no id of the author's own is free, the author may not use
        the partner or profile, or the audience reaches beyond a health space of theirs
        (:class:`hub.confinement.HealthConfinementError`, a message for the person)."""
        from .store import slug_from_title

        partners = sorted(partners_of(author.get("groups", [])))
        if not partners:
            raise PublishForbidden("no_partner")
        unknown = set(fields) - {"id", "title", "description", "audience", "profile", "partner", "identity_free"}
        if unknown:
            raise PublishError("unknown_fields", fields=", ".join(sorted(unknown)))
        if not isinstance(fields.get("title"), str):
            raise PublishError("title_required")
        dashboard_id = self.free_id(fields.get("id") or slug_from_title(fields["title"]), author["name"])
        owner = self.store.owner(dashboard_id)
        partner = fields.get("partner") or partners[0]
        if partner not in partners:
            raise PublishForbidden("not_member", partner=partner)
        allowed = [p.id for p in self.settings.profiles_for(set(partners))]
        profile = fields.get("profile") or (allowed[0] if allowed else None)
        if profile not in allowed:
            raise PublishForbidden("profile_closed", profile=profile, allowed=", ".join(allowed) or "-")
        try:
            audience = Audience.model_validate(fields.get("audience") or {"partners": [partner]})
        except ValidationError as e:
            raise PublishError("bad_audience", error=e.errors()[0]["msg"]) from None
        strangers = set(audience.partner_ids()) - {p.id for p in self.settings.partners}
        if strangers:
            raise PublishError("unknown_partners", partners=", ".join(sorted(strangers)))
        confinement.check_audience(self.settings, author.get("groups", []), audience)
        dashboard = self.store.publish(
            notebook, by=author["name"], id=dashboard_id, title=fields["title"],
            description=fields.get("description") or "", author=author["name"],
            partner=partner, audience=audience, profile=profile,
            identity_free=bool(fields.get("identity_free", False)),
        )
        return dashboard, owner is None

    def free_id(self, requested: str, author: str) -> str:
        """``requested`` when it is free or the author's; else an id of the author's own
        derived from it (:func:`hub.names.own_id`), whoever holds ``requested`` and
        whether or not the author may see it: the answer never tells that a dashboard
        hidden from them exists."""
        for attempt in range(OWN_ID_ATTEMPTS + 1):
            candidate = requested if attempt == 0 else own_id(requested, author, DASHBOARD_ID_LENGTH, attempt - 1)
            if self.store.owner(candidate) in (None, author):
                return candidate
        raise PublishForbidden("id_unavailable", id=requested)

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
                    "audience": seed.audience.model_dump(mode="json") if seed.audience else None,
                    "profile": seed.profile,
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
        raise PublishForbidden("profile_closed", profile=profile_id, allowed=", ".join(p.id for p in allowed) or "-")

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

    # -- the gallery's pictures -------------------------------------------------------------
    def preview_later(self, dashboard: Dashboard) -> None:
        """Make the picture of the dashboard's live version in the background
        (:meth:`make_preview`) unless it has one, or is known to have none."""
        key = (dashboard.id, dashboard.version)
        if key in self.previewing or not self.store.needs_preview(dashboard):
            return
        task = self.previewing[key] = asyncio.ensure_future(self.make_preview(dashboard))
        task.add_done_callback(lambda _: self.previewing.pop(key, None))

    async def make_preview(self, dashboard: Dashboard) -> None:
        """Execute the live version's snapshot once as its author, as their dashboard's
        kernels run (their account or container, partners' data, the profile's limits,
        no network beyond what their kernels have; a backend that cannot confine a
        health partner's code refuses), one execution at a time, and keep the executed
        notebook's first image (:func:`.preview.first_image`) as the version's picture
        unless it has one, its snapshot page (:func:`.snapshot_page.render`), or the
        marks that they have none, and the modules its kernel imported
        (:func:`kernel_modules`), which its server's kernel template imports (a server
        waits for this execution, :data:`PREVIEW_WAIT` at most, before it starts).
        Publishing never waits for it; a hub error leaves it to the next try."""
        async with self.preview_turn:
            if not self.store.needs_preview(dashboard):
                return
            try:
                author = await self.hub.user(dashboard.author)
            except (OSError, HTTPClientError, RuntimeError) as e:
                log.warning("dashboard %s: no picture yet, the hub did not answer: %s", dashboard.id, e)
                return
            executed = None
            started = time.monotonic()
            try:
                if author is None:
                    raise FilesError(f"author {dashboard.author!r} is no longer a hub user")
                partners = partners_of(author.get("groups", []))
                refused = refusal(self.settings, self.settings.spawner.backend, partners, user=dashboard.author)
                if refused:
                    raise FilesError(refused)
                profile = next((p for p in self.settings.profiles if p.id == dashboard.profile), None)
                if profile is None:
                    raise FilesError(f"profile {dashboard.profile!r} is no longer declared")
                executed = json.loads(await self.runner.execute(
                    dashboard.author, partners, profile, self.store.notebook_path(dashboard),
                ))
            except (FilesError, OSError, ValueError) as e:
                log.warning("dashboard %s version %d: no picture nor snapshot page: %s", dashboard.id,
                            dashboard.version, e)
            image = first_image(executed) if executed is not None else None
            page = render_snapshot(executed, self.t("dash_error")) if executed is not None else None
            log.info("dashboard %s version %d executed in %.1f s: picture %s, snapshot page %s", dashboard.id,
                     dashboard.version, time.monotonic() - started, image.content_type if image else "none",
                     f"{len(page)} bytes" if page else "none")
            modules = kernel_modules(executed)
            if modules:
                self.store.save_kernel_modules(dashboard, modules)
            if self.store.preview(dashboard) is None:
                self.store.save_preview(dashboard, image)
            self.store.save_snapshot_page(dashboard, page)

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
            gone = self.upstreams.pop(dashboard.id, None)
            if gone is not None:
                self.assets.forget(gone.token)
            executing = self.previewing.get((dashboard.id, dashboard.version))
            if executing is not None:  # it lists the modules the server's kernel template imports
                await asyncio.wait({executing}, timeout=PREVIEW_WAIT)
            author = await self.hub.user(dashboard.author)
            if author is None:
                raise StartError(f"author {dashboard.author!r} is no longer a hub user")
            refused = refusal(self.settings, self.settings.spawner.backend, partners_of(author.get("groups", [])),
                              user=dashboard.author)
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
            if upstream is not None:
                self.assets.forget(upstream.token)
            if upstream is not None and self.runner.running(dashboard_id):
                kernels, _ = await self.kernels(dashboard_id, upstream)
                for kernel in kernels:
                    await self.shutdown_kernel(dashboard_id, kernel["id"], upstream)
            await self.runner.stop(dashboard_id)
            self.slots -= self.slots_of(dashboard_id)

    async def kernels(self, dashboard_id: str, upstream: Upstream | None = None) -> tuple[list[dict], int]:
        """``(kernel models, pool size)`` of a running dashboard; ``([], 0)`` if stopped
        or if its server gave no list."""
        listed = await self.listed_kernels(dashboard_id, upstream)
        return listed if listed is not None else ([], 0)

    async def listed_kernels(self, dashboard_id: str,
                             upstream: Upstream | None = None) -> tuple[list[dict], int] | None:
        """``(kernel models, pool size)`` as the dashboard's server listed them, or None
        when it gave no list (stopped, or an error): not knowing is not "no kernel"."""
        upstream = upstream or self.upstreams.get(dashboard_id)
        if upstream is None:
            return None
        response = await upstream_client().fetch(
            f"{upstream.url}{self.dashboard_prefix(dashboard_id)}datalab/kernels",
            headers={"Authorization": f"token {upstream.token}"}, raise_error=False,
            request_timeout=10,
        )
        if response.code != 200:
            return None
        body = json.loads(response.body)
        return body["kernels"], body["pool_size"]

    # -- admission under the caps ------------------------------------------------------
    def slots_of(self, dashboard_id: str) -> set[Slot]:
        return {slot for slot in self.slots if slot.dashboard == dashboard_id}

    def pooled(self) -> dict[str, int]:
        """Pre-executed kernels per identity-free dashboard, counted whether its server
        runs or not (it is kept running, and its pool refilled)."""
        if not self.conf.preheat_kernels:
            return {}
        return {d.id: self.conf.preheat_kernels for d in self.store.published() if d.identity_free}

    def admit(self, dashboard: Dashboard, user: str, session: str) -> Slot:
        """A place for one more view of ``dashboard`` by ``user`` (browser session digest
        ``session``) under the caps, or :class:`Busy`. Counting and taking the place are
        one step (nothing awaited), so concurrent requests never overshoot a cap. The
        caller gives the place back through :meth:`page_served`. A view of the same
        dashboard by the same person in the same browser session whose websocket closed
        (a page reloaded, or left, within :data:`CLOSE_GRACE`) is replaced: its place is
        freed at once and its kernel shut down."""
        for left in [s for s in self.slots_of(dashboard.id)
                     if s.user == user and s.session == session and s.connected and s.sockets == 0]:
            self.slots.discard(left)
            asyncio.ensure_future(self.release(left))
        pooled = self.pooled()
        mine = len(self.slots_of(dashboard.id)) + pooled.get(dashboard.id, 0)
        total = len(self.slots) + sum(pooled.values())
        held = sum(1 for slot in self.slots if slot.user == user)
        if mine >= self.conf.max_kernels_per_dashboard or total >= self.conf.max_kernels_total:
            log.info("dashboard %s busy: %d kernels of it, %d in total", dashboard.id, mine, total)
            raise Busy(person=False)
        if held >= self.conf.max_kernels_per_person:
            log.info("%s holds %d views: refused a view of %s", user, held, dashboard.id)
            raise Busy(person=True)
        slot = Slot(dashboard.id, user, session)
        self.slots.add(slot)
        return slot

    def grant(self, slot: Slot, kernel_id: str) -> None:
        """The page of ``slot`` was given kernel ``kernel_id`` (read from the page before
        the browser receives it)."""
        if slot in self.slots and slot.kernel is None:
            slot.kernel = kernel_id

    def slot_of(self, dashboard_id: str, kernel_id: str, user: str, session: str) -> Slot | None:
        """The view holding ``kernel_id`` if it was given to ``user`` in browser session
        ``session``; None otherwise (someone else's kernel, a pre-executed one, unknown)."""
        for slot in self.slots:
            if slot.dashboard == dashboard_id and slot.kernel == kernel_id:
                return slot if slot.user == user and slot.session == session else None
        return None

    def page_served(self, slot: Slot) -> None:
        """The page's response ended: without a kernel its place is free at once; else
        its websocket has ``view_timeout`` seconds to come."""
        slot.served = True
        if slot.kernel is None:
            self.slots.discard(slot)
        elif not slot.connected:
            asyncio.ensure_future(self._expire(slot))

    async def _expire(self, slot: Slot) -> None:
        await asyncio.sleep(self.conf.view_timeout)
        if slot in self.slots and not slot.connected:
            log.info("dashboard %s: a page view of %s opened no websocket in %d s: its kernel is shut down",
                     slot.dashboard, slot.user, self.conf.view_timeout)
            await self.release(slot)

    async def release(self, slot: Slot) -> None:
        """Shut the view's kernel down, then give its place back."""
        if slot.kernel is not None:
            try:
                await self.shutdown_kernel(slot.dashboard, slot.kernel)
            except (OSError, HTTPClientError) as e:
                log.warning("dashboard %s: kernel shutdown failed: %s", slot.dashboard, e)
        self.slots.discard(slot)

    def request_started(self, dashboard_id: str) -> None:
        """A proxied HTTP request began (the dashboard is in use until it ends)."""
        self.requests[dashboard_id] = self.requests.get(dashboard_id, 0) + 1
        self.last_seen[dashboard_id] = time.monotonic()

    def request_ended(self, dashboard_id: str) -> None:
        self.requests[dashboard_id] = max(0, self.requests.get(dashboard_id, 0) - 1)
        self.last_seen[dashboard_id] = time.monotonic()

    async def shutdown_kernel(self, dashboard_id: str, kernel_id: str, upstream: Upstream | None = None) -> None:
        upstream = upstream or self.upstreams.get(dashboard_id)
        if upstream is None:
            return
        await upstream_client().fetch(
            f"{upstream.url}{self.dashboard_prefix(dashboard_id)}api/kernels/{quote(kernel_id)}",
            method="DELETE", headers={"Authorization": f"token {upstream.token}"},
            raise_error=False, request_timeout=30,
        )

    # -- views (websockets) and culling ----------------------------------------------------
    def view_opened(self, slot: Slot) -> None:
        slot.sockets += 1
        slot.connected = True
        self.last_seen[slot.dashboard] = time.monotonic()
        waiting = self.turns.get((slot.dashboard, slot.session))
        if waiting:
            self._end_turn((slot.dashboard, slot.session), waiting[0])

    # -- live pages behind snapshot pages ------------------------------------------------
    def arrival(self) -> None:
        """A viewer asked for a dashboard's page (see :data:`ARRIVALS_QUIET`)."""
        self.last_arrival = time.monotonic()

    async def live_turn(self, dashboard_id: str, session: str) -> bool:
        """Wait until no viewer arrived for :data:`ARRIVALS_QUIET` seconds (at most
        :data:`ARRIVALS_QUIET_MAX`), then (:data:`TURN_WAIT` at most) for one of the live
        pages that may load at once; True when given. The turn is given back when a page
        view of that dashboard and browser session opens its websocket, or
        :data:`TURN_HOLD` seconds later."""
        latest = time.monotonic() + ARRIVALS_QUIET_MAX
        while (quiet_in := min(self.last_arrival + ARRIVALS_QUIET, latest) - time.monotonic()) > 0:
            await asyncio.sleep(quiet_in)
        try:
            await asyncio.wait_for(self.live_places.acquire(), TURN_WAIT)
        except asyncio.TimeoutError:
            return False
        key = (dashboard_id, session)
        turn = Turn(self.live_places)
        turn.timer = asyncio.get_running_loop().call_later(TURN_HOLD, self._end_turn, key, turn)
        self.turns.setdefault(key, []).append(turn)
        return True

    def _end_turn(self, key: tuple[str, str], turn: Turn) -> None:
        turn.end()
        waiting = self.turns.get(key, [])
        if turn in waiting:
            waiting.remove(turn)
        if not waiting:
            self.turns.pop(key, None)

    async def view_closed(self, slot: Slot) -> None:
        """A page's kernel websocket closed: unless the page reconnects within
        :data:`CLOSE_GRACE` seconds, its kernel is shut down and its place freed."""
        slot.sockets = max(0, slot.sockets - 1)
        self.last_seen[slot.dashboard] = time.monotonic()
        await asyncio.sleep(CLOSE_GRACE)
        if slot.sockets == 0 and slot in self.slots:
            await self.release(slot)

    async def forget_ended(self, dashboard_id: str) -> None:
        """Give back the places of served views whose kernel Voilà no longer has (culled
        when idle, or dead)."""
        served = [slot for slot in self.slots_of(dashboard_id) if slot.served and slot.kernel]
        if not served:
            return
        listed = await self.listed_kernels(dashboard_id)
        if listed is None:  # no list this time: every view keeps its place
            return
        alive = {k["id"] for k in listed[0]}
        for slot in served:
            if slot.kernel not in alive:
                self.slots.discard(slot)

    async def cull(self) -> None:
        """Stop the servers of dashboards with no open view and no request for
        ``dashboards.idle_timeout`` seconds (identity-free ones excepted) and of
        unpublished ones, forget servers that died, start identity-free dashboards'
        servers that are not running (at the service's start, after a republish), and
        make the pictures published versions lack (:meth:`preview_later`)."""
        now = time.monotonic()
        for dashboard_id in list(self.upstreams):
            if not self.runner.running(dashboard_id):
                log.warning("dashboard %s: its server exited", dashboard_id)
                await self.stop(dashboard_id)
                continue
            await self.forget_ended(dashboard_id)
            open_views = sum(slot.sockets for slot in self.slots_of(dashboard_id)) + self.requests.get(dashboard_id, 0)
            idle = now - self.last_seen.get(dashboard_id, now)
            dashboard = self.store.get(dashboard_id)
            if dashboard is None:
                await self.stop(dashboard_id)
            elif open_views == 0 and idle >= self.conf.idle_timeout and not dashboard.identity_free:
                log.info("dashboard %s not viewed for %.0f s: stopping its server", dashboard_id, idle)
                await self.stop(dashboard_id)
        for dashboard in self.store.published():
            self.preview_later(dashboard)
            if dashboard.identity_free and not self.runner.running(dashboard.id):
                try:
                    await self.upstream(dashboard)
                except (StartError, OSError, RuntimeError) as e:
                    log.error("dashboard %s cannot start: %s", dashboard.id, e)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(d) for d in list(self.upstreams)))
        await self.runner.stop_all()
