"""What a user may ask of Austral, through the hub API, on a real Slurm cluster:
every field's grammar and range, injection attempts, entitlement, login mapping,
and Slurm's own refusal."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

GOOD = {"profile": "austral", "account": "univ-alpha", "partition": "debug", "qos": "normal",
        "cores": "1", "memory": "1G", "gpus": "0", "walltime": "0:20"}


@pytest.fixture(scope="module")
def analyste1(slurm_hub):
    return HubClient(slurm_hub.url, "analyste1", PASSWORD)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("walltime", "0:20\n#SBATCH --mem=64G", "de 0:01 à 1:00"),
        ("memory", "1G\n#SBATCH --mem=64G", "de 128M à 4G"),
        ("memory", "$(id)", "de 128M à 4G"),
        ("memory", "1G; touch /tmp/pwned", "de 128M à 4G"),
        ("memory", "64G", "de 128M à 4G"),
        ("memory", "1024", "de 128M à 4G"),
        ("memory", "64M", "de 128M à 4G"),
        ("cores", "3", "de 1 à 2"),
        ("cores", "0", "de 1 à 2"),
        ("cores", "1 --mem=64G", "de 1 à 2"),
        ("cores", "١", "de 1 à 2"),
        ("cores", True, "de 1 à 2"),
        ("gpus", "2", "de 0 à 1"),
        ("walltime", "1:01", "de 0:01 à 1:00"),
        ("walltime", "0:00", "de 0:01 à 1:00"),
        ("walltime", "30", "de 0:01 à 1:00"),
        ("partition", "debug --mem=64G", "debug, court"),
        ("partition", "gpu", "debug, court"),
        ("partition", "`id`", "debug, court"),
        ("account", "labo-atlas", "univ-alpha"),
        ("account", "univ-alpha\n#SBATCH --account=autre", "univ-alpha"),
        ("qos", "high", "normal"),
        ("qos", ["normal"], "normal"),
    ],
)
def test_each_field_is_checked_and_named(analyste1, slurm_cluster, field, value, expected):
    before = slurm_cluster.jobs()
    r = analyste1.api("POST", "/users/analyste1/server", json={**GOOD, field: value})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert f"({field})" in message and expected in message, message
    assert slurm_cluster.jobs() == before


@pytest.mark.parametrize("extra", ["mem", "options", "req_options", "req_memory", "prologue"])
def test_extra_options_are_refused(analyste1, slurm_cluster, extra):
    r = analyste1.api("POST", "/users/analyste1/server", json={**GOOD, extra: "--mem=64G"})
    assert r.status_code == 400, r.text
    assert f"« {extra} » non reconnue" in r.json()["message"]
    assert slurm_cluster.jobs() == []


def test_refused_request_is_not_reused_by_an_empty_start(analyste1, slurm_cluster):
    """JupyterHub reuses the last user_options when a start sends none."""
    assert analyste1.api("POST", "/users/analyste1/server", json={**GOOD, "memory": "99G"}).status_code == 400
    assert analyste1.api("GET", "/users/analyste1").json()["servers"] == {}


def test_partner_without_entitlement_cannot_request_austral(slurm_hub, slurm_cluster):
    analyste2 = HubClient(slurm_hub.url, "analyste2", PASSWORD)
    r = analyste2.api("POST", "/users/analyste2/server", json=GOOD)
    assert r.status_code == 403, r.text
    assert "« austral » n'est pas ouvert à votre partenaire" in r.json()["message"]
    assert slurm_cluster.jobs() == []


def test_partner_without_entitlement_does_not_see_austral_on_the_form(slurm_hub):
    """univ-beta has two container-less profiles but no Austral entitlement."""
    client = HubClient(slurm_hub.url, "analyste-beta", PASSWORD)
    page = client.session.get(f"{slurm_hub.url}/hub/spawn").content.decode()
    assert 'value="standard"' in page and 'value="calcul"' in page
    assert "austral" not in page.lower()


def test_form_shows_the_partners_limits_in_french(analyste1, slurm_hub):
    page = analyste1.session.get(f"{slurm_hub.url}/hub/spawn").content.decode()
    assert 'value="austral"' in page and "Ressources demandées sur Austral" in page
    for label in ("Partition", "Compte Slurm", "QOS", "Cœurs", "Mémoire", "GPU", "Durée maximale"):
        assert label in page
    assert "128M – 4G" in page and "0:01 – 1:00" in page


def test_slurm_refusal_reaches_the_api_caller(analyste1, slurm_cluster):
    """Partition 'court' allows 30 minutes (EnforcePartLimits): sbatch refuses 45."""
    r = analyste1.api("POST", "/users/analyste1/server", json={**GOOD, "partition": "court", "walltime": "0:45"})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith("Austral a refusé le job : ") and "time limit" in message, message
    assert slurm_cluster.jobs() == []


def test_user_mapped_by_pattern_gets_their_login(slurm_hub, slurm_cluster, austral_logins):
    client = HubClient(slurm_hub.url, "cartographe", PASSWORD)
    r = client.start_server({"profile": "austral"}, timeout=60)
    assert r.status_code in (201, 202), r.text
    try:
        [job] = slurm_cluster.jobs()
        assert (job["user"], job["name"], job["account"]) == (
            austral_logins.login("cartographe"), "datalab-cartographe", "univ-alpha")
    finally:
        client.stop_server()


def test_user_without_cluster_account_is_refused_clearly(slurm_hub, slurm_cluster, austral_logins):
    client = HubClient(slurm_hub.url, "sanscompte", PASSWORD)
    r = client.api("POST", "/users/sanscompte/server", json={"profile": "austral"})
    assert r.status_code == 403, r.text
    assert r.json()["message"] == (
        f"Votre identifiant « {austral_logins.prefix}sanscompte » n'existe pas sur Austral : "
        "contactez l'équipe DataLab Normandie (datalab@example.org)."
    )
    assert slurm_cluster.jobs() == []
