"""The archive of runs under ``<data_dir>/reports/``.

::

    reports/            0711
      archive/<run>/    0700  the service's copy of a finished run:
                              notebook.ipynb, report.html (succeeded runs), run.log
      work/<run>/       0700  a run in progress, owned by the owner's account; removed
                              once archived

The work area is written by the owner's code, so it is read without following links
(``O_NOFOLLOW``), regular files only, within size limits: a run cannot make the service
archive or serve a file it could not read itself.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hub.storage import Layout

from .execute import HTML, NOTEBOOK, RESULT

LOG = "run.log"
ARCHIVED = (NOTEBOOK, HTML)
MAX_FILE = 256 * 1024 * 1024  # bytes of one archived output
MAX_RESULT = 64 * 1024
MAX_ERROR = 4000  # characters of an error message kept


#: An absolute file path (not the path of a URL, which follows its host): the directory
#: part is dropped, the last part kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`:,;()\[\]{}<>]+/)*([^\s/'\"`:,;()\[\]{}<>]+)")


def without_server_paths(text: str) -> str:
    """A run's log as its audience reads it: every absolute path on the server (the data
    directory, the run's work area, the hub's installation in tracebacks...) reduced to
    ``…/<last part>``."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), text)


@dataclass
class RunOutcome:
    """What a runner reports: ``status`` (``succeeded`` or ``failed``), ``error`` (the
    message shown with a failed run) and ``files`` (name -> path in the work area of the
    outputs to archive: ``notebook.ipynb``, ``report.html``)."""

    status: str
    error: str | None = None
    files: dict[str, Path] = field(default_factory=dict)


class Archive:
    """The reports directories of one data directory (``layout``)."""

    def __init__(self, layout: Layout):
        self.root = layout.reports
        self.archive = self.root / "archive"
        self.work = self.root / "work"

    def create(self) -> None:
        """Create the directories with their modes (idempotent). ``OSError``."""
        for d in (self.root, self.archive, self.work):
            d.mkdir(exist_ok=True)
        os.chmod(self.root, 0o711)
        os.chmod(self.archive, 0o700)
        os.chmod(self.work, 0o711)

    def run_dir(self, run_id: int) -> Path:
        """The archive directory of a run (created, mode 0700)."""
        path = self.archive / str(run_id)
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def work_area(self, run_id: int) -> Path:
        """A fresh work area for a run (an older one of that id is removed first)."""
        path = self.work / str(run_id)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700)
        return path

    def keep(self, outcome: RunOutcome, run_id: int) -> list[str]:
        """Copy the outcome's files into the run's archive directory and remove the work
        area; returns the names archived. A file that is not a regular file or is too
        large is left out."""
        target = self.run_dir(run_id)
        kept = []
        for name, path in outcome.files.items():
            data = read_regular(path, MAX_FILE)
            if data is not None:
                (target / name).write_bytes(data)
                kept.append(name)
        shutil.rmtree(self.work / str(run_id), ignore_errors=True)
        return kept

    def file(self, run_id: int, name: str) -> Path | None:
        """An archived file of a run, or None."""
        if name not in (*ARCHIVED, LOG):
            return None
        path = self.archive / str(run_id) / name
        return path if path.is_file() else None

    def remove(self, run_id: int) -> None:
        """Delete a run's archive and work area."""
        shutil.rmtree(self.archive / str(run_id), ignore_errors=True)
        shutil.rmtree(self.work / str(run_id), ignore_errors=True)


def read_regular(path: Path, limit: int) -> bytes | None:
    """The content of ``path`` when it is a regular file (not a link) of at most
    ``limit`` bytes; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ENXIO):
            return None
        raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def read_beneath(path: Path, limit: int) -> bytes | None:
    """Like :func:`read_regular` for an absolute ``path`` that must not pass through any
    symbolic link (each directory is opened without following links): a path checked
    once cannot be redirected elsewhere by swapping a directory for a link afterwards.
    None when a component is a link, missing or not a directory, or the file is not a
    regular file of at most ``limit`` bytes."""
    parts = path.parts
    if not path.is_absolute() or len(parts) < 2:
        return None
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        fd = os.open("/", flags)
    except OSError:
        return None
    try:
        for part in parts[1:-1]:
            try:
                next_fd = os.open(part, flags, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = next_fd
        try:
            file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            return None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return f.read(limit + 1)[:limit]


def outcome_of(work_area: Path, returncode: int | None, error: str | None = None) -> RunOutcome:
    """Read what :mod:`~hub.services.reports.execute` left in ``work_area``.

    Succeeded only when the process exited 0, its result says so and the notebook and
    HTML are there; otherwise failed with the run's own message, else ``error``, else the
    exit status. The partial notebook of a failed run is kept.
    """
    files = {name: work_area / name for name in ARCHIVED if _is_regular(work_area / name)}
    result = {}
    raw = read_regular(work_area / RESULT, MAX_RESULT)
    if raw is not None:
        try:
            loaded = json.loads(raw)
            result = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            result = {}
    message = result.get("error") if isinstance(result.get("error"), str) else None
    complete = returncode == 0 and result.get("status") == "succeeded" and set(files) == set(ARCHIVED)
    if complete:
        return RunOutcome("succeeded", None, files)
    files.pop(HTML, None)
    if not (message or error):
        message = f"exit status {returncode}" if returncode is not None else None
    return RunOutcome("failed", (message or error or "")[:MAX_ERROR], files)


def finished_unseen(work_area: Path) -> RunOutcome | None:
    """The outcome of a run that ended while no service watched it (its exit status is
    unknown): what its result says when it wrote one, None when it wrote none (it was
    interrupted)."""
    if not _is_regular(work_area / RESULT):
        return None
    return outcome_of(work_area, 0)


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
