"""``GET /hub/tableau/<id>``: where a dashboard is opened (the gallery's links, the links
people pass on).

The hub knows who asks from its own login. A viewer of an identity-free dashboard gets the
published version's snapshot page (:mod:`.services.dashboards.snapshot_page`) from here
at once: no login to the dashboards service (an OAuth authorization, a token and a user
request to the hub, three redirects) comes before the map. Their live page, with their
own kernel, loads behind it in a frame from the service, whose login happens there.
Everything else (the author, an identity-dependent dashboard, a version without snapshot,
a dashboard this person may not see or that does not exist) is sent to the service's page
of the dashboard, which answers as it always did: the redirect says nothing of whether
the dashboard exists or whom it admits.
"""

from __future__ import annotations

import functools

import jinja2
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado import web

from . import audit
from .messages import CATALOGUE
from .metrics import DASHBOARD_VIEWS
from .services.dashboards import SERVICE_NAME
from .services.dashboards.handlers import jinja_environment, live_query, snapshot_first
from .services.dashboards.service import DashboardService
from .services.dashboards.store import read_published, snapshot_page
from .settings import Settings
from .storage import Layout

PAGE_PATH = r"/tableau/([a-z][a-z0-9-]{0,38}[a-z0-9])/?"


class DashboardPage(BaseHandler):
    """The handler of :data:`PAGE_PATH`, registered through ``c.JupyterHub.extra_handlers``."""

    def initialize(self, datalab_settings: Settings):
        self.datalab_settings = datalab_settings

    @web.authenticated
    async def get(self, dashboard_id: str):
        user = self.current_user
        service_page = url_path_join(self.base_url, "services", SERVICE_NAME, "d", dashboard_id) + "/"
        root = Layout(self.datalab_settings.data_dir).dashboards
        dashboard = read_published(root, dashboard_id)
        body = None
        if (dashboard is not None and snapshot_first(self.datalab_settings.dashboards, dashboard, user.name)
                and self.has_scope(f"access:services!service={SERVICE_NAME}")
                and DashboardService.may_view({"name": user.name, "groups": [g.name for g in user.groups]},
                                              dashboard)):
            body = snapshot_page(root, dashboard)
        if body is None:
            query = self.request.query
            self.redirect(service_page + (f"?{query}" if query else ""))
            return
        DASHBOARD_VIEWS.labels(dashboard=dashboard.id, outcome="snapshot").inc()
        language = self.datalab_settings.hub.language
        template = _snapshot_template()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(template.render(
            t=CATALOGUE[language], lang=language, title=dashboard.title, body=body,
            live_url=service_page + live_query(self.request.query_arguments, 1),
        ))
        audit.record_request(self, "dashboard.view", user.name, f"dashboard:{dashboard.id}", [dashboard.partner])


@functools.cache
def _snapshot_template() -> jinja2.Template:
    return jinja_environment().get_template("snapshot.html")


def handlers(settings: Settings) -> list[tuple]:
    """``c.JupyterHub.extra_handlers`` entries (paths below the hub prefix)."""
    return [(PAGE_PATH, DashboardPage, {"datalab_settings": settings})]
