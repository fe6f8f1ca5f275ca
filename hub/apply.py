"""Settings -> JupyterHub configuration, one small function per concern.

``apply(c, settings, host)`` is what ``jupyterhub_config.py`` calls after
:func:`hub.startup.prepare` made what must exist on this machine (``host``: its secrets
and facts). Each function reads the validated settings and sets traitlets; none holds
policy of its own (that lives in :mod:`hub.partners` and :mod:`hub.backends`) and none
changes anything outside ``c``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from functools import partial
from pathlib import Path

from . import culling, diskusage, metrics, oidc, partners, sharing
from .airlock import handlers as airlock
from .backends.protocol import backend, dashboard_backends, report_backends
from . import lifeline
from .groups import role_group
from .messages import ADMIN_PAGE, CATALOGUE, hub_error
from .settings import Backend, ConfigError, Role, Settings, config_path
from .startup import COOKIE_SECRET, Host, prepare

log = logging.getLogger("datalab")

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


def configure(c, settings: Settings) -> None:
    """What ``jupyterhub_config.py`` does with the deployment: :func:`hub.startup.prepare`
    then :func:`apply`."""
    apply(c, settings, prepare(settings))


def apply(c, settings: Settings, host: Host) -> None:
    """Configure JupyterHub's config object ``c`` from ``settings`` and what start-up
    made (``host``, see :func:`hub.startup.prepare`). Raises :class:`ConfigError` when
    the deployment cannot start (missing proxy).
    """
    apply_hub(c, settings, host)
    apply_proxy(c, settings)
    apply_pages(c, settings)
    apply_auth(c, settings, host)
    apply_partners(c, settings)
    apply_spawner(c, settings, host)
    apply_sharing(c, settings)
    apply_airlock(c, settings)
    apply_collaboration(c, settings)
    apply_library(c, settings)
    apply_reports(c, settings)
    apply_dashboards(c, settings)
    apply_culling(c, settings)
    apply_metrics(c, settings, host)
    apply_disk_usage(c, settings)
    apply_audit(c, settings)


def config_files(settings: Settings) -> list[Path]:
    """The escape hatch: the ``*.py`` files of ``hub.config_dir``, in name order, that
    ``jupyterhub_config.py`` loads (``load_subconfig``) after :func:`apply`; a key they set
    replaces DataLab's value. Empty when the folder is unset or absent."""
    if settings.hub.config_dir is None:
        return []
    directory = settings.path(settings.hub.config_dir)
    return sorted(directory.glob("*.py")) if directory.is_dir() else []


def bind_services_to_hub(c, hub_pid: int) -> None:
    """Every hub-managed service with a command (the culler, reports, dashboards, the
    library follower, and those of ``hub.config_dir``) runs through
    :mod:`hub.lifeline`: it gets SIGTERM when the hub ``hub_pid`` ends, however
    it ends (SIGKILL included). ``jupyterhub_config.py`` calls it last, with the hub's own
    pid (JupyterHub loads its configuration in its own process)."""
    c.JupyterHub.services = [
        {**s, "command": lifeline.command(hub_pid, list(s["command"]))} if s.get("command") else s
        for s in c.JupyterHub.get("services", [])
    ]


def public_port(settings: Settings) -> int:
    """The hub's public port: ``DATALAB_PORT``, else ``hub.port``. The hub API listens on
    port+1, the proxy API on port+2, the reports service on port+4 (unless
    ``reports.port``), all on 127.0.0.1."""
    return int(os.environ.get("DATALAB_PORT") or settings.hub.port)


def apply_hub(c, settings: Settings, host: Host) -> None:
    """Where the hub listens, its database, its kept secrets, the proxy's API."""
    layout = host.layout
    port = public_port(settings)
    c.JupyterHub.bind_url = f"http://{settings.hub.ip}:{port}{settings.hub.base_url}"
    c.JupyterHub.db_url = settings.database_url
    c.JupyterHub.cookie_secret_file = str(layout.hub / COOKIE_SECRET)
    c.JupyterHub.pid_file = str(layout.hub / "jupyterhub.pid")
    c.ConfigurableHTTPProxy.auth_token = host.proxy_token
    c.ConfigurableHTTPProxy.pid_file = str(layout.hub / "proxy.pid")
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 1}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"


#: Seconds between two looks of the hub at the process of the proxy it manages.
MANAGED_PROXY_CHECK = 1


