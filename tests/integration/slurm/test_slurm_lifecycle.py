"""A lab's job through its life on a real Slurm cluster: waiting with Slurm's reason,
a start timeout, a job cancelled from outside, a hub that crashes and restarts."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, PASSWORD, RunningHub
from tests.hubclient import HubClient
from tests.integration.slurm.conftest import progress_events, wait_gone
from tests.services.slurm import slurm_hub_overrides

pytestmark = pytest.mark.integration

AUSTRAL = {"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G", "walltime": "0:20"}


def _pending(event: dict) -> bool:
    return "Raison Slurm : Resources" in event.get("message", "")


def start_pending(client: HubClient) -> None:
    """POST a start that will wait in the queue. JupyterHub answers 202, or 201 when it
    replaced the spawner of an earlier failed start (it then looks at the old one)."""
    r = client.api("POST", "/users/analyste1/server", json=AUSTRAL)
    assert r.status_code in (201, 202), r.text


def _lab_job(cluster) -> dict:
    [job] = [j for j in cluster.jobs() if j["name"] == "datalab-analyste1"]
    return job


def test_pending_job_shows_slurm_reason_then_times_out_and_is_cancelled(slurm_hub, slurm_cluster, blocker):
    with blocker:
        client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
        start_pending(client)
        events = progress_events(client, until=_pending, timeout=30)
        job = _lab_job(slurm_cluster)
        events += progress_events(client, until=lambda e: e.get("failed"), timeout=60)
    messages = [e["message"] for e in events]
    assert any("Raison Slurm : Resources (les ressources demandées ne sont pas libres)" in m
               for m in messages), messages
    assert any("Position dans la file de la partition debug : 1 sur 1." in m for m in messages), messages
    assert events[-1]["failed"] and "n'a pas démarré en 25 s" in events[-1]["message"], messages
    assert "le job a été annulé" in events[-1]["message"]
    assert slurm_cluster.job_state(job["id"]) == "CANCELLED"
    wait_gone(client)


def test_job_cancelled_while_pending_fails_the_spawn_within_10_s(slurm_hub, slurm_cluster, blocker):
    with blocker:
        client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
        start_pending(client)
        progress_events(client, until=_pending, timeout=30)
        job = _lab_job(slurm_cluster)
        slurm_cluster.run("scancel", job["id"])
        cancelled = time.monotonic()
        events = progress_events(client, until=lambda e: e.get("failed"), timeout=30)
        elapsed = time.monotonic() - cancelled
    assert events[-1].get("failed"), events
    assert elapsed < 10, elapsed
    message = events[-1]["message"]
    assert f"Le job {job['id']} s'est arrêté pendant le démarrage (état Slurm : CANCELLED)" in message
    assert f"datalab-austral-{job['id']}.log" in message
    wait_gone(client)


def test_job_that_dies_at_start_fails_with_the_tail_of_its_log(slurm_hub, slurm_cluster, austral_logins):
    """A broken Jupyter configuration in the user's home stops the lab at once: the spawn
    fails with the job's state and the end of its log, which says why."""
    config = austral_logins.home("ana1") / ".jupyter" / "jupyter_server_config.py"
    if not config.parent.exists():
        config.parent.mkdir()
        shutil.chown(config.parent, austral_logins.login("ana1"), austral_logins.login("ana1"))
    config.write_text('raise SystemExit("configuration cassée exprès")\n')
    try:
        client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
        r = client.api("POST", "/users/analyste1/server", json=AUSTRAL)
        if r.status_code in (201, 202):
            message = progress_events(client, until=lambda e: e.get("failed"))[-1]["message"]
        else:
            message = r.json()["message"]
    finally:
        config.unlink()
    assert "s'est arrêté pendant le démarrage (état Slurm : FAILED)" in message, message
    assert "configuration cassée exprès" in message, message
    wait_gone(client)


def test_running_lab_cancelled_from_outside_is_noticed(slurm_hub, slurm_cluster):
    client = HubClient(slurm_hub.url, "analyste1", PASSWORD)
    assert client.start_server(AUSTRAL, timeout=60).status_code in (201, 202)
    job = _lab_job(slurm_cluster)
    slurm_cluster.run("scancel", job["id"])
    wait_gone(client, timeout=60)
    assert slurm_cluster.job_state(job["id"]) in {"CANCELLED", ""}


