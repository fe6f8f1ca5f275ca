"""Hub-managed services (reports, dashboards): JupyterHub services started and proxied
by the hub, each in its own package."""

from __future__ import annotations

import asyncio
import logging
import os
import signal


def deployment():
    """The deployment as the hub that started this service applied it: the file of
    ``DATALAB_CONFIG`` with the hub's backend (``DATALAB_BACKEND``, set by the hub, see
    :func:`hub.apply.service_environment`). Raises :class:`hub.settings.ConfigError`.
    Imported here, not at the top: report runs import this package in the owner's
    environment, which has papermill but not the hub's dependencies."""
    from ..settings import backend_from_env, load

    return backend_from_env(load())


#: Seconds between two checks that the hub which started a service is still there.
PARENT_CHECK_SECONDS = 2.0


async def until_stopped(log: logging.Logger) -> None:
    """Return on SIGTERM or SIGINT, or once the hub that started this service is gone.

    A hub killed with SIGKILL cannot stop its services, and a restarted hub starts new
    ones on the same ports: an orphaned service (its parent process changed) stops itself
    within :data:`PARENT_CHECK_SECONDS`.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    parent = os.getppid()
    while not stopping.is_set():
        if os.getppid() != parent:
            log.warning("the hub (pid %d) is gone: stopping", parent)
            return
        try:
            await asyncio.wait_for(stopping.wait(), timeout=PARENT_CHECK_SECONDS)
        except asyncio.TimeoutError:
            continue
