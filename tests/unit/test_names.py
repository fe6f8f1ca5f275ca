"""Names derived from user names: valid everywhere, distinct for distinct users."""

from __future__ import annotations

import re

import pytest

from hub.names import own_id, safe_name, system_account

CORPUS = [
    "analyste1", "Analyste1", "jean.dupont@chu-exemple.fr", "jean_dupont@chu-exemple.fr",
    "jean-dupont", "jean-2dupont", "élodie", "elodie", "o'brien", "obrien", "José.Müller",
    "ｊｏｓｅ", "x" * 101, "x" * 100 + "y", "用户", "a b", "a+b", "-", "--", "a-", "a/../b",
]


def test_names_are_lower_case_alphanumerics_and_dashes():
    for name in CORPUS:
        assert re.fullmatch(r"[a-z0-9-]+", safe_name(name)), name


def test_distinct_users_get_distinct_names():
    results = [safe_name(n) for n in CORPUS]
    assert len(set(results)) == len(CORPUS)


def test_long_names_are_cut_with_a_hash():
    long = safe_name("x" * 101, max_length=40)
    assert len(long) == 40 and long.startswith("xxxx") and re.search(r"-[0-9a-f]{8}$", long)
    assert safe_name("x" * 101, max_length=40) != safe_name("x" * 100 + "y", max_length=40)


def test_plain_names_are_kept():
    assert safe_name("analyste1") == "analyste1"


def test_system_accounts_fit_linux_limits():
    accounts = [system_account(n) for n in CORPUS]
    assert len(set(accounts)) == len(CORPUS)
    for account in accounts:
        assert len(account) <= 32 and re.fullmatch(r"[a-z_][a-z0-9_-]*", account)


@pytest.mark.parametrize("bad", ["", None])
def test_empty_names_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        safe_name(bad)


def test_own_ids_are_stable_per_owner_and_fit_the_id_rules():
    first = own_id("carte-covid-normandie-departements", "analyste1", 24)
    assert first == own_id("carte-covid-normandie-departements", "analyste1", 24)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,22}[a-z0-9]", first) and len(first) <= 24
    others = {own_id("carte", "analyste2", 24), own_id("carte", "analyste1", 24, attempt=1), own_id("carte", "analyste1", 24)}
    assert len(others) == 3
    with pytest.raises(ValueError):
        own_id("carte", "analyste1", 15)
