"""The ``docker`` backend: labs, dashboards and report runs in containers of the lab image
(:func:`.policy.execution`). Its modules are imported at first use (docker-py,
DockerSpawner)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from ...settings import Settings
from ..protocol import ExecutionBackend

log = logging.getLogger("datalab")


class DockerBackend(ExecutionBackend):
    serves_dashboards = True

    def prepare_host(self, settings: Settings) -> dict[str, str]:
        """The lab image must exist; the labs' internal network is created when missing
        and the host filters what its containers may reach (:mod:`.firewall`). Returns
        ``{"gateway": <the network's gateway address>}``. ``ConfigError`` (engine not
        answering, image missing, network mismatch, firewall refused)."""
        from ...apply import public_port
        from .. import netfilter
        from . import firewall
        from .lab import check_image, engine, ensure_network, image_of

        client = engine()
        check_image(client, image_of(settings))
        gateway, bridge = ensure_network(client, settings.docker.network, str(settings.docker.subnet))
        if netfilter.available():
            firewall.apply(bridge, gateway, public_port(settings) + 1, settings.health.package_mirror)
        else:
            log.warning(
                "DataLab Hub cannot manage iptables (not root): labs of %s can reach each "
                "other and every port of this host, and health-data profiles are refused; "
                "see hub/backends/docker/firewall.py for the rules to add", bridge,
            )
        return {"gateway": gateway}

    def confines_network(self, settings: Settings) -> bool:
        """Containers have no route off the labs' network when the hub manages the
        host's firewall (:mod:`.firewall`: root, with iptables)."""
        from .. import netfilter

        return netfilter.available()

    def configure(self, c, settings: Settings, facts: dict[str, str]) -> None:
        """Containers reach the hub's API, and only it, at the labs' network gateway
        (same port, :mod:`hub.apigate`); labs outlive the hub; DockerSpawner's image and
        network."""
        from ...apigate import listen_for_labs
        from .lab import image_of

        api = f"http://{facts['gateway']}:{urlsplit(c.JupyterHub.hub_bind_url).port}"
        listen_for_labs(c, api)
        c.DockerSpawner.hub_connect_url = api
        c.JupyterHub.cleanup_servers = False
        c.DockerSpawner.image = image_of(settings)
        c.DockerSpawner.pull_policy = "never"
        c.DockerSpawner.network_name = settings.docker.network
        c.DockerSpawner.use_internal_ip = True
        c.DockerSpawner.remove = True

    def spawner_class(self) -> type:
        from .lab import DataLabDockerSpawner

        return DataLabDockerSpawner

    def report_runner(self, settings: Settings):
        from .report import DockerRunner

        return DockerRunner(settings)

    def dashboard_runner(self, settings: Settings, kernelspec_dir):
        from .dashboard import DockerRunner

        return DockerRunner(settings)


BACKEND = DockerBackend()
