"""The data directory's layout: hub state, homes, partner and project spaces, the
library's published versions.

::

    <data_dir>/                  0755
      hub/                       0700  hub database, secrets, library git cache (hub only)
      homes/<account>/           0711 / 0700 one home per user, owned by the user's account
      partners/<id>/             0711 / 2770 one space per partner, group partner-<id>
      projects/<id>/             0711 / 2770 one space per project, group project-<id>
                                       (ended project: root-owned, no write bit anywhere)
      library/                   0755  the notebook library (root-owned, read-only)
        versions/<commit>/       0755  one published version, files 0644
        current -> versions/<commit>   the version labs see, switched atomically
      reports/                   0711  the reports service (see hub/services/reports/archive.py)
        archive/<run>/           0700  one finished run: notebook, HTML, log (service only)
        work/<run>/              0700  one run in progress, owned by the schedule owner's account
      dashboards/<id>/           0711 / 0750 one published dashboard, group: its author's account
        dashboard.json                 its metadata (title, audience, versions...)
        v<n>/notebook.ipynb            the snapshot of version n (outputs cleared)
      dashboards/.sockets/       0700  the local backend's Voilà sockets (service only)

Inside a lab, the home holds links: ``bibliotheque`` (the library, read-only),
``partenaire-<id>`` (the partner's space, read-write for members only) and
``projet-<id>`` (a project's space, read-write for its members only).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

LIBRARY_LINK = "bibliotheque"
PARTNER_LINK_PREFIX = "partenaire-"
PROJECT_LINK_PREFIX = "projet-"
#: A person's own temporary directory in their home (``TMPDIR`` of their labs): the
#: machine's shared /tmp would mix people's files (Jupyter Server puts there the
#: checkpoints of notebooks in read-only folders such as the library).
TMP_DIR = ".tmp"


class Layout:
    """Paths under one data directory (``data_dir``: absolute :class:`Path`)."""

    def __init__(self, data_dir: Path):
        self.root = data_dir
        self.hub = data_dir / "hub"
        self.homes = data_dir / "homes"
        self.partners = data_dir / "partners"
        self.projects = data_dir / "projects"
        self.library_root = data_dir / "library"
        self.library_versions = self.library_root / "versions"
        self.library = self.library_root / "current"
        self.reports = data_dir / "reports"
        self.dashboards = data_dir / "dashboards"

    def home(self, account: str) -> Path:
        """The home directory of a Unix account (or, without isolation, of a user)."""
        return self.homes / account

    def partner_space(self, partner_id: str) -> Path:
        """The shared space of a partner."""
        return self.partners / partner_id

    def project_space(self, project_id: str) -> Path:
        """The shared space of a project."""
        return self.projects / project_id

    def dashboard(self, dashboard_id: str) -> Path:
        """The directory of a published dashboard (its metadata and versions)."""
        return self.dashboards / dashboard_id

    def create(self) -> None:
        """Create the top directories with the modes above (idempotent). ``OSError``."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.hub.mkdir(exist_ok=True)
        os.chmod(self.hub, 0o700)
        for d in (self.homes, self.partners, self.projects, self.dashboards):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o711)
        if self.library_root.is_dir() and not self.library_versions.is_dir():
            shutil.rmtree(self.library_root)  # an unversioned copy from an older layout
        for d in (self.library_root, self.library_versions):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o755)


def make_read_only_tree(root: Path) -> None:
    """Give a published tree the library's modes: directories 0755, files 0644 (readable
    by every account, writable by none but its owner, the hub's user)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)


def switch_link(link_path: Path, target: Path) -> None:
    """Point the symbolic link ``link_path`` at ``target`` atomically: a new link is made
    beside it and renamed over it, so a reader resolves the old or the new target, never
    nothing."""
    staging = link_path.with_name(link_path.name + ".switch")
    if staging.is_symlink() or staging.exists():
        staging.unlink()
    staging.symlink_to(target, target_is_directory=True)
    os.replace(staging, link_path)


def prune_versions(versions: Path, current: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` most recently published versions under ``versions``
    (``current`` is always kept). Returns the removed paths."""
    entries = sorted(
        (d for d in versions.iterdir() if d.is_dir() and not d.name.startswith(".")),
        key=lambda d: d.stat().st_mtime,
        reverse=True,
    )
    kept = {current.resolve()} | {d.resolve() for d in entries[:keep]}
    removed = []
    for d in entries:
        if d.resolve() not in kept:
            shutil.rmtree(d)
            removed.append(d)
    return removed


def freeze_tree(root: Path, owner_uid: int | None) -> None:
    """Make ``root`` and everything below read-only: every write bit removed, and (when
    ``owner_uid`` is given) every entry owned by ``owner_uid``, so that no member can
    give itself write access back. Symbolic links are left alone. Idempotent."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            _freeze(Path(dirpath) / name, owner_uid)
    _freeze(root, owner_uid)


def _freeze(path: Path, owner_uid: int | None) -> None:
    if path.is_symlink():
        return
    if owner_uid is not None:
        os.chown(path, owner_uid, -1)
    mode = path.stat().st_mode
    os.chmod(path, stat.S_IMODE(mode) & ~0o222)


def link(home: Path, name: str, target: Path) -> None:
    """Make ``home/name`` a symbolic link to ``target`` (replacing an older link; a real
    file or directory of that name, the user's own, is left alone)."""
    path = home / name
    if path.is_symlink():
        if os.readlink(path) == str(target):
            return
        path.unlink()
    elif path.exists():
        return
    path.symlink_to(target, target_is_directory=True)


def private_dir(home: Path, name: str, uid: int | None, gid: int | None) -> Path:
    """``home/name``, a directory only its owner enters (mode 0700, owned by ``uid``:``gid``
    when given), created when missing. Whatever the person put at that name is opened
    without following links: a symbolic link or a file there raises ``OSError`` and
    nothing outside the home is touched."""
    home_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=home_fd)
        except FileExistsError:
            pass
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=home_fd)
    finally:
        os.close(home_fd)
    try:
        if uid is not None:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return home / name


def unlink_stale(home: Path, keep: set[str]) -> None:
    """Remove partner- and project-space links in ``home`` that are not in ``keep``
    (membership ended)."""
    prefixes = (PARTNER_LINK_PREFIX, PROJECT_LINK_PREFIX)
    for entry in home.iterdir():
        if entry.name.startswith(prefixes) and entry.is_symlink() and entry.name not in keep:
            entry.unlink()
