"""What must exist before the hub serves, made once at start-up and idempotent: the data
directory's layout, the published library, the kept secrets, each backend's host
(:meth:`~hub.backends.protocol.ExecutionBackend.prepare_host`: the labs' Docker network
and its firewall chains, the local backend's health-data chain, the project spaces, the
checks that per-user accounts reach the code and data), the hub process's metrics
collectors and audit writer.

``prepare(settings)`` returns a :class:`Host`: what :func:`hub.apply.apply` needs of the
machine (secrets, the labs' network gateway), so that applying is data in,
configuration out. ``jupyterhub_config.py`` calls :func:`prepare` then ``apply``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import audit, library, metrics, storage
from .backends.local.policy import check_reachable
from .backends.protocol import backend
from .secretfiles import check_private, kept_secret
from .settings import Backend, ConfigError, Settings

log = logging.getLogger("datalab")

CRYPT_KEY_ENV = "JUPYTERHUB_CRYPT_KEY"
DEMO_PASSWORD_ENV = "DATALAB_DEMO_PASSWORD"
#: JupyterHub's cookie secret, in ``<data_dir>/hub/``.
COOKIE_SECRET = "cookie_secret"


@dataclass(frozen=True)
class Host:
    """What start-up made or found that the configuration uses: the directory layout, the
    kept secrets (``crypt_keys``: None when ``JUPYTERHUB_CRYPT_KEY`` is set or without
    OIDC; ``demo_password``: None with OIDC) and each backend's facts (docker:
    ``{"gateway": <address of the labs' network gateway>}``)."""

    layout: storage.Layout
    proxy_token: str
    metrics_token: str
    demo_password: str | None = None
    crypt_keys: list[str] | None = None
    backends: dict[Backend, dict[str, str]] = field(default_factory=dict)


def prepare(settings: Settings) -> Host:
    """Make everything the hub needs on this machine (see the module docstring); calling
    it again changes nothing already made. Raises :class:`ConfigError` when the
    deployment cannot start (no library version, Docker engine or image missing,
    unreachable paths...)."""
    layout = storage.Layout(settings.data_dir)
    layout.create()
    publish_library(settings)
    facts = {kind: backend(kind).prepare_host(settings) for kind in sorted(settings.backends(), key=lambda b: b.value)}
    if settings.reports.enabled:
        check_reachable(_module_dir("hub.services.reports.execute"),
                        "reports: report runs execute as per-user accounts, which cannot traverse {blocked} "
                        "to reach DataLab Hub's code; move it or allow o+x on that directory")
    metrics.register_hub_collectors(settings)
    audit.configure(settings.data_dir, "hub", settings.audit.retention_days)
    cookie_secret = layout.hub / COOKIE_SECRET
    if cookie_secret.exists():  # JupyterHub writes it at its first start, then reads it
        check_private(cookie_secret)
    return Host(
        layout=layout,
        proxy_token=kept_secret(layout.hub / "proxy_token"),
        metrics_token=kept_secret(layout.hub / metrics.TOKEN_FILE),
        demo_password=None if settings.auth.type == "oidc" else (
            os.environ.get(DEMO_PASSWORD_ENV) or kept_secret(layout.hub / "demo_password", nbytes=9)
        ),
        crypt_keys=_crypt_keys(layout) if settings.auth.type == "oidc" and not os.environ.get(CRYPT_KEY_ENV) else None,
        backends=facts,
    )


def publish_library(settings: Settings) -> None:
    """Publish the library's ``library.ref`` at start. When that fails but a version is
    already published (the repository is unreachable, say), the hub starts with it."""
    try:
        published = library.publish(settings)
        log.info("library: version %s (%s)", published.commit[:12], settings.library.ref)
    except library.LibraryError as e:
        kept = library.current(settings)
        if kept is None:
            raise ConfigError(f"storage.library_source: cannot publish the library: {e}") from None
        log.warning("library: %s; keeping version %s", e, kept[:12])


def _module_dir(name: str) -> Path:
    return Path(importlib.util.find_spec(name).origin).parent


def _crypt_keys(layout: storage.Layout) -> list[str]:
    """The keys encrypting ``auth_state``: ``<data_dir>/hub/crypt_key``, one per line,
    generated once; the first encrypts, all decrypt (rotate by adding a new first line,
    keep the old one until everyone has logged in or been refreshed)."""
    path = layout.hub / "crypt_key"
    kept_secret(path, hex=True)
    return path.read_text(encoding="ascii").split()
