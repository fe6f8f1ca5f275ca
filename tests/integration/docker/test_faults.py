"""Issue 18, item 1: the fault suite on the docker backend. One docker hub with three
running labs (each kernel holding a variable), a dashboard open in a viewer's browser
and a report run in progress during each fault; one at a time: SIGTERM then SIGKILL of
the hub (the test starts it again, as systemd would), of the proxy the hub manages (the
hub starts it again), of the reports service and of the dashboards service (the hub
starts them again). After each: every lab answers through the proxy with its kernel's
variable, the hub lists it running, its container is the same one (no second one); after
a proxy restart the labs' routes answer within 5 s of the proxy answering again; the
report run ends succeeded (followed by the restarted service) or is recorded as
interrupted and run again once, never lost or run twice; the viewer's page reconnects to
its kernel or, when it is gone, a reload shows the dashboard. Each fault's row (what was
lost, the longest outage seen by a probe asking each lab every 0.1 s) goes into
tests/artifacts/faults.md."""

from __future__ import annotations

import os
import signal

import docker
import pytest
import requests

from hub.apply import MANAGED_PROXY_CHECK
from hub.backends.docker.policy import LABEL
from tests.services.dockerd import running_docker_hub
from tests.services.faults import (  # noqa: F401 (fixture dashboard)
    Fault, ReportInProgress, all_answer, dashboard, labs_holding_a_variable, when, write_rows,
)
from tests.services.reports_hub import restart_service

pytestmark = pytest.mark.integration

USERS = {"analyste1": {}, "analyste3": {"profile": "petit"}, "analyste4": {"profile": "petit"}}
RUNNING = "3 docker labs (a variable in a kernel of each), a dashboard viewed, a docker report run"
ROWS: list[tuple[str, str, str, float, str]] = []


@pytest.fixture(scope="module")
def hub(lab_image):
    with running_docker_hub(lab_image, "f", "hub-faults.log") as running:
        yield running
    if ROWS:
        write_rows("docker", ROWS)


@pytest.fixture(scope="module")
def labs(hub):
    with labs_holding_a_variable(hub, USERS, lambda: lab_containers(hub), "running") as started:
        yield started


def proxy_pid(hub) -> int:
    return int((hub.layout.hub / "proxy.pid").read_text())


def proxy_answers(hub) -> bool:
    token = (hub.layout.hub / "proxy_token").read_text().strip()
    try:
        return requests.get(f"http://127.0.0.1:{hub.port + 2}/api/routes",
                            headers={"Authorization": f"token {token}"}, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def lab_containers(hub) -> dict[str, str]:
    """id -> status of the hub's lab containers (labelled with their server; not its
    dashboards' servers nor the containers that read or execute an author's notebook)."""
    containers = docker.from_env().containers.list(
        all=True, filters={"label": f"{LABEL}.prefix={hub.name_prefix}"})
    return {c.id: c.status for c in containers if f"{LABEL}.server" in c.labels}


def fault_of(hub, labs, dashboard) -> Fault:
    return Fault(labs, dashboard, ReportInProgress(hub), lambda: lab_containers(hub), ROWS, RUNNING)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_the_hub_killed_and_started_again(hub, labs, dashboard, sig):
    fault = fault_of(hub, labs, dashboard)
    if sig == signal.SIGKILL:
        hub.kill()
    else:
        hub.process.send_signal(sig)
        hub.process.wait(timeout=60)
    assert lab_containers(hub) == hub.lab_units, "the labs' containers while the hub is down"
    hub.start()
    note = "the proxy stops with the hub" if sig == signal.SIGTERM else "the new hub replaces the proxy left running"
    fault.done(f"hub {sig.name}, started again", note)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_the_managed_proxy_killed(hub, labs, dashboard, sig):
    fault = fault_of(hub, labs, dashboard)
    old = proxy_pid(hub)
    os.kill(old, sig)
    when(lambda: not proxy_answers(hub), 10, "the proxy's end")
    back = when(lambda: proxy_answers(hub) and proxy_pid(hub) != old, 30, "the hub starting the proxy again")
    routes = when(lambda: all_answer(labs), 30, "labs answering through the new proxy") - back
    print(f"\nmanaged proxy {sig.name}: routes back {routes:.2f} s after the proxy")
    assert routes < 5, routes
    fault.done(f"managed proxy {sig.name}",
               f"routes back {routes:.1f} s after the proxy (the hub looks every {MANAGED_PROXY_CHECK} s)")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
@pytest.mark.parametrize("service", ["reports", "dashboards"])
def test_a_service_killed(hub, labs, dashboard, service, sig):
    fault = fault_of(hub, labs, dashboard)
    if service == "reports":
        away = restart_service(hub, fault.report.client, sig)
    else:
        process = hub.service_process("hub.services.dashboards")
        process.send_signal(sig)
        process.wait(timeout=30)
        away = 0.0
    fault.done(f"{service} service {sig.name}",
               f"service back {away:.1f} s after the signal" if away else "the hub starts the service again")
