"""Culling, metrics and disk usage on a real hub: an idle lab is culled, a lab whose
kernel computes is not, nor one whose profile has a longer timeout; /hub/metrics and the
services' /metrics answer only the metrics token and parse with prometheus_client's
parser, a start is in the spawn histogram; the disk usage page shows a file the user
wrote and warns above a tiny quota."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid

import pytest
import requests
import websocket
from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import TOKEN_FILE
from tests.conftest import PASSWORD, RunningHub, open_workdir, served
from tests.hubclient import HubClient

pytestmark = pytest.mark.integration

IDLE_TIMEOUT = 20
CULL_EVERY = 5
ACTIVITY_INTERVAL = 5
FILE_BYTES = 300_000


@pytest.fixture(scope="module")
def obs_hub():
    overrides = {
        "culling": {
            "idle_timeout": IDLE_TIMEOUT,
            "every": CULL_EVERY,
            "activity_interval": ACTIVITY_INTERVAL,
            "profiles": {"calcul": {"idle_timeout": 3600}},
        },
        "disk_usage": {
            "cache_seconds": 0,
            "quotas": {"home": "10G", "partners": {"univ-alpha": {"home": "1K"}}},
        },
        "reports": {"enabled": True, "schedules": []},
        "dashboards": {"enabled": True, "publish": []},
    }
    with served(RunningHub(open_workdir("datalab-obs-"), overrides), "observability-hub.log") as running:
        yield running


@pytest.fixture(scope="module")
def people(obs_hub):
    made: dict[str, HubClient] = {}

    def person(name: str) -> HubClient:
        if name not in made:
            made[name] = HubClient(obs_hub.url, name, PASSWORD)
        return made[name]

    return person


def metrics_token(running: RunningHub) -> str:
    return (running.layout.hub / TOKEN_FILE).read_text().strip()


def scrape(url: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=30)


def samples(text: str) -> dict[str, list]:
    """Family name -> its samples, parsed by prometheus_client."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def start_busy_kernel(client: HubClient, seconds: int) -> None:
    """Start a kernel executing ``time.sleep(seconds)``, then close every connection:
    only the kernel's computation is left to count as activity."""
    kernel = client.lab_api("POST", "/kernels", json={"name": "python3"})
    kernel.raise_for_status()
    ws_url = client.lab_url.replace("http://", "ws://") + f"/api/kernels/{kernel.json()['id']}/channels"
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
    ws = websocket.create_connection(ws_url, cookie=cookies, origin=client.base, timeout=30)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": client.username,
                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": f"import time\ntime.sleep({seconds})", "silent": False,
                    "store_history": False, "user_expressions": {}, "allow_stdin": False,
                    "stop_on_error": True},
    }))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if (msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "busy"):
            break
    ws.close()


def test_metrics_refuse_requests_without_the_metrics_token(obs_hub, people):
    user_token = people("analyste1").api(
        "POST", "/users/analyste1/tokens", json={"note": "test"}
    ).json()["token"]
    for path in ("/hub/metrics", "/services/dashboards/metrics", "/services/reports/metrics"):
        assert scrape(obs_hub.url + path, None).status_code in (401, 403), path
        assert scrape(obs_hub.url + path, "not-a-token").status_code in (401, 403), path
        assert scrape(obs_hub.url + path, user_token).status_code == 403, path


def test_services_metrics_parse_with_the_metrics_token(obs_hub):
    token = metrics_token(obs_hub)
    dashboards = scrape(obs_hub.url + "/services/dashboards/metrics", token)
    assert dashboards.status_code == 200, dashboards.text
    assert "datalab_dashboard_views" in samples(dashboards.text)
    reports = scrape(obs_hub.url + "/services/reports/metrics", token)
    assert reports.status_code == 200, reports.text
    assert "datalab_report_runs" in samples(reports.text)


