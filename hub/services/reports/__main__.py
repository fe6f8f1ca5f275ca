"""``python -m hub.services.reports``: the reports service, started by the hub.

It reads the deployment file named by ``DATALAB_CONFIG`` on the hub's backend
(``DATALAB_BACKEND``, see :func:`hub.services.deployment`) and the hub's service
environment (``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_SERVICE_PREFIX``,
``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN``...). It runs as the hub's user: as root,
so that each run can become its owner's Unix account; the runs themselves drop that
privilege. SIGTERM or SIGINT stop it; runs in progress go on, and the next start of the
service follows them to their end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from urllib.parse import urlsplit

from hub.secretfiles import kept_secret
from hub.settings import ConfigError
from hub import audit
from hub.storage import Layout

from .. import deployment, until_stopped
from .app import make_app
from .runners import runner_for
from .service import HubAPI, ReportsService


async def serve() -> None:
    settings = deployment()
    audit.configure(settings.data_dir, "reports", settings.audit.retention_days)
    service = ReportsService(settings, runner_for(settings), HubAPI(
        os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    ))
    await service.start()
    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    hub_prefix = os.environ.get("JUPYTERHUB_BASE_URL", "/") + "hub/"
    secret = kept_secret(Layout(settings.data_dir).hub / "reports_cookie_secret")
    app = make_app(service, prefix, hub_prefix, secret)
    server = app.listen(url.port, address=url.hostname, xheaders=True)
    logging.getLogger("datalab.reports").info("reports service on %s%s", os.environ["JUPYTERHUB_SERVICE_URL"], prefix)
    await until_stopped(logging.getLogger("datalab.reports"))
    server.stop()
    service.stop()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[reports %(levelname)s %(asctime)s] %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.INFO)
    try:
        asyncio.run(serve())
    except ConfigError as error:
        print(f"DataLab reports service cannot start:\n{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
