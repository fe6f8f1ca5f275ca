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
