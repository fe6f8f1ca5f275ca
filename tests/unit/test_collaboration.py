"""Projects, sharing and collaboration settings, and how they map onto JupyterHub."""

from __future__ import annotations

import copy
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub import partners, sharing, storage
from hub.settings import ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def example(**changes) -> dict:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data, REPO)
    return str(caught.value)


# -- the deployment file ----------------------------------------------------------------

def test_example_project_spans_two_partners():
    settings = parse(example(), REPO)
    project = settings.projects[0]
    partners_of = {u.name: u.partner for u in settings.auth.demo_users}
    assert {partners_of[m] for m in project.members} == {"univ-alpha", "chu-exemple-nord"}
    assert settings.collaboration.enabled is True
    assert [p.id for p in settings.partners if not p.sharing] == ["centre-cancer-ex"]


def test_project_member_must_be_a_declared_demo_user():
    data = example(projects=[{"id": "etude", "title": "Étude", "members": ["analyste1", "inconnu"]}])
    assert "projects[0].members[1]: unknown user 'inconnu'; declared demo users: analyste1" in error_of(data)


def test_project_member_listed_twice_and_duplicate_ids():
    twice = example(projects=[{"id": "etude", "title": "Étude", "members": ["analyste1", "analyste1"]}])
    assert "projects[0].members[1]: 'analyste1' is listed twice" in error_of(twice)
    project = {"id": "etude", "title": "Étude", "members": ["analyste1"]}
    assert "duplicate project id 'etude'" in error_of(example(projects=[project, project]))


def test_project_keys_are_checked():
    data = example(projects=[{"id": "Etude!", "title": "x", "members": ["analyste1"], "fin": "2025-01-01"}])
    message = error_of(data)
    assert "projects[0].id: 'Etude!' does not match" in message
    assert "projects[0].fin: unknown key; allowed here: id, title, members, end" in message


def test_project_ends_after_its_last_day():
    settings = parse(example(projects=[
        {"id": "etude", "title": "Étude", "members": ["analyste1"], "end": "2026-06-30"},
    ]), REPO)
    project = settings.projects[0]
    assert project.end == dt.date(2026, 6, 30)
    assert not project.ended(dt.date(2026, 6, 30))
    assert project.ended(dt.date(2026, 7, 1))
    assert [p.id for p in settings.projects_of("analyste1")] == ["etude"]
    assert settings.projects_of("analyste2") == []


def test_library_ref_cannot_be_an_option():
    assert "library.ref: '--upload-pack=x' does not match" in error_of(
        example(library={"ref": "--upload-pack=x"})
    )
    assert "library.subdirectory: '../etc' does not match" in error_of(
        example(library={"subdirectory": "../etc"})
    )


# -- groups and roles -------------------------------------------------------------------

def test_each_project_is_a_group_with_its_members():
    groups = partners.load_groups(parse(example(), REPO))
    project = groups["project-sante-territoires"]
    assert sorted(project["users"]) == ["analyste1", "analyste2"]
    assert project["properties"] == {"project": "sante-territoires", "title": "Santé et territoires", "end": ""}


def test_sharing_role_is_bound_only_to_partners_that_allow_it():
    settings = parse(example(), REPO)
    (role,) = sharing.load_roles(settings)
    assert role["name"] == "datalab-sharing"
    assert "shares!user" in role["scopes"] and "access:servers" not in " ".join(role["scopes"])
    assert "partner-centre-cancer-ex" not in role["groups"]
    assert "partner-univ-alpha" in role["groups"] and len(role["groups"]) == 20


def test_everyone_may_see_and_decline_what_is_shared_with_them():
    user_role = next(r for r in partners.load_roles() if r["name"] == "user")
    assert {"read:users:shares!user", "users:shares!user"} <= set(user_role["scopes"])
    assert not any(s.startswith("shares") for s in user_role["scopes"])


# -- apply ------------------------------------------------------------------------------

def settings_in(tmp_path: Path, **changes):
    data = example(**changes)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    return parse(data, REPO)


