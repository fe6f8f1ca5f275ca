"""The reports service's tables, in the hub's database (``Settings.database_url``).

``datalab_report_schedules``: one row per schedule (its complete
:class:`~hub.settings.ReportSchedule` as JSON, its owner, where it came from);
``datalab_report_runs``: one row per run; APScheduler keeps the triggers and next run
times in ``datalab_report_jobs``. Times are naive UTC.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, String, Text, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.settings import ReportSchedule

JOBS_TABLE = "datalab_report_jobs"


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Now, naive UTC (the form stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ScheduleRow(Base):
    """A schedule. ``origin``: ``deployment`` (declared in the deployment file) or
    ``api`` (created through the REST API or the CLI)."""

    __tablename__ = "datalab_report_schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(255), index=True)
    spec_json: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def spec(self) -> ReportSchedule:
        return ReportSchedule.model_validate_json(self.spec_json)


class RunRow(Base):
    """A run. ``trigger``: ``cron`` or ``manual``; ``status``: ``queued``, ``running``,
    ``succeeded`` or ``failed``; ``files``: JSON list of the archived outputs."""

    __tablename__ = "datalab_report_runs"

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

    @property
    def parameters(self) -> dict:
        return json.loads(self.parameters_json)

    @property
    def files(self) -> list[str]:
        return json.loads(self.files_json)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.started and self.ended:
            return round((self.ended - self.started).total_seconds(), 1)
        return None


def engine_for(url: str) -> Engine:
    """An engine on the hub's database; with SQLite, waits up to 30 s for the hub's
    locks."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return create_engine(url, pool_pre_ping=True)
