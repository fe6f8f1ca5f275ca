"""The hub start-up benchmark's pure parts (bench/hub_scale.py): the population, the
database it writes through JupyterHub's ORM, the spawner states it records, the summary."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections import Counter

import pytest
from jupyterhub import orm

from bench.hub_scale import (
    NAMED_SERVER,
    STUB,
    Placement,
    docker_state,
    fill_database,
    listening,
    population,
    running_servers,
    slurm_state,
    summarize,
)
from hub.backends.dispatch import ProfileSpawner
from hub.groups import partners_of
from hub.settings import Backend, Role
from tests.conftest import free_port_block

from .deployment import EXAMPLE, settings_in


def docker_settings(tmp_path):
    """The example deployment on the docker backend, as the benchmark's hub."""
    return settings_in(tmp_path, spawner={**EXAMPLE["spawner"], "backend": "docker"})


def _placements(labs) -> dict:
    out = {}
    for i, lab in enumerate(labs):
        state = (slurm_state(str(1000 + i), "login", "node", 1.0, 2.0) if lab.backend == Backend.slurm
                 else docker_state(f"id{i}", f"c{i}"))
        out[(lab.user, lab.server)] = Placement(f"10.0.{i // 250}.{i % 250}", 8888, state)
    return out


def test_population_spreads_people_over_the_partners_and_servers_over_the_backends(tmp_path):
    settings = docker_settings(tmp_path)
    people, labs = population(settings, users=1000, servers=200, named=40, slurm=50)
    assert len(people) == 1000 and len({p.name for p in people}) == 1000
    per_partner = Counter(p.partner for p in people)
    assert set(per_partner) == {p.id for p in settings.partners} and len(per_partner) == 21
    assert max(per_partner.values()) - min(per_partner.values()) <= 1
    assert len(labs) == 200 and len({(lab.user, lab.server) for lab in labs}) == 200
    roles = {p.name: p.role for p in people}
    assert all(roles[lab.user] == Role.analyst for lab in labs)
    named = [lab for lab in labs if lab.server]
    assert len(named) == 40 and {lab.server for lab in named} == {NAMED_SERVER}
    defaults = {lab.user: lab for lab in labs if not lab.server}
    assert all(defaults[lab.user].backend == Backend.docker for lab in named)
    slurm = [lab for lab in labs if lab.backend == Backend.slurm]
    partner = {p.name: p.partner for p in people}
    entitled = {e.partner for e in settings.slurm.entitlements}
    assert len(slurm) == 50 and all(partner[lab.user] in entitled and lab.profile == "austral" for lab in slurm)
    assert all(lab.profile == "standard" for lab in labs if lab.backend == Backend.docker)


def test_population_refuses_what_it_cannot_hold(tmp_path):
    settings = docker_settings(tmp_path)
    with pytest.raises(ValueError, match="Slurm profile"):
        population(settings, users=100, servers=50, named=0, slurm=40)
    with pytest.raises(ValueError, match="default servers"):
        population(settings, users=10, servers=50, named=0, slurm=0)
    with pytest.raises(ValueError, match="named"):
        population(settings, users=1000, servers=10, named=6, slurm=0)


def test_fill_writes_people_groups_and_running_servers(tmp_path):
    settings = docker_settings(tmp_path)
    people, labs = population(settings, users=1000, servers=200, named=40, slurm=50)
    placements = _placements(labs)
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    counts = fill_database(url, settings, people, labs, placements)
    assert counts == {"users": 1000, "servers": 200, "named": 40, "slurm": 50}
    assert running_servers(url) == 200
    db = orm.new_session_factory(url)()
    try:
        assert db.query(orm.User).count() == 1000
        partner_groups = [g for g in db.query(orm.Group) if partners_of([g.name])]
        assert len(partner_groups) == 21
        assert sum(len(g.users) for g in partner_groups) == 1000
        assert all(g.properties["partner"] == partners_of([g.name]).pop() for g in partner_groups)
        assert len(orm.Group.find(db, "role-decision-maker").users) == 100
        spawners = db.query(orm.Spawner).all()
        assert len(spawners) == 200 and sum(1 for s in spawners if s.name == NAMED_SERVER) == 40
        for spawner in spawners:
            place = placements[(spawner.user.name, spawner.name)]
            assert (spawner.server.ip, spawner.server.port) == (place.ip, place.port)
            assert spawner.server.base_url == f"/user/{spawner.user.name}/" + (f"{spawner.name}/" if spawner.name else "")
            assert spawner.state == place.state and spawner.started is not None
            assert spawner.oauth_client.identifier.startswith(f"jupyterhub-user-{spawner.user.name}")
        assert db.query(orm.APIToken).count() == 200
    finally:
        db.close()


