"""The airlock's export requests, in a SQLite database of their own:
``<data_dir>/airlock/airlock.sqlite`` (mode 0600, in the hub-only directory
``<data_dir>/airlock/``; the hub's own database is never altered).

One row per request (:class:`ExportRequest`). Its table changes through alembic
migrations (``migrations/``, version table :data:`VERSION_TABLE`), applied when the
store opens (:func:`open_store`). Times are naive UTC.

States: ``pending`` (staged, awaiting a steward), ``approving`` (a steward's approval
is being carried out: claimed by one conditional update, so two stewards never export
the same request twice), ``approved`` (exported) and ``refused``. A request left
``approving`` by a hub that stopped mid-way is ``pending`` again at the next start.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Integer, String, Text, create_engine, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

TABLE = "airlock_requests"
VERSION_TABLE = "airlock_alembic_version"
MIGRATIONS = Path(__file__).parent / "migrations"
DATABASE = "airlock.sqlite"

PENDING, APPROVING, APPROVED, REFUSED = "pending", "approving", "approved", "refused"
STATES = (PENDING, APPROVING, APPROVED, REFUSED)


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Now, naive UTC (the form stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ExportRequest(Base):
    """One export request.

    ``space_kind``/``space_id``: the health space the file leaves (``partner`` or
    ``project`` and its id); ``path``: the file as the requester named it (as seen in
    their lab); ``name``: its last component; ``size``/``sha256``: of the staged copy,
    taken when the request was made; ``decided_by``/``decision_reason``: the steward and,
    for a refusal, why; ``exported``: the exported file's name in the space's export
    area."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requester: Mapped[str] = mapped_column(String(255), index=True)
    space_kind: Mapped[str] = mapped_column(String(16))
    space_id: Mapped[str] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    exported: Mapped[str | None] = mapped_column(String(300), nullable=True)

    def model(self) -> dict:
        """The request as the REST API shows it."""
        return {
            "id": self.id, "requester": self.requester, "space": f"{self.space_kind}:{self.space_id}",
            "path": self.path, "name": self.name, "reason": self.reason, "size": self.size,
            "sha256": self.sha256, "status": self.status, "created": _iso(self.created),
            "decided": _iso(self.decided), "decided_by": self.decided_by,
            "decision_reason": self.decision_reason, "exported": self.exported,
        }


def _iso(when: datetime | None) -> str | None:
    return when.replace(tzinfo=timezone.utc).isoformat() if when else None


def migrate(connection: Connection) -> None:
    """Bring the table on ``connection`` to the latest revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Store:
    """The requests in the SQLite file ``path`` (created mode 0600, migrated)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        path.chmod(0o600)
        self.engine: Engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        with self.engine.begin() as connection:
            migrate(connection)
        with Session(self.engine) as session, session.begin():
            session.execute(update(ExportRequest).where(ExportRequest.status == APPROVING).values(status=PENDING))

    def add(self, **fields) -> ExportRequest:
        """Insert a ``pending`` request; returns it (with its id)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            row = ExportRequest(status=PENDING, created=utcnow(), **fields)
            session.add(row)
        return row

    def get(self, request_id: int) -> ExportRequest | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(ExportRequest, request_id)

    def of_requester(self, requester: str) -> list[ExportRequest]:
        """``requester``'s requests, newest first."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(ExportRequest).where(ExportRequest.requester == requester)
            return list(session.scalars(query.order_by(ExportRequest.id.desc())))

    def in_spaces(self, spaces: set[tuple[str, str]], status: str | None = None) -> list[ExportRequest]:
        """The requests of the ``(kind, id)`` spaces (optionally in one ``status``),
        newest first."""
        if not spaces:
            return []
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(ExportRequest).where(ExportRequest.space_id.in_({sid for _, sid in spaces}))
            if status is not None:
                query = query.where(ExportRequest.status == status)
            rows = session.scalars(query.order_by(ExportRequest.id.desc()))
            return [r for r in rows if (r.space_kind, r.space_id) in spaces]

    def transition(self, request_id: int, before: str, after: str, **fields) -> bool:
        """Move the request from ``before`` to ``after`` (setting ``fields``) in one
        conditional update; False when it was not in ``before`` (someone else moved it)."""
        with Session(self.engine) as session, session.begin():
            done = session.execute(
                update(ExportRequest)
                .where(ExportRequest.id == request_id, ExportRequest.status == before)
                .values(status=after, **fields)
            )
            return done.rowcount == 1

    def close(self) -> None:
        self.engine.dispose()
