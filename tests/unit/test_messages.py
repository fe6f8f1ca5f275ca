"""The texts a person reads: both catalogues complete, JupyterHub's own messages said in French."""

from __future__ import annotations

import re

import pytest

from hub.messages import ADMIN_PAGE, CATALOGUE, HUB_ERRORS, hub_error


def test_both_catalogues_have_the_same_keys():
    assert set(CATALOGUE["fr"]) == set(CATALOGUE["en"])


@pytest.mark.parametrize(("status", "message", "expected"), [
    (400, "Named servers are not enabled.", "Un seul lab par personne : les labs nommés ne sont pas proposés."),
    (403, "You do not have permission to access Server at /user/analyste1/",
     "Vous n'avez pas accès au lab /user/analyste1/."),
    (403, "Action is not authorized with current scopes; requires any of [servers]",
     "Votre rôle ne permet pas cette action (droits requis : servers)."),
    (404, "No such user: bob", "Aucune personne « bob » sur ce hub."),
    (400, "analyste1 is already running", "Ce lab est déjà démarré."),
    (404, "", "Cette page n'existe pas."),
    (404, None, "Cette page n'existe pas."),
    (418, None, "La demande n'a pas abouti."),
])
def test_jupyterhubs_messages_are_said_in_french(status, message, expected):
    assert hub_error("fr", status, message) == expected


def test_the_hubs_own_messages_pass_unchanged_and_english_keeps_jupyterhubs():
    assert hub_error("fr", 403, "Ce tableau de bord n'est pas publié pour vous.") == (
        "Ce tableau de bord n'est pas publié pour vous.")
    assert hub_error("en", 400, "Named servers are not enabled.") == "Named servers are not enabled."
    assert hub_error("en", 404, None) == "This page does not exist."


def test_every_known_message_has_its_text_in_both_languages():
    for _pattern, key in HUB_ERRORS:
        assert key in CATALOGUE["fr"] and key in CATALOGUE["en"]


def test_the_admin_pages_patterns_are_valid_and_french():
    page = ADMIN_PAGE["fr"]
    for pattern, replacement in page["patterns"]:
        re.compile(pattern)
        assert "$1" in replacement
    assert all(english != french for english, french in page["texts"].items() if english != "Actions")
