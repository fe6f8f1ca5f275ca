"""The docker section of the deployment file, DATALAB_BACKEND, and the library link
the containers make at start."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from hub.settings import backend_from_env
from hub.backends.docker.lab import library_link_program
from hub.settings import Backend, ConfigError, parse

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def error_of(**changes) -> str:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    with pytest.raises(ConfigError) as error:
        parse(data, REPO)
    return str(error.value)


def test_example_declares_the_docker_defaults():
    settings = parse(copy.deepcopy(EXAMPLE), REPO)
    assert settings.docker.network == "datalab-labs"
    assert settings.docker.gateway == "172.31.240.1"
    assert settings.docker.image is None and settings.docker.name_prefix == "datalab-"


def test_docker_errors_name_their_key():
    assert "docker.api_thread: unknown key; allowed here: image, network, subnet, " \
           "name_prefix, api_threads" in error_of(docker={"api_thread": 4})
    assert "docker.subnet: 10.1.0.0/29 holds too few addresses; use a /28 or larger" in \
        error_of(docker={"subnet": "10.1.0.0/29"})
    assert "docker.name_prefix:" in error_of(docker={"name_prefix": "Datalab"})


def test_datalab_backend_overrides_the_file(monkeypatch):
    settings = parse(copy.deepcopy(EXAMPLE), REPO)
    monkeypatch.setenv("DATALAB_BACKEND", "docker")
    assert backend_from_env(settings).spawner.backend is Backend.docker
    monkeypatch.setenv("DATALAB_BACKEND", "kubernetes")
    with pytest.raises(ConfigError, match="DATALAB_BACKEND: 'kubernetes' is not a backend; "
                                          "allowed: local, docker, slurm"):
        backend_from_env(settings)
    monkeypatch.delenv("DATALAB_BACKEND")
    assert backend_from_env(settings).spawner.backend is Backend.local


def _run_link_program(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(home))
    exec(library_link_program(), {})


def test_library_link_points_at_the_current_version(tmp_path, monkeypatch):
    _run_link_program(tmp_path, monkeypatch)
    assert os.readlink(tmp_path / "bibliotheque") == "/srv/datalab/library/current"
    _run_link_program(tmp_path, monkeypatch)  # a second start keeps the link
    assert os.readlink(tmp_path / "bibliotheque") == "/srv/datalab/library/current"


def test_library_link_replaces_an_old_mount_point_but_not_a_persons_folder(tmp_path, monkeypatch):
    (tmp_path / "bibliotheque").mkdir()  # the empty mount point of the older layout
    _run_link_program(tmp_path, monkeypatch)
    assert (tmp_path / "bibliotheque").is_symlink()
    (tmp_path / "bibliotheque").unlink()
    (tmp_path / "bibliotheque").mkdir()
    (tmp_path / "bibliotheque" / "mes-notes.ipynb").write_text("{}")
    _run_link_program(tmp_path, monkeypatch)
    assert not (tmp_path / "bibliotheque").is_symlink()
    assert (tmp_path / "bibliotheque" / "mes-notes.ipynb").read_text() == "{}"
