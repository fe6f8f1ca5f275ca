"""The data directory's layout: hub state, homes, partner spaces, the library copy.

::

    <data_dir>/            0755
      hub/                 0700  hub database, secrets (hub only)
      homes/<account>/     0711 / 0700 one home per user, owned by the user's account
      partners/<id>/       0711 / 2770 one space per partner, group partner-<id>
      library/             0755  read-only copy of the notebook library (root-owned)
      dashboards/<id>/     0711 / 0750 one published dashboard, group: its author's account
        dashboard.json             its metadata (title, audience, versions...)
        v<n>/notebook.ipynb        the snapshot of version n (outputs cleared)

Inside a lab, the home holds two links: ``bibliotheque`` (the library, read-only) and
``partenaire-<id>`` (the partner's space, read-write for members only).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

LIBRARY_LINK = "bibliotheque"
PARTNER_LINK_PREFIX = "partenaire-"
_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".git")


class Layout:
    """Paths under one data directory (``data_dir``: absolute :class:`Path`)."""

    def __init__(self, data_dir: Path):
        self.root = data_dir
        self.hub = data_dir / "hub"
        self.homes = data_dir / "homes"
        self.partners = data_dir / "partners"
        self.library = data_dir / "library"
        self.dashboards = data_dir / "dashboards"

    def home(self, account: str) -> Path:
        """The home directory of a Unix account (or, without isolation, of a user)."""
        return self.homes / account

    def partner_space(self, partner_id: str) -> Path:
        """The shared space of a partner."""
        return self.partners / partner_id

    def dashboard(self, dashboard_id: str) -> Path:
        """The directory of a published dashboard (its metadata and versions)."""
        return self.dashboards / dashboard_id

    def create(self) -> None:
        """Create the top directories with the modes above (idempotent). ``OSError``."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self.hub.mkdir(exist_ok=True)
        os.chmod(self.hub, 0o700)
        for d in (self.homes, self.partners, self.dashboards):
            d.mkdir(exist_ok=True)
            os.chmod(d, 0o711)


def publish_library(source: Path, target: Path) -> None:
    """Replace ``target`` by a copy of ``source``: directories 0755, files 0644, owned by
    the hub's user, so lab users can read and never write it.

    The copy is built beside ``target`` and swapped in by renames, so a reader sees the
    old or the new library, never a half-copied one. Raises ``FileNotFoundError`` when
    ``source`` is missing.
    """
    if not source.is_dir():
        raise FileNotFoundError(f"notebook library not found: {source}")
    staging = target.with_name(target.name + ".new")
    previous = target.with_name(target.name + ".old")
    for leftover in (staging, previous):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, staging, ignore=_IGNORED, copy_function=shutil.copy)
    for dirpath, dirnames, filenames in os.walk(staging):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


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


def unlink_stale(home: Path, keep: set[str]) -> None:
    """Remove partner-space links in ``home`` that are not in ``keep`` (membership ended)."""
    for entry in home.iterdir():
        if entry.name.startswith(PARTNER_LINK_PREFIX) and entry.is_symlink() and entry.name not in keep:
            entry.unlink()
