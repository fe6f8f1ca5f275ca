"""The audit trail: who did what to which resource, from where, with what result.

One event is one JSON line (UTF-8) with the fields :data:`FIELDS`::

    {"timestamp": "2026-11-30T10:51:35.123456+00:00", "actor": "analyste1",
     "action": "server.start", "target": "analyste1/", "partner": ["univ-alpha"],
     "source": "127.0.0.1", "result": "success", "detail": {"backend": "local"}}

- ``timestamp``: UTC, ISO 8601 with microseconds; ``actor``: the hub user (or
  ``service:<name>``, ``hub``) who acted; ``action``: a dotted name (:data:`ACTIONS`);
  ``target``: what was acted on (``owner/server`` for a server, ``user:<name>``,
  ``group:<name>``, ``dashboard:<id>``, ``schedule:<id>``, ``run:<id>/<file>``...);
  ``partner``: the partner ids of the target's owner (of the actor when the target has no
  owner), a list; ``source``: the client's IP address ("" for the hub's own actions);
  ``result``: ``success``, ``failure`` or ``refused``; ``detail``: a few scalars (HTTP
  status, backend, reason), filtered by :func:`scrub`.

Where: ``<data_dir>/audit/``, mode 0750, files mode 0640. Each process writes its own file
through its own :class:`logging.handlers.TimedRotatingFileHandler`: the hub
``audit.jsonl``, a service ``audit-<service>.jsonl``. One writer per file keeps rotation
safe without a lock shared between processes (two processes rotating one file would
rename it under each other); readers (:func:`read`) merge the files, rotated ones
(``audit.jsonl.2026-11-29``) included. Files rotate at midnight UTC and are kept
``audit.retention_days`` days (see :class:`hub.settings.AuditSettings`): rotation needs
no logrotate, and a rotated file is never written again.

Never written: tokens, secrets, passwords, cookies, notebook contents. :func:`scrub` drops
detail keys whose name says secret and masks any string that looks like a token (long
hexadecimal or base64url runs, JWTs), and :class:`ScrubFilter` applies it to every
record the audit logger emits.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FIELDS = ("timestamp", "actor", "action", "target", "partner", "source", "result")
RESULTS = ("success", "failure", "refused")

#: Every action written, by area.
ACTIONS = (
    "login", "logout",
    "server.start", "server.stop", "server.access",
    "share.grant", "share.revoke", "share.code.create", "share.code.revoke", "share.accept",
    "admin.user.create", "admin.user.modify", "admin.user.delete",
    "admin.group.create", "admin.group.modify", "admin.group.delete",
    "admin.group.add", "admin.group.remove",
    "admin.server.start", "admin.server.stop", "admin.token.create", "admin.token.revoke",
    "dashboard.publish", "dashboard.unpublish", "dashboard.view",
    "report.schedule.create", "report.schedule.delete", "report.run", "report.download",
)

DIRECTORY = "audit"
HUB_FILE = "audit.jsonl"

#: Detail keys never written, whatever their value.
SECRET_KEY = re.compile(r"token|secret|password|passwd|cookie|authori[sz]ation|credential|"
                        r"api[_-]?key|private|session|nonce|code_verifier|^code$|content|source_code",
                        re.IGNORECASE)
#: Candidate token runs: JWTs, 24+ hex digits, 32+ base64url characters (see :func:`mask`).
TOKEN_LIKE = re.compile(
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    r"|(?<![A-Za-z0-9])[0-9a-fA-F]{24,}(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}={0,2}(?![A-Za-z0-9_-])"
)
MASK = "[masked]"
MAX_TEXT = 200  # characters kept of any string field


def _masked(match: re.Match) -> str:
    run = match.group(0)
    if run.startswith("eyJ") or re.fullmatch(r"[0-9a-fA-F]+", run):
        return MASK
    # a base64url run is a token when it mixes digits and letters (not a long name)
    letters = re.search(r"[A-Za-z]", run)
    return MASK if letters and re.search(r"[0-9]", run) else run


def mask(text: str) -> str:
    """``text`` with every token-like run replaced by :data:`MASK`: JWTs, runs of 24+
    hexadecimal digits, runs of 32+ base64url characters mixing letters and digits."""
    return TOKEN_LIKE.sub(_masked, text)


def _clean_text(value: str) -> str:
    return mask(value[:MAX_TEXT])


def scrub(event: dict) -> dict:
    """A copy of ``event`` safe to write: strings truncated to :data:`MAX_TEXT` characters
    and token-like runs masked (:func:`mask`); ``detail`` reduced to scalar values
    whose keys do not name a secret (:data:`SECRET_KEY`)."""
    clean: dict = {}
    for key, value in event.items():
        if key == "detail":
            clean[key] = {
                str(k)[:40]: (_clean_text(v) if isinstance(v, str) else v)
                for k, v in (value or {}).items()
                if not SECRET_KEY.search(str(k)) and (v is None or isinstance(v, (str, int, float, bool)))
            }
        elif isinstance(value, str):
            clean[key] = _clean_text(value)
        elif isinstance(value, (list, tuple)):
            clean[key] = [_clean_text(str(v)) for v in value]
        else:
            clean[key] = value
    return clean


class ScrubFilter(logging.Filter):
    """Applies :func:`scrub` to the ``audit`` dict of every record, then renders it as the
    record's message (one JSON line); records without one are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        event = getattr(record, "audit", None)
        if not isinstance(event, dict):
            return False
        record.msg = json.dumps(scrub(event), ensure_ascii=False, separators=(",", ":"))
        record.args = None
        return True


