"""Issue 18, item 5: the dashboards service stopped by SIGTERM or killed by SIGKILL is
started again by the hub; the dead service's Voilà servers and kernels are gone, a
viewer's reload shows the dashboard, and the caps count only live views (the viewer who
held their whole per-person cap before is admitted again, up to that cap)."""

from __future__ import annotations

import signal
import time

import psutil
import pytest
import requests

from tests.conftest import RunningHub, open_workdir, served
from tests.dashboardhub import (
    CAP_PER_PERSON,
    KERNEL_IN_PAGE,
    dashboards_overrides,
    kernel_info,
    kernel_socket,
    notebook,
    people_of,
    record_timing,
    wait_load,
)

pytestmark = pytest.mark.integration

DASHBOARD = "relance"


@pytest.fixture(scope="module")
def dashboards_hub():
    """The dashboards tests' hub without the deployment's map (nothing kept warm), and
    room on one dashboard for more than one person's cap: the per-person cap is the one
    a viewer meets."""
    overrides = dashboards_overrides()
    overrides["dashboards"] |= {"publish": [], "max_kernels_per_dashboard": CAP_PER_PERSON + 1}
    with served(RunningHub(open_workdir("datalab-dash-restart-"), overrides), "hub-dashboards-restart.log") as hub:
        yield hub


@pytest.fixture(scope="module")
def people(dashboards_hub):
    return people_of(dashboards_hub)


def dashboard_processes(hub) -> list[psutil.Process]:
    """The Voilà servers of this hub's dashboards (their notebooks are in its data
    directory) and their kernels."""
    found = []
    for process in psutil.process_iter():
        try:
            cmdline = " ".join(process.cmdline())
            if "voila_app.py" in cmdline and str(hub.layout.dashboards) in cmdline:
                found += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def hold_views(viewer, count: int) -> list:
    """``count`` page views of the dashboard, each showing the notebook's output and with
    its kernel's websocket open (an open tab); the websockets."""
    sockets = []
    for _ in range(count):
        page = viewer.get(f"d/{DASHBOARD}/")
        assert page.status_code == 200 and "toujours-present" in page.text, page.status_code
        ws = kernel_socket(viewer, DASHBOARD, KERNEL_IN_PAGE.search(page.text).group(1))
        assert kernel_info(ws)["status"] == "ok"
        sockets.append(ws)
    return sockets


def gallery_answers(viewer) -> bool:
    try:
        return viewer.get("", timeout=10).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_after_the_service_restarts_a_reload_works_and_caps_count_live_views(dashboards_hub, people, sig):
    author, viewer = people("analyste1"), people("decideur1")
    r = author.publish(notebook("print('toujours-present')"), id=DASHBOARD, title=DASHBOARD,
                       audience={"all": True})
    assert r.status_code in (200, 201), r.text
    sockets = hold_views(viewer, CAP_PER_PERSON)
    full = viewer.get(f"d/{DASHBOARD}/")
    assert full.status_code == 503 and "Trop de tableaux de bord ouverts" in full.text
    before = dashboard_processes(dashboards_hub)
    assert len(before) >= 1 + CAP_PER_PERSON  # the server and its kernels

    service = dashboards_hub.service_process("hub.services.dashboards")
    service.send_signal(sig)
    killed = time.monotonic()
    _, alive = psutil.wait_procs([service, *before], timeout=30)
    assert not alive, f"still running after the service's end: {alive}"
    for ws in sockets:
        ws.close()
    deadline = time.monotonic() + 90
    while not gallery_answers(viewer):
        assert time.monotonic() < deadline, "the hub did not start the dashboards service again"
        time.sleep(0.5)
    outage = time.monotonic() - killed
    record_timing(f"service restart after {sig.name}", outage)
    print(f"\ndashboards service {sig.name}: back {outage:.1f} s after the signal")
    assert dashboards_hub.service_process("hub.services.dashboards").pid != service.pid

    # the viewer's reload, then their whole cap again, and not one more
    sockets = hold_views(viewer, CAP_PER_PERSON)
    try:
        refused = viewer.get(f"d/{DASHBOARD}/")
        assert refused.status_code == 503 and "Trop de tableaux de bord ouverts" in refused.text
        load = author.call("GET", f"dashboards/{DASHBOARD}").json()
        assert load["kernels"] == load["views"] == CAP_PER_PERSON, load
    finally:
        for ws in sockets:
            ws.close()
    wait_load(author, DASHBOARD, lambda load: load["views"] == 0, 30)