def apply_proxy(c, settings: Settings) -> None:
    """With ``proxy.managed: false`` the proxy runs apart (its own service, same address,
    API and token as when the hub starts it): the hub neither starts nor stops it, and
    leaves labs running when it stops, so that a restart cuts nobody off; when the proxy
    restarts, the hub restores its routes within a second or two
    (:class:`~hub.routecheck.RouteCheckingProxy`, whose marker route leads to the hub's
    API); the hub needs no proxy command then. A proxy the hub manages is the repository's
    (``node_modules``, else ``configurable-http-proxy`` on ``PATH``), looked at every
    :data:`MANAGED_PROXY_CHECK` seconds (JupyterHub: 5): when it ended, the hub starts it
    again with every route (measured with a SIGKILL: labs unreachable 4.7 s with 5 s,
    docs/faults.md)."""
    if settings.proxy.managed:
        c.ConfigurableHTTPProxy.command = [_proxy_command()]
        c.ConfigurableHTTPProxy.check_running_interval = MANAGED_PROXY_CHECK
        return
    from .routecheck import MARKER, RouteCheckingProxy

    c.JupyterHub.proxy_class = RouteCheckingProxy
    c.ConfigurableHTTPProxy.should_start = False
    c.JupyterHub.cleanup_servers = False
    c.Proxy.extra_routes = {MARKER: f"http://127.0.0.1:{public_port(settings) + 1}"}


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
        # JupyterHub calls a callable template variable with the page's user: this one
        # gives the pages their error sentence function
        "hub_error": lambda _user: partial(hub_error, settings.hub.language),
        "admin_page": ADMIN_PAGE.get(settings.hub.language),
        "demo_notice": settings.auth.type == "demo",
        "login_providers": oidc.provider_buttons(settings),
        # the admin page offers no lab start for people whose roles include none
        "lab_role_groups": [role_group(r) for r in Role if r not in partners.ROLES_WITHOUT_LAB],
        "no_lab_role_groups": [role_group(r) for r in sorted(partners.ROLES_WITHOUT_LAB)],
    }


def apply_auth(c, settings: Settings, host: Host) -> None:
    """The login: an OpenID Connect provider (``auth.type: oidc``, see :mod:`hub.oidc`),
    or the demo shared password for the declared demo users. With OIDC, ``auth_state``
    (the provider's tokens) is encrypted with the keys of ``JUPYTERHUB_CRYPT_KEY`` when
    set, else with the kept keys (see :func:`hub.startup.prepare`)."""
    if settings.auth.type == "oidc":
        if host.crypt_keys is not None:
            c.CryptKeeper.keys = host.crypt_keys
        oidc.apply(c, settings)
        return
    password = host.demo_password
    names = [u.name for u in settings.auth.demo_users]
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
    c.Authenticator.allowed_users = set(names)
    print(
        f"DataLab Hub demo login: users {', '.join(names)}; password: {password}",
        file=sys.stderr,
    )


def apply_partners(c, settings: Settings) -> None:
    """Partner and role groups, and the least-privilege roles bound to them. With OIDC
    the authenticator manages memberships and creates the groups (see :mod:`hub.oidc`)."""
    if settings.auth.type != "oidc":
        c.JupyterHub.load_groups = partners.load_groups(settings)
    c.JupyterHub.load_roles = partners.load_roles()
    c.JupyterHub.default_url = partners.landing_url


def apply_spawner(c, settings: Settings, host: Host) -> None:
    """The spawner class of the configured backend, each backend's own configuration and
    the common settings."""
    for kind, facts in host.backends.items():
        backend(kind).configure(c, settings, facts)
    c.JupyterHub.spawner_class = spawner_class(settings)
    c.Spawner.datalab_settings = settings
    c.Spawner.default_url = settings.spawner.default_url
    c.Spawner.start_timeout = settings.spawner.start_timeout
    c.Spawner.http_timeout = settings.spawner.http_timeout
    c.JupyterHub.concurrent_spawn_limit = settings.spawner.concurrent_spawn_limit
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


def _extended(section, key: str, values: list) -> list:
    """The list traitlet ``section.key`` set so far (empty when unset) plus ``values``."""
    return [*(section[key] if key in section else []), *values]


def apply_sharing(c, settings: Settings) -> None:
    """Sharing a lab: the ``datalab-sharing`` role (partners allowed to share), the
    French page /hub/partage, labs that check every request with the hub, and the share
    API confined to health spaces (handlers served by the authenticator, see
    :func:`hub.sharing.confined_authenticator`)."""
    c.JupyterHub.authenticator_class = sharing.confined_authenticator(_authenticator_class(c), settings)
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", sharing.load_roles(settings))
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", sharing.handlers(settings))
    c.Spawner.args = _extended(c.Spawner, "args", sharing.LAB_ARGS)


