"""The deployment file's schema: the example is valid; each kind of mistake is named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from hub.settings import ConfigError, load, memory_bytes, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def example() -> dict:
    return copy.deepcopy(EXAMPLE)


def error_of(data: object) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data, REPO)
    return str(caught.value)


def test_example_declares_21_partners_of_the_five_types():
    settings = parse(example(), REPO)
    assert len(settings.partners) == 21
    assert {p.type.value for p in settings.partners} == {
        "université", "recherche", "santé", "collectivité", "entreprise"
    }
    assert {u.name for u in settings.auth.demo_users} >= {"analyste1", "analyste2", "decideur1"}


def test_relative_paths_resolve_against_the_file_directory(tmp_path):
    path = tmp_path / "conf" / "datalab.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(example(), allow_unicode=True), encoding="utf-8")
    assert load(path).data_dir == tmp_path / "conf" / "var"


def test_config_path_comes_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.yaml"
    path.write_text(yaml.safe_dump(example(), allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DATALAB_CONFIG", str(path))
    assert len(load().partners) == 21


def test_unknown_top_level_key_lists_the_allowed_keys():
    data = example()
    data["dashbords"] = {}
    message = error_of(data)
    assert "dashbords: unknown key; allowed here: hub, auth, partners, roles, profiles" in message


def test_unknown_nested_key_names_its_path():
    data = example()
    data["partners"][3]["members"]["domains"] = ["x.fr"]
    assert "partners[3].members.domains: unknown key; allowed here: claim_values, email_domains" in error_of(data)


def test_wrong_type_names_the_key_and_the_value():
    data = example()
    data["hub"]["port"] = "huit-mille"
    assert "hub.port: Input should be a valid integer" in error_of(data)
    assert "'huit-mille'" in error_of(data)


def test_partner_type_lists_the_allowed_types():
    data = example()
    data["partners"][0]["type"] = "association"
    message = error_of(data)
    assert "partners[0].type:" in message
    assert "'université', 'recherche', 'santé', 'collectivité' or 'entreprise'" in message


def test_dangling_partner_reference_in_a_profile():
    data = example()
    data["profiles"][1]["partners"].append("univ-zeta")
    message = error_of(data)
    assert "profiles[1].partners[7]: unknown partner 'univ-zeta'; declared partners: agglo-exemple" in message


def test_dangling_partner_reference_in_a_demo_user():
    data = example()
    data["auth"]["demo_users"][0]["partner"] = "nulle-part"
    assert "auth.demo_users[0].partner: unknown partner 'nulle-part'" in error_of(data)


def test_duplicate_partner_id():
    data = example()
    data["partners"].append(dict(data["partners"][0]))
    assert "duplicate partner id 'univ-alpha'" in error_of(data)


def test_bad_partner_id_shows_the_pattern():
    data = example()
    data["partners"][0]["id"] = "Univ Alpha"
    assert "partners[0].id: 'Univ Alpha' does not match" in error_of(data)


def test_unknown_backend_lists_the_backends():
    data = example()
    data["spawner"]["backend"] = "kubernetes"
    assert "spawner.backend: Input should be 'local', 'docker' or 'slurm'" in error_of(data)


def test_missing_required_section():
    data = example()
    del data["profiles"]
    assert "profiles: required key is missing" in error_of(data)


def test_every_problem_is_reported_at_once():
    data = example()
    data["hub"]["language"] = "de"
    data["storage"]["cache"] = "/tmp"
    message = error_of(data)
    assert "hub.language:" in message and "storage.cache: unknown key" in message


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "datalab.yaml"
    path.write_text("hub:\n  port: [8000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)datalab.yaml: not valid YAML.*line 2"):
        load(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the deployment file"):
        load(tmp_path / "absent.yaml")


def test_a_list_at_top_level_is_refused():
    assert "must be a mapping of keys, not list" in error_of([1, 2])


@pytest.mark.parametrize("size, expected", [("512M", 512 * 1024**2), ("4G", 4 * 1024**3), ("1000", 1000)])
def test_memory_sizes(size, expected):
    assert memory_bytes(size) == expected


def test_profiles_offered_follow_the_partner_list():
    settings = parse(example(), REPO)
    assert [p.id for p in settings.profiles_for({"univ-alpha"})] == ["standard", "calcul", "austral"]
    assert [p.id for p in settings.profiles_for({"chu-exemple-nord"})] == ["standard"]
    assert settings.profiles_for(set()) == [settings.profiles[0]]
