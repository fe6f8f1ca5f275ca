"""A Jupyter Server extension loaded by local labs: a kernel executing code counts as
activity, so that the idle culler (:mod:`hub.culling`) spares a lab whose computation
runs silently for hours.

Jupyter Server's ``last_activity`` is the latest of its sources, among which every
``web_app.settings`` key ending in ``_last_activity``; every ``check_seconds`` (half the
lab's ``JUPYTERHUB_ACTIVITY_INTERVAL``) this extension sets such a key to now while a
kernel is busy. jupyterhub-singleuser reports that activity to the hub as any other.
"""

from __future__ import annotations

import datetime as dt
import os

from tornado.ioloop import PeriodicCallback

SETTINGS_KEY = "datalab_busy_kernels_last_activity"


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": __name__}]


def busy(kernel_manager) -> bool:
    """True when one of the lab's kernels is executing code."""
    return any(
        getattr(kernel_manager.get_kernel(kid), "execution_state", "") == "busy"
        for kid in kernel_manager.list_kernel_ids()
    )


def _load_jupyter_server_extension(serverapp) -> None:
    check_seconds = max(1.0, int(os.environ.get("JUPYTERHUB_ACTIVITY_INTERVAL") or 300) / 2)

    def check() -> None:
        if busy(serverapp.kernel_manager):
            serverapp.web_app.settings[SETTINGS_KEY] = dt.datetime.now(dt.timezone.utc)

    PeriodicCallback(check, check_seconds * 1000).start()
    serverapp.log.info("DataLab: busy kernels count as activity (checked every %.0f s)", check_seconds)
