"""The reports service's storage and concurrency: alembic migrations, its own database
(the tables an earlier version made in the hub's SQLite file taken over once), run
slots per backend, and what a service does with the runs an earlier one left."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import Column, Float, LargeBinary, MetaData, Table, Unicode, create_engine, inspect, select, text

from hub.services.reports import db as reports_db
from hub.services.reports.archive import RunOutcome
from hub.services.reports.db import RUNS_TABLE, SCHEDULES_TABLE, VERSION_TABLE, Base, RunRow, ScheduleRow
from hub.services.reports.service import ReportsService
from hub.services.reports.slots import RunSlots, host_parallel
from hub.settings import Backend, ReportSchedule, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def settings_in(tmp_path, **reports):
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    data["reports"] = {**EXAMPLE["reports"], "schedules": [], **reports}
    return parse(data, REPO)


LATEST = "0002"
SPEC = {"id": "ventes", "notebook": "rapport.ipynb", "cron": "0 6 * * *"}


def old_hub_database(settings) -> Path:
    """The hub's SQLite file as an earlier version left it: the reports' tables made by
    ``create_all`` next to the hub's own, one schedule, two runs, one APScheduler job."""
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True)
    engine = create_engine(settings.database_url)
    Base.metadata.create_all(engine)
    with engine.begin() as c:  # the runs' columns of revision 0001
        for column in ("handle_json", "retry_of"):
            c.execute(text(f"ALTER TABLE {RUNS_TABLE} DROP COLUMN {column}"))
    jobs = Table(reports_db.JOBS_TABLE, MetaData(), Column("id", Unicode(191), primary_key=True),
                 Column("next_run_time", Float(25), index=True), Column("job_state", LargeBinary, nullable=False))
    jobs.create(engine)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"))
        c.execute(text("INSERT INTO users (name) VALUES ('analyste1')"))
        c.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        c.execute(text("INSERT INTO alembic_version VALUES ('hub-revision')"))
        c.execute(ScheduleRow.__table__.insert(), [{"id": "ventes", "owner": "analyste1", "origin": "api",
                                                     "spec_json": json.dumps(SPEC), "created": reports_db.utcnow()}])
        c.execute(RunRow.__table__.insert(), [
            {"schedule_id": "ventes", "trigger": "cron", "status": status, "queued": reports_db.utcnow(),
             "parameters_json": "{}", "files_json": files}
            for status, files in (("succeeded", '["report.html"]'), ("failed", "[]"))])
        c.execute(jobs.insert(), [{"id": "ventes", "next_run_time": 1.0e9, "job_state": b"\x80state"}])
    engine.dispose()
    return path


def rows(url: str, table: str) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as c:
        found = [dict(r) for r in c.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings()]
    engine.dispose()
    return found


def test_the_reports_have_a_database_file_of_their_own(tmp_path):
    settings = settings_in(tmp_path)
    url = reports_db.database_url(settings)
    assert url != settings.database_url
    assert url == f"sqlite:///{settings.data_dir / 'reports' / 'reports.sqlite'}"


def test_other_accounts_cannot_read_the_reports_database(tmp_path):
    """The reports' directory is traversable by every account (0711): the file itself
    must refuse them, even when an earlier start left it readable."""
    settings = settings_in(tmp_path)
    engine = reports_db.engine_for(reports_db.database_url(settings))
    reports_db.prepare(settings, engine)
    path = settings.data_dir / "reports" / "reports.sqlite"
    assert path.stat().st_mode & 0o077 == 0
    path.chmod(0o644)
    reports_db.prepare(settings, engine)
    assert path.stat().st_mode & 0o077 == 0


