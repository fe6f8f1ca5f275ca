"""Docker names of users' servers: valid Docker and DNS names, distinct for distinct
(user, server) pairs, whatever the user name holds."""

from __future__ import annotations

import itertools
import re

from hub.backends.docker.policy import names

USERS = [
    "analyste1", "Analyste1", "jean.dupont@chu-exemple.fr", "jean_dupont@chu-exemple.fr",
    "jean-dupont", "jean--dupont", "jean-2ddupont", "élodie", "elodie", "Élodie", "o'brien",
    "obrien", "José.Müller", "x" * 101, "x" * 100 + "y", "x" * 30 + "é" * 40,
    "x" * 31 + "é" * 40, "用户", "a b", "-", "--", "a-", "a/../b",
]
SERVERS = ["", "rapport", "Rapport", "analyse-2024", "d'été", "s" * 120, "s" * 119 + "t", "-"]

CONTAINER = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def corpus():
    return list(itertools.product(USERS, SERVERS))


def test_names_are_valid_docker_and_dns_names():
    for user, server in corpus():
        n = names("datalab-", user, server)
        assert CONTAINER.fullmatch(n["container"]) and len(n["container"]) <= 78, (user, server)
        assert CONTAINER.fullmatch(n["volume"]), user
        assert DNS_LABEL.fullmatch(n["hostname"]), (user, server)


def test_distinct_servers_get_distinct_containers_and_hostnames():
    pairs = corpus()
    containers = {names("datalab-", u, s)["container"] for u, s in pairs}
    hostnames = {names("datalab-", u, s)["hostname"] for u, s in pairs}
    assert len(containers) == len(pairs)
    assert len(hostnames) == len(pairs)


def test_each_user_has_one_home_volume_for_all_their_servers():
    volumes = {u: {names("datalab-", u, s)["volume"] for s in SERVERS} for u in USERS}
    assert all(len(v) == 1 for v in volumes.values())
    assert len({v.pop() for v in volumes.values()}) == len(USERS)


def test_a_server_name_cannot_forge_another_users_container():
    # a cut user part never holds "--": the first "--" always separates user and server
    for user, server in corpus():
        container = names("datalab-", user, server)["container"]
        user_part = container.removeprefix("datalab-").split("--", 1)[0]
        assert user_part == names("datalab-", user)["container"].removeprefix("datalab-")


def test_plain_names_stay_readable():
    n = names("datalab-", "analyste1", "rapport")
    assert n == {"container": "datalab-analyste1--rapport",
                 "hostname": "lab-analyste1--rapport", "volume": "datalab-home-analyste1"}
