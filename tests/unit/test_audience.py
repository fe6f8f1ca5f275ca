"""Audiences of published outputs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.settings import Audience


def test_partner_audience_admits_members_only():
    audience = Audience(partners=["chu-exemple-nord"])
    assert audience.admits({"partner-chu-exemple-nord", "role-analyst"})
    assert not audience.admits({"partner-univ-alpha", "role-analyst"})


def test_role_audience():
    audience = Audience(roles=["decision-maker"])
    assert audience.admits({"partner-region-exemple", "role-decision-maker"})
    assert not audience.admits({"partner-region-exemple", "role-analyst"})


def test_all_members_needs_a_partner():
    audience = Audience(all=True)
    assert audience.admits({"partner-univ-alpha"})
    assert not audience.admits({"role-analyst"})


def test_admins_see_everything():
    assert Audience(partners=["chu-exemple-nord"]).admits({"role-admin"})


def test_empty_audience_is_refused():
    with pytest.raises(ValidationError, match="an audience needs"):
        Audience()


def test_bad_partner_id_is_refused():
    with pytest.raises(ValidationError):
        Audience(partners=["Not A Slug; rm -rf"])


# -- partners AND roles, OR within a kind --------------------------------------------------

DM_NORD = {"partner-chu-exemple-nord", "role-decision-maker"}
DM_REGION = {"partner-region-exemple", "role-decision-maker"}
ANALYST_NORD = {"partner-chu-exemple-nord", "role-analyst"}
ANALYST_ALPHA = {"partner-univ-alpha", "role-analyst"}


def test_partner_and_role_admit_that_partners_role_holders_only():
    audience = Audience(partners=["chu-exemple-nord"], roles=["decision-maker"])
    assert audience.admits(DM_NORD)
    assert not audience.admits(DM_REGION)  # a decision-maker of another partner
    assert not audience.admits(ANALYST_NORD)  # a member without the role


def test_partners_combine_as_or():
    audience = Audience(partners=["chu-exemple-nord", "univ-alpha"])
    assert audience.admits(ANALYST_NORD) and audience.admits(ANALYST_ALPHA)
    assert not audience.admits(DM_REGION)


def test_all_with_a_role_admits_that_role_in_every_partner():
    audience = Audience(all=True, roles=["decision-maker"])
    assert audience.admits(DM_NORD) and audience.admits(DM_REGION)
    assert not audience.admits(ANALYST_ALPHA)
    assert not audience.admits({"role-decision-maker"})  # in no partner


def test_any_of_admits_anyone_in_one_alternative():
    audience = Audience(any_of=[{"partners": ["univ-alpha"]}, {"partners": ["region-exemple"], "roles": ["decision-maker"]}])
    assert audience.admits(ANALYST_ALPHA) and audience.admits(DM_REGION)
    assert not audience.admits(DM_NORD)
    assert audience.partner_ids() == ["univ-alpha", "region-exemple"]


def test_any_of_stands_alone_and_has_no_empty_entry():
    with pytest.raises(ValidationError, match="any_of has no all"):
        Audience(all=True, any_of=[{"partners": ["univ-alpha"]}])
    with pytest.raises(ValidationError, match="each any_of entry"):
        Audience(any_of=[{}])


def test_within_partner():
    assert Audience(partners=["chu-exemple-nord"], roles=["decision-maker"]).within_partner("chu-exemple-nord")
    assert not Audience(all=True).within_partner("chu-exemple-nord")
    assert not Audience(roles=["decision-maker"]).within_partner("chu-exemple-nord")
    assert not Audience(partners=["chu-exemple-nord", "univ-alpha"]).within_partner("chu-exemple-nord")
    assert not Audience(any_of=[{"partners": ["chu-exemple-nord"]}, {"all": True}]).within_partner("chu-exemple-nord")


# -- the former rule (partners OR roles; all: every member) --------------------------------

def former_admits(stored: dict, names: set[str]) -> bool:
    """The former rule, as the hub applied it before partners AND roles."""
    if "role-admin" in names:
        return True
    if stored.get("all"):
        return any(n.startswith("partner-") for n in names)
    wanted = {f"partner-{p}" for p in stored.get("partners", [])} | {f"role-{r}" for r in stored.get("roles", [])}
    return bool(wanted & names)


FORMER = [
    {"all": True, "partners": [], "roles": []},
    {"all": True, "partners": ["univ-alpha"], "roles": ["decision-maker"]},
    {"all": False, "partners": ["chu-exemple-nord"], "roles": []},
    {"all": False, "partners": [], "roles": ["decision-maker", "admin"]},
    {"all": False, "partners": ["chu-exemple-nord", "univ-alpha"], "roles": ["decision-maker"]},
]
PEOPLE = [
    {f"partner-{p}", f"role-{r}"} for p in ("chu-exemple-nord", "univ-alpha", "region-exemple")
    for r in ("analyst", "decision-maker", "admin")
] + [{"role-decision-maker"}, {"partner-univ-alpha"}, set()]


@pytest.mark.parametrize("stored", FORMER)
def test_a_former_audience_is_rewritten_to_admit_exactly_the_same_people(stored):
    assert Audience.is_former(stored)
    rewritten = Audience.from_or_semantics(stored)
    assert not Audience.is_former(rewritten.model_dump(mode="json"))
    for names in PEOPLE:
        assert rewritten.admits(names) == former_admits(stored, names), (stored, names)


def test_a_mixed_former_audience_becomes_alternatives():
    rewritten = Audience.from_or_semantics({"partners": ["chu-exemple-nord"], "roles": ["decision-maker"]})
    assert rewritten.model_dump(mode="json")["any_of"] == [
        {"all": False, "partners": ["chu-exemple-nord"], "roles": []},
        {"all": False, "partners": [], "roles": ["decision-maker"]},
    ]
