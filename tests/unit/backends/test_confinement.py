"""Health-data confinement: which partners hold health data, which backend refuses to
run their members' code, and the firewall rules each backend keeps (their text; the
rules at work are tested in tests/integration/docker/test_network_docker.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from tornado import web

from hub.backends import confinement, netfilter
from hub.backends.base import DataLabSpawnerMixin, _check_user_options
from hub.backends.docker import firewall as docker_firewall
from hub.backends.local import firewall as local_firewall
from hub.groups import partner_group, role_group
from hub.settings import Backend, Role, parse

REPO = Path(__file__).resolve().parents[3]


def example() -> dict:
    return yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def health_on_austral(**slurm) -> dict:
    """The example with chu-exemple-nord (santé) entitled to the Austral profile."""
    config = example()
    entitlement = {**config["slurm"]["entitlements"][0], "partner": "chu-exemple-nord", "account": "chu"}
    config["slurm"] = {**config["slurm"], "entitlements": [*config["slurm"]["entitlements"], entitlement], **slurm}
    config["profiles"][2]["partners"].append("chu-exemple-nord")
    return config


def test_partners_of_type_sante_hold_health_data():
    settings = parse(example(), REPO)
    assert {p.id for p in settings.partners if p.holds_health_data} == {
        "chu-exemple-nord", "chu-exemple-sud", "centre-cancer-ex", "ght-exemple"}
    assert confinement.health_partners(settings, {"univ-alpha", "chu-exemple-sud"}) == ["chu-exemple-sud"]


def test_austral_refuses_health_data_unless_the_deployment_says_it_confines_it():
    settings = parse(health_on_austral(), REPO)
    message = confinement.refusal(settings, Backend.slurm, {"chu-exemple-nord"})
    assert message.startswith("Données de santé (chu-exemple-nord) : Austral ne peut pas garantir")
    assert "datalab@example.org" in message
    assert confinement.refusal(settings, Backend.slurm, {"univ-alpha"}) is None
    declared = parse(health_on_austral(confines_health_data=True), REPO)
    assert confinement.refusal(declared, Backend.slurm, {"chu-exemple-nord"}) is None


def test_the_refusal_is_in_english_with_hub_language_en():
    config = health_on_austral()
    config["hub"] = {**config["hub"], "language": "en"}
    message = confinement.refusal(parse(config, REPO), Backend.slurm, {"chu-exemple-nord"})
    assert message.startswith("Health data (chu-exemple-nord): Austral cannot guarantee")


@pytest.mark.parametrize("kind", [Backend.docker, Backend.local])
def test_docker_and_local_confine_only_when_they_manage_the_firewall(monkeypatch, kind):
    settings = parse(example(), REPO)
    monkeypatch.setattr(netfilter, "available", lambda: False)
    assert f"{kind.value} ne peut pas garantir" in confinement.refusal(settings, kind, {"ght-exemple"})
    monkeypatch.setattr(netfilter, "available", lambda: True)
    monkeypatch.setattr("hub.backends.local.isolated", lambda: True)
    assert confinement.refusal(settings, kind, {"ght-exemple"}) is None


class Spawner(DataLabSpawnerMixin):
    """The spawn checks of a member of ``partners``, without JupyterHub."""

    def __init__(self, settings, partners):
        super().__init__(datalab_settings=settings)
        self._partners = set(partners)
        self.applied = None
        groups = [partner_group(p) for p in partners] + [role_group(Role.analyst)]
        self.user = SimpleNamespace(name="analyste2", groups=[SimpleNamespace(name=g) for g in groups])

    @property
    def partner_ids(self):
        return self._partners

    def apply_profile(self, profile):
        self.applied = profile.id

    def apply_profile_options(self, profile, options):
        pass


def test_a_health_member_asking_for_austral_gets_403_and_nothing_starts():
    spawner = Spawner(parse(health_on_austral(), REPO), {"chu-exemple-nord"})
    with pytest.raises(web.HTTPError) as refused:
        _check_user_options(spawner, {"profile": "austral"})
    assert refused.value.status_code == 403
    assert "Austral ne peut pas garantir" in refused.value.log_message
    assert spawner.applied is None
    _check_user_options(spawner, {"profile": "standard"})
    assert spawner.applied == "standard"


def test_docker_chains_let_containers_reach_only_the_hub_api():
    four = docker_firewall.rules("172.31.240.1", 8001, 4)
    assert four["FORWARD"] == ["-j DROP"]
    assert four["INPUT"] == [
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        "-d 172.31.240.1/32 -p tcp -m tcp --dport 8001 -j RETURN",
        "-j REJECT",
    ]
    assert docker_firewall.rules("172.31.240.1", 8001, 6)["INPUT"] == [
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN", "-j REJECT"]
    assert docker_firewall.chain("FORWARD", "br-357794bd928b") == "DATALAB-FWD-br-357794bd928b"
    assert len(docker_firewall.chain("FORWARD", "x" * 15)) <= 28  # iptables' longest chain name


def test_local_chain_rejects_what_health_groups_send_off_the_machine():
    assert local_firewall.rules(["partner-ght-exemple"]) == [
        "-o lo -j RETURN",
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        "-m owner --gid-owner partner-ght-exemple --suppl-groups -j REJECT",
    ]