def test_a_new_database_is_made_by_the_migrations(tmp_path):
    settings = settings_in(tmp_path)
    engine = reports_db.engine_for(reports_db.database_url(settings))
    reports_db.prepare(settings, engine)
    tables = set(inspect(engine).get_table_names())
    assert {SCHEDULES_TABLE, RUNS_TABLE, VERSION_TABLE} <= tables
    with engine.connect() as c:
        assert c.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}")) == LATEST
    assert {"handle_json", "retry_of"} <= {c["name"] for c in inspect(engine).get_columns(RUNS_TABLE)}


def test_tables_an_earlier_version_made_in_the_hub_database_are_copied_once(tmp_path):
    settings = settings_in(tmp_path)
    hub_file = old_hub_database(settings)
    before = {t: rows(settings.database_url, t) for t in (SCHEDULES_TABLE, RUNS_TABLE, reports_db.JOBS_TABLE)}
    url = reports_db.database_url(settings)
    engine = reports_db.engine_for(url)
    reports_db.prepare(settings, engine)
    for table, old_rows in before.items():
        copied = rows(url, table)
        assert len(copied) == len(old_rows) and all(o.items() <= c.items() for o, c in zip(old_rows, copied)), table
    assert [(r["handle_json"], r["retry_of"]) for r in rows(url, RUNS_TABLE)] == [(None, None)] * 2
    assert len(before[RUNS_TABLE]) == 2 and len(before[reports_db.JOBS_TABLE]) == 1
    assert rows(settings.database_url, "users") == [{"id": 1, "name": "analyste1"}]
    assert not list(hub_file.parent.glob("*.new")) and not list((settings.data_dir / "reports").glob("*.new"))

    # a second start copies nothing again, even when the hub's file still holds the old rows
    with engine.begin() as c:
        c.execute(text(f"DELETE FROM {RUNS_TABLE} WHERE status = 'failed'"))
    reports_db.prepare(settings, engine)
    assert [r["status"] for r in rows(url, RUNS_TABLE)] == ["succeeded"]


def test_an_interrupted_copy_is_started_again_from_scratch(tmp_path):
    settings = settings_in(tmp_path)
    old_hub_database(settings)
    leftover = settings.data_dir / "reports" / "reports.sqlite.new"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a database")
    engine = reports_db.engine_for(reports_db.database_url(settings))
    reports_db.prepare(settings, engine)
    assert len(rows(reports_db.database_url(settings), RUNS_TABLE)) == 2
    assert not leftover.exists()


def test_tables_made_by_create_all_in_place_are_stamped_without_losing_rows(tmp_path):
    settings = settings_in(tmp_path)
    old_hub_database(settings)
    engine = reports_db.engine_for(settings.database_url)
    with engine.begin() as connection:
        reports_db.migrate(connection)
    assert [r["handle_json"] for r in rows(settings.database_url, RUNS_TABLE)] == [None, None]
    with engine.connect() as c:
        assert c.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}")) == LATEST
        assert c.scalar(text("SELECT version_num FROM alembic_version")) == "hub-revision"


# -- concurrency -------------------------------------------------------------------------


@pytest.mark.parametrize("cores, memory_g, expected", [(2, 8, 2), (16, 4, 4), (4, 0, 1), (8, 64, 8)])
def test_host_backends_are_bounded_by_cores_and_memory(cores, memory_g, expected):
    assert host_parallel(None, "1G", cores, memory_g * 1024**3) == expected


def test_the_deployment_file_sets_the_bound():
    assert host_parallel(3, "1G", 64, 1024**4) == 3


def test_slurm_runs_are_not_bounded_here(tmp_path):
    slots = RunSlots(settings_in(tmp_path, max_parallel=1))
    assert slots.limit == 1

    async def many_slurm_runs():
        held = [slots.slot(Backend.slurm) for _ in range(5)]
        for slot in held:
            await slot.__aenter__()

    asyncio.run(asyncio.wait_for(many_slurm_runs(), 5))


