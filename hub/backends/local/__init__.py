"""The ``local`` backend: labs, dashboards and report runs as processes of the person's
Unix account on the hub's machine (:func:`.policy.execution`)."""

from __future__ import annotations

from ...settings import Settings
from ..protocol import ExecutionBackend


class LocalBackend(ExecutionBackend):
    serves_dashboards = True

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