def _own_hub(slurm_cluster, austral_logins, start_timeout: int = 25):
    """A hub of its own, that a test may stop or kill (SIGKILL, with its proxy) and restart."""
    workdir = Path(tempfile.mkdtemp(prefix="datalab-slurmcrash-"))
    workdir.chmod(0o755)
    running = RunningHub(workdir, slurm_hub_overrides(slurm_cluster, austral_logins, start_timeout))
    running.start()
    try:
        yield running
    finally:
        running.stop()
        slurm_cluster.cancel_all()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(running.log_path, ARTIFACTS / "slurm-crash-hub.log")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def crash_hub(slurm_cluster, austral_logins):
    yield from _own_hub(slurm_cluster, austral_logins)


@pytest.fixture
def patient_crash_hub(slurm_cluster, austral_logins):
    """:func:`crash_hub` with a start timeout long enough for a hub restart in the
    middle of a start (90 s)."""
    yield from _own_hub(slurm_cluster, austral_logins, start_timeout=90)


def crash(hub: RunningHub) -> None:
    """SIGKILL the hub, then its proxy (which outlives it), by their PIDs."""
    proxy_pid = int((hub.layout.hub / "proxy.pid").read_text())
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait()
    os.kill(proxy_pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(proxy_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def test_running_lab_is_reattached_after_a_hub_crash(crash_hub, slurm_cluster):
    client = HubClient(crash_hub.url, "analyste1", PASSWORD)
    assert client.start_server(AUSTRAL, timeout=60).status_code in (201, 202)
    client.open_lab()
    job = _lab_job(slurm_cluster)
    crash(crash_hub)
    crash_hub.start()
    assert client.api("GET", "/users/analyste1").json()["servers"][""]["ready"]
    client.open_lab()
    assert client.execute("import os; print(os.environ['SLURM_JOB_ID'])").strip() == job["id"]
    client.stop_server()
    assert slurm_cluster.job_state(job["id"]) in {"CANCELLED", "COMPLETED", ""}


def wait_ready(client: HubClient, timeout: float) -> None:
    """Wait until the user's default server is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.api("GET", f"/users/{client.username}").json().get("servers", {}).get("", {}).get("ready"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{client.username}'s server not ready after {timeout} s")


def test_running_lab_survives_a_hub_stop_with_the_managed_proxy(crash_hub, slurm_cluster):
    """SIGTERM (a clean stop, which stops the hub's own proxy too) then a new hub: the
    job was never cancelled and the lab answers again through the new proxy."""
    client = HubClient(crash_hub.url, "analyste1", PASSWORD)
    assert client.start_server(AUSTRAL, timeout=60).status_code in (201, 202)
    client.open_lab()
    job = _lab_job(slurm_cluster)
    kernel = client.lab_api("POST", "/kernels", json={"name": "python3"})
    kernel.raise_for_status()
    kernel_id = kernel.json()["id"]
    client._execute_in(kernel_id, "kept = 'avant arrêt'", timeout=60)
    crash_hub.stop()
    assert crash_hub.process.returncode is not None
    assert slurm_cluster.job_state(job["id"]) == "RUNNING"
    crash_hub.start()
    wait_ready(client, timeout=30)
    assert slurm_cluster.job_state(job["id"]) == "RUNNING"
    client.open_lab()
    assert client._execute_in(kernel_id, "print(kept)", timeout=60).strip() == "avant arrêt"
    client.stop_server()
    assert slurm_cluster.job_state(job["id"]) in {"CANCELLED", "COMPLETED", ""}


def test_pending_job_is_reattached_after_a_hub_crash(patient_crash_hub, slurm_cluster, blocker):
    """A job still pending when the hub dies is not cancelled by the next hub: it
    follows the start, and the lab (which reports its port to the new hub) opens."""
    client = HubClient(patient_crash_hub.url, "analyste1", PASSWORD)
    with blocker:
        start_pending(client)
        progress_events(client, until=_pending, timeout=30)
        job = _lab_job(slurm_cluster)
        crash(patient_crash_hub)
        assert slurm_cluster.job_state(job["id"]) == "PENDING"
        patient_crash_hub.start()
        assert slurm_cluster.job_state(job["id"]) == "PENDING"
    wait_ready(client, timeout=60)
    assert slurm_cluster.job_state(job["id"]) == "RUNNING"
    client.open_lab()
    assert client.execute("import os; print(os.environ['SLURM_JOB_ID'])").strip() == job["id"]
    client.stop_server()
