"""The audit trail: who did what to which resource, from where, with what result.

One event is one JSON line (UTF-8) with the fields :data:`FIELDS`::

    {"timestamp": "2026-11-30T10:51:35.123456+00:00", "actor": "analyste1",
     "action": "server.start", "target": "analyste1/", "partner": ["univ-alpha"],
     "source": "127.0.0.1", "result": "success", "detail": {"backend": "local"}}

- ``timestamp``: UTC, ISO 8601 with microseconds; ``actor``: the hub user (or
  ``service:<name>``, or one of :data:`HUB`, :data:`PROVIDER`, :data:`OFFBOARDING`,
  :data:`DEPLOYMENT`, :data:`SCHEDULER`) who acted; ``action``: a dotted name (:data:`ACTIONS`);
  ``target``: what was acted on (``owner/server`` for a server, ``user:<name>``,
  ``group:<name>``, ``dashboard:<id>``, ``schedule:<id>``, ``run:<id>/<file>``...);
  ``partner``: the partner ids of the target's owner (of the actor when the target has no
  owner), a list; ``source``: the client's IP address ("" for the hub's own actions);
  ``result``: ``success``, ``failure`` or ``refused``; ``detail``: a few scalars (HTTP
  status, backend, reason), filtered by :func:`scrub`; then ``prev`` and ``hash``
  (below).

Where: ``<data_dir>/audit/``, mode 0750, files mode 0640. Each process writes its own file
stream: the hub ``audit.jsonl``, a service ``audit-<service>.jsonl``; readers
(:func:`read`) merge the files, rotated ones (``audit.jsonl.2026-11-29``) included. A
stream rotates at the first write of a new UTC day (the old file is renamed with the
date of its last write) and keeps ``audit.retention_days`` rotated files (see
:class:`hub.settings.AuditSettings`): rotation needs no logrotate, and a rotated file is
never written again.

**Hash chain** (tamper evidence). Every line ends with two more fields: ``prev``, the
hash of the stream's previous line, and ``hash``, the SHA-256 (hex) of the line's own
text up to and including ``prev`` (the line without its ``,"hash":"..."`` suffix). The
chain runs across rotated files: the first line of a new file chains to the last line
of the previous one; the first line of a stream has ``prev`` :data:`GENESIS`. A line
written before chaining existed (no ``hash``) is chained to by the SHA-256 of its text.
Appends are atomic: under an exclusive ``fcntl.flock`` on the stream's lock file
(``.audit.jsonl.chain``, next to it), a writer rotates if due, reads the last line's
hash, appends one line with a single ``write`` and records that line's hash in the lock
file (the stream's head); any number of threads and processes may write one stream.
:func:`verify` walks every stream and reports the first line deleted or altered
(``datalab audit verify``); lines before a stream's first chained line are counted as
*unchained* (written before chaining existed), not as tampering. The chain detects
edits and deletions; it cannot stop someone able to write the files from rewriting a
stream's whole tail with fresh hashes, nor the removal of a stream's oldest files
(retention removes them too): keep a copy of the heads ``datalab audit verify`` prints,
or ship the files elsewhere, to pin them.

Never written: tokens, secrets, passwords, cookies, notebook contents. :func:`scrub` drops
detail keys whose name says secret and masks any string that looks like a token (long
hexadecimal or base64url runs, JWTs), and :class:`ScrubFilter` applies it to every
record the audit logger emits.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fcntl
import hashlib
import json
import logging
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
    "token.create", "token.revoke",
    "identity.groups", "identity.offboard",
    "dashboard.publish", "dashboard.unpublish", "dashboard.view",
    "report.schedule.create", "report.schedule.update", "report.schedule.delete", "report.run",
    "report.run.end", "report.download",
    "airlock.request", "airlock.approve", "airlock.refuse", "airlock.export", "airlock.download",
)

#: Actors that are not people: the hub itself, the identity provider's decisions
#: (groups synchronised at login, offboarding), the deployment file, the reports'
#: scheduler; services act as ``service:<name>``.
HUB, PROVIDER, OFFBOARDING, DEPLOYMENT, SCHEDULER = (
    "hub", "identity-provider", "hub:offboarding", "deployment", "scheduler")

#: Who is acting, when the code doing it is not handed the actor (a server stop runs in a
#: task of its own): set by :func:`acting_as`, read by :func:`acting`. A context
#: variable: tasks started inside inherit it, other requests do not see it.
_ACTING: contextvars.ContextVar[str | None] = contextvars.ContextVar("datalab_audit_actor", default=None)


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Within the block (and the tasks it starts), :func:`acting` is ``actor``, unless
    an enclosing block already named one (the outermost actor is the true one)."""
    token = _ACTING.set(_ACTING.get() or actor)
    try:
        yield
    finally:
        _ACTING.reset(token)


