"""The docker section of the deployment file, DATALAB_BACKEND, and the library mirror
the containers mount."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hub.apply import backend_from_env
from hub.backends.docker import mirror_library
from hub.settings import Backend, ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
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


def test_library_mirror_changes_in_place(tmp_path):
    source, target = tmp_path / "library", tmp_path / "mirror"
    (source / "data").mkdir(parents=True)
    (source / "a.ipynb").write_text("v1")
    (source / "data" / "old.csv").write_text("x")
    mirror_library(source, target)
    inode = target.stat().st_ino
    (source / "a.ipynb").write_text("v2")
    (source / "data" / "old.csv").unlink()
    (source / "new").mkdir()
    (source / "new" / "b.py").write_text("b")
    mirror_library(source, target)
    assert target.stat().st_ino == inode
    assert (target / "a.ipynb").read_text() == "v2"
    assert not (target / "data" / "old.csv").exists()
    assert (target / "new" / "b.py").read_text() == "b"
    assert oct((target / "new" / "b.py").stat().st_mode & 0o777) == "0o644"
