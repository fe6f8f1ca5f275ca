"""The ``docker`` backend: labs, dashboards and report runs in containers of the lab image
(:func:`.policy.execution`). Its modules are imported at first use (docker-py,
DockerSpawner)."""

from __future__ import annotations

from ...settings import Settings
from ..protocol import ExecutionBackend


class DockerBackend(ExecutionBackend):
    serves_dashboards = True

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
