"""Issue 18, item 3: a restart of the Docker engine keeps the labs (``--live-restore``)
and the hub keeps them; a hub killed afterwards adopts its containers, never duplicates
them. The engine restarted is the test's own (:func:`tests.services.dockerd.own_engine`),
not the one other tests share."""

from __future__ import annotations

import re
import time

import docker
import pytest

from hub.backends.docker.policy import LABEL, names

from tests.conftest import PASSWORD
from tests.hubclient import HubClient
from tests.polling import wait_for
from tests.services.dockerd import own_engine, running_docker_hub
from tests.services.faults import labs_holding_a_variable

pytestmark = pytest.mark.integration

USERS = {"analyste1": {}, "analyste3": {"profile": "petit"}}


def running_on_hub(client: HubClient) -> bool:
    server = client.api("GET", f"/users/{client.username}").json()["servers"].get("")
    return bool(server and server.get("ready"))


def containers_of(engine, hub) -> list:
    """The hub's lab containers (labelled with their server; not its dashboards' servers
    nor the containers that read or execute an author's notebook)."""
    found = engine.containers.list(all=True, filters={"label": f"{LABEL}.prefix={hub.name_prefix}"})
    return [c for c in found if f"{LABEL}.server" in c.labels]


@pytest.fixture(scope="module")
def engine(lab_image):
    with own_engine(lab_image) as own:
        yield own


@pytest.fixture(scope="module")
def hub(engine, lab_image, tmp_path_factory):
    """A docker hub on the test's engine that polls its labs every second, so that polls
    fall inside the engine's restart, and logs each poll's answer (DockerSpawner's debug
    line ``Container <id> status: <state>``)."""
    config_dir = tmp_path_factory.mktemp("poll")
    (config_dir / "poll.py").write_text('c.Spawner.poll_interval = 1\nc.JupyterHub.log_level = "DEBUG"\n')
    with running_docker_hub(lab_image, "r", "hub-dockerd-restart.log",
                            extra={"hub": {"config_dir": str(config_dir)}}) as running:
        yield running


@pytest.fixture(scope="module")
def labs(hub, engine):
    """Two running labs, each with a kernel holding a variable: ``(client, kernel id,
    value)``."""
    def units():
        return {c.id: c.status for c in containers_of(engine.client(), hub)}
    with labs_holding_a_variable(hub, USERS, units, "running") as started:
        yield started


def assert_labs_intact(labs, when: str) -> None:
    for client, kernel, value in labs:
        assert client.lab_api("GET", "/status").status_code == 200, (when, client.username)
        assert client._execute_in(kernel, "print(marqueur)", 60).strip() == value, (when, client.username)
        assert running_on_hub(client), (when, client.username)


def test_labs_survive_a_dockerd_restart(hub, engine, labs):
    ids = {c.id for c in containers_of(engine.client(), hub)}
    assert len(ids) == len(USERS)
    polled_before = hub.log_path.read_text(errors="replace").count("Exception in callback")
    down = time.monotonic()
    engine.stop()
    # the hub polls its labs while the engine is away (its poll fails: state unknown)
    wait_for(lambda: hub.log_path.read_text(errors="replace").count("Exception in callback") > polled_before,
             20, "a poll of the hub while the engine is stopped")
    for client, _, _ in labs:  # the labs answer through the proxy without their engine
        assert client.lab_api("GET", "/status").status_code == 200, client.username
    engine.start()
    print(f"\ndockerd stopped for {time.monotonic() - down:.1f} s")
    assert {c.id for c in containers_of(engine.client(), hub) if c.status == "running"} == ids
    # the hub's next polls are answered: both labs running
    mark = hub.log_path.stat().st_size

    def polled_running() -> bool:
        with open(hub.log_path, errors="replace") as log:
            log.seek(mark)
            text = log.read()
        return all(re.search(f'Container {i[:7]} status: .*"Running": true', text) for i in ids)

    wait_for(polled_running, 20, "the hub's polls of both labs after the engine's restart")
    assert_labs_intact(labs, "after the dockerd restart")


def test_a_killed_hub_adopts_its_containers(hub, engine, labs):
    ids = {c.id for c in containers_of(engine.client(), hub)}
    hub.kill()
    hub.start()
    assert_labs_intact(labs, "after the hub's SIGKILL")
    containers = containers_of(engine.client(), hub)
    assert {c.id for c in containers} == ids
    assert sorted(c.name for c in containers) == sorted(
        names(hub.name_prefix, user)["container"] for user in USERS)


def test_a_container_left_by_a_crash_is_replaced_not_duplicated(hub, engine, labs, lab_image):
    """analyste2's container exists under its lab's name (a hub crashed after creating
    it, before recording the lab): the next start removes it and runs one container."""
    client = docker.DockerClient(base_url=engine.host)
    name = names(hub.name_prefix, "analyste2")["container"]
    left = client.containers.run(lab_image, ["sleep", "600"],
                                 name=name, detach=True, network_disabled=True,
                                 labels={f"{LABEL}.prefix": hub.name_prefix})
    person = HubClient(hub.url, "analyste2", PASSWORD)
    r = person.start_server(timeout=150)
    assert r.status_code in (201, 202), r.text
    try:
        person.open_lab()
        assert person.execute("print(6 * 7)").strip() == "42"
        same_name = client.containers.list(all=True, filters={"name": f"^/{name}$"})
        assert len(same_name) == 1 and same_name[0].id != left.id
    finally:
        person.stop_server()
