"""Slurm labs under faults: a hub stop, a restart during a start, a controller that
fails or answers nothing, a scancel that does not take. Slurm's commands are scripted
(the command transport's ``_run`` replaced): each test names the answers Slurm gives, in
order."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config

from hub.backends.slurm import BACKEND, api
from hub.backends.slurm import lab as slurm
from hub.backends.slurm.policy import SlurmError
from hub.backends.slurm.transport import CliTransport, Unavailable
from hub.settings import parse

REPO = Path(__file__).resolve().parents[3]
SETTINGS = parse(yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8")), REPO)

RUNNING = (0, "RUNNING|None|2026-12-06T01:00:00|node1|2026-12-06T03:00:00", "")
PENDING = (0, "PENDING|Resources|N/A||N/A", "")
COMPLETED = (0, "COMPLETED|None|2026-12-06T01:00:00|node1|2026-12-06T03:00:00", "")
CANCELLED = (0, "CANCELLED|None|2026-12-06T01:00:00|node1|2026-12-06T03:00:00", "")
NOT_FOUND = (1, "", "slurm_load_jobs error: Invalid job id specified")
DOWN = (1, "", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)")
EMPTY = (0, "", "")
GARBAGE = (0, "<html>proxy error</html>", "")
OK = (0, "", "")
REFUSED = (1, "", "scancel: error: Unable to contact slurm controller")


class Script:
    """Slurm's answers, per command, in order; the last answer repeats."""

    def __init__(self, **answers: list[tuple[int, str, str]]):
        self.answers = {command: list(values) for command, values in answers.items()}
        self.calls: list[tuple[str, ...]] = []

    async def __call__(self, *argv: str, stdin: str | None = None):
        self.calls.append(argv)
        queue = self.answers.setdefault(argv[0], [OK])  # scontrol: no exit code known
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer == "timeout":
            raise Unavailable(f"{argv[0]}: timeout")
        return answer

    def count(self, command: str) -> int:
        return sum(1 for call in self.calls if call[0] == command)


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    monkeypatch.setattr(slurm, "POLL_INTERVAL", 0)
    monkeypatch.setattr(slurm, "CONFIRM_INTERVAL", 0)
    monkeypatch.setattr(slurm, "STOP_WAIT", 0)


class ScriptedCommands(CliTransport):
    """The command transport with Slurm's answers scripted; a pending job's queue
    position is not what these tests script (no pending jobs listed)."""

    def __init__(self, script: Script):
        super().__init__(SETTINGS)
        self.script = script

    async def _run(self, login: str, *argv: str, env=None, stdin=None):
        return await self.script(*argv, stdin=stdin)

    async def pending(self, login: str, partition: str) -> list[tuple[str, int]]:
        return []


def spawner(script: Script, **state) -> slurm.SlurmSpawner:
    s = slurm.SlurmSpawner(datalab_settings=SETTINGS, user=SimpleNamespace(name="alice"))
    s.load_state({"job_id": "42", "login": "alice", "phase": "running", **state})
    s.transport = ScriptedCommands(script)
    s._save_state = lambda: None
    return s


def run(coro):
    return asyncio.run(coro)


# -- the hub stops: labs stay -------------------------------------------------------------


@pytest.mark.parametrize("managed", [True, False])
def test_stopping_the_hub_never_stops_slurm_labs_whatever_the_proxy(managed):
    c = Config()
    c.JupyterHub.cleanup_servers = True
    if not managed:
        c.ConfigurableHTTPProxy.should_start = False
    BACKEND.configure(c, SETTINGS, {})
    assert c.JupyterHub.cleanup_servers is False


def test_a_start_cancelled_by_the_hub_stopping_leaves_the_job():
    script = Script(squeue=[PENDING])
    s = spawner(script, phase="starting", submitted_at=time.time())

    async def interrupted():
        s.starting_here = True
        task = asyncio.ensure_future(s._follow_start())
        for _ in range(200):
            if script.count("squeue"):
                break
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(interrupted())
    assert script.count("scancel") == 0


# -- a hub restart during a start: the job is reattached -----------------------------------


def test_a_job_pending_at_hub_restart_is_followed_to_its_lab_not_cancelled(monkeypatch):
    script = Script(squeue=[PENDING, PENDING, RUNNING], sinfo=[(0, "10.0.0.7", "")])
    s = spawner(script, phase="starting", submitted_at=time.time(), port=8123)
    s.request = SimpleNamespace(partition="debug")
    listened = []

    async def listening(host, port):
        listened.append((host, port))
        return True

    monkeypatch.setattr(slurm, "_listening", listening)
    assert run(s.poll()) is None
    assert script.count("scancel") == 0
    assert (s.ip, s.port, s.phase, s.job_id) == ("10.0.0.7", 8123, "running", "42")
    assert listened == [("10.0.0.7", 8123)]


def test_a_lab_listening_between_two_slurm_queries_is_seen_before_the_next_query(monkeypatch):
    """Once the job runs, the lab's port is checked every PORT_POLL, not once per Slurm
    query: a lab that starts listening after the query ends the start without another."""
    monkeypatch.setattr(slurm, "POLL_INTERVAL", 60)
    monkeypatch.setattr(slurm, "PORT_POLL", 0.001)
    script = Script(squeue=[RUNNING], sinfo=[(0, "10.0.0.7", "")])
    s = spawner(script, phase="starting", submitted_at=time.time(), port=8123)
    s.request = SimpleNamespace(partition="debug")
    checks = []

    async def listening(host, port):
        checks.append((host, port))
        return len(checks) >= 3

    monkeypatch.setattr(slurm, "_listening", listening)
    assert run(asyncio.wait_for(s._follow_start(), 30)) == ("10.0.0.7", 8123)
    assert script.count("squeue") == 1
    assert checks == [("10.0.0.7", 8123)] * 3


