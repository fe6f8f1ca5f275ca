"""Where a starting Slurm lab reports its port (``POST /hub/api/batchspawner``).

batchspawner's own handler finds the lab's spawner by comparing the request's token with
``spawner.api_token``, which only the hub process that started the lab holds: a lab
whose job starts after a hub restart would report its port to nobody. This handler also
recognises the server's token through the server's OAuth client, whose secret is that
same token (hashed in the hub database), and accepts nothing but a valid ``port``
(batchspawner's handler sets any attribute the request names).
"""

from __future__ import annotations

import json

from batchspawner.api import BatchSpawnerAPIHandler
from jupyterhub.apihandlers import default_handlers
from jupyterhub.utils import compare_token
from tornado import web

ROUTE = r"/api/batchspawner"


def spawner_of_token(spawners, token: str):
    """The spawner, among ``spawners`` (one user's), whose server token is ``token``:
    the one holding it, else the one whose OAuth client's secret it is; None if none."""
    if not token:
        return None
    for spawner in spawners:
        if spawner.api_token and spawner.api_token == token:
            return spawner
    for spawner in spawners:
        client = spawner.orm_spawner.oauth_client if spawner.orm_spawner is not None else None
        if not spawner.api_token and client is not None and client.secret and compare_token(client.secret, token):
            return spawner
    return None


def valid_port(data) -> int | None:
    """The ``port`` of a report, None unless it is the report's only key and a TCP port."""
    if not isinstance(data, dict) or set(data) != {"port"}:
        return None
    port = data["port"]
    return port if type(port) is int and 0 < port < 65536 else None


class PortReportHandler(BatchSpawnerAPIHandler):
    @web.authenticated
    def post(self):
        spawner = spawner_of_token(self.current_user.spawners.values(), self.get_auth_token())
        if spawner is None:
            raise web.HTTPError(404, "no server of this user holds this token")
        port = valid_port(self.get_json_body())
        if port is None:
            raise web.HTTPError(400, "expected {\"port\": <1-65535>}")
        spawner.api_token = spawner.api_token or self.get_auth_token()
        spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "BatchSpawner data configured"}))


def register() -> None:
    """Put :class:`PortReportHandler` in place of batchspawner's handler among
    JupyterHub's API handlers (before JupyterHub builds its application)."""
    routes = [i for i, (route, *_) in enumerate(default_handlers) if route == ROUTE]
    if routes:
        for i in routes:
            default_handlers[i] = (ROUTE, PortReportHandler)
    else:
        default_handlers.append((ROUTE, PortReportHandler))