def acting() -> str | None:
    """The actor named by the enclosing :func:`acting_as`, if any."""
    return _ACTING.get()

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
#: Detail keys whose value, when it is a SHA-256 digest (64 lower-case hex digits), is
#: kept as it is: a file's content hash (the airlock's) is evidence, not a secret.
DIGEST_KEYS = frozenset({"sha256"})
DIGEST = re.compile(r"[0-9a-f]{64}")


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


def _detail_value(key: str, value):
    if not isinstance(value, str):
        return value
    if key in DIGEST_KEYS and DIGEST.fullmatch(value):
        return value
    return _clean_text(value)


def scrub(event: dict) -> dict:
    """A copy of ``event`` safe to write: strings truncated to :data:`MAX_TEXT` characters
    and token-like runs masked (:func:`mask`), except a SHA-256 digest under one of
    :data:`DIGEST_KEYS`; ``detail`` reduced to scalar values whose keys do not name a
    secret (:data:`SECRET_KEY`)."""
    clean: dict = {}
    for key, value in event.items():
        if key == "detail":
            clean[key] = {
                str(k)[:40]: _detail_value(str(k), v)
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


GENESIS = "0" * 64
#: The end of a chained line: its hash (see the module's docstring).
HASH_END = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')
CHAIN_SUFFIX = ".chain"
TAIL = 8192  # bytes read from the end of a file to find its last line (all of it if too few)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_line(message: str, prev: str) -> bytes:
    """The line (UTF-8, no newline) of ``message`` (a JSON object's text) with ``prev``
    and its own ``hash`` appended."""
    body = (message[:-1] + f',"prev":"{prev}"}}').encode("utf-8")
    return body[:-1] + f',"hash":"{digest(body)}"}}'.encode()


def line_hash(line: bytes) -> str:
    """The hash the next line chains to: a chained line's ``hash``, else the SHA-256 of
    the line."""
    match = HASH_END.search(line)
    return match[1].decode() if match else digest(line)


def last_line(path: Path) -> bytes | None:
    """The last non-empty line of ``path`` (None: no such file or no line)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL))
            chunk = f.read()
            if size > TAIL and b"\n" not in chunk.rstrip(b"\n"):
                f.seek(0)
                chunk = f.read()
    except FileNotFoundError:
        return None
    lines = [line for line in chunk.split(b"\n") if line]
    return lines[-1] if lines else None


def stream_of(path: Path) -> str:
    """The stream a file belongs to: ``audit.jsonl.2026-11-29`` -> ``audit.jsonl``."""
    return path.name.split(".jsonl", 1)[0] + ".jsonl"


def stream_files(directory: Path, stream: str) -> list[Path]:
    """The files of ``stream``, oldest first: rotated ones by date, then the current one."""
    rotated = sorted((p for p in files(directory) if p.name.startswith(stream + ".")), key=lambda p: p.name)
    current = directory / stream
    return [*rotated, *([current] if current.exists() else [])]


class AuditFileHandler(logging.Handler):
    """Appends each record's message to ``path`` as one chained line (see the module's
    docstring), under the stream's lock; rotates daily (UTC) and keeps ``backup_count``
    rotated files (0: all). New files are created with mode 0640."""

    def __init__(self, path: Path, backup_count: int = 0):
        super().__init__()
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}{CHAIN_SUFFIX}")
        self.backup_count = backup_count

    def _locked(self) -> int:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            fd = self._locked()
            try:
                if self._due():
                    self._rotate()
                line = chain_line(message, self._last_hash())
                out = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(out, line + b"\n")
                finally:
                    os.close(out)
                os.pwrite(fd, line_hash(line).encode(), 0)  # always 64 characters: no truncation
            finally:
                os.close(fd)
        except Exception:
            self.handleError(record)

    def doRollover(self) -> None:
        """Rotate now (whatever the day)."""
        with self.lock:
            fd = self._locked()
            try:
                self._rotate()
            finally:
                os.close(fd)

    def _due(self) -> bool:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return False
        written = dt.datetime.fromtimestamp(info.st_mtime, dt.timezone.utc).date()
        return info.st_size > 0 and written < dt.datetime.now(dt.timezone.utc).date()

    def _rotate(self) -> None:
        if not self.path.exists():
            return
        day = dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.timezone.utc).date().isoformat()
        target, n = self.path.with_name(f"{self.path.name}.{day}"), 0
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.{day}.{n}")
        os.rename(self.path, target)
        rotated = stream_files(self.path.parent, self.path.name)
        if self.backup_count:
            for old in rotated[:-self.backup_count]:
                old.unlink()

    def _last_hash(self) -> str:
        for path in reversed(stream_files(self.path.parent, self.path.name)):
            line = last_line(path)
            if line is not None:
                return line_hash(line)
        return GENESIS


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
        handler = AuditFileHandler(self.path, backup_count=retention_days)
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
    """A filter on events: ``person`` is the actor, the owner of the target or the
    ``owner`` a detail names (a report run's, a deployment schedule's); ``partner``
    one of the event's partners; ``action`` the action or a dotted prefix of it
    (``server`` matches ``server.start``); ``since`` inclusive, ``until`` exclusive."""

    person: str | None = None
    partner: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def matches(self, event: dict) -> bool:
        owners = (event.get("actor"), _owner(event.get("target", "")), (event.get("detail") or {}).get("owner"))
        if self.person and self.person not in owners:
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



# -- verifying the chain ----------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """The first sign of tampering in a stream: ``file`` and 1-based ``line``;
    ``kind``: ``altered`` (the line's text does not match its hash, or an unchained line
    after chained ones), ``deleted`` (the line's ``prev`` names no line before it: the
    line or lines before it were deleted, or the previous line was rewritten), or
    ``truncated`` (the stream's last lines are gone: ``line`` is where they were)."""

    file: str
    line: int
    kind: str


@dataclass(frozen=True)
class StreamCheck:
    """One stream's verification: its files, line counts, its head (the last line's
    hash), whether its first chained line follows lines no longer kept (retention),
    and the first :class:`Problem` (None: intact)."""

    stream: str
    files: tuple[str, ...]
    lines: int
    unchained: int
    head: str
    starts_after_removed: bool
    problem: Problem | None


def _chained_prev(line: bytes) -> str | None:
    """The ``prev`` of a chained line whose text matches its hash; None otherwise."""
    match = HASH_END.search(line)
    if not match:
        return None
    body = line[:match.start()] + b"}"
    if digest(body) != match[1].decode():
        return None
    try:
        event = json.loads(body)
    except ValueError:
        return None
    prev = event.get("prev") if isinstance(event, dict) else None
    return prev if isinstance(prev, str) else None


def verify_stream(directory: Path, stream: str) -> StreamCheck:
    """Walk ``stream``'s files in order and check every line's hash and link."""
    paths = stream_files(directory, stream)
    expected: str | None = None  # the hash the next line must name; None: nothing before
    count = unchained = 0
    chained_seen = starts_after = False
    previous: list[str] = []  # the last two line hashes (a crash may leave the head one behind)
    where = ("", 0)

    def result(problem: Problem | None) -> StreamCheck:
        return StreamCheck(stream, tuple(p.name for p in paths), count, unchained,
                           previous[-1] if previous else GENESIS, starts_after, problem)

    for path in paths:
        raw = path.read_bytes().split(b"\n")
        if raw and raw[-1] == b"":
            raw.pop()
        for number, line in enumerate(raw, 1):
            count += 1
            where = (path.name, number)
            if not chained_seen and not HASH_END.search(line):
                unchained += 1
            else:
                prev = _chained_prev(line)
                if prev is None:
                    return result(Problem(path.name, number, "altered"))
                if not chained_seen and expected is None and prev != GENESIS:
                    starts_after = True
                elif prev != (expected or GENESIS):
                    return result(Problem(path.name, number, "deleted"))
                chained_seen = True
            expected = line_hash(line)
            previous = [*previous[-1:], expected]
    head_file = directory / f".{stream}{CHAIN_SUFFIX}"
    try:
        head = head_file.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        head = ""
    if head and head not in previous:
        return result(Problem(where[0] or stream, where[1] + 1, "truncated"))
    return result(None)


def verify(directory: Path) -> list[StreamCheck]:
    """:func:`verify_stream` for every stream of ``directory`` (a stream whose files are
    all gone but whose head remains is one)."""
    heads = {p.name[1:-len(CHAIN_SUFFIX)] for p in directory.glob(f".audit*.jsonl{CHAIN_SUFFIX}")}
    streams = sorted({stream_of(p) for p in files(directory)} | heads)
    return [verify_stream(directory, s) for s in streams]


# -- who acted on a person's labs ---------------------------------------------------------
def acted_on_by_others(events: Iterable[dict], person: str, limit: int = 200) -> list[dict]:
    """The events where someone other than ``person`` acted on or opened one of their
    servers (opened a shared lab, an admin started or stopped it, the culler stopped
    it...) or acted on their account as an admin or through offboarding; the newest
    ``limit``, newest first."""
    found = []
    for e in events:
        target, actor, action = e.get("target", ""), e.get("actor", ""), e.get("action", "")
        if actor == person or _owner(target) != person:
            continue
        on_server = ":" not in target
        if on_server or action.startswith("admin.") or action == "identity.offboard":
            found.append(e)
    return found[::-1][:limit]