def apply_airlock(c, settings: Settings) -> None:
    """The airlock (:mod:`hub.airlock`): its custom scopes and the role granting them to
    every DataLab role, the page /hub/export (in the menu of health spaces' members) and
    the REST API /hub/api/airlock/."""
    c.JupyterHub.custom_scopes = {**(c.JupyterHub.custom_scopes if "custom_scopes" in c.JupyterHub else {}),
                                  **airlock.SCOPES}
    c.JupyterHub.load_roles = _extended(c.JupyterHub, "load_roles", airlock.load_roles())
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", airlock.handlers(settings))
    c.JupyterHub.template_vars = {**c.JupyterHub.template_vars, "airlock_nav": airlock.nav_shown(settings)}


def _authenticator_class(c) -> type:
    """The configured authenticator class (an entry point name resolved)."""
    from importlib.metadata import entry_points

    authenticator = c.JupyterHub.authenticator_class
    if isinstance(authenticator, str):
        (entry,) = entry_points(group="jupyterhub.authenticators", name=authenticator)
        authenticator = entry.load()
    return authenticator


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


def service_environment(settings: Settings) -> dict[str, str]:
    """What a hub-managed service needs to read the deployment as this hub applied it:
    the same file, and the hub's backend (however it was chosen: the file, or
    ``DATALAB_BACKEND``, which the hub does not pass on to its services by itself). The
    service reads both with :func:`hub.services.deployment`. ``DOCKER_HOST``, when the
    hub has it: the services' containers run on the hub's Docker engine."""
    return {
        "DATALAB_CONFIG": str(config_path()),
        "DATALAB_BACKEND": settings.spawner.backend.value,
        **{key: os.environ[key] for key in ("DOCKER_HOST",) if key in os.environ},
    }


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
    c.JupyterHub.services = [
        *c.JupyterHub.get("services", []),
        {
            "name": REPORTS_SERVICE,
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "hub.services.reports"],
            "environment": {
                **service_environment(settings),
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
            "groups": [role_group(role) for role in Role],
        },
    ]


def apply_dashboards(c, settings: Settings) -> None:
    """The dashboards service (``hub/services/dashboards``), managed by the hub on
    127.0.0.1, port = hub port + 3. It runs as the hub's user (root when the hub is: it
    starts each dashboard's server as its author, see its runners), reads the same
    deployment file, and may only read users' names and groups; every DataLab role may
    open it. The hub's page ``/hub/tableau/<id>`` (:mod:`hub.dashboard_page`) is where a
    dashboard is opened."""
    if not (settings.dashboards.enabled and _has_runner(settings, "dashboards", set(dashboard_backends()))):
        return
    from . import dashboard_page
    from .services.dashboards import SERVICE_NAME

    port = public_port(settings) + 3
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", dashboard_page.handlers(settings))
    c.JupyterHub.services = _extended(c.JupyterHub, "services", [
        {
            "name": SERVICE_NAME,
            "url": f"http://127.0.0.1:{port}",
            "command": [sys.executable, "-m", "hub.services.dashboards"],
            "cwd": str(REPO),
            "environment": service_environment(settings),
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


def apply_metrics(c, settings: Settings, host: Host) -> None:
    """Prometheus metrics (:mod:`hub.metrics`): ``/hub/metrics`` and the services'
    ``/metrics`` answer the token of the ``metrics`` service (kept in
    ``<data_dir>/hub/metrics_token``, scope ``read:metrics`` only)."""
    c.JupyterHub.authenticate_prometheus = True
    token = host.metrics_token
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
    c.EventLogger.handlers = _extended(c.EventLogger, "handlers", [metrics.SpawnRecorder(settings)])


def apply_disk_usage(c, settings: Settings) -> None:
    """The disk usage page ``/hub/espace`` (:mod:`hub.diskusage`) and its menu entry."""
    if not settings.disk_usage.enabled:
        return
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", diskusage.handlers(settings))
    c.JupyterHub.template_vars = {**c.JupyterHub.template_vars, "space_page": True}


def apply_audit(c, settings: Settings) -> None:
    """The audit trail (:mod:`hub.audit`, :mod:`hub.audit_hooks`; the hub's writer is
    made at start-up): the audited spawner and authenticator classes, the request log
    function, the page ``/hub/acces`` (who opened my lab), and token-like values masked
    in the hub's own log. Runs last: it wraps the
    classes the other functions chose."""
    from importlib.metadata import entry_points

    from . import audit_hooks

    authenticator = c.JupyterHub.authenticator_class
    if isinstance(authenticator, str):
        (entry,) = entry_points(group="jupyterhub.authenticators", name=authenticator)
        authenticator = entry.load()
    audit_hooks.apply(c, c.JupyterHub.spawner_class, authenticator)
    c.JupyterHub.extra_handlers = _extended(c.JupyterHub, "extra_handlers", audit_hooks.handlers(settings))
    c.JupyterHub.logging_config = {
        "filters": {"datalab-scrub": {"()": "hub.audit.LogScrubFilter"}},
        "handlers": {"console": {"filters": ["datalab-scrub"]}},
    }
