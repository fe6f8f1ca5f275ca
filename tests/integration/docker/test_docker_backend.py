"""The docker backend on a real Docker engine: concurrency, persistence, limits, errors,
progress, network isolation, names. Labs outliving the hub: test_faults.py."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
import requests
import websocket

from hub.backends.docker.policy import names
from tests.conftest import PASSWORD
from tests.hubclient import HubClient
from tests.services.dockerd import running_docker_hub
from tests.unit.backends.test_docker_names import SERVERS, USERS

pytestmark = pytest.mark.integration

GiB, MiB = 1024**3, 1024**2


@pytest.fixture(scope="module")
def engine(dockerd):
    return docker.from_env()


def container_of(engine, hub, user: str):
    return engine.containers.get(names(hub.name_prefix, user)["container"])


def wait_removed(engine, hub, user: str, timeout: float = 30) -> None:
    """Docker removes a stopped container (``remove=True``) asynchronously: wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container_of(engine, hub, user)
        except docker.errors.NotFound:
            return
        time.sleep(0.2)
    raise AssertionError(f"{user}'s container still exists {timeout} s after the stop")


def start(hub, user: str, profile: str | None = None) -> HubClient:
    client = HubClient(hub.url, user, PASSWORD)
    r = client.start_server({"profile": profile} if profile else {}, timeout=150)
    assert r.status_code in (201, 202), r.text
    client.open_lab()
    return client


def ip_of(container, network: str) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def test_four_users_spawn_and_stop_concurrently(docker_hub, engine):
    users = ["analyste1", "analyste2", "analyste3", "analyste4"]
    began = time.monotonic()
    with ThreadPoolExecutor(len(users)) as pool:
        clients = list(pool.map(lambda u: start(docker_hub, u), users))
    spawned = time.monotonic() - began
    for client in clients:
        assert client.lab_api("GET", "/status").status_code == 200
        assert container_of(engine, docker_hub, client.username).status == "running"
    began = time.monotonic()
    with ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(lambda c: c.stop_server(), clients))
    stopped = time.monotonic() - began
    for user in users:
        wait_removed(engine, docker_hub, user)
    print(f"4 concurrent spawns: {spawned:.1f} s, 4 concurrent stops: {stopped:.1f} s")


def test_home_survives_stop_start_and_container_removal(docker_hub, engine):
    client = start(docker_hub, "analyste3", "petit")
    word = uuid.uuid4().hex
    client.execute(f"open('persistant.txt', 'w').write({word!r})")
    first = container_of(engine, docker_hub, "analyste3").id
    client.stop_server()
    wait_removed(engine, docker_hub, "analyste3")
    assert engine.volumes.get(names(docker_hub.name_prefix, "analyste3")["volume"])
    client = start(docker_hub, "analyste3", "petit")
    try:
        assert container_of(engine, docker_hub, "analyste3").id != first
        assert client.execute("print(open('persistant.txt').read())").strip() == word
    finally:
        client.stop_server()


def test_container_has_its_profile_limits_mounts_and_no_privileges(docker_hub, engine):
    client = start(docker_hub, "analyste3", "petit")
    try:
        attrs = container_of(engine, docker_hub, "analyste3").attrs
        host = attrs["HostConfig"]
        assert host["Memory"] == 512 * MiB and host["MemorySwap"] == 512 * MiB
        assert host["CpuQuota"] / host["CpuPeriod"] == 0.5
        assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
        assert host["NetworkMode"] == docker_hub.network and not host.get("PortBindings")
        assert attrs["Config"]["User"] == "1000:100"
        mounts = {m["Destination"]: m for m in attrs["Mounts"]}
        confinement = "/opt/datalab-hub/hub/lab_confinement.py"  # the health labs' rules, read-only in every lab
        assert set(mounts) == {"/home/jovyan", "/srv/datalab/library",
                               "/home/jovyan/partenaire-univ-beta", confinement}
        assert mounts[confinement]["Type"] == "bind" and not mounts[confinement]["RW"]
        assert mounts["/home/jovyan"]["Type"] == "volume" and mounts["/home/jovyan"]["RW"]
        assert not mounts["/srv/datalab/library"]["RW"]
        assert mounts["/home/jovyan/partenaire-univ-beta"]["RW"]
    finally:
        client.stop_server()


