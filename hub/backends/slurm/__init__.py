"""The ``slurm`` backend: labs and report runs as batch jobs on Austral, under the
person's cluster login (:func:`.policy.execution`); no dashboards."""

from __future__ import annotations

from importlib import import_module
from ipaddress import IPv6Address, ip_address
from urllib.parse import urlsplit

from ...apigate import listen_for_labs
from ...settings import Profile, Settings
from ..protocol import ExecutionBackend, Texts
from .policy import FIELDS, fields_html, options_from_form, validate_request


def _host(address) -> str:
    """An IP address as a URL's host (IPv6 in brackets)."""
    return f"[{address}]" if isinstance(ip_address(str(address)), IPv6Address) else str(address)


class SlurmBackend(ExecutionBackend):
    """A slurm profile's resources come from the spawn form, within the person's
    entitlements (:func:`.policy.validate_request`)."""

    def configure(self, c, settings: Settings, facts: dict[str, str]) -> None:
        """Labs outlive the hub whatever the proxy setting (``cleanup_servers`` off: a
        hub that stops or restarts never scancels a job; the next one reattaches them).
        The API handler where a starting lab reports its port (``/hub/api/batchspawner``,
        :mod:`.api`) is registered before JupyterHub builds its handlers, even when the
        dispatcher creates the Slurm spawner only at a lab's start. With
        ``slurm.hub_address``, the hub's API, and only it, answers at that address (same
        port, :mod:`hub.apigate`), where labs on the compute nodes reach it. With ``slurm.transport: rest``, the JWT key file is
        checked here, so that a hub with an unusable or exposed key does not start."""
        c.JupyterHub.cleanup_servers = False
        import_module(f"{__name__}.api").register()
        if settings.slurm.hub_address is not None:
            api = f"http://{_host(settings.slurm.hub_address)}:{urlsplit(c.JupyterHub.hub_bind_url).port}"
            listen_for_labs(c, api)
            c.SlurmSpawner.hub_connect_url = api
        if settings.slurm.transport == "rest":
            from .transport import jwt_key

            jwt_key(settings.path(settings.slurm.rest.jwt_key_file))

    def confines_network(self, settings: Settings) -> bool:
        """The hub cannot filter the nodes' traffic: only the deployment file can say that
        the cluster confines health-data jobs (``slurm.confines_health_data``, see
        docs/austral-health-data.md)."""
        return settings.slurm.confines_health_data

    def spawner_class(self) -> type:
        from .lab import SlurmSpawner

        return SlurmSpawner

    def report_runner(self, settings: Settings):
        from .report import SlurmRunner

        return SlurmRunner(settings)

    def option_keys(self, settings: Settings, profile: Profile) -> set[str]:
        return set(FIELDS)

    def fields_html(self, settings: Settings, partner_ids: set[str], profile: Profile, t: Texts) -> str:
        entitlements = settings.slurm.entitlements_of(partner_ids)
        return fields_html(settings, entitlements, profile, t) if entitlements else ""

    def options_from_form(self, profile: Profile, formdata: dict[str, list[str]]) -> dict[str, str]:
        return options_from_form(profile, formdata)

    def validate_options(self, settings: Settings, partner_ids: set[str], options: dict, t: Texts):
        return validate_request(options, settings.slurm.entitlements_of(partner_ids), t)


BACKEND = SlurmBackend()
