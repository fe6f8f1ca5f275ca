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
from urllib.parse import urlsplit

from . import culling, diskusage, library, metrics, oidc, partners, sharing, storage
from .messages import CATALOGUE
from .backends.protocol import dashboard_backends, report_backends
from .secretfiles import kept_secret
from .settings import Backend, ConfigError, Role, Settings, config_path

log = logging.getLogger("datalab")

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
CRYPT_KEY_ENV = "JUPYTERHUB_CRYPT_KEY"


def apply(c, settings: Settings) -> None:
    """Configure JupyterHub's config object ``c`` from ``settings``.

    Creates the data directory, publishes the library and prepares the project spaces
    as side effects. ``$DATALAB_BACKEND`` overrides ``spawner.backend`` (see
    :func:`backend_from_env`). Raises :class:`ConfigError` when the deployment cannot
    start (missing proxy, no library version, ...).
    """
    settings = backend_from_env(settings)
    layout = storage.Layout(settings.data_dir)
    layout.create()
    publish_library(settings)
    apply_hub(c, settings, layout)
    apply_proxy(c, settings)
    apply_pages(c, settings)
    apply_auth(c, settings, layout)
    apply_partners(c, settings)
    apply_spawner(c, settings)
    apply_projects(settings)
    apply_sharing(c, settings)
    apply_collaboration(c, settings)
    apply_library(c, settings)
    apply_reports(c, settings)
    apply_dashboards(c, settings)
    apply_culling(c, settings)
    apply_metrics(c, settings, layout)
    apply_disk_usage(c, settings)
    apply_audit(c, settings)


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


def public_port(settings: Settings) -> int:
    """The hub's public port: ``DATALAB_PORT``, else ``hub.port``. The hub API listens on
    port+1, the proxy API on port+2, the reports service on port+4 (unless
    ``reports.port``), all on 127.0.0.1."""
    return int(os.environ.get("DATALAB_PORT") or settings.hub.port)


def apply_hub(c, settings: Settings, layout: storage.Layout) -> None:
    """Where the hub listens, its database, its kept secrets, the proxy command."""
    port = public_port(settings)
    c.JupyterHub.bind_url = f"http://{settings.hub.ip}:{port}{settings.hub.base_url}"
    c.JupyterHub.db_url = settings.database_url
    c.JupyterHub.cookie_secret_file = str(layout.hub / "cookie_secret")
    c.JupyterHub.pid_file = str(layout.hub / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.auth_token = kept_secret(layout.hub / "proxy_token")
    c.ConfigurableHTTPProxy.pid_file = str(layout.hub / "proxy.pid")
    c.ConfigurableHTTPProxy.command = [_proxy_command()]
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 1}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"


def apply_proxy(c, settings: Settings) -> None:
    """With ``proxy.managed: false`` the proxy runs apart (its own service, same address,
    API and token as when the hub starts it): the hub neither starts nor stops it, and
    leaves labs running when it stops, so that a restart cuts nobody off."""
    if settings.proxy.managed:
        return
    c.ConfigurableHTTPProxy.should_start = False
    c.JupyterHub.cleanup_servers = False


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
        "login_providers": oidc.provider_buttons(settings),
    }


def apply_auth(c, settings: Settings, layout: storage.Layout) -> None:
    """The login: an OpenID Connect provider (``auth.type: oidc``, see :mod:`hub.oidc`),
    or the demo shared password for the declared demo users."""
    if settings.auth.type == "oidc":
        apply_auth_state(c, layout)
        oidc.apply(c, settings)
        return
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


def apply_auth_state(c, layout: storage.Layout) -> None:
    """Encrypt ``auth_state`` (the provider's tokens) with the keys of
    ``JUPYTERHUB_CRYPT_KEY`` when set, else of ``<data_dir>/hub/crypt_key`` (one key per
    line, generated once; the first encrypts, all decrypt: rotate by adding a new first
    line, keep the old one until everyone has logged in or been refreshed)."""
    if os.environ.get(CRYPT_KEY_ENV):
        return
    path = layout.hub / "crypt_key"
    kept_secret(path, hex=True)
    c.CryptKeeper.keys = path.read_text(encoding="ascii").split()