def _send_code(client: HubClient, kernel_id: str, code: str) -> None:
    """Send ``code`` to a kernel without waiting for its reply."""
    ws_url = client.lab_url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
    ws = websocket.create_connection(ws_url, cookie=cookies, origin=client.base, timeout=30)
    ws.send(json.dumps({
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "",
                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    ws.close()


def test_memory_above_the_limit_kills_the_kernel_not_the_server(docker_hub, engine):
    client = start(docker_hub, "analyste3", "petit")  # 512M
    try:
        container = container_of(engine, docker_hub, "analyste3")
        kernel_id = client.lab_api("POST", "/kernels", json={"name": "python3"}).json()["id"]
        assert client._execute_in(kernel_id, "marqueur = 1; print('ok')", 60).strip() == "ok"
        _send_code(client, kernel_id, "trop = b'x' * (900 << 20)")
        answer = None
        for _ in range(12):  # the kernel is restarted by the server once killed
            try:
                answer = client._execute_in(kernel_id, "print('marqueur' in globals())", 10)
                if answer.strip() == "False":
                    break
            except (TimeoutError, websocket.WebSocketException):
                pass
            time.sleep(2)
        assert answer is not None and answer.strip() == "False"
        container.reload()
        assert container.status == "running" and not container.attrs["State"]["OOMKilled"]
        assert client.lab_api("GET", "/status").status_code == 200
        assert requests.get(f"{docker_hub.url}/hub/api/", timeout=10).status_code == 200
    finally:
        client.stop_server()


def test_docker_refusal_reaches_the_api_caller_in_plain_words(docker_hub, engine):
    client = HubClient(docker_hub.url, "analyste4", PASSWORD)
    r = client.api("POST", "/users/analyste4/server", json={"profile": "minuscule"})
    if r.status_code == 202:  # slower than the hub's 10 s: the failure comes by progress
        events = client.session.get(
            f"{docker_hub.url}/hub/api/users/analyste4/server/progress",
            headers={"X-XSRFToken": client._xsrf("/hub/api")}, timeout=120,
        ).text
        body = events
    else:
        body = r.json()["message"]
    assert "Docker n'a pas pu démarrer votre lab" in body
    assert "Minimum memory limit" in body


def test_spawn_progress_is_reported_in_french(docker_hub):
    client = HubClient(docker_hub.url, "analyste4", PASSWORD)
    poster = threading.Thread(target=client.api, args=("POST", "/users/analyste4/server"),
                              kwargs={"json": {"profile": "petit"}})
    poster.start()
    messages = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            server = client.api("GET", "/users/analyste4").json()["servers"].get("", {})
            if server.get("pending") == "spawn":
                break
            time.sleep(0.05)
        with client.session.get(
            f"{docker_hub.url}/hub/api/users/analyste4/server/progress",
            headers={"X-XSRFToken": client._xsrf("/hub/api")}, stream=True, timeout=120,
        ) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event = json.loads(line[5:])
                    messages.append(event.get("message", ""))
                    if event.get("ready") or event.get("failed"):
                        break
    finally:
        poster.join(60)
        client.wait_ready(120)
        client.stop_server()
    text = "\n".join(messages)
    assert "Préparation de votre dossier personnel" in text, text
    assert "Démarrage du conteneur" in text, text


def test_hub_refuses_to_start_without_the_lab_image(lab_image):
    with pytest.raises(RuntimeError) as refused:
        with running_docker_hub("datalab-lab:absente", "c", "hub-docker-no-image.log"):
            pass
    message = str(refused.value)
    assert "the lab image 'datalab-lab:absente' is not in the Docker engine" in message
    assert "build it with `make image`" in message


class TestIsolation:
    """analyste1 (univ-alpha) and analyste2 (chu-exemple-nord) both run; analyste1's
    kernel tries to reach what is not theirs."""

    @pytest.fixture(scope="class")
    @classmethod
    def pair(cls, docker_hub, engine):
        one, two = start(docker_hub, "analyste1"), start(docker_hub, "analyste2")
        yield one, two, ip_of(container_of(engine, docker_hub, "analyste2"), docker_hub.network)
        one.stop_server()
        two.stop_server()

    def test_a_container_cannot_serve_another_users_url(self, docker_hub, pair):
        one, two, ip_two = pair
        out = one.execute(
            "import socket\n"
            "s = socket.socket()\n"
            f"try:\n    s.bind(({ip_two!r}, 8888)); print('bound')\n"
            "except OSError as e:\n    print(e.strerror)\n"
        )
        assert out.strip() == "Cannot assign requested address"
        token = (docker_hub.layout.hub / "proxy_token").read_text().strip()
        routes = requests.get(f"http://127.0.0.1:{docker_hub.port + 2}/api/routes",
                              headers={"Authorization": f"token {token}"}, timeout=10).json()
        assert routes["/user/analyste2"]["target"] == f"http://{ip_two}:8888"
        assert two.lab_api("GET", "/status").status_code == 200

    def test_a_container_reaches_the_hub_api_but_not_the_proxy(self, docker_hub, pair):
        one, _, _ = pair
        gateway = docker_hub.gateway
        out = one.execute(
            "import socket, urllib.request\n"
            f"for port in ({docker_hub.port}, {docker_hub.port + 2}):\n"
            f"    for host in ({gateway!r}, '127.0.0.1'):\n"
            "        try:\n"
            "            socket.create_connection((host, port), timeout=5).close(); print('open')\n"
            "        except OSError as e:\n"
            "            print(type(e).__name__)\n"
            f"print(urllib.request.urlopen('http://{gateway}:{docker_hub.port + 1}/hub/api/').status)\n"
        )
        assert out.split() == ["ConnectionRefusedError"] * 4 + ["200"]

    def test_a_container_gets_the_hubs_api_and_none_of_its_pages(self, docker_hub, pair):
        """Attack from a lab: the hub's login form, admin and token pages, a path that
        climbs out of the API, a forged client address; only the API answers."""
        one, _, _ = pair
        hub = f"http://{docker_hub.gateway}:{docker_hub.port + 1}"
        out = one.execute(
            "import urllib.request, urllib.error\n"
            f"for path in ('/hub/api/', '/hub/login', '/hub/admin', '/hub/token', '/hub/api/../login',\n"
            "             '/hub/api%2F..%2Flogin', '/hub/'):\n"
            f"    request = urllib.request.Request({hub!r} + path, headers={{'X-Forwarded-For': '127.0.0.1'}})\n"
            "    try:\n"
            "        r = urllib.request.urlopen(request, timeout=10); body = r.read().decode(); code = r.status\n"
            "    except urllib.error.HTTPError as e:\n"
            "        body = e.read().decode(); code = e.code\n"
            "    print(code, 'password' in body.lower() or 'mot de passe' in body.lower())\n"
        )
        answers = [line.split() for line in out.strip().splitlines()]
        assert answers[0] == ["200", "False"]
        assert all(code == "404" and page == "False" for code, page in answers[1:]), answers

    def test_another_users_server_is_out_of_reach(self, pair):
        one, _, ip_two = pair
        out = one.execute(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(({ip_two!r}, 8888), timeout=5).close(); print('open')\n"
            "except OSError as e:\n"
            "    print(type(e).__name__)\n"
        )
        assert out.strip() in ("TimeoutError", "ConnectionRefusedError")

    def test_containers_only_join_the_internal_network(self, docker_hub, engine, pair):
        container = container_of(engine, docker_hub, "analyste1")
        assert list(container.attrs["NetworkSettings"]["Networks"]) == [docker_hub.network]
        network = engine.networks.get(docker_hub.network)
        assert network.attrs["Internal"] is True
        # the default route containers get leads to the host, which drops what it would
        # forward off the machine (and, with br_netfilter, between containers)
        bridge = f"br-{network.id[:12]}"
        rule = ["FORWARD", "-i", bridge, "-j", f"DATALAB-FWD-{bridge}"]
        assert subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0
        assert subprocess.run(["iptables", "-C", f"DATALAB-FWD-{bridge}", "-j", "DROP"],
                              capture_output=True).returncode == 0


def test_every_name_of_the_corpus_is_accepted_by_docker(lab_image, engine):
    containers, volumes = [], []
    try:
        for user in USERS:
            n = names("tcorpus-", user)
            volumes.append(engine.volumes.create(n["volume"]))
            for server in SERVERS:
                n = names("tcorpus-", user, server)
                containers.append(engine.containers.create(
                    lab_image, name=n["container"], hostname=n["hostname"], network_disabled=True))
        assert len({c.name for c in containers}) == len(USERS) * len(SERVERS)
        assert len({v.name for v in volumes}) == len(USERS)
    finally:
        for obj in containers + volumes:
            obj.remove(force=True)