def test_apply_registers_sharing_page_role_and_lab_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    c = Config()
    hub_apply.configure(c, settings_in(tmp_path))
    assert "datalab-sharing" in {r["name"] for r in c.JupyterHub.load_roles}
    assert "user" in {r["name"] for r in c.JupyterHub.load_roles}
    assert "/partage" in [h[0] for h in c.JupyterHub.extra_handlers]
    assert "--HubOAuth.cache_max_age=1" in c.Spawner.args
    assert "--YDocExtension.disable_rtc=True" not in c.Spawner.args
    assert "datalab-library" not in {s["name"] for s in c.JupyterHub.get("services", [])}


def test_collaboration_off_switches_it_off_in_the_lab(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    c = Config()
    hub_apply.configure(c, settings_in(tmp_path, collaboration={"enabled": False}))
    assert "--YDocExtension.disable_rtc=True" in c.Spawner.args


def test_following_a_branch_adds_a_managed_service(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    monkeypatch.setenv("DATALAB_CONFIG", str(tmp_path / "datalab.yaml"))
    c = Config()
    hub_apply.configure(c, settings_in(tmp_path, library={"follow_minutes": 15}))
    (service,) = [s for s in c.JupyterHub.services if s["name"] == "datalab-library"]
    assert service["name"] == "datalab-library"
    assert service["command"][1:] == ["--config", str(tmp_path / "datalab.yaml"), "library", "follow"]


def test_apply_creates_project_spaces_and_freezes_ended_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    settings = settings_in(tmp_path, projects=[
        {"id": "en-cours", "title": "En cours", "members": ["analyste1"]},
        {"id": "termine", "title": "Terminé", "members": ["analyste1"], "end": "2020-01-31"},
    ])
    layout = storage.Layout(settings.data_dir)
    layout.create()
    old = layout.project_space("termine")
    old.mkdir()
    (old / "resultats.csv").write_text("a,b\n")
    os.chmod(old / "resultats.csv", 0o664)
    hub_apply.configure(Config(), settings)
    open_space = layout.project_space("en-cours")
    assert open_space.is_dir()
    assert stat.S_IMODE(old.stat().st_mode) & 0o222 == 0
    assert stat.S_IMODE((old / "resultats.csv").stat().st_mode) == 0o444
    if os.geteuid() == 0:
        assert stat.S_IMODE(open_space.stat().st_mode) == 0o2770
        assert stat.S_IMODE(old.stat().st_mode) == 0o2550


# -- storage ----------------------------------------------------------------------------

def test_freeze_tree_is_recursive_idempotent_and_keeps_read_bits(tmp_path):
    root = tmp_path / "space"
    (root / "sous-dossier").mkdir(parents=True)
    (root / "sous-dossier" / "carnet.ipynb").write_text("{}")
    (root / "script.py").write_text("print(1)")
    os.chmod(root / "script.py", 0o775)
    (root / "lien").symlink_to("/etc/hostname")
    for _ in range(2):
        storage.freeze_tree(root, None)
    assert stat.S_IMODE((root / "script.py").stat().st_mode) == 0o555
    assert stat.S_IMODE((root / "sous-dossier" / "carnet.ipynb").stat().st_mode) == 0o444
    assert stat.S_IMODE((root / "sous-dossier").stat().st_mode) & 0o222 == 0
    assert (root / "lien").is_symlink()
    assert (root / "sous-dossier" / "carnet.ipynb").read_text() == "{}"


def test_switch_link_replaces_the_target(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    link = tmp_path / "current"
    storage.switch_link(link, Path("v1"))
    storage.switch_link(link, Path("v2"))
    assert os.readlink(link) == "v2"
    assert not (tmp_path / "current.switch").exists()


def test_unlink_stale_removes_ended_project_links_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for name in ("projet-ancien", "projet-actuel", "partenaire-univ-alpha"):
        (home / name).symlink_to(tmp_path)
    (home / "projet-a-moi").mkdir()  # the person's own folder, not a link
    storage.unlink_stale(home, {"projet-actuel", "partenaire-univ-alpha"})
    assert sorted(p.name for p in home.iterdir()) == ["partenaire-univ-alpha", "projet-a-moi", "projet-actuel"]
