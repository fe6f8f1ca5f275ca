"""Stopping idle labs: jupyterhub-idle-culler as a hub-managed service.

The culler (``python -m hub.culling``, jupyterhub-idle-culler's own command line with a
DataLab decision hook) asks the hub every ``culling.every`` seconds for the users with
ready servers and stops each server (default and named) whose policy says so. The
policy is per profile: the culler has one ``--timeout`` and one ``--max-age`` per
instance, but it passes each server's model, ``user_options`` included, to its
``cull_arbiter_hook``; :func:`arbiter` picks the server's profile from there
(``user_options["profile"]``; a server started without one gets the ``culling``
default) and applies its idle timeout and maximum age. One culler serves every profile.

Activity is what labs and the proxy report to the hub (every
``culling.activity_interval`` seconds): HTTP requests, kernel messages, terminals. A
kernel computing silently sends nothing, so local labs load :mod:`hub.lab_activity`,
which counts a busy kernel as activity (``culling.spare_busy_kernels``).

The culler's role (least privilege, the scopes its documentation lists, without
``admin:users``: users are never deleted): ``list:users``, ``read:users:activity``,
``read:servers``, ``delete:servers``.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
from functools import lru_cache

from .settings import Culling, Settings, config_path, load

SERVICE_NAME = "idle-culler"
ROLE_NAME = "datalab-idle-culler"
SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
LAB_EXTENSION = "hub.lab_activity"
PROFILE_KEY = "profile"


def policy(culling: Culling, profile_id: str | None) -> tuple[int, int]:
    """``(idle_timeout, max_age)`` in seconds for a server of ``profile_id`` (None or
    an undeclared profile: the defaults). ``max_age`` 0 means no maximum."""
    override = culling.profiles.get(profile_id or "")
    idle, age = culling.idle_timeout, culling.max_age
    if override is not None:
        idle = override.idle_timeout if override.idle_timeout is not None else idle
        age = override.max_age if override.max_age is not None else age
    return idle, age


def should_cull(culling: Culling, inactive: dt.timedelta, server: dict, now: dt.datetime) -> bool:
    """True when ``server`` (the hub API's server model: ``user_options``, ``started``
    as ISO 8601) has been inactive for at least its profile's idle timeout, or has run
    for at least its maximum age. ``now``: an aware UTC datetime."""
    options = server.get("user_options") or {}
    idle, max_age = policy(culling, options.get(PROFILE_KEY))
    if inactive.total_seconds() >= idle:
        return True
    started = server.get("started")
    if max_age and started:
        age = now - dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
        return age.total_seconds() >= max_age
    return False


@lru_cache(maxsize=1)
def _culling() -> Culling:
    return load().culling


def arbiter(*, inactive: dt.timedelta, inactive_limit: int, server: dict, **_) -> bool:
    """jupyterhub-idle-culler's ``cull_arbiter_hook``: :func:`should_cull` with the
    deployment file's policy (``$DATALAB_CONFIG``); ``inactive_limit`` (the culler's
    single ``--timeout``) is superseded by the per-profile policy."""
    return should_cull(_culling(), inactive, server, dt.datetime.now(dt.timezone.utc))


def idle_minutes(settings: Settings) -> dict[str, int]:
    """Profile id -> its idle timeout in whole minutes (at least 1), ``""`` for the
    default: what the hub home page tells a person about their running lab."""
    culling = settings.culling
    ids = ["", *(p.id for p in settings.profiles)]
    return {pid: max(1, round(policy(culling, pid or None)[0] / 60)) for pid in ids}


def service(settings: Settings) -> dict:
    """The hub-managed service entry (``c.JupyterHub.services``) of the culler."""
    culling = settings.culling
    return {
        "name": SERVICE_NAME,
        "command": [
            sys.executable, "-m", "hub.culling",
            f"--timeout={culling.idle_timeout}",
            f"--cull-every={culling.every}",
            f"--cull-named-servers={culling.named_servers}",
            "--cull-users=False",
        ],
        "environment": {"DATALAB_CONFIG": str(config_path())},
    }


def role() -> dict:
    """The culler's least-privilege role."""
    return {
        "name": ROLE_NAME,
        "description": "Stop idle labs (jupyterhub-idle-culler)",
        "scopes": SCOPES,
        "services": [SERVICE_NAME],
    }


def lab_args() -> list[str]:
    """Arguments of a local lab that make a busy kernel count as activity."""
    return [f"--ServerApp.jpserver_extensions={LAB_EXTENSION}=True"]


def main() -> None:
    """``python -m hub.culling [jupyterhub-idle-culler options]``. Stops at once on
    SIGINT or SIGTERM (the hub stops its services with SIGINT, then SIGTERM 30 s later;
    a process started with SIGINT ignored, as shells do for background jobs, would
    otherwise keep every hub stop waiting those 30 s)."""
    from jupyterhub_idle_culler import IdleCuller
    from tornado.ioloop import IOLoop

    loop = IOLoop.current()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(sig, loop.stop)
    IdleCuller.launch_instance(cull_arbiter_hook=arbiter)


if __name__ == "__main__":
    main()
