"""The versioned library on a local git repository (no network): publication, atomic
switch, pruning, refs, the ``datalab`` command line."""

from __future__ import annotations

import copy
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from hub import cli, library
from hub.settings import parse
from tests.collabhub import git

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def repo(tmp_path):
    """A git repository whose ``notebooks/`` folder is the library (one commit)."""
    path = tmp_path / "depot"
    (path / "notebooks").mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    (path / "notebooks" / "analyse.ipynb").write_text('{"version": 1}')
    (path / "README.md").write_text("hors bibliothèque")
    git(path, "add", ".")
    git(path, "commit", "--quiet", "-m", "v1")
    return path


def commit(repo: Path, name: str, text: str) -> str:
    (repo / "notebooks" / name).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


def settings_for(tmp_path: Path, source: str, **library_keys):
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": source}
    data["library"] = library_keys
    return parse(data, tmp_path)


def test_publishes_the_folder_of_the_checked_out_commit_read_only(tmp_path, repo):
    settings = settings_for(tmp_path, str(repo / "notebooks"))
    published = library.publish(settings)
    assert published.commit == git(repo, "rev-parse", "HEAD") and published.changed
    current = tmp_path / "data" / "library" / "current"
    assert os.readlink(current) == f"versions/{published.commit}"
    assert sorted(p.name for p in current.iterdir()) == ["analyse.ipynb"]  # the folder only
    assert stat.S_IMODE((current / "analyse.ipynb").stat().st_mode) == 0o644
    assert stat.S_IMODE(current.resolve().stat().st_mode) == 0o755
    assert library.publish(settings).changed is False


def test_update_switches_to_the_new_commit_and_keeps_copies_untouched(tmp_path, repo):
    settings = settings_for(tmp_path, str(repo / "notebooks"))
    first = library.publish(settings)
    home = tmp_path / "home"
    home.mkdir()
    # a person's copy, then their own edits
    shutil.copy(tmp_path / "data" / "library" / "current" / "analyse.ipynb", home / "analyse.ipynb")
    os.chmod(home / "analyse.ipynb", 0o600)
    (home / "analyse.ipynb").write_text('{"version": "mine"}')
    second_commit = commit(repo, "analyse.ipynb", '{"version": 2}')
    second = library.publish(settings)
    assert second.commit == second_commit and second.changed
    assert (tmp_path / "data" / "library" / "current" / "analyse.ipynb").read_text() == '{"version": 2}'
    assert (home / "analyse.ipynb").read_text() == '{"version": "mine"}'
    # the previous version stays whole for whoever is reading it
    assert (first.path / "analyse.ipynb").read_text() == '{"version": 1}'


def test_older_versions_are_pruned_and_a_ref_can_be_republished(tmp_path, repo):
    settings = settings_for(tmp_path, str(repo / "notebooks"), keep_versions=2)
    first = library.publish(settings).commit
    for n in range(3):
        commit(repo, f"n{n}.ipynb", "{}")
        library.publish(settings)
    versions = sorted(p.name for p in (tmp_path / "data" / "library" / "versions").iterdir())
    assert len(versions) == 2 and first not in versions
    back = library.publish(settings, ref=first)
    assert back.commit == first and library.current(settings) == first


def test_follows_a_branch_of_a_git_url(tmp_path, repo):
    git(repo, "branch", "publiee")
    settings = settings_for(tmp_path, f"file://{repo}", ref="publiee", subdirectory="notebooks")
    assert library.publish(settings).commit == git(repo, "rev-parse", "publiee")
    commit(repo, "brouillon.ipynb", "{}")  # on main: not published
    assert library.publish(settings).changed is False
    git(repo, "checkout", "--quiet", "publiee")
    tip = commit(repo, "relu.ipynb", "{}")
    lines = []
    follower = settings_for(tmp_path, f"file://{repo}", ref="publiee", subdirectory="notebooks",
                            follow_minutes=1)
    library.follow(follower, rounds=1, log=lines.append)
    assert library.current(settings) == tip
    assert lines == [f"library: published {tip[:12]} (publiee)"]


def test_errors_name_the_problem(tmp_path, repo):
    plain = tmp_path / "pas-git"
    plain.mkdir()
    with pytest.raises(library.LibraryError, match="not inside a git repository"):
        library.publish(settings_for(tmp_path, str(plain)))
    with pytest.raises(library.LibraryError, match="has no folder 'absent'"):
        library.publish(settings_for(tmp_path, f"file://{repo}", subdirectory="absent"))
    with pytest.raises(library.LibraryError, match="git fetch failed"):
        library.publish(settings_for(tmp_path, str(repo / "notebooks"), ref="branche-inconnue"))
    assert library.current(settings_for(tmp_path, str(repo / "notebooks"))) is None


def test_command_line_update_and_status(tmp_path, repo, capsys):
    config = tmp_path / "datalab.yaml"
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(repo / "notebooks")}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert cli.main(["--config", str(config), "library", "status"]) == 1
    assert cli.main(["--config", str(config), "library", "update"]) == 0
    head = git(repo, "rev-parse", "HEAD")
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{head} published")
    assert cli.main(["--config", str(config), "library", "status"]) == 0
    assert capsys.readouterr().out.strip() == head
    with pytest.raises(SystemExit):
        cli.main(["--config", str(config), "library", "update", "--ref=--upload-pack=x"])
    assert cli.main(["--config", str(tmp_path / "absent.yaml"), "library", "status"]) == 2