def test_a_start_is_recorded_and_the_lab_counted(obs_hub, people):
    analyst = people("analyste1")
    r = analyst.start_server({"profile": "standard"})
    assert r.status_code in (201, 202), r.text
    hub_metrics = scrape(obs_hub.url + "/hub/metrics", metrics_token(obs_hub))
    assert hub_metrics.status_code == 200
    found = samples(hub_metrics.text)
    assert "jupyterhub_server_spawn_duration_seconds" in found
    counts = [s for s in found["datalab_spawn_duration_seconds"]
              if s.name == "datalab_spawn_duration_seconds_count"
              and s.labels == {"backend": "local", "profile": "standard"}]
    assert counts and counts[0].value >= 1
    buckets = {s.labels["le"] for s in found["datalab_spawn_duration_seconds"] if "le" in s.labels}
    assert "600.0" in buckets
    running = {(s.labels["backend"], s.labels["partner"]): s.value for s in found["datalab_running_servers"]}
    assert running.get(("local", "univ-alpha")) == 1
    home = analyst.session.get(f"{obs_hub.url}/hub/home")
    notice = re.search(r'id="idle-notice"[^>]*>([^<]*)<', home.content.decode("utf-8"))
    assert notice, "no idle notice on the home page"
    assert "Sans activité pendant 1 min, votre lab est arrêté automatiquement" in notice.group(1)


def test_disk_usage_page_shows_the_users_file_and_the_quota_warning(obs_hub, people):
    analyst = people("analyste1")
    analyst.open_lab()
    analyst.execute(f"import os\nopen('donnees.bin', 'wb').write(os.urandom({FILE_BYTES}))")
    page = analyst.session.get(f"{obs_hub.url}/hub/espace")
    assert page.status_code == 200
    assert "Espace disque" in page.text
    home = re.search(r'data-kind="home" data-name="analyste1"\s+data-bytes="(\d+)" data-files="(\d+)"', page.text)
    assert home, page.text
    assert int(home.group(1)) >= FILE_BYTES
    assert 'id="space-warning"' in page.text and "quota indicatif" in page.text
    assert 'data-kind="partner" data-name="univ-alpha"' in page.text
    assert 'id="all-space"' not in page.text  # not an admin

    other = people("analyste2").session.get(f"{obs_hub.url}/hub/espace")
    assert other.status_code == 200
    assert 'id="space-warning"' not in other.text
    assert 'data-name="analyste1"' not in other.text

    began = time.monotonic()
    admin = people("coordinateur").session.get(f"{obs_hub.url}/hub/espace")
    print(f"\nadmin disk usage page (every home and space, no cache): {time.monotonic() - began:.3f} s")
    assert 'id="all-space"' in admin.text
    assert re.search(r'id="all-space".*data-kind="home" data-name="analyste1"', admin.text, re.S)


def server_of(admin: HubClient, name: str) -> dict | None:
    return admin.api("GET", f"/users/{name}").json().get("servers", {}).get("")


def test_idle_lab_is_culled_but_not_a_computing_lab_nor_one_with_a_longer_policy(obs_hub, people):
    admin = people("coordinateur")
    busy = people("analyste2")
    r = busy.start_server()
    assert r.status_code in (201, 202), r.text
    busy.open_lab()
    start_busy_kernel(busy, 300)
    if not server_of(admin, "analyste1"):
        assert people("analyste1").start_server({"profile": "standard"}).status_code in (201, 202)
    deadline = time.monotonic() + IDLE_TIMEOUT + 4 * (CULL_EVERY + ACTIVITY_INTERVAL) + 30
    last_activity = None
    while time.monotonic() < deadline:
        idle = server_of(admin, "analyste1")
        if idle is None:
            break
        last_activity = idle["last_activity"]
        time.sleep(0.5)
    assert server_of(admin, "analyste1") is None, "the idle lab was not culled"
    idle_since = dt.datetime.fromisoformat(last_activity.replace("Z", "+00:00"))
    late = (dt.datetime.now(dt.timezone.utc) - idle_since).total_seconds() - IDLE_TIMEOUT
    print(f"\nidle lab gone {late:.1f} s after its idle timeout ({IDLE_TIMEOUT} s, checks every {CULL_EVERY} s)")
    # a lab of the profile with its own (one hour) idle timeout, started now, stays idle
    own_policy = people("analyste1")
    assert own_policy.start_server({"profile": "calcul"}).status_code in (201, 202)
    time.sleep(IDLE_TIMEOUT + CULL_EVERY + ACTIVITY_INTERVAL)
    # by now the computing lab has had no request for far longer than the timeout too
    server = server_of(admin, "analyste2")
    assert server and server["ready"], "the lab whose kernel computes was culled"
    server = server_of(admin, "analyste1")
    assert server and server["user_options"]["profile"] == "calcul", "the calcul lab was culled"
    busy.stop_server()
    own_policy.stop_server()