def test_fill_leaves_out_the_servers_without_placement(tmp_path):
    settings = docker_settings(tmp_path)
    people, labs = population(settings, users=100, servers=20, named=4, slurm=5)
    placements = {k: v for k, v in _placements(labs).items() if v.state["backend"] != Backend.slurm.value}
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert fill_database(url, settings, people, labs, placements) == {"users": 100, "servers": 15, "named": 4, "slurm": 0}
    assert running_servers(url) == 15


def test_recorded_states_load_into_the_dispatching_spawner():
    docker_lab = ProfileSpawner()
    docker_lab.load_state(docker_state("0123abcd", "b1s-scale0001"))
    assert type(docker_lab.child).__name__ == "DataLabDockerSpawner"
    assert (docker_lab.child.object_id, docker_lab.child.object_name) == ("0123abcd", "b1s-scale0001")
    slurm_lab = ProfileSpawner()
    state = slurm_state("77", "austral1s-scale", "node1", 10.0, 20.0)
    slurm_lab.load_state(state)
    assert type(slurm_lab.child).__name__ == "SlurmSpawner"
    assert (slurm_lab.child.job_id, slurm_lab.child.login, slurm_lab.child.phase) == ("77", "austral1s-scale", "running")
    assert slurm_lab.get_state() == state


def _sample(db, which, r, first, initialized, rss):
    memory = {"hub": rss * 2**20, "tree": 2 * rss * 2**20}
    return {"db": db, "which": which, "round": r, "first_answer": first, "initialized": initialized,
            "rss_initialized": memory}


def test_summary_gives_per_round_ratios_and_full_memory():
    samples = [
        _sample("sqlite", "empty", 0, 2.0, 2.1, 200), _sample("sqlite", "full", 0, 3.0, 4.2, 300),
        _sample("sqlite", "full", 1, 5.0, 5.0, 310), _sample("sqlite", "empty", 1, 2.5, 2.5, 210),
        _sample("postgresql", "empty", 0, 2.0, 2.0, 200),
    ]
    out = summarize(samples)
    assert out["sqlite"]["first_answer_full_vs_empty"] == {"n": 2, "median": 1.75, "min": 1.5, "max": 2.0}
    assert out["sqlite"]["initialized_full_vs_empty"]["median"] == 2.0
    assert out["sqlite"]["rss_hub_full_mib"] == {"n": 2, "median": 305.0, "min": 300.0, "max": 310.0}
    assert out["sqlite"]["rss_tree_full_mib"]["max"] == 620.0
    assert out["postgresql"]["first_answer_full_vs_empty"]["n"] == 0


def test_the_stub_answers_any_path_as_a_lab_would_the_hub_check():
    port = free_port_block(1)
    stub = subprocess.Popen(["python3", "-I", "-S", "-c", STUB, "127.0.0.1", str(port), "6.1.1"])
    try:
        deadline = time.monotonic() + 10
        while not listening("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.02)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/user/scale0001/analyse/api", timeout=5) as answer:
            assert (answer.status, answer.headers["X-JupyterHub-Version"], answer.read()) == (200, "6.1.1", b"{}")
    finally:
        stub.terminate()
        stub.wait(timeout=10)
