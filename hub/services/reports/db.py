"""The reports service's tables, in a database of their own (:func:`database_url`).

``datalab_report_schedules``: one row per schedule (its complete
:class:`~hub.settings.ReportSchedule` as JSON, its owner, where it came from);
``datalab_report_runs``: one row per run; APScheduler keeps the triggers and next run
times in ``datalab_report_jobs``. Times are naive UTC.

The tables change through alembic migrations (``migrations/``, version table
``datalab_reports_alembic_version``), applied at each start (:func:`prepare`). Before
them, the service made its tables with ``create_all`` in the hub's own database: such
tables are taken over once (:func:`prepare`).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Integer, MetaData, String, Text, create_engine, inspect, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.settings import ReportSchedule, Settings

JOBS_TABLE = "datalab_report_jobs"
VERSION_TABLE = "datalab_reports_alembic_version"
SCHEDULES_TABLE = "datalab_report_schedules"
RUNS_TABLE = "datalab_report_runs"
#: The revision of the tables ``create_all`` made before migrations existed.
FIRST_REVISION = "0001"
MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Now, naive UTC (the form stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ScheduleRow(Base):
    """A schedule. ``origin``: ``deployment`` (declared in the deployment file) or
    ``api`` (created through the REST API or the CLI)."""

    __tablename__ = SCHEDULES_TABLE

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def spec(self) -> ReportSchedule:
        return ReportSchedule.model_validate_json(self.spec_json)


class RunRow(Base):
    """A run. ``trigger``: ``cron``, ``manual`` or ``retry`` (run again once because the
    run ``retry_of`` was interrupted); ``status``: ``queued``, ``running``, ``succeeded``
    or ``failed``; ``files``: JSON list of the archived outputs; ``handle``: what the run
    left running, as its runner described it once started (a process, a container, a
    Slurm job), so that a service started after a stop or a crash follows it.
    """

    __tablename__ = RUNS_TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    queued: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    parameters_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    files_json: Mapped[str] = mapped_column(Text, default="[]")
    handle_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_of: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def parameters(self) -> dict:
        return json.loads(self.parameters_json)

    @property
    def files(self) -> list[str]:
        return json.loads(self.files_json)

    @property
    def handle(self) -> dict | None:
        return json.loads(self.handle_json) if self.handle_json else None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.started and self.ended:
            return round((self.ended - self.started).total_seconds(), 1)
        return None


def database_url(settings: Settings) -> str:
    """The reports' database: with the hub on SQLite, a SQLite file of their own,
    ``<data_dir>/reports/reports.sqlite``; with another database (PostgreSQL,
    ``hub.db_url``), that database, where their tables and version table have names of
    their own."""
    if settings.database_url.startswith("sqlite"):
        return f"sqlite:///{settings.data_dir / 'reports' / 'reports.sqlite'}"
    return settings.database_url


def engine_for(url: str) -> Engine:
    """An engine on ``url``; with SQLite, waits up to 30 s for another process's locks."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)


def migrate(connection: Connection, revision: str = "head") -> None:
    """Bring the tables on ``connection`` to ``revision`` (default: the latest); tables
    that ``create_all`` made (no version table yet) are first stamped with their
    revision, :data:`FIRST_REVISION`, so that no row is lost."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables and SCHEDULES_TABLE in tables:
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, revision)


def _copy_tables(source: Engine, target: Connection) -> int:
    """Copy the reports' tables (schedules, runs, APScheduler's jobs) from ``source`` to
    ``target``, where the tables are empty and at the revision ``create_all`` made
    (:data:`FIRST_REVISION`); the number of rows copied."""
    found = MetaData()
    names = [n for n in (SCHEDULES_TABLE, RUNS_TABLE, JOBS_TABLE) if n in inspect(source).get_table_names()]
    found.reflect(source, only=names)
    copied = 0
    with source.connect() as old:
        for name in names:
            table = found.tables[name]
            if name == JOBS_TABLE:
                table.create(target, checkfirst=True)
            rows = [dict(row) for row in old.execute(select(table)).mappings()]
            if rows:
                target.execute(insert(table), rows)
                copied += len(rows)
    return copied


def prepare(settings: Settings, engine: Engine) -> None:
    """Migrate the reports' database (``engine``, on :func:`database_url`). When it is a
    SQLite file that does not exist yet and the hub's own SQLite database holds tables
    of an earlier version, their rows are copied into it first (once: the new file is
    built aside and renamed into place; the hub's database is left as it was). The file
    is readable by the service's account only (mode 0600, as the hub's database: it
    names owners and their parameters, in a directory that other accounts traverse)."""
    url = database_url(settings)
    path = Path(url.removeprefix("sqlite:///"))
    hub_file = Path(settings.database_url.removeprefix("sqlite:///"))
    if url != settings.database_url and url.startswith("sqlite:///") and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        building = path.with_name(path.name + ".new")
        building.unlink(missing_ok=True)
        os.close(os.open(building, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        fresh = engine_for(f"sqlite:///{building}")
        with fresh.begin() as connection:
            migrate(connection, FIRST_REVISION)
            if settings.database_url.startswith("sqlite:///") and hub_file.exists():
                hub = engine_for(settings.database_url)
                _copy_tables(hub, connection)
                hub.dispose()
            migrate(connection)
        fresh.dispose()
        os.replace(building, path)
    if url.startswith("sqlite:///") and path.exists():
        path.chmod(0o600)
    with engine.begin() as connection:
        migrate(connection)
