"""Hub-managed services started again within seconds of their end.

JupyterHub starts a managed service again when it finds that the service's process
ended; it looks every ``poll_interval`` of the spawner it makes for the service: 30 s,
and JupyterHub gives services no option for it (their spawner is made without the
hub's configuration). A dashboards or reports service that crashed or was stopped was
away for up to 30 s (measured: 17 s and 28 s, issue 18). :func:`install` makes that
spawner look every :data:`SERVICE_POLL` seconds; labs keep ``Spawner.poll_interval``.

A service that fails at each start is started again every :data:`SERVICE_POLL` seconds
(JupyterHub has no backoff): each start logs its error in the hub's log.
"""

from __future__ import annotations

from traitlets import default

#: Seconds between two checks of a managed service's process.
SERVICE_POLL = 2


def install() -> None:
    """Give JupyterHub's service spawner a ``poll_interval`` of :data:`SERVICE_POLL`
    (``jupyterhub_config.py`` calls it; calling it again changes nothing)."""
    from jupyterhub.services import service

    if getattr(service._ServiceSpawner, "quick_restart", False):
        return

    class QuickRestartServiceSpawner(service._ServiceSpawner):
        quick_restart = True

        @default("poll_interval")
        def _poll_interval_default(self) -> int:
            return SERVICE_POLL

    service._ServiceSpawner = QuickRestartServiceSpawner