def test_a_reattached_start_that_outlasts_its_deadline_is_cancelled():
    script = Script(squeue=[PENDING], scancel=[OK])
    s = spawner(script, phase="starting", submitted_at=time.time() - 10 * s_timeout())
    assert run(s.poll()) == 1
    assert script.count("scancel") == 1
    assert s.job_id == ""


def s_timeout() -> float:
    return slurm.SlurmSpawner(datalab_settings=SETTINGS).start_timeout


def test_a_squeue_failure_during_a_start_does_not_cancel_it(monkeypatch):
    script = Script(squeue=[PENDING, DOWN, "timeout", EMPTY, RUNNING], sinfo=[(0, "10.0.0.7", "")])
    s = spawner(script, phase="starting", submitted_at=time.time(), port=8123)
    s.starting_here = True
    s.request = SimpleNamespace(partition="debug")

    async def listening(host, port):
        return True

    monkeypatch.setattr(slurm, "_listening", listening)
    assert run(s._follow_start()) == ("10.0.0.7", 8123)
    assert script.count("scancel") == 0


# -- squeue's silence never drops a running job ----------------------------------------


@pytest.mark.parametrize("answer", [DOWN, EMPTY, GARBAGE, "timeout"], ids=["failed", "empty", "unparsable", "timeout"])
def test_an_unknown_state_keeps_the_running_job(answer):
    script = Script(squeue=[answer])
    s = spawner(script)
    assert run(s.poll()) is None
    assert s.job_id == "42"


def test_one_or_two_not_found_answers_do_not_drop_the_job():
    script = Script(squeue=[NOT_FOUND, NOT_FOUND, RUNNING])
    s = spawner(script)
    assert run(s.poll()) is None
    assert s.job_id == "42"


def test_three_not_found_answers_in_a_row_make_the_job_gone():
    script = Script(squeue=[NOT_FOUND])
    s = spawner(script)
    assert run(s.poll()) == 1
    assert script.count("squeue") == slurm.NOT_FOUND_CONFIRMATIONS == 3
    assert s.job_id == ""


def test_an_ended_state_from_slurm_makes_the_job_gone():
    script = Script(squeue=[COMPLETED])
    s = spawner(script)
    assert run(s.poll()) == 1
    assert s.job_id == ""


# -- stop confirms --------------------------------------------------------------------------


def test_stop_retries_scancel_until_slurm_confirms_the_end():
    script = Script(scancel=[REFUSED, OK], squeue=[RUNNING, CANCELLED])
    s = spawner(script)
    run(s.stop())
    assert script.count("scancel") == 2


def test_stop_does_not_report_a_job_it_cannot_confirm_as_stopped():
    script = Script(scancel=[REFUSED], squeue=[DOWN])
    s = spawner(script)
    with pytest.raises(SlurmError) as refused:
        run(s.stop())
    assert script.count("scancel") == slurm.CANCEL_ATTEMPTS
    assert "42" in str(refused.value)


def test_stop_returns_once_the_job_is_gone():
    script = Script(scancel=[OK], squeue=[NOT_FOUND])
    s = spawner(script)
    run(s.stop())
    assert script.count("scancel") == 1


# -- the port report after a hub restart -------------------------------------------------


def fake_spawner(api_token="", secret=None):
    client = SimpleNamespace(secret=secret) if secret is not None else None
    return SimpleNamespace(api_token=api_token, orm_spawner=SimpleNamespace(oauth_client=client))


def test_a_lab_started_after_a_hub_restart_is_found_by_its_server_token():
    from jupyterhub.utils import hash_token

    restarted = fake_spawner(secret=hash_token("server-token"))
    other = fake_spawner(secret=hash_token("another-server-token"))
    assert api.spawner_of_token([other, restarted], "server-token") is restarted
    assert api.spawner_of_token([fake_spawner(api_token="t1")], "t1") is not None


def test_a_token_that_is_not_the_servers_cannot_report_a_port():
    from jupyterhub.utils import hash_token

    spawners = [fake_spawner(secret=hash_token("server-token")), fake_spawner(api_token="live-token")]
    assert api.spawner_of_token(spawners, "personal-api-token") is None
    assert api.spawner_of_token(spawners, "") is None
    assert api.spawner_of_token([fake_spawner(api_token="live-token", secret=hash_token("x"))], "x") is None


@pytest.mark.parametrize("report", [
    {"port": 0}, {"port": 70000}, {"port": "8000"}, {"port": True},
    {"port": 8000, "ip": "203.0.113.9"}, {"ip": "203.0.113.9"}, [8000],
])
def test_a_port_report_sets_nothing_but_a_valid_port(report):
    assert api.valid_port(report) is None


def test_a_valid_port_report_is_accepted():
    assert api.valid_port({"port": 8123}) == 8123


def test_the_port_handler_replaces_batchspawners():
    from jupyterhub.apihandlers import default_handlers

    BACKEND.configure(Config(), SETTINGS, {})
    handlers = [h for route, h, *_ in default_handlers if route == api.ROUTE]
    assert handlers == [api.PortReportHandler]
