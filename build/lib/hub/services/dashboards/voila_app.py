"""One dashboard's Voilà server, started by the dashboards service as the author.

Run as ``python voila_app.py NOTEBOOK [voila options]``; this file imports nothing from
the hub, so it runs wherever the lab environment does (a local process, a container of
the lab image). It is Voilà with three additions:

- the token that the dashboards service sends with every proxied request is read from
  ``DATALAB_VOILA_TOKEN`` and removed from the environment, so kernels never see it;
- ``GET <base_url>datalab/kernels`` (token required) lists the live kernels, for the
  service's capacity caps: ``{"kernels": [kernel models], "pool_size": int}``;
- a page requested for the dashboard's author (header ``X-DataLab-Viewer: author``, set
  by the service only) never uses a pre-executed kernel: its kernel starts with that
  header in its environment and shows the author the real tracebacks.
"""

from __future__ import annotations

import json
import os

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

TOKEN_VARIABLE = "DATALAB_VOILA_TOKEN"
VIEWER_HEADER = "X-DataLab-Viewer"


class DashboardHandler(TornadoVoilaHandler):
    """Voilà's page handler; the author's pages always get a fresh kernel."""

    def should_use_rendered_notebook(self, *args, **kwargs):
        if self.request.headers.get(VIEWER_HEADER) == "author":
            return False
        return super().should_use_rendered_notebook(*args, **kwargs)


class KernelsHandler(APIHandler):
    """The live kernels of this dashboard, and the size of its pre-executed pool."""

    def initialize(self, notebook_path: str):
        self.notebook_path = notebook_path

    @web.authenticated
    def get(self):
        manager = self.kernel_manager
        pool_size = manager.get_pool_size(self.notebook_path) if hasattr(manager, "get_pool_size") else 0
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"kernels": manager.list_kernels(), "pool_size": pool_size}))


class DashboardVoila(Voila):
    """Voilà serving one notebook behind the dashboards service."""

    def initialize(self, argv=None):
        self.token = os.environ.pop(TOKEN_VARIABLE)
        super().initialize(argv)

    def init_handlers(self):
        handlers = [
            (
                url_path_join(self.server_url, "/datalab/kernels"),
                KernelsHandler,
                {"notebook_path": os.path.relpath(self.notebook_path, self.root_dir)},
            )
        ]
        for pattern, handler, *options in super().init_handlers():
            handlers.append((pattern, DashboardHandler if handler is TornadoVoilaHandler else handler, *options))
        return handlers


if __name__ == "__main__":
    DashboardVoila.launch_instance()
