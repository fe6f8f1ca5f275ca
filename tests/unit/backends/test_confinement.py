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
from hub.settings import Backend, ConfigError, Role, parse

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
    message = confinement.refusal(settings, Backend.slurm, {"chu-exemple-nord"}, user="analyste2")
    assert message.startswith("Données de santé (chu-exemple-nord) : Austral ne peut pas garantir")
    assert "datalab@example.org" in message
    assert confinement.refusal(settings, Backend.slurm, {"univ-alpha"}, user="analyste1") is None
    declared = parse(health_on_austral(confines_health_data=True), REPO)
    assert confinement.refusal(declared, Backend.slurm, {"chu-exemple-nord"}, user="analyste2") is None


def test_the_refusal_is_in_english_with_hub_language_en():
    config = health_on_austral()
    config["hub"] = {**config["hub"], "language": "en"}
    message = confinement.refusal(parse(config, REPO), Backend.slurm, {"chu-exemple-nord"}, user="analyste2")
    assert message.startswith("Health data (chu-exemple-nord): Austral cannot guarantee")


@pytest.mark.parametrize("kind", [Backend.docker, Backend.local])
def test_docker_and_local_confine_only_when_they_manage_the_firewall(monkeypatch, kind):
    settings = parse(example(), REPO)
    monkeypatch.setattr(netfilter, "available", lambda: False)
    refused = confinement.refusal(settings, kind, {"ght-exemple"}, user="analyste2")
    assert f"{kind.value} ne peut pas garantir" in refused
    monkeypatch.setattr(netfilter, "available", lambda: True)
    monkeypatch.setattr("hub.backends.local.isolated", lambda: True)
    assert confinement.refusal(settings, kind, {"ght-exemple"}, user="analyste2") is None


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


# -- a project holding health data is confined like a health partner ------------------------

def health_project_on_austral(**slurm) -> dict:
    """The example where univ-alpha (not health) is entitled to Austral and its member
    analyste1 belongs to a project holding health data."""
    config = example()
    config["slurm"] = {**config["slurm"], **slurm}
    config["projects"] = [{"id": "cohorte-sante", "title": "Cohorte santé", "members": ["analyste1"],
                           "health_data": True}]
    return config


def test_a_health_project_member_asking_for_austral_gets_403_and_nothing_starts():
    settings = parse(health_project_on_austral(), REPO)
    assert "univ-alpha" in next(p for p in settings.profiles if p.id == "austral").partners
    spawner = Spawner(settings, {"univ-alpha"})
    spawner.user.name = "analyste1"
    with pytest.raises(web.HTTPError) as refused:
        _check_user_options(spawner, {"profile": "austral"})
    assert refused.value.status_code == 403
    assert "Données de santé (cohorte-sante) : Austral ne peut pas garantir" in refused.value.log_message
    assert spawner.applied is None
    # a colleague of the same partner outside the project is not concerned
    assert confinement.refusal(settings, Backend.slurm, {"univ-alpha"}, user="analyste3") is None
    declared = parse(health_project_on_austral(confines_health_data=True), REPO)
    assert confinement.refusal(declared, Backend.slurm, {"univ-alpha"}, user="analyste1") is None


@pytest.mark.parametrize("kind", [Backend.docker, Backend.local])
def test_a_health_project_member_is_refused_where_the_firewall_is_not_managed(monkeypatch, kind):
    settings = parse(health_project_on_austral(), REPO)
    monkeypatch.setattr(netfilter, "available", lambda: False)
    assert "(cohorte-sante)" in confinement.refusal(settings, kind, {"univ-alpha"}, user="analyste1")


def test_the_local_chain_confines_health_projects_members(monkeypatch):
    monkeypatch.setattr(local_firewall, "ensure_group", lambda group: 0)
    settings = parse(health_project_on_austral(), REPO)
    groups = local_firewall.health_groups(settings)
    assert "project-cohorte-sante" in groups and "partner-univ-alpha" not in groups
    assert "-m owner --gid-owner project-cohorte-sante --suppl-groups -j REJECT" in local_firewall.rules(groups)


# -- the package mirror health spaces may reach --------------------------------------------

def with_mirror(host: str, port) -> dict:
    config = example()
    config["health"] = {"package_mirror": {"host": host, "port": port}}
    return config


def test_the_package_mirror_is_one_address_and_one_port():
    mirror = parse(with_mirror("192.0.2.20", 3141), REPO).health.package_mirror
    assert (str(mirror.host), mirror.port, mirror.family) == ("192.0.2.20", 3141, 4)
    assert parse(example(), REPO).health.package_mirror is None
    for host, port in (("pypi.org", 443), ("192.0.2.0/24", 3141), ("192.0.2.20", 0), ("192.0.2.20", 70000),
                       ("192.0.2.20; iptables -F", 3141)):
        with pytest.raises(ConfigError):
            parse(with_mirror(host, port), REPO)


def test_the_local_chain_lets_health_spaces_reach_the_mirror_only():
    mirror = parse(with_mirror("192.0.2.20", 3141), REPO).health.package_mirror
    assert local_firewall.rules(["partner-ght-exemple"], mirror, 4) == [
        "-o lo -j RETURN",
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        "-d 192.0.2.20/32 -p tcp -m tcp --dport 3141 -j RETURN",
        "-m owner --gid-owner partner-ght-exemple --suppl-groups -j REJECT",
    ]
    assert "3141" not in " ".join(local_firewall.rules(["partner-ght-exemple"], mirror, 6))
    six = parse(with_mirror("2001:db8::20", 3141), REPO).health.package_mirror
    assert "-d 2001:db8::20/128 -p tcp -m tcp --dport 3141 -j RETURN" in local_firewall.rules(["g"], six, 6)


def test_the_docker_chains_let_containers_reach_the_mirror_only():
    mirror = parse(with_mirror("192.0.2.20", 3141), REPO).health.package_mirror
    four = docker_firewall.rules("172.31.240.1", 8001, 4, mirror)
    to_mirror = "-d 192.0.2.20/32 -p tcp -m tcp --dport 3141 -j RETURN"
    assert four["FORWARD"] == [to_mirror, "-j DROP"]
    assert four["INPUT"] == [
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        "-d 172.31.240.1/32 -p tcp -m tcp --dport 8001 -j RETURN",
        to_mirror,
        "-j REJECT",
    ]
    assert docker_firewall.rules("172.31.240.1", 8001, 6, mirror) == docker_firewall.rules("172.31.240.1", 8001, 6)
