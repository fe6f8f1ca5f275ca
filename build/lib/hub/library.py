"""The versioned notebook library: published from a git repository, one commit at a time.

``storage.library_source`` names the repository (a folder inside a git working tree, or a
git URL) and ``library.ref`` the branch, tag or commit to publish. :func:`update` fetches
that ref into a bare cache (``<data_dir>/hub/library.git``, hub only), exports the
library's folder of the fetched commit into ``library/versions/<commit>/`` (read-only
modes) and switches the ``library/current`` link to it atomically: labs always see one whole
version, and the copies people made in their homes are never touched.

Git runs as an argv list (never a shell), with ``--`` before user-derived words, and only
the ``file``, ``https``, ``ssh`` and ``git`` transports allowed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import storage
from .settings import Settings

GIT_ENV = {"GIT_ALLOW_PROTOCOL": "file:https:ssh:git", "GIT_TERMINAL_PROMPT": "0"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://|^[^/:]+@[^/:]+:")
_COMMIT = re.compile(r"^[0-9a-f]{40,64}$")


class LibraryError(Exception):
    """The library cannot be published; the message says why (git's own words)."""


@dataclass(frozen=True)
class Source:
    """Where a library version comes from: a git ``repository`` (path or URL), the
    ``ref`` to publish and the library's ``subdirectory`` in it (``""``: its root)."""

    repository: str
    ref: str
    subdirectory: str


@dataclass(frozen=True)
class Published:
    """A published version: its ``commit`` (hex), its directory, and whether this call
    switched ``library/current`` to it (``changed``)."""

    commit: str
    path: Path
    changed: bool


def _git(*args: str, cwd: Path | None = None, binary: bool = False) -> str | bytes:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, env={**os.environ, **GIT_ENV}
    )
    if done.returncode != 0:
        raise LibraryError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout if binary else done.stdout.decode().strip()


def source_of(settings: Settings) -> Source:
    """The :class:`Source` the deployment file describes. A local folder inside a git
    working tree gives that tree's repository and the folder's path in it. Raises
    :class:`LibraryError` for a local path that is not in a git working tree."""
    value = settings.storage.library_source
    ref = settings.library.ref
    if _URL.match(value):
        return Source(value, ref, settings.library.subdirectory)
    folder = settings.path(Path(value))
    if not folder.is_dir():
        raise LibraryError(f"storage.library_source: {folder} is not a directory")
    try:
        top = Path(_git("rev-parse", "--show-toplevel", cwd=folder))
    except LibraryError:
        raise LibraryError(
            f"storage.library_source: {folder} is not inside a git repository; "
            "the library is published from git commits"
        ) from None
    inner = folder.resolve().relative_to(top.resolve()).as_posix()
    sub = "/".join(p for p in (inner if inner != "." else "", settings.library.subdirectory) if p)
    return Source(str(top), ref, sub)


def cache_of(settings: Settings) -> Path:
    """The bare git cache the hub fetches into."""
    return storage.Layout(settings.data_dir).hub / "library.git"


def fetch(source: Source, cache: Path) -> str:
    """Fetch ``source.ref`` into the bare ``cache`` (created when missing); returns the
    fetched commit's full hex id. Raises :class:`LibraryError`."""
    if not (cache / "HEAD").exists():
        cache.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", str(cache))
    if source.repository.startswith("-") or source.ref.startswith("-"):
        raise LibraryError("a library repository or ref cannot start with '-'")
    _git("fetch", "--quiet", "--no-tags", "--force", "--", source.repository, source.ref, cwd=cache)
    return _git("rev-parse", "--verify", "FETCH_HEAD^{commit}", cwd=cache)


def export(cache: Path, commit: str, subdirectory: str, target: Path) -> None:
    """Write the library folder ``subdirectory`` of ``commit`` into the new directory
    ``target`` with read-only modes. Raises :class:`LibraryError` when the commit has
    no such folder."""
    tree = f"{commit}:{subdirectory}" if subdirectory else f"{commit}^{{tree}}"
    try:
        kind = _git("cat-file", "-t", tree, cwd=cache)
    except LibraryError:
        kind = None
    if kind != "tree":
        raise LibraryError(f"commit {commit[:12]} has no folder {subdirectory!r}")
    archive = _git("archive", "--format=tar", tree, cwd=cache, binary=True)
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, members=_plain_members(tar))
    storage.make_read_only_tree(target)


def _plain_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Directories, regular files and symbolic links with relative names that stay
    inside the archive (what ``git archive`` produces); anything else is skipped."""
    kept = []
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts:
            continue
        if member.isdir() or member.isfile() or member.issym():
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            kept.append(member)
    return kept


def publish(settings: Settings, ref: str | None = None) -> Published:
    """Publish the library at ``ref`` (default ``library.ref``): fetch, export into
    ``library/versions/<commit>/`` unless already there, switch ``library/current``,
    keep ``library.keep_versions`` versions. Idempotent. Raises :class:`LibraryError`."""
    layout = storage.Layout(settings.data_dir)
    layout.create()
    source = source_of(settings)
    if ref is not None:
        source = Source(source.repository, ref, source.subdirectory)
    cache = cache_of(settings)
    commit = fetch(source, cache)
    if not _COMMIT.match(commit):
        raise LibraryError(f"git returned an unexpected commit id {commit!r}")
    version = layout.library_versions / commit
    if not version.is_dir():
        staging = layout.library_versions / f".{commit}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            export(cache, commit, source.subdirectory, staging)
            staging.rename(version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    changed = current(settings) != commit
    if changed:
        os.utime(version)
        storage.switch_link(layout.library, Path(layout.library_versions.name) / commit)
    storage.prune_versions(layout.library_versions, version, settings.library.keep_versions)
    return Published(commit, version, changed)


def current(settings: Settings) -> str | None:
    """The commit ``library/current`` points at, or None before the first publication."""
    link = storage.Layout(settings.data_dir).library
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).name


def follow(settings: Settings, rounds: int | None = None, log=print) -> None:
    """Publish ``library.ref`` now and then every ``library.follow_minutes`` minutes
    (``rounds``: how many publications before returning; None: until killed). A failed
    round is logged and retried at the next one. Raises ``ValueError`` when
    ``follow_minutes`` is 0."""
    minutes = settings.library.follow_minutes
    if minutes <= 0:
        raise ValueError("library.follow_minutes is 0: nothing to follow")
    done = 0
    while rounds is None or done < rounds:
        try:
            published = publish(settings)
            if published.changed:
                log(f"library: published {published.commit[:12]} ({settings.library.ref})")
        except LibraryError as e:
            log(f"library: update failed: {e}")
        done += 1
        if rounds is None or done < rounds:
            time.sleep(minutes * 60)
