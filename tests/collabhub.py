"""A hub for the collaboration tests (registered in tests/conftest.py's pytest_plugins):
a third analyst outside the project, a partner that forbids sharing, an ended project,
and a library published from a local git repository the tests can commit to.

People:

- analyste1 (univ-alpha) and analyste2 (chu-exemple-nord): members of the project
  ``sante-territoires``; analyste1 also of the ended project ``archive-2020``;
- analyste3 (labo-atlas): in no project;
- analyste4 (centre-cancer-ex, ``sharing: false``): may not share their lab.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PASSWORD, REPO, RunningHub, open_workdir, served
from tests.hubclient import HubClient

PROJECT = "sante-territoires"
ENDED = "archive-2020"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "DataLab tests", "GIT_AUTHOR_EMAIL": "tests@example.org",
    "GIT_COMMITTER_NAME": "DataLab tests", "GIT_COMMITTER_EMAIL": "tests@example.org",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` (argv list); its stdout."""
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def library_repository(path: Path) -> Path:
    """A local git repository holding a copy of shared_notebooks/ in ``library/``,
    committed on branch ``main``; returns the library folder."""
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch=main")
    shutil.copytree(REPO / "shared_notebooks", path / "library",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    git(path, "add", "library")
    git(path, "commit", "--quiet", "-m", "Library, first version")
    return path / "library"


def overrides(workdir: Path) -> dict:
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    auth = copy.deepcopy(example["auth"])
    auth["demo_users"] += [
        {"name": "analyste3", "partner": "labo-atlas", "role": "analyst"},
        {"name": "analyste4", "partner": "centre-cancer-ex", "role": "analyst"},
    ]
    spawner = {**example["spawner"], "account_prefix": f"c{os.getpid() % 100000}-"}
    return {
        "auth": auth,
        "spawner": spawner,
        "projects": [
            {"id": PROJECT, "title": "Santé et territoires", "members": ["analyste1", "analyste2"]},
            {"id": ENDED, "title": "Archive 2020", "members": ["analyste1"], "end": "2020-12-31"},
        ],
        "collaboration": {"enabled": True},
    }


class CollabHub(RunningHub):
    """The collaboration hub; ``library_repo`` is the git repository of its library;
    ``extra``: more top-level overrides (a backend's sections)."""

    def __init__(self, workdir: Path, extra: dict | None = None):
        super().__init__(workdir, {**overrides(workdir), **(extra or {})})
        folder = library_repository(workdir / "library-repo")
        self.library_repo = folder.parent
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        config["storage"]["library_source"] = str(folder)
        self.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    def client(self, username: str) -> HubClient:
        return HubClient(self.url, username, PASSWORD)

    def publish_new_version(self) -> str:
        """The library's maintainers commit ``NOUVEAUTES.md``; the operator runs
        ``datalab library update``. Returns the new commit; fails on a refusal."""
        repo = self.library_repo
        (repo / "library" / "NOUVEAUTES.md").write_text("Version 2 de la bibliothèque\n")
        git(repo, "add", "library")
        git(repo, "commit", "--quiet", "-m", "Library, second version")
        commit = git(repo, "rev-parse", "HEAD")
        done = subprocess.run(
            [str(Path(sys.prefix) / "bin" / "datalab"), "--config", str(self.config_path),
             "library", "update"], capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{commit} published"), done.stdout
        return commit


@pytest.fixture(scope="session")
def collab_hub():
    """The collaboration hub, once per run (see the module docstring for its people)."""
    with served(CollabHub(open_workdir("datalab-collab-")), "collab-hub.log") as running:
        yield running