class LogScrubFilter(logging.Filter):
    """Masks token-like runs (:func:`mask`) in every record of a log handler: the
    hub's own log (JupyterHub logs session ids and XSRF values at INFO level) goes through
    it (see :func:`hub.apply.apply_audit`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        clean = mask(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class AuditFileHandler(logging.handlers.TimedRotatingFileHandler):
    """Daily rotation at midnight UTC; new files created with mode 0640."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def file_name(process: str) -> str:
    """The file a process writes: ``audit.jsonl`` for the hub, ``audit-<process>.jsonl``
    for a service."""
    return HUB_FILE if process == "hub" else f"audit-{process}.jsonl"


class Writer:
    """Writes the events of one process (``process``: ``hub`` or a service name) to
    ``directory``, created mode 0750 if missing; keeps ``retention_days`` rotated files.
    ``OSError`` when the directory cannot be created."""

    def __init__(self, directory: Path, process: str = "hub", retention_days: int = 365):
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o750)
        self.path = directory / file_name(process)
        self.logger = logging.getLogger(f"datalab.audit.{process}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        for old in list(self.logger.handlers):
            self.logger.removeHandler(old)
            old.close()
        handler = AuditFileHandler(self.path, when="midnight", utc=True, backupCount=retention_days,
                                   encoding="utf-8")
        handler.addFilter(ScrubFilter())
        handler.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(handler)
        if self.path.exists():
            os.chmod(self.path, 0o640)

    def record(self, action: str, *, actor: str, target: str = "", partner: Iterable[str] = (),
               source: str = "", result: str = "success", when: dt.datetime | None = None,
               **detail) -> dict:
        """Write one event (see the module's docstring for the fields; ``when`` defaults
        to now, ``detail`` are extra scalars). Returns the event as written before
        scrubbing. ``ValueError`` for an action not in :data:`ACTIONS` or an unknown
        ``result``."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if result not in RESULTS:
            raise ValueError(f"result must be one of {RESULTS}, not {result!r}")
        event = {
            "timestamp": (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(),
            "actor": actor or "", "action": action, "target": target or "",
            "partner": sorted(set(partner)), "source": source or "", "result": result,
            "detail": detail,
        }
        self.logger.info("audit", extra={"audit": event})
        return event

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
            handler.close()


_writer: Writer | None = None


def configure(data_dir: Path, process: str = "hub", retention_days: int = 365) -> Writer:
    """Make the process's writer, in ``<data_dir>/audit/``; :func:`record` uses it."""
    global _writer
    if _writer is not None:
        _writer.close()
    _writer = Writer(Path(data_dir) / DIRECTORY, process, retention_days)
    return _writer


def record(action: str, **fields) -> dict | None:
    """:meth:`Writer.record` on the process's writer; does nothing (returns None) before
    :func:`configure`. An audit write that fails is logged on ``datalab.audit`` and
    never breaks the action being audited."""
    if _writer is None:
        return None
    try:
        return _writer.record(action, **fields)
    except (OSError, ValueError) as e:
        logging.getLogger("datalab.audit").error("audit: cannot write %s: %s", action, e)
        return None


def result_of(status: int) -> str:
    """An HTTP status as a result: < 400 success; 401, 403, 404 refused; else failure."""
    if status < 400:
        return "success"
    return "refused" if status in (401, 403, 404) else "failure"


def record_request(handler, action: str, actor: str, target: str = "", partner: Iterable[str] = (),
                   **detail) -> dict | None:
    """:func:`record` for an answered tornado request: source, result and ``status``
    from ``handler``."""
    status = handler.get_status()
    return record(action, actor=actor, target=target, partner=partner, source=request_source(handler),
                  result=result_of(status), status=status, **detail)


def request_source(handler) -> str:
    """The client address of a tornado ``handler`` (JupyterHub trusts X-Forwarded-For
    from its proxy, so this is the browser's address)."""
    try:
        return handler.request.remote_ip or ""
    except AttributeError:
        return ""


# -- reading ------------------------------------------------------------------------
def files(directory: Path) -> list[Path]:
    """Every audit file of ``directory``, current and rotated."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith("audit") and ".jsonl" in p.name)


def read(directory: Path) -> Iterator[dict]:
    """Every event of ``directory``'s files, oldest first (lines that are not JSON
    objects are skipped)."""
    events = []
    for path in files(directory):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and "timestamp" in event:
                    events.append(event)
    events.sort(key=lambda e: e["timestamp"])
    return iter(events)


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 date or time (naive = UTC). ``ValueError``."""
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def parse_duration(value: str) -> dt.timedelta:
    """``7d``, ``12h``, ``30m``, ``2w`` -> a timedelta. ``ValueError``."""
    match = re.fullmatch(r"(\d{1,5})([mhdw])", value.strip())
    if not match:
        raise ValueError(f"{value!r}: expected a number and m, h, d or w (e.g. 7d)")
    n, unit = int(match[1]), match[2]
    return dt.timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})


@dataclass(frozen=True)
class Query:
    """A filter on events: ``person`` is the actor or the owner of the target; ``partner``
    one of the event's partners; ``action`` the action or a dotted prefix of it
    (``server`` matches ``server.start``); ``since`` inclusive, ``until`` exclusive."""

    person: str | None = None
    partner: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def matches(self, event: dict) -> bool:
        if self.person and self.person not in (event.get("actor"), _owner(event.get("target", ""))):
            return False
        if self.partner and self.partner not in (event.get("partner") or []):
            return False
        action = event.get("action", "")
        if self.action and not (action == self.action or action.startswith(self.action + ".")):
            return False
        when = parse_time(event["timestamp"])
        if self.since and when < self.since:
            return False
        return not (self.until and when >= self.until)


def _owner(target: str) -> str:
    """``owner/server`` -> owner; ``user:<name>`` -> name; else ""."""
    if target.startswith("user:"):
        return target[5:]
    if ":" not in target and "/" in target:
        return target.split("/", 1)[0]
    return ""


def select(events: Iterable[dict], query: Query) -> list[dict]:
    """The events ``query`` matches, in order."""
    return [e for e in events if query.matches(e)]

