"""A proxy run apart (``proxy.managed: false``) that restarts: the hub restores every
route within seconds (:class:`hub.routecheck.RouteCheckingProxy`), not at its 5-minute
periodic check."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from tests.conftest import ARTIFACTS, PASSWORD, REPO, RunningHub, open_workdir
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"


class ExternalProxy:
    """configurable-http-proxy started by the test, as systemd would: the hub's public
    port, its API on port + 2, the token in the hub's data directory."""

    def __init__(self, hub: RunningHub):
        self.hub = hub
        token_file = hub.layout.hub / "proxy_token"
        token_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        token_file.write_text("external-proxy-test-token\n")
        token_file.chmod(0o600)
        self.token = "external-proxy-test-token"
        self.log_path = hub.workdir / "proxy.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        port = self.hub.port
        self.process = subprocess.Popen(
            [str(CHP), "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1",
             "--api-port", str(port + 2), "--default-target", f"http://127.0.0.1:{port + 1}"],
            env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": self.token},
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port + 2}/api/routes",
                             headers={"Authorization": f"token {self.token}"}, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the external proxy did not answer within 20 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def external_proxy_hub():
    workdir = open_workdir("datalab-extproxy-")
    hub = RunningHub(workdir, {"proxy": {"managed": False}})
    proxy = ExternalProxy(hub)
    proxy.start()
    try:
        hub.start()
        yield hub, proxy
    finally:
        hub.stop()
        proxy.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(hub.log_path, ARTIFACTS / "external-proxy-hub.log")
        hub.remove_accounts()
        shutil.rmtree(workdir, ignore_errors=True)


def test_routes_answer_within_5_s_after_the_external_proxy_restarts(external_proxy_hub):
    hub, proxy = external_proxy_hub
    client = HubClient(hub.url, "analyste1", PASSWORD)
    client.start_server()
    client.open_lab()
    status = f"{client.lab_url}/api/status"
    assert client.session.get(status, timeout=5).status_code == 200

    proxy.kill()
    proxy.start()
    restarted = time.monotonic()
    answered = None
    while time.monotonic() - restarted < 30:
        try:
            if client.session.get(status, timeout=2, allow_redirects=False).status_code == 200:
                answered = time.monotonic()
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    assert answered is not None, "the lab's route did not come back within 30 s"
    outage = answered - restarted
    print(f"\nexternal proxy restart: the lab's route answered again {outage:.2f} s after the proxy was back")
    assert outage < 5, outage
    assert requests.get(f"{hub.url}/hub/api/", timeout=5).status_code == 200
    client.stop_server()
