"""Settings -> JupyterHub configuration, one small function per concern.

``apply(c, settings)`` is all ``jupyterhub_config.py`` calls. Each function reads the
validated settings and sets traitlets; none holds policy of its own (that lives in
:mod:`hub.partners` and :mod:`hub.backends`).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from . import partners, storage
from .messages import CATALOGUE
from .secretfiles import kept_secret
from .settings import Backend, ConfigError, Settings

log = logging.getLogger("datalab")

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


def apply(c, settings: Settings) -> None:
    """Configure JupyterHub's config object ``c`` from ``settings``.

    Creates the data directory and publishes the library as a side effect.
    Raises :class:`ConfigError` when the deployment cannot start (missing proxy, ...).
    """
    layout = storage.Layout(settings.data_dir)
    layout.create()
    storage.publish_library(settings.path(settings.storage.library_source), layout.library)
    apply_hub(c, settings, layout)
    apply_pages(c, settings)
    apply_auth(c, settings, layout)
    apply_partners(c, settings)
    apply_spawner(c, settings)


def apply_hub(c, settings: Settings, layout: storage.Layout) -> None:
    """Where the hub listens, its database, its kept secrets, the proxy command."""
    port = int(os.environ.get("DATALAB_PORT") or settings.hub.port)
    c.JupyterHub.bind_url = f"http://{settings.hub.ip}:{port}{settings.hub.base_url}"
    c.JupyterHub.db_url = settings.hub.db_url or f"sqlite:///{layout.hub / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(layout.hub / "cookie_secret")
    c.JupyterHub.pid_file = str(layout.hub / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.auth_token = kept_secret(layout.hub / "proxy_token")
    c.ConfigurableHTTPProxy.pid_file = str(layout.hub / "proxy.pid")
    c.ConfigurableHTTPProxy.command = [_proxy_command()]
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 1}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"


def _proxy_command() -> str:
    local = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    found = shutil.which("configurable-http-proxy")
    if not found:
        raise ConfigError(
            "configurable-http-proxy not found: run `make install` (npm ci) first"
        )
    return found


def apply_pages(c, settings: Settings) -> None:
    """French (or English) page templates and texts."""
    c.JupyterHub.template_paths = [str(TEMPLATES)]
    c.JupyterHub.template_vars = {
        "t": CATALOGUE[settings.hub.language],
        "demo_notice": settings.auth.type == "demo",
    }


def apply_auth(c, settings: Settings, layout: storage.Layout) -> None:
    """The login: the demo shared password for the declared demo users."""
    password = os.environ.get("DATALAB_DEMO_PASSWORD") or kept_secret(
        layout.hub / "demo_password", nbytes=9
    )
    names = [u.name for u in settings.auth.demo_users]
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
    c.Authenticator.allowed_users = set(names)
    print(
        f"DataLab Hub demo login: users {', '.join(names)}; password: {password}",
        file=sys.stderr,
    )


def apply_partners(c, settings: Settings) -> None:
    """Partner and role groups, and the least-privilege roles bound to them."""
    c.JupyterHub.load_groups = partners.load_groups(settings)
    c.JupyterHub.load_roles = partners.load_roles()
    c.JupyterHub.default_url = partners.landing_url


def apply_spawner(c, settings: Settings) -> None:
    """The spawner class of the configured backend and its common settings."""
    if Backend.docker in settings.backends():
        raise ConfigError("spawner.backend: 'docker' is not available yet; allowed: local, slurm")
    from .backends import local

    c.JupyterHub.spawner_class = spawner_class(settings)
    runs_local = Backend.local in settings.backends()
    if runs_local and local.isolated():
        reachable = {
            "storage.data_dir": settings.data_dir,
            "the Python environment": Path(sys.prefix),
            "the Python interpreter": Path(os.path.realpath(sys.executable)).parent,
        }
        for key, path in reachable.items():
            blocked = local.unreachable_by_others(path)
            if blocked:
                raise ConfigError(
                    f"{key}: labs run as per-user accounts, which cannot traverse {blocked} "
                    f"(mode {blocked.stat().st_mode & 0o777:o}) to reach {path}; "
                    "move it or allow o+x on that directory"
                )
    elif runs_local:
        log.warning(
            "DataLab Hub is not running as root: every lab runs as %s and isolation "
            "between users (homes, partner spaces, library) is OFF",
            os.environ.get("USER", "the hub's user"),
        )
    c.Spawner.datalab_settings = settings
    c.Spawner.default_url = settings.spawner.default_url
    c.Spawner.start_timeout = settings.spawner.start_timeout
    c.Spawner.http_timeout = settings.spawner.http_timeout


def spawner_class(settings: Settings) -> type:
    """The backend's spawner class when every profile runs on one backend, else the
    dispatcher that picks each server's backend from its profile."""
    from .backends import dispatch

    backends = settings.backends()
    if len(backends) == 1:
        return dispatch.BACKEND_CLASSES[backends.pop()]
    return dispatch.ProfileSpawner
