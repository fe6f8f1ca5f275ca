"""hub.service_restart: JupyterHub looks at its managed services' processes every few
seconds (and starts an ended one again), labs keep their own poll interval."""

from __future__ import annotations

from jupyterhub.services import service
from jupyterhub.spawner import LocalProcessSpawner
from traitlets.config import Config

from hub import service_restart


def test_services_are_checked_every_few_seconds_and_labs_as_configured():
    service_restart.install()
    service_restart.install()
    spawner = service._ServiceSpawner(cmd=["true"])
    assert spawner.poll_interval == service_restart.SERVICE_POLL
    assert isinstance(spawner, LocalProcessSpawner)
    assert service._ServiceSpawner.__mro__[1].__name__ == "_ServiceSpawner"  # installed once
    config = Config()
    config.Spawner.poll_interval = 45
    assert LocalProcessSpawner(config=config).poll_interval == 45
    assert LocalProcessSpawner().poll_interval == 30
