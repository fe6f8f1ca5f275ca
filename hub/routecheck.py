"""Routes back within seconds after a restart of a proxy that runs apart.

With ``proxy.managed: false`` the proxy is its own service: when it restarts it starts
with an empty routing table, and JupyterHub only re-adds routes at its periodic check
(``last_activity_interval``, 300 s). :class:`RouteCheckingProxy` asks the proxy every
``route_check_interval`` seconds (1 by default) for one route that is always there, the
marker (an extra route, :data:`MARKER`, that JupyterHub adds with the others); when the
proxy no longer knows it, the proxy has restarted: every route is restored at once
(JupyterHub's own ``check_routes``). One small request a second, whatever the number of
routes.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientError, ClientResponseError, ClientTimeout
from jupyterhub.httpclient import fetch
from jupyterhub.proxy import ConfigurableHTTPProxy
from jupyterhub.utils import url_path_join
from tornado.ioloop import PeriodicCallback
from traitlets import Any, Bool, Float

#: The marker route (it leads to the hub's API, which answers 404 there).
MARKER = "/datalab-route-check/"


class RouteCheckingProxy(ConfigurableHTTPProxy):
    """configurable-http-proxy whose routes are restored as soon as it lost them."""

    route_check_interval = Float(1.0, help="Seconds between two looks at the marker route; 0: never").tag(config=True)
    _watch = Any(None)
    _restoring = Bool(False)

    async def check_routes(self, user_dict, service_dict, routes=None):
        await super().check_routes(user_dict, service_dict, routes)
        if self._watch is None and self.route_check_interval > 0:
            self._watch = PeriodicCallback(self.check_marker, 1e3 * self.route_check_interval)
            self._watch.start()

    async def marker_missing(self) -> bool:
        """True when the proxy answers that it does not know the marker route; False when
        it knows it or does not answer (it is still down: the next look will tell)."""
        url = url_path_join(self.api_url, "api/routes", self._routespec_to_chp_path(MARKER))
        try:
            await fetch(url, headers={"Authorization": f"token {self.auth_token}"},
                        timeout=ClientTimeout(total=max(0.5, self.route_check_interval)))
        except ClientResponseError as e:
            return e.status == 404
        except (ClientError, OSError, asyncio.TimeoutError):
            return False
        return False

    async def check_marker(self) -> None:
        """Restore every route when the marker route is missing."""
        if self._restoring:
            return
        self._restoring = True
        try:
            if await self.marker_missing():
                self.log.warning("The proxy lost its routes (restarted?): restoring them")
                await self.check_routes(self.app.users, self.app._service_map)
        except Exception:
            self.log.exception("Restoring the proxy's routes failed; next try in %s s", self.route_check_interval)
        finally:
            self._restoring = False
