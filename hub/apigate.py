"""Where labs reach the hub: its REST API, and nothing else.

Labs reach the hub's API from their own network: containers at the labs' network gateway
(docker backend), compute nodes at ``slurm.hub_address``. Listening there with the whole
hub would hand every lab the hub's pages (login form, admin page, token page). So the hub
listens on 127.0.0.1, where the proxy and the services reach it, and at each address of
``ApiGate.addresses`` a second listener of the same tornado application answers requests
below ``<base_url>hub/api`` only (anything else: 404). Paths are matched as received
(tornado does not resolve ``..`` nor decode ``%2F`` before routing), and the client address
is the connection's own (no ``X-Forwarded-For`` from a lab is believed).

The backends name the addresses (:func:`listen_for_labs`) and point their spawners there
(``Spawner.hub_connect_url``); ``jupyterhub_config.py`` calls :func:`install`.
"""

from __future__ import annotations

import logging
import re

from tornado import routing, web
from tornado.httpserver import HTTPServer
from traitlets import List, Unicode
from traitlets.config import Configurable

log = logging.getLogger("datalab")


class ApiOnly(routing.Router):
    """Routes requests below ``api_prefix`` to ``application``, the rest to a 404."""

    def __init__(self, application: web.Application, api_prefix: str):
        self.application = application
        self.api = re.compile(re.escape(api_prefix.rstrip("/")) + r"(/|$)")

    def find_handler(self, request, **kwargs):
        if self.api.match(request.path):
            return self.application.find_handler(request, **kwargs)
        log.warning("refused %s %s from %s: only the hub's API answers where labs reach the hub",
                    request.method, request.path[:200], request.remote_ip)
        return self.application.get_handler_delegate(request, web.ErrorHandler, {"status_code": 404})


class ApiGate(Configurable):
    """The listeners of the hub's API on the labs' side."""

    addresses = List(
        Unicode(), help='"host:port" (IPv6 hosts in brackets) where the hub answers its API only'
    ).tag(config=True)

    def listen(self, application: web.Application, api_prefix: str) -> list[HTTPServer]:
        servers = []
        for address in self.addresses:
            host, port = address.rsplit(":", 1)
            server = HTTPServer(ApiOnly(application, api_prefix), xheaders=False)
            server.listen(int(port), host.strip("[]"))
            servers.append(server)
        return servers


def listen_for_labs(c, url: str) -> None:
    """Have the hub answer its API (only) at ``url``'s address (``http://host:port``)."""
    address = url.split("://", 1)[1].rstrip("/")
    if address not in c.ApiGate.get("addresses", []):
        c.ApiGate.addresses = [*c.ApiGate.get("addresses", []), address]


def install() -> None:
    """Start the :class:`ApiGate` of the hub's configuration with the hub, right after it
    listens (calling it again changes nothing)."""
    from jupyterhub.app import JupyterHub

    if getattr(JupyterHub.start, "api_gate", False):
        return
    start = JupyterHub.start

    async def start_with_gate(self):
        self.api_gate_servers = ApiGate(config=self.config).listen(
            self.tornado_application, self.hub.base_url + "api")
        await start(self)

    start_with_gate.api_gate = True
    JupyterHub.start = start_with_gate