class GatedRunner:
    """Runs that last until the test releases them."""

    def __init__(self):
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []

    async def run(self, request) -> RunOutcome:
        self.started.append(request.run_id)
        await self.gates.setdefault(request.run_id, asyncio.Event()).wait()
        return RunOutcome("failed", "released by the test")

    def release(self, run_id: int) -> None:
        self.gates.setdefault(run_id, asyncio.Event()).set()

    async def resume(self, request, handle) -> RunOutcome | None:
        raise AssertionError("no run to resume in these tests")


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_with_a_bound_of_2_a_third_run_waits_then_runs(tmp_path):
    settings = settings_in(tmp_path, max_parallel=2)
    settings.data_dir.mkdir()
    runner = GatedRunner()
    service = ReportsService(settings, runner, hub=None)
    local = next(p for p in settings.profiles if settings.backend_of(p) == Backend.local)

    async def request(run_id, row, log_path):
        return SimpleNamespace(run_id=run_id, profile=local, partner_ids={"univ-alpha"})

    service._request = request

    def status(run_id: int) -> str:
        with service.db() as db:
            return db.get(RunRow, run_id).status

    async def scenario():
        await service.start()
        try:
            with service.db() as db:
                for n in range(3):
                    spec = ReportSchedule.model_validate({**SPEC, "id": f"rapport-{n}"})
                    db.add(ScheduleRow(id=spec.id, owner="analyste1", origin="api", spec_json=spec.model_dump_json()))
                db.commit()
            runs = [service.start_run(f"rapport-{n}", "manual").id for n in range(3)]
            await until(lambda: len(runner.started) == 2)
            assert [status(r) for r in runs] == ["running", "running", "queued"]
            runner.release(runs[0])
            await until(lambda: status(runs[2]) == "running")
            assert runner.started == runs
            assert status(runs[0]) == "failed" and status(runs[1]) == "running"
            runner.release(runs[1])
            runner.release(runs[2])
            await until(lambda: not service._tasks)
        finally:
            service.stop()

    asyncio.run(scenario())


class LeftRuns:
    """A runner for a service that finds runs an earlier one left: ``resume`` answers
    from ``followed`` (run id -> outcome, None: nothing of it runs), ``run`` succeeds."""

    def __init__(self, followed: dict[int, RunOutcome | None]):
        self.followed = followed
        self.resumed: list[tuple[int, dict]] = []
        self.ran: list[int] = []

    async def run(self, request) -> RunOutcome:
        self.ran.append(request.run_id)
        return RunOutcome("succeeded")

    async def resume(self, request, handle) -> RunOutcome | None:
        self.resumed.append((request.run_id, handle))
        return self.followed[request.run_id]


def left_by_a_stopped_service(settings, runs: list[dict]) -> list[int]:
    """The reports' database as a stopped service left it: schedule ``ventes`` and
    ``runs`` (columns of :class:`RunRow`), each with a work area; their ids."""
    engine = reports_db.engine_for(reports_db.database_url(settings))
    reports_db.prepare(settings, engine)
    spec = ReportSchedule.model_validate({**SPEC, "profile": "standard", "kernel": "python3"})
    ids = []
    with engine.begin() as c:
        c.execute(ScheduleRow.__table__.insert(), [{"id": "ventes", "owner": "analyste1", "origin": "api",
                                                     "spec_json": spec.model_dump_json(), "created": reports_db.utcnow()}])
        for values in runs:
            ids.append(c.execute(RunRow.__table__.insert().values(
                schedule_id="ventes", queued=reports_db.utcnow(), parameters_json="{}", files_json="[]",
                **values)).inserted_primary_key[0])
    engine.dispose()
    for run_id in ids:
        (settings.data_dir / "reports" / "work" / str(run_id)).mkdir(parents=True)
    return ids