def apply_partners(c, settings: Settings) -> None:
    """Partner and role groups, and the least-privilege roles bound to them. With OIDC
    the authenticator manages memberships and creates the groups (see :mod:`hub.oidc`)."""
    if settings.auth.type != "oidc":
        c.JupyterHub.load_groups = partners.load_groups(settings)
    c.JupyterHub.load_roles = partners.load_roles()
    c.JupyterHub.default_url = partners.landing_url


def apply_spawner(c, settings: Settings) -> None:
    """The spawner class of the configured backend and its common settings."""
    backends = settings.backends()
    if Backend.docker in backends:
        apply_docker(c, settings)
    if Backend.local in backends:
        apply_local(c, settings)
    c.JupyterHub.spawner_class = spawner_class(settings)
    c.Spawner.datalab_settings = settings
    c.Spawner.default_url = settings.spawner.default_url
    c.Spawner.start_timeout = settings.spawner.start_timeout
    c.Spawner.http_timeout = settings.spawner.http_timeout
    # A lab has no terminal to confirm a shutdown: the hub's SIGINT means stop now.
    c.Spawner.args = _extended(c.Spawner, "args", ["--ServerApp.answer_yes=True"])


def spawner_class(settings: Settings) -> type:
    """The backend's spawner class when every profile runs on one backend, else the
    dispatcher that picks each server's backend from its profile."""
    from .backends import dispatch

    backends = settings.backends()
    if len(backends) == 1:
        return dispatch.backend_class(backends.pop())
    return dispatch.ProfileSpawner


def apply_local(c, settings: Settings) -> None:
    """Labs as processes of per-user Unix accounts; their paths must be reachable."""
    from .backends.local import policy as local

    if local.isolated():
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
    else:
        log.warning(
            "DataLab Hub is not running as root: every lab runs as %s and isolation "
            "between users (homes, partner spaces, library) is OFF",
            os.environ.get("USER", "the hub's user"),
        )


def apply_docker(c, settings: Settings) -> None:
    """Labs in containers (:mod:`hub.backends.docker`): the image must exist; the internal
    network is created when missing; the hub's API moves from 127.0.0.1 to the network's
    gateway address (same port) so that containers reach it; labs outlive the hub.
    Raises :class:`ConfigError` (engine not answering, image missing, network mismatch)."""
    from .backends.docker import lab as backend

    client = backend.engine()
    image = backend.image_of(settings)
    backend.check_image(client, image)
    gateway, bridge = backend.ensure_network(client, settings.docker.network, str(settings.docker.subnet))
    if not backend.drop_forwarding(bridge):
        log.warning(
            "DataLab Hub cannot manage iptables (not root): make the host drop forwarded "
            "packets from %s (iptables -I FORWARD -i %s ! -o %s -j DROP), or labs may "
            "send traffic off this machine", bridge, bridge, bridge,
        )
    api_port = urlsplit(c.JupyterHub.hub_bind_url).port
    c.JupyterHub.hub_bind_url = f"http://{gateway}:{api_port}"
    c.JupyterHub.hub_connect_url = f"http://{gateway}:{api_port}"
    c.JupyterHub.cleanup_servers = False
    c.DockerSpawner.image = image
    c.DockerSpawner.pull_policy = "never"
    c.DockerSpawner.network_name = settings.docker.network
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.remove = True


def backend_from_env(settings: Settings) -> Settings:
    """``settings`` with ``spawner.backend`` replaced by ``$DATALAB_BACKEND`` when set
    (local, docker or slurm); ``ConfigError`` for another value."""
    value = os.environ.get("DATALAB_BACKEND")
    if not value:
        return settings
    try:
        backend = Backend(value)
    except ValueError:
        allowed = ", ".join(b.value for b in Backend)
        raise ConfigError(f"DATALAB_BACKEND: {value!r} is not a backend; allowed: {allowed}") from None
    return settings.model_copy(
        update={"spawner": settings.spawner.model_copy(update={"backend": backend})}
    )


def _extended(section, key: str, values: list) -> list:
    """The list traitlet ``section.key`` set so far (empty when unset) plus ``values``."""
    return [*(section[key] if key in section else []), *values]


def apply_projects(settings: Settings) -> None:
    """Project spaces exist from the start, and an ended project's space is read-only
    even before any member starts a lab (local backend)."""
    if settings.spawner.backend is Backend.local:
        from .backends.local import policy as local

        layout = storage.Layout(settings.data_dir)
        for project in settings.projects:
            local.prepare_project_space(layout, project)


