"""Prometheus metrics: the hub's own (JupyterHub's ``/hub/metrics``) and DataLab's.

Every process serves the default ``prometheus_client`` registry behind one token: the
hub at ``/hub/metrics`` (JupyterHub's ``authenticate_prometheus``), the dashboards and
reports services at ``/services/<name>/metrics`` (:class:`MetricsHandler`). The token
is the API token of the hub service ``metrics`` (role ``datalab-metrics``, scope
``read:metrics`` only), generated once into ``<data_dir>/hub/metrics_token``; Prometheus
sends it as ``Authorization: Bearer <token>``.

DataLab's metrics (names as exported):

- ``datalab_running_servers{backend, partner}`` (gauge, hub): ready labs, counted once
  per partner of their owner, computed at each scrape from the hub's memory.
- ``datalab_spawn_duration_seconds{backend, profile}`` (histogram, hub): from the start
  request to the lab answering (successful starts), buckets up to 600 s.
- ``datalab_slurm_pending_seconds{partition}`` (histogram, hub): a Slurm lab's job from
  submission to RUNNING.
- ``datalab_dashboard_views_total{dashboard, outcome}`` (counter, dashboards service;
  the hub counts the snapshot pages it serves, hub.dashboard_page): page views,
  ``shown``, ``snapshot`` (the published version's page first) or ``busy`` (refused at
  capacity).
- ``datalab_report_runs_total{status}`` (counter, reports service): finished runs by
  final status.
"""

from __future__ import annotations

import datetime as dt
import logging

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from tornado import web

from .groups import partners_of

log = logging.getLogger("datalab")

SERVICE_NAME = "metrics"
ROLE_NAME = "datalab-metrics"
SCOPE = "read:metrics"
TOKEN_FILE = "metrics_token"

#: Seconds: a lab's start, up to JupyterHub's largest start timeout worth measuring.
SPAWN_BUCKETS = (1, 2.5, 5, 10, 15, 30, 60, 120, 180, 300, 600, float("inf"))
#: Seconds a Slurm job waits in the queue: from instant to a day.
PENDING_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 86400, float("inf"))

SPAWN_DURATION = Histogram(
    "datalab_spawn_duration_seconds",
    "Successful lab starts: seconds from the start request to the lab answering",
    ["backend", "profile"],
    buckets=SPAWN_BUCKETS,
)
SLURM_PENDING = Histogram(
    "datalab_slurm_pending_seconds",
    "Slurm labs: seconds from submission to RUNNING",
    ["partition"],
    buckets=PENDING_BUCKETS,
)
DASHBOARD_VIEWS = Counter(
    "datalab_dashboard_views",
    "Dashboard page views (outcome: shown, snapshot, or busy when refused at capacity)",
    ["dashboard", "outcome"],
)
REPORT_RUNS = Counter("datalab_report_runs", "Finished report runs by final status", ["status"])


def _backend_and_profile(spawner, settings) -> tuple[str, str]:
    """The backend and profile id a spawner's lab runs with (the user's first profile
    when the start request named none)."""
    profile = getattr(spawner, "selected_profile", None)
    if profile is None:
        offered = spawner.profiles() if hasattr(spawner, "profiles") else []
        profile = offered[0] if offered else None
    if profile is None:
        return settings.spawner.backend.value, ""
    return settings.backend_of(profile).value, profile.id


class RunningServers:
    """A collector: ``datalab_running_servers{backend, partner}`` from the hub's users
    at scrape time (no bookkeeping that a restart or a crash could skew)."""

    def __init__(self, settings):
        self.settings = settings

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "datalab_running_servers", "Ready labs, once per partner of their owner",
            labels=["backend", "partner"],
        )

    def describe(self):
        yield self._family()

    def collect(self):
        from jupyterhub.app import JupyterHub

        family = self._family()
        counts: dict[tuple[str, str], int] = {}
        app = JupyterHub.instance() if JupyterHub.initialized() else None
        if app is not None and app.tornado_settings:
            for user in list(app.users.values()):
                partners = partners_of([g.name for g in user.groups]) or {""}
                for spawner in list(user.spawners.values()):
                    if not spawner.ready:
                        continue
                    backend, _ = _backend_and_profile(spawner, self.settings)
                    for partner in partners:
                        counts[(backend, partner)] = counts.get((backend, partner), 0) + 1
        for (backend, partner), n in sorted(counts.items()):
            family.add_metric([backend, partner], n)
        yield family


class SpawnRecorder(logging.Handler):
    """A handler of JupyterHub's event log (``c.EventLogger.handlers``): at each
    ``server-action`` ``start`` event (sent once the lab answers), observes
    :data:`SPAWN_DURATION` since the server's recorded start time."""

    SCHEMA = "https://schema.jupyter.org/jupyterhub/events/server-action"

    def __init__(self, settings):
        super().__init__(level=logging.INFO)
        self.settings = settings

    def __deepcopy__(self, memo):
        # JupyterHub deep-copies its configuration; there is one recorder per process
        return self

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg
        if not (isinstance(event, dict) and event.get("__schema__") == self.SCHEMA
                and event.get("action") == "start"):
            return
        try:
            self.observe(event["username"], event.get("servername", ""))
        except Exception:
            log.exception("metrics: cannot record the start of %s", event.get("username"))

    def observe(self, username: str, servername: str) -> None:
        from jupyterhub.app import JupyterHub

        user = JupyterHub.instance().users[username]
        spawner = user.spawners[servername]
        started = spawner.orm_spawner.started
        if started is None:
            return
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        backend, profile = _backend_and_profile(spawner, self.settings)
        SPAWN_DURATION.labels(backend=backend, profile=profile).observe((now - started).total_seconds())


_registered: set[str] = set()


def register_hub_collectors(settings) -> None:
    """Register :class:`RunningServers` in the default registry (once per process)."""
    if "running" not in _registered:
        REGISTRY.register(RunningServers(settings))
        _registered.add("running")


class MetricsHandler(web.RequestHandler):
    """``GET <service>/metrics``: the service process's metrics in Prometheus' text
    format, for a hub API token holding ``read:metrics`` (``Authorization: Bearer`` or
    ``token``). 401 without a valid token, 403 without the scope."""

    async def get(self):
        from jupyterhub.services.auth import HubOAuth

        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise web.HTTPError(401)
        model = await HubOAuth.instance().user_for_token(token.strip(), sync=False)
        if not model:
            raise web.HTTPError(401)
        if SCOPE not in model.get("scopes", []):
            raise web.HTTPError(403)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(REGISTRY))
