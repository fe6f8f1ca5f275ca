"""Partners and roles -> JupyterHub groups and least-privilege roles."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from hub import groups, partners
from hub.settings import Role, parse

REPO = Path(__file__).resolve().parents[2]
SETTINGS = parse(yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8")), REPO)


def test_each_partner_is_a_group_with_its_type_and_name():
    groups = partners.load_groups(SETTINGS)
    chu = groups["partner-chu-exemple-nord"]
    assert chu["properties"] == {"partner": "chu-exemple-nord", "name": "CHU Exemple Nord", "type": "santé"}
    assert sum(name.startswith("partner-") for name in groups) == 21


def test_demo_users_are_members_of_their_partner_and_role_groups():
    groups = partners.load_groups(SETTINGS)
    assert groups["partner-univ-alpha"]["users"] == ["analyste1"]
    assert groups["role-analyst"]["users"] == ["analyste1", "analyste2"]
    assert groups["role-decision-maker"]["users"] == ["decideur1"]
    assert groups["role-admin"]["users"] == ["coordinateur"]


def _scopes(role_name: str) -> set[str]:
    return {s for r in partners.load_roles() if r["name"] == role_name for s in r["scopes"]}


def test_every_user_gets_no_server_scope():
    assert not any(s.startswith(("servers", "access:servers")) for s in _scopes("user"))


def test_analysts_use_only_their_own_server():
    assert {"servers!user", "access:servers!user"} <= _scopes("datalab-analyst")
    assert all(s.endswith("!user") for s in _scopes("datalab-analyst"))


def test_decision_makers_cannot_start_a_lab():
    assert not any("servers" in s and not s.startswith("read:users") for s in _scopes("datalab-decision-maker"))


def test_admins_administer_without_opening_labs():
    scopes = _scopes("datalab-admin")
    assert {"users", "admin:servers", "read:groups", "admin-ui"} <= scopes
    assert not any(s.startswith("access:servers") for s in scopes)


def test_roles_are_bound_to_their_groups():
    bound = {r["name"]: r.get("groups") for r in partners.load_roles()}
    for role in Role:
        assert bound[f"datalab-{role.value}"] == [f"role-{role.value}"]


def test_partners_of_group_names():
    assert groups.partners_of(["partner-univ-alpha", "role-analyst", "partner-x"]) == {"univ-alpha", "x"}


def _handler(groups):
    user = SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups])
    return SimpleNamespace(current_user=user, hub=SimpleNamespace(base_url="/prefix/hub/"))


def test_landing_page_for_analysts_is_jupyterhubs_default():
    assert partners.landing_url(_handler(["role-analyst", "partner-univ-alpha"])) == ""


def test_landing_page_for_decision_makers_is_home():
    assert partners.landing_url(_handler(["role-decision-maker"])) == "/prefix/hub/home"


@pytest.mark.parametrize("groups, allowed", [
    (["partner-region-exemple", "role-decision-maker"], False),
    (iter(["partner-region-exemple", "role-decision-maker"]), False),  # any iterable, read once
    (["role-decision-maker", "role-analyst"], True),
    (["role-admin"], True),
    (["role-analyst"], True),
    (["partner-univ-alpha"], True),  # no DataLab role: left to the partner and profile checks
])
def test_only_roles_without_labs_are_refused_a_lab(groups, allowed):
    assert partners.may_have_lab(groups) is allowed


def test_roles_without_labs_are_those_granted_no_server_scope():
    for role, scopes in partners.ROLE_SCOPES.items():
        grants_servers = any(s.split("!")[0] in ("servers", "admin:servers") for s in scopes)
        assert (role in partners.ROLES_WITHOUT_LAB) is not grants_servers, role