def apply_sharing(c, settings: Settings) -> None:
    """Sharing a lab: the ``datalab-sharing`` role (partners allowed to share), the
    French page /hub/partage, and labs that check every request with the hub."""
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", sharing.load_roles(settings))
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", sharing.handlers(settings))
    c.Spawner.args = _extended(c.Spawner, "args", sharing.LAB_ARGS)


def apply_collaboration(c, settings: Settings) -> None:
    """Real-time collaboration (jupyter-collaboration, installed with the lab): switched
    off in the lab unless ``collaboration.enabled``."""
    if not settings.collaboration.enabled:
        c.Spawner.args = _extended(c.Spawner, "args", ["--YDocExtension.disable_rtc=True"])


def apply_library(c, settings: Settings) -> None:
    """With ``library.follow_minutes``, a hub-managed service publishes the tip of
    ``library.ref`` on that schedule (``datalab library follow``); it starts and stops
    with the hub."""
    if settings.library.follow_minutes <= 0:
        return
    command = [
        str(Path(sys.prefix) / "bin" / "datalab"), "--config", str(config_path()), "library", "follow",
    ]
    c.JupyterHub.services = _extended(
        c.JupyterHub, "services", [{"name": "datalab-library", "command": command, "cwd": str(REPO)}]
    )


REPORTS_SERVICE = "reports"


def _has_runner(settings: Settings, service: str, backends: set[Backend]) -> bool:
    """True when the deployment's backend is one ``service`` can run code on; otherwise
    the hub starts without that service and says so in its log."""
    if settings.spawner.backend in backends:
        return True
    log.warning(
        "%s: no runner for the %s backend yet (runners: %s): the service is not started",
        service, settings.spawner.backend.value, ", ".join(sorted(b.value for b in backends)),
    )
    return False


def apply_reports(c, settings: Settings) -> None:
    """The reports service (hub-managed, on 127.0.0.1), its least-privilege role (read
    users' names and groups, to run a schedule as its owner) and who may open it (every
    DataLab role). It runs as the hub's user: as root, so that runs can become their
    owner's account (the runs drop that privilege)."""
    if not (settings.reports.enabled and _has_runner(settings, "reports", set(report_backends()))):
        return
    port = settings.reports.port or public_port(settings) + 4
    from .backends.local import policy as local

    if local.isolated():
        blocked = _unreachable_module("hub.services.reports.execute")
        if blocked:
            raise ConfigError(
                f"reports: report runs execute as per-user accounts, which cannot traverse {blocked} "
                "to reach DataLab Hub's code; move it or allow o+x on that directory"
            )
    c.JupyterHub.services = [
        *c.JupyterHub.get("services", []),
        {
            "name": REPORTS_SERVICE,
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "hub.services.reports"],
            "environment": {
                "DATALAB_CONFIG": str(config_path().absolute()),
                "DATALAB_PORT": str(public_port(settings)),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                **{key: os.environ[key] for key in ("SLURM_CONF",) if key in os.environ},
            },
            "oauth_no_confirm": True,
            "info": {"display_name": CATALOGUE[settings.hub.language]["service_reports"]},
        },
    ]
    c.JupyterHub.load_roles = [
        *c.JupyterHub.get("load_roles", []),
        {
            "name": "datalab-reports-service",
            "description": "The reports service: who owns a schedule and their groups",
            "scopes": ["read:users:name", "read:users:groups"],
            "services": [REPORTS_SERVICE],
        },
        {
            "name": "datalab-reports-user",
            "description": "Open the reports service (what one sees there depends on audiences)",
            "scopes": [f"access:services!service={REPORTS_SERVICE}"],
            "groups": [partners.role_group(role) for role in Role],
        },
    ]


def _unreachable_module(name: str) -> Path | None:
    """The first directory other accounts cannot traverse on the way to module ``name``."""
    import importlib.util

    from .backends.local import policy as local

    return local.unreachable_by_others(Path(importlib.util.find_spec(name).origin).parent)


