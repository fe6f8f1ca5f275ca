"""The airlock's file handling: a requested file read beneath its space without
following links, staged where the requester cannot write, exported with its hash.

The space's root is a path the hub made (``<data_dir>/partners/<id>``, ``projects/<id>``,
``homes/<account>``: their parents are root's, so no member can swap the root itself).
Beneath it every component the requester named is opened relative to its parent's
descriptor with ``O_NOFOLLOW`` (directories with ``O_DIRECTORY``): a symbolic link
anywhere, ``..``, ``.`` or an absolute path is refused before anything is read, and a
link swapped in after the check cannot redirect the read (there is no later lookup by
name). The file must be a regular file; when the space belongs to a Unix account
(``reader``), its mode must let that account read it, as a read as that person would.

Messages never quote a file's content: a :class:`FileRefused` names a message key of
:mod:`hub.messages` (``airlock_<key>``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Bytes of one exported file at most.
MAX_FILE = 1024 ** 3
MAX_PATH = 1024
MAX_NAME = 200
CHUNK = 1024 * 1024
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class FileRefused(ValueError):
    """The named file cannot be exported; ``key`` names the message (``airlock_<key>``),
    ``values`` fill it in (never with file content)."""

    def __init__(self, key: str, **values: object):
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Reader:
    """Whose read the hub stands in for: a Unix ``uid`` and its groups ``gids``."""

    uid: int
    gids: frozenset[int]

    def may_read(self, info: os.stat_result) -> bool:
        mode = info.st_mode
        if info.st_uid == self.uid:
            return bool(mode & stat.S_IRUSR)
        if info.st_gid in self.gids:
            return bool(mode & stat.S_IRGRP)
        return bool(mode & stat.S_IROTH)


def split(path: str) -> tuple[str, ...]:
    """The components of a relative path as a person names it; :class:`FileRefused`
    ``bad_path`` for an absolute path, ``..``, ``.``, empty components, control
    characters or an overlong path or name."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH or path.startswith("/"):
        raise FileRefused("bad_path")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise FileRefused("bad_path")
    parts = tuple(path.split("/"))
    if any(p in ("", ".", "..") for p in parts) or len(parts[-1]) > MAX_NAME:
        raise FileRefused("bad_path")
    return parts


def open_beneath(root: Path, parts: tuple[str, ...], reader: Reader | None = None) -> int:
    """A read-only descriptor of the regular file ``root/parts...`` reached without
    following any link beneath ``root``. :class:`FileRefused`: ``link`` (a component is
    a symbolic link), ``not_found``, ``not_regular``, ``unreadable`` (``reader`` may not
    read it), ``too_large``."""
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError:
        raise FileRefused("not_found") from None
    for i, part in enumerate(parts):
        try:
            next_fd = _step(fd, part, DIR_FLAGS if i < len(parts) - 1 else FILE_FLAGS)
        finally:
            os.close(fd)
        fd = next_fd
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("not_regular")
        if reader is not None and not reader.may_read(info):
            raise FileRefused("unreadable")
        if info.st_size > MAX_FILE:
            raise FileRefused("too_large", limit=MAX_FILE // 1024 ** 2)
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _step(dir_fd: int, name: str, flags: int) -> int:
    """Open ``name`` in ``dir_fd`` with ``flags``; :class:`FileRefused` naming why not."""
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP or _is_link(dir_fd, name):
            raise FileRefused("link") from None
        if e.errno in (errno.ENOTDIR, errno.EISDIR):
            raise FileRefused("not_regular") from None
        if e.errno == errno.ENOENT:
            raise FileRefused("not_found") from None
        raise FileRefused("unreadable") from None


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def copy_fd(source_fd: int, directory: Path, limit: int = MAX_FILE) -> tuple[Path, int, str]:
    """Copy the open file ``source_fd`` (closed afterwards) into a new file of
    ``directory`` (mode 0400); returns (its path, size, SHA-256 hex of what was copied).
    :class:`FileRefused` ``too_large`` when more than ``limit`` bytes come."""
    digest, size = hashlib.sha256(), 0
    out_fd, name = tempfile.mkstemp(dir=directory, prefix=".incoming-")
    try:
        with os.fdopen(source_fd, "rb") as source, os.fdopen(out_fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FileRefused("too_large", limit=limit // 1024 ** 2)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, 0o400)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), size, digest.hexdigest()


def sha256_of(path: Path) -> str | None:
    """The SHA-256 hex of the regular file ``path`` (not followed if a link); None when
    it is missing, a link or not a regular file."""
    try:
        fd = os.open(path, FILE_FLAGS)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def export(staged: Path, directory: Path, name: str, expected: str, gid: int | None) -> str:
    """Copy the staged file into ``directory`` as ``name`` with ``name.sha256`` beside
    it (``sha256sum`` format), both mode 0640 (group ``gid`` when given), and return
    the SHA-256 of the bytes written. :class:`FileRefused` ``hash_mismatch`` (nothing
    left in ``directory``) when they are not the bytes hashed at request time."""
    fd = os.open(staged, FILE_FLAGS)
    copied, _size, digest = copy_fd(fd, directory)
    if digest != expected:
        copied.unlink()
        raise FileRefused("hash_mismatch")
    target = directory / name
    checksum = directory / f"{name}.sha256"
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".incoming-", delete=False) as f:
        f.write(f"{digest}  {name}\n")
    for path in (copied, Path(f.name)):
        os.chmod(path, 0o640)
        if gid is not None:
            os.chown(path, 0, gid)
    os.replace(copied, target)
    os.replace(f.name, checksum)
    return digest
