"""A restart of the Docker engine keeps the labs: every way this project starts or
configures dockerd turns live-restore on."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def test_the_development_engine_keeps_containers_across_its_restarts():
    script = (REPO / "scripts" / "dockerd.sh").read_text(encoding="utf-8")
    [command] = re.findall(r"setsid dockerd ([^\n]*)", script)
    assert "--live-restore" in command.split()


def test_the_ansible_engine_keeps_containers_across_its_restarts():
    defaults = yaml.safe_load((REPO / "ansible/roles/docker_host/defaults/main.yml").read_text(encoding="utf-8"))
    assert defaults["docker_host_daemon_config"]["live-restore"] is True


def test_a_container_left_under_a_labs_name_is_replaced_not_duplicated():
    from traitlets.config import Config

    from hub.backends.docker import BACKEND
    from hub.settings import parse

    settings = parse(yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8")), REPO)
    c = Config()
    c.JupyterHub.hub_bind_url = "http://127.0.0.1:8001"
    BACKEND.configure(c, settings, {"gateway": "10.1.0.1"})
    assert c.DockerSpawner.remove is True
    assert c.JupyterHub.cleanup_servers is False
