"""The ``local`` backend: labs, dashboards and report runs as processes of the person's
Unix account on the hub's machine (:func:`.policy.execution`)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from ... import storage
from ...settings import Backend, Settings
from .. import netfilter
from ..protocol import ExecutionBackend
from . import firewall
from .policy import check_reachable, isolated, prepare_project_space

log = logging.getLogger("datalab")


class LocalBackend(ExecutionBackend):
    serves_dashboards = True

    def prepare_host(self, settings: Settings) -> dict[str, str]:
        """As root, the paths labs need must be reachable by per-user accounts
        (``ConfigError`` otherwise) and health-data partners' members get no egress
        (:mod:`.firewall`); without root, warn that isolation is off. Project
        spaces exist from the start, an ended project's space read-only even before any
        member starts a lab."""
        reachable = {
            "storage.data_dir": settings.data_dir,
            "the Python environment": Path(sys.prefix),
            "the Python interpreter": Path(os.path.realpath(sys.executable)).parent,
        }
        for key, path in reachable.items():
            check_reachable(path, key + ": labs run as per-user accounts, which cannot traverse {blocked} "
                                  "(mode {mode}) to reach {path}; move it or allow o+x on that directory")
        if isolated() and netfilter.available():
            firewall.apply(settings)
        if not isolated():
            log.warning(
                "DataLab Hub is not running as root: every lab runs as %s and isolation "
                "between users (homes, partner spaces, library) is OFF",
                os.environ.get("USER", "the hub's user"),
            )
        if settings.spawner.backend is Backend.local:
            layout = storage.Layout(settings.data_dir)
            for project in settings.projects:
                prepare_project_space(layout, project)
        return {}

    def confines_network(self, settings: Settings) -> bool:
        """Processes of health-data partners' members have no route off this machine
        when the hub manages the host's firewall (:mod:`.firewall`: root, iptables)."""
        return isolated() and netfilter.available()

    def spawner_class(self) -> type:
        from .lab import LocalSpawner

        return LocalSpawner

    def report_runner(self, settings: Settings):
        from .report import LocalRunner

        return LocalRunner(settings)

    def dashboard_runner(self, settings: Settings, kernelspec_dir):
        from .dashboard import LocalRunner

        return LocalRunner(settings, kernelspec_dir)


BACKEND = LocalBackend()
