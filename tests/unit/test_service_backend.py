"""The hub's backend reaches its dashboards and reports services, however it was chosen
(``DATALAB_BACKEND=docker make run``: the environment variable, not the file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from hub import apply as hub_apply
from hub.services import deployment
from hub.settings import Backend, backend_from_env, load

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "datalab.example.yaml"
SERVICES = ("reports", "dashboards")


def hub_services() -> tuple[Backend, dict[str, dict]]:
    """What jupyterhub_config.py does (the backend from the environment over the file),
    then the services' entries."""
    settings = backend_from_env(load())
    c = Config()
    hub_apply.apply_reports(c, settings)
    hub_apply.apply_dashboards(c, settings)
    return settings.spawner.backend, {s["name"]: s for s in c.JupyterHub.services}


def service_view(monkeypatch, entry: dict) -> Backend:
    """The backend the service's process sees: JupyterHub gives a service only the
    environment of its entry (plus a few kept variables such as PATH), not the hub's."""
    for name in ("DATALAB_BACKEND", "DATALAB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in entry["environment"].items():
        monkeypatch.setenv(name, value)
    return deployment().spawner.backend


@pytest.mark.parametrize("chosen", ["docker", "local"])
def test_services_run_on_the_backend_chosen_through_the_environment(monkeypatch, chosen):
    monkeypatch.setenv("DATALAB_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("DATALAB_PORT", "18200")
    monkeypatch.setenv("DATALAB_BACKEND", chosen)
    hub_backend, services = hub_services()
    assert hub_backend is Backend(chosen)
    for name in SERVICES:
        assert services[name]["environment"]["DATALAB_BACKEND"] == chosen
        assert service_view(monkeypatch, services[name]) is hub_backend, name


def test_services_run_on_the_file_backend_without_the_variable(monkeypatch):
    monkeypatch.setenv("DATALAB_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("DATALAB_PORT", "18200")
    monkeypatch.delenv("DATALAB_BACKEND", raising=False)
    hub_backend, services = hub_services()
    assert hub_backend is load(EXAMPLE).spawner.backend
    for name in SERVICES:
        assert service_view(monkeypatch, services[name]) is hub_backend, name
