"""Entry point of the dashboards service: ``python -m hub.services.dashboards``.

Runs as the hub's user. When that is root, it is root only to prepare authors' accounts
and start each dashboard's server as its author (privileges dropped in the child);
nothing a viewer sends reaches a shell or the service's own credentials.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

from ... import audit
from .. import deployment, until_stopped
from ...metrics import MetricsHandler
from ...backends.protocol import backend as registered, dashboard_backends
from ...settings import ConfigError
from ...storage import Layout
from .handlers import (
    KERNEL,
    DashboardApiHandler,
    DashboardsApiHandler,
    GalleryHandler,
    NotFoundHandler,
    PreviewHandler,
    ProxyHandler,
    PublishHandler,
    WebSocketProxyHandler,
    jinja_environment,
)
from .runners import Runner
from .service import DashboardService, HubAPI
from .store import Store

log = logging.getLogger("datalab.dashboards")
ID = r"([a-z][a-z0-9-]{0,38}[a-z0-9])"


def make_runner(settings, layout: Layout) -> Runner:
    """The dashboard runner of the deployment's backend (``spawner.backend``)."""
    backend = registered(settings.spawner.backend)
    if not backend.serves_dashboards:
        raise ConfigError(
            f"spawner.backend: dashboards cannot run on {settings.spawner.backend.value!r} yet; "
            f"allowed: {', '.join(b.value for b in dashboard_backends())}"
        )
    return backend.dashboard_runner(settings, layout.dashboards / ".kernelspec")


def make_app(service: DashboardService) -> web.Application:
    """The service's routes under its prefix; handlers use the ``HubOAuth`` singleton."""
    prefix = service.prefix
    return web.Application(
        [
            (prefix, GalleryHandler),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            (url_path_join(prefix, "metrics"), MetricsHandler),
            (url_path_join(prefix, f"preview/{ID}"), PreviewHandler),
            (url_path_join(prefix, "publish"), PublishHandler),
            (url_path_join(prefix, "api/dashboards"), DashboardsApiHandler),
            (url_path_join(prefix, f"api/dashboards/{ID}"), DashboardApiHandler),
            (url_path_join(prefix, f"d/{ID}"), web.RedirectHandler, {"url": prefix + "d/{0}/"}),
            (url_path_join(prefix, f"d/{ID}/api/kernels/({KERNEL})/channels"), WebSocketProxyHandler),
            (url_path_join(prefix, f"d/{ID}/(.*)"), ProxyHandler),
        ],
        dashboards=service,
        jinja=jinja_environment(),
        hub_prefix=os.environ.get("JUPYTERHUB_BASE_URL", "/") + "hub/",
        cookie_secret=os.urandom(32),
        websocket_ping_interval=30,
        default_handler_class=NotFoundHandler,
    )


async def housekeeping(service: DashboardService, interval: float) -> None:
    """Publish the deployment's dashboards, then cull and warm up every ``interval``
    seconds (see :meth:`DashboardService.cull`)."""
    await service.seed()
    while True:
        try:
            await service.cull()
        except Exception:
            log.exception("dashboards housekeeping failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


async def serve() -> None:
    settings = deployment()
    layout = Layout(settings.data_dir)
    audit.configure(settings.data_dir, "dashboards", settings.audit.retention_days)
    HubOAuth.instance(cache_max_age=60)
    store = Store(layout.dashboards)
    if store.migrated:
        log.info("audiences rewritten for the partners-AND-roles rule: %s", ", ".join(store.migrated))
    service = DashboardService(
        settings,
        store,
        make_runner(settings, layout),
        HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]),
        os.environ["JUPYTERHUB_SERVICE_PREFIX"],
    )
    app = make_app(service)
    address = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = app.listen(address.port, address.hostname, xheaders=True)
    log.info("dashboards service on %s (prefix %s)", os.environ["JUPYTERHUB_SERVICE_URL"], service.prefix)
    interval = max(2.0, min(30.0, settings.dashboards.idle_timeout / 5))
    chores = asyncio.ensure_future(housekeeping(service, interval))
    await until_stopped(log)
    chores.cancel()
    server.stop()
    await service.stop_all()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    try:
        asyncio.run(serve())
    except ConfigError as error:
        sys.exit(f"dashboards service: the deployment file needs fixing:\n{error}")


if __name__ == "__main__":
    main()
