"""Claims -> identity on a corpus of claim documents, well-formed and hostile."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
import yaml

from hub.identity import (
    MAX_VALUES, USERNAME, Identity, Refusal, Rules, derived_name, display_name, normalise_username, resolve,
)
from hub.settings import Role, parse

REPO = Path(__file__).resolve().parents[2]
SETTINGS = parse(yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8")), REPO)


def rules(membership_claim: str = "groups", **kw) -> Rules:
    return Rules.from_settings(
        SETTINGS, username_claim=kw.pop("username_claim", "preferred_username"),
        membership_claim=membership_claim, **kw,
    )


def person(**claims) -> dict:
    return {"sub": "1", "preferred_username": "lea", **claims}


ACCEPTED = [
    # (claims, membership claim, partners, roles)
    (person(groups=["/datalab/univ-alpha"]), "groups", {"univ-alpha"}, {Role.analyst}),
    (person(groups="/datalab/univ-alpha"), "groups", {"univ-alpha"}, {Role.analyst}),
    (person(groups=["/datalab/univ-alpha", "/datalab/chu-exemple-nord", "/x"]), "groups",
     {"univ-alpha", "chu-exemple-nord"}, {Role.analyst}),
    (person(resource_access={"datalab": {"roles": ["/datalab/labo-atlas"]}}),
     "resource_access.datalab.roles", {"labo-atlas"}, {Role.analyst}),
    (person(groups=["/datalab/region-exemple", "/datalab/roles/decideurs"]), "groups",
     {"region-exemple"}, {Role.decision_maker}),
    (person(groups=["/datalab/region-exemple", "/datalab/roles/coordination", "/datalab/roles/decideurs"]),
     "groups", {"region-exemple"}, {Role.admin, Role.decision_maker}),
    # e-mail domain rule, alone or with the claim; domains are case-insensitive
    (person(email="a@univ-alpha.example.org", email_verified=True), "groups", {"univ-alpha"}, {Role.analyst}),
    (person(email="a@CHU-Nord.Example.org", email_verified="true", groups=[]), "groups",
     {"chu-exemple-nord"}, {Role.analyst}),
    (person(email="a@univ-alpha.example.org", email_verified=True, groups=["/datalab/univ-beta"]),
     "groups", {"univ-alpha", "univ-beta"}, {Role.analyst}),
    # null claim = absent; e-mail still counts
    (person(groups=None, email="a@univ-alpha.example.org", email_verified=True), "groups",
     {"univ-alpha"}, {Role.analyst}),
]


@pytest.mark.parametrize("claims, claim, partners, roles", ACCEPTED)
def test_accepted_claims(claims, claim, partners, roles):
    found = resolve(claims, rules(claim))
    assert found.partners == frozenset(partners)
    assert found.roles == frozenset(roles)
    assert found.username == "lea"


def test_groups_are_partner_and_role_groups_sorted():
    found = Identity("lea", frozenset({"univ-beta", "univ-alpha"}), frozenset({Role.analyst}))
    assert found.groups == ["partner-univ-alpha", "partner-univ-beta", "role-analyst"]


def test_separator_splits_a_single_string_claim():
    found = resolve(person(groups="/datalab/univ-alpha; /datalab/univ-beta"), rules(separator="; "))
    assert found.partners == {"univ-alpha", "univ-beta"}


REFUSED = [
    # (claims, membership claim, reason)
    (person(groups=["/autres/club"]), "groups", "no_partner"),
    (person(groups=[]), "groups", "no_partner"),
    (person(), "groups", "claim_missing"),
    (person(resource_access={"datalab": {}}), "resource_access.datalab.roles", "claim_missing"),
    # unverified e-mail does not count
    (person(email="a@univ-alpha.example.org", email_verified=False), "groups", "claim_missing"),
    (person(email="a@univ-alpha.example.org"), "groups", "claim_missing"),
    # look-alike and sub-domains do not match
    (person(email="a@evil-univ-alpha.example.org", email_verified=True, groups=[]), "groups", "no_partner"),
    (person(email="a@x.univ-alpha.example.org", email_verified=True, groups=[]), "groups", "no_partner"),
    # wrong types
    (person(groups={"/datalab/univ-alpha": True}), "groups", "bad_claim"),
    (person(groups=42), "groups", "bad_claim"),
    (person(groups=True), "groups", "bad_claim"),
    (person(groups=["/datalab/univ-alpha", 7]), "groups", "bad_claim"),
    (person(groups=[["/datalab/univ-alpha"]]), "groups", "bad_claim"),
    (person(resource_access=["datalab"]), "resource_access.datalab.roles", "bad_claim"),
    (person(resource_access={"datalab": "roles"}), "resource_access.datalab.roles", "bad_claim"),
    # huge
    (person(groups=["/datalab/univ-alpha"] + ["x"] * MAX_VALUES), "groups", "bad_claim"),
    (person(groups=["/datalab/univ-alpha", "x" * 100_000]), "groups", "bad_claim"),
    # malformed e-mail in a partner deployment with domain rules
    (person(email=["a@univ-alpha.example.org"], email_verified=True), "groups", "bad_claim"),
    (person(email="a@b@univ-alpha.example.org", email_verified=True), "groups", "bad_claim"),
    # Kelvin sign: "K".lower() is an ASCII "k", must not reach the domain comparison
    (person(email="a@univ-alpha.example.or\u212a", email_verified=True), "groups", "bad_claim"),
    # usernames
    (person(preferred_username=None, groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username=12, groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="l\u0435a", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),  # Cyrillic e
    (person(preferred_username="\uff4c\uff45\uff41", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),  # full-width
    # accents or length need a derived name, derived from the provider's sub
    (person(preferred_username="héloïse", sub=None, groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="héloïse", sub=7, groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="é" * 257, groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="-héloïse", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="lea martin", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="../root", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="lea\n", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
    (person(preferred_username="-lea", groups=["/datalab/univ-alpha"]), "groups", "bad_username"),
]


@pytest.mark.parametrize("claims, claim, reason", REFUSED)
def test_refused_claims(claims, claim, reason):
    with pytest.raises(Refusal) as caught:
        resolve(claims, rules(claim))
    assert caught.value.reason == reason


def test_claim_values_compare_exactly():
    for lookalike in ["/datalab/UNIV-ALPHA", "/datalab/univ-alpha/", " /datalab/univ-alpha",
                      "/datalab/univ-\u0430lpha", "datalab/univ-alpha", "/datalab/univ\u2010alpha"]:
        with pytest.raises(Refusal) as caught:
            resolve(person(groups=[lookalike]), rules())
        assert caught.value.reason == "no_partner", lookalike


@pytest.mark.parametrize("claims", [None, [], "lea", 3, ["groups"]])
def test_claims_that_are_not_an_object_are_refused(claims):
    with pytest.raises(Refusal) as caught:
        resolve(claims, rules())
    assert caught.value.reason == "bad_claim"


def test_too_deep_claim_path_is_refused():
    with pytest.raises(Refusal) as caught:
        resolve(person(), rules(".".join(["a"] * 9)))
    assert caught.value.reason == "bad_claim"


def test_role_values_without_partner_are_refused():
    with pytest.raises(Refusal) as caught:
        resolve(person(groups=["/datalab/roles/coordination"]), rules())
    assert caught.value.reason == "no_partner"


def test_e_mail_domain_rule_can_trust_unverified_addresses_when_told():
    found = resolve(person(email="a@univ-alpha.example.org"), rules(require_verified_email=False))
    assert found.partners == {"univ-alpha"}


@pytest.mark.parametrize("raw, name", [("Lea.Martin", "lea.martin"), ("LEA@Univ.fr", "lea@univ.fr"),
                                       ("a_b-c.d", "a_b-c.d"), ("0lea", "0lea")])
def test_username_rule(raw, name):
    assert normalise_username(raw) == name


def test_username_from_the_email_claim():
    claims = person(email="Lea.Martin@univ-alpha.example.org", email_verified=True)
    assert resolve(claims, rules(username_claim="email")).username == "lea.martin@univ-alpha.example.org"


def test_resolve_does_not_change_the_claims():
    claims = person(groups=["/datalab/univ-alpha"], resource_access={"x": {"roles": []}})
    before = copy.deepcopy(claims)
    resolve(claims, rules())
    assert claims == before


def test_unknown_refusal_reason_is_a_programming_error():
    with pytest.raises(ValueError):
        Refusal("nope", "detail")


# -- accents, long claims, display names, no merging -----------------------------------
ACCENTED_70 = "Marie-Éloïse.Dupont-Lefèvre-de-la-Hérissonnière.Ségolène.Anaïs.Béatric"


def test_the_accented_70_character_claim_is_what_the_fixture_uses():
    assert len(ACCENTED_70) == 70 and not ACCENTED_70.isascii()


@pytest.mark.parametrize("claim", ["héloïse", ACCENTED_70, "a" * 65, "É" * 256, "Zoë@chu-nord.example.org"])
def test_accented_or_long_claims_log_in_under_a_safe_name_derived_from_sub(claim):
    found = resolve(person(preferred_username=claim, sub="f3a1-4b2c", groups=["/datalab/univ-alpha"]), rules())
    assert USERNAME.fullmatch(found.username), found.username
    assert found.username == derived_name(claim, "f3a1-4b2c")
    assert found.username.endswith("-" + hashlib.sha256(b"datalab-sub:f3a1-4b2c").hexdigest()[:12])
    assert found.sub == "f3a1-4b2c"


def test_a_derived_name_is_readable_and_stable():
    first = normalise_username("héloïse", sub="sub-1")
    assert first.startswith("heloise-")
    assert normalise_username("héloïse", sub="sub-1") == first
    long = normalise_username(ACCENTED_70, sub="sub-1")
    assert long.startswith("marie-eloise.dupont-lefevre-de-la-heriss-")
    assert len(long) <= 64


def test_two_accounts_whose_claims_normalise_the_same_get_different_names():
    """Same claim after folding accents and case, two provider accounts (two ``sub``):
    two hub users, never one."""
    names = {
        normalise_username(claim, sub=sub)
        for claim, sub in [("Héloïse", "sub-1"), ("héloïse", "sub-2"), ("Heloïse", "sub-3"), ("héloïse", "sub-4")]
    }
    assert len(names) == 4
    assert all(n.startswith("heloise-") for n in names)


def test_a_plain_claim_can_never_take_a_derived_name():
    """A claim shaped like a derived name (``<x>-<12 hex>``) is itself derived, from its
    own sub: it cannot squat the name of the account it imitates."""
    victim = normalise_username("héloïse", sub="victim")
    squatter = normalise_username(victim, sub="attacker")
    assert squatter != victim
    assert squatter.startswith(victim + "-")


def test_plain_claims_keep_their_name():
    assert normalise_username("lea.martin", sub="x") == "lea.martin"
    assert normalise_username("a" * 64, sub="x") == "a" * 64


def test_display_name_comes_from_the_claims():
    assert display_name({"name": "Héloïse Martin"}, "x") == "Héloïse Martin"
    assert display_name({"given_name": "Sophie", "usual_name": "Leroy"}, "x") == "Sophie Leroy"
    assert display_name({"given_name": "Sophie", "family_name": "Leroy"}, "x") == "Sophie Leroy"
    assert display_name({"name": "  A\u202e\nB  "}, "x") == "A B"
    assert display_name({}, ACCENTED_70) == ACCENTED_70
    assert len(display_name({"name": "é" * 500}, "x")) == 120


def test_resolve_gives_the_display_name():
    found = resolve(person(preferred_username=ACCENTED_70, groups=["/datalab/univ-alpha"]), rules())
    assert found.display_name == ACCENTED_70