def apply_dashboards(c, settings: Settings) -> None:
    """The dashboards service (``hub/services/dashboards``), managed by the hub on
    127.0.0.1, port = hub port + 3. It runs as the hub's user (root when the hub is: it
    starts each dashboard's server as its author, see its runners), reads the same
    deployment file, and may only read users' names and groups; every DataLab role may
    open it."""
    if not (settings.dashboards.enabled and _has_runner(settings, "dashboards", set(dashboard_backends()))):
        return
    from .services.dashboards import SERVICE_NAME

    port = public_port(settings) + 3
    c.JupyterHub.services = _extended(c.JupyterHub, "services", [
        {
            "name": SERVICE_NAME,
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "hub.services.dashboards"],
            "cwd": str(REPO),
            "environment": {"DATALAB_CONFIG": str(config_path())},
            "oauth_no_confirm": True,
            "oauth_client_allowed_scopes": ["read:users:groups!user"],
            "display": True,
        }
    ])
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", [
        {
            "name": f"datalab-{SERVICE_NAME}-service",
            "description": "The dashboards service: read users' names and groups",
            "scopes": ["read:users:name", "read:users:groups"],
            "services": [SERVICE_NAME],
        },
        partners.service_access_role(SERVICE_NAME),
    ])


def apply_culling(c, settings: Settings) -> None:
    """Idle labs stopped by jupyterhub-idle-culler (:mod:`hub.culling`), a hub-managed
    service with its least-privilege role; labs and the proxy report activity every
    ``culling.activity_interval`` seconds; local labs count busy kernels as activity."""
    if not settings.culling.enabled:
        return
    interval = settings.culling.activity_interval
    c.JupyterHub.last_activity_interval = interval
    c.Spawner.environment = {
        **(c.Spawner["environment"] if "environment" in c.Spawner else {}),
        "JUPYTERHUB_ACTIVITY_INTERVAL": str(interval),
    }
    if settings.culling.spare_busy_kernels:
        c.LocalSpawner.extra_lab_args = culling.lab_args()
    c.JupyterHub.template_vars = {
        **c.JupyterHub.template_vars, "culling_idle_minutes": culling.idle_minutes(settings),
    }
    service = {**culling.service(settings), "cwd": str(REPO)}
    c.JupyterHub.services = _extended(c.JupyterHub, "services", [service])
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", [culling.role()])


def apply_metrics(c, settings: Settings, layout: storage.Layout) -> None:
    """Prometheus metrics (:mod:`hub.metrics`): ``/hub/metrics`` and the services'
    ``/metrics`` answer the token of the ``metrics`` service (kept in
    ``<data_dir>/hub/metrics_token``, scope ``read:metrics`` only); DataLab's own metrics
    are registered in the hub process."""
    c.JupyterHub.authenticate_prometheus = True
    token = kept_secret(layout.hub / metrics.TOKEN_FILE)
    c.JupyterHub.services = _extended(c.JupyterHub, "services", [
        {"name": metrics.SERVICE_NAME, "api_token": token},
    ])
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", [
        {
            "name": metrics.ROLE_NAME,
            "description": "Read the Prometheus metrics of the hub and its services",
            "scopes": [metrics.SCOPE],
            "services": [metrics.SERVICE_NAME],
        },
    ])
    metrics.register_hub_collectors(settings)
    c.EventLogger.handlers = _extended(c.EventLogger, "handlers", [metrics.SpawnRecorder(settings)])


def apply_disk_usage(c, settings: Settings) -> None:
    """The disk usage page ``/hub/espace`` (:mod:`hub.diskusage`) and its menu entry."""
    if not settings.disk_usage.enabled:
        return
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", diskusage.handlers(settings))
    c.JupyterHub.template_vars = {**c.JupyterHub.template_vars, "space_page": True}


def apply_audit(c, settings: Settings) -> None:
    """The audit trail (:mod:`hub.audit`, :mod:`hub.audit_hooks`): the hub's writer in
    ``<data_dir>/audit/``, the audited spawner and authenticator classes, the request log
    function, and token-like values masked in the hub's own log. Runs last: it wraps the classes the other functions chose."""
    from importlib.metadata import entry_points

    from . import audit, audit_hooks

    audit.configure(settings.data_dir, "hub", settings.audit.retention_days)
    authenticator = c.JupyterHub.authenticator_class
    if isinstance(authenticator, str):
        (entry,) = entry_points(group="jupyterhub.authenticators", name=authenticator)
        authenticator = entry.load()
    audit_hooks.apply(c, c.JupyterHub.spawner_class, authenticator)
    c.JupyterHub.logging_config = {
        "filters": {"datalab-scrub": {"()": "hub.audit.LogScrubFilter"}},
        "handlers": {"console": {"filters": ["datalab-scrub"]}},
    }