def recovered(settings, runner) -> dict[int, RunRow]:
    """Start a service with ``runner`` over what the earlier one left, wait until it has
    nothing in progress; every run by id."""
    service = ReportsService(settings, runner, hub=None)

    async def request(run_id, row, log_path):
        local = next(p for p in settings.profiles if p.id == "standard")
        return SimpleNamespace(run_id=run_id, profile=local, partner_ids={"univ-alpha"})

    service._request = request

    async def scenario():
        await service.start()
        try:
            await until(lambda: not service._tasks)
        finally:
            service.stop()

    asyncio.run(scenario())
    with service.db() as db:
        return {run.id: run for run in db.scalars(select(RunRow))}


HANDLE = {"backend": "local", "at": 0.0, "pid": 1, "since": 0.0}


def test_a_run_still_running_is_followed_not_run_again(tmp_path):
    settings = settings_in(tmp_path)
    [left] = left_by_a_stopped_service(settings, [
        {"trigger": "manual", "status": "running", "started": reports_db.utcnow(), "handle_json": json.dumps(HANDLE)}])
    runner = LeftRuns({left: RunOutcome("succeeded")})
    runs = recovered(settings, runner)
    assert runner.resumed == [(left, HANDLE)] and runner.ran == []
    assert [(r.id, r.status) for r in runs.values()] == [(left, "succeeded")]


def test_a_run_that_ended_unseen_keeps_the_outcome_it_left(tmp_path):
    settings = settings_in(tmp_path)
    [left] = left_by_a_stopped_service(settings, [
        {"trigger": "cron", "status": "running", "started": reports_db.utcnow(), "handle_json": json.dumps(HANDLE)}])
    work = settings.data_dir / "reports" / "work" / str(left)
    (work / "result.json").write_text(json.dumps({"status": "failed", "error": "ValueError: plus de données"}))
    runs = recovered(settings, LeftRuns({left: None}))
    assert [(r.id, r.status, r.error) for r in runs.values()] == [(left, "failed", "ValueError: plus de données")]


@pytest.mark.parametrize("handle", [json.dumps(HANDLE), None], ids=["gone", "never-launched"])
def test_an_interrupted_run_is_recorded_and_run_again_once(tmp_path, handle):
    settings = settings_in(tmp_path)
    [left] = left_by_a_stopped_service(settings, [
        {"trigger": "cron", "status": "running", "started": reports_db.utcnow(), "handle_json": handle}])
    runner = LeftRuns({left: None})
    runs = recovered(settings, runner)
    again = max(runs)
    assert runner.ran == [again]
    assert (runs[left].status, runs[left].error) == ("failed", "Exécution interrompue : elle s'est arrêtée avec "
                                                      "le service de rapports, sans résultat ; elle est relancée une fois.")
    assert (runs[again].trigger, runs[again].retry_of, runs[again].status) == ("retry", left, "succeeded")


def test_a_run_again_interrupted_is_not_run_a_third_time(tmp_path):
    settings = settings_in(tmp_path)
    first, second = left_by_a_stopped_service(settings, [
        {"trigger": "cron", "status": "failed", "started": reports_db.utcnow()},
        {"trigger": "retry", "status": "running", "started": reports_db.utcnow(), "handle_json": json.dumps(HANDLE)}])
    with reports_db.engine_for(reports_db.database_url(settings)).begin() as c:
        c.execute(text(f"UPDATE {RUNS_TABLE} SET retry_of = {first} WHERE id = {second}"))
    runner = LeftRuns({second: None})
    runs = recovered(settings, runner)
    assert runner.ran == [] and sorted(runs) == [first, second]
    assert runs[second].status == "failed" and "relancée" not in runs[second].error


def test_a_queued_run_is_queued_again(tmp_path):
    settings = settings_in(tmp_path)
    [left] = left_by_a_stopped_service(settings, [{"trigger": "manual", "status": "queued"}])
    runner = LeftRuns({})
    runs = recovered(settings, runner)
    assert runner.ran == [left] and runner.resumed == []
    assert [(r.id, r.status) for r in runs.values()] == [(left, "succeeded")]
