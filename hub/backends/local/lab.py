"""The ``local`` backend: each lab is a process on the hub's machine.

With the hub running as root, each hub user gets a Unix account ``jupyter-<escaped>``
(created on first start, TLJH-style) whose supplementary groups are exactly its partners'
``partner-<id>`` groups and its projects' ``project-<id>`` groups, refreshed at every
start; the lab runs as that account (umask 007, so that files made in a shared space are
writable by the space's group), and file modes enforce the read-only library, the private
homes and the members-only partner and project spaces. Without root, every lab runs as the hub's own user: isolation is off, and the hub
says so at start.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import List, Unicode, default

from ... import storage
from ...names import system_account
from ...partners import partner_group, project_group
from ...settings import Project, Settings
from ..base import DataLabSpawnerMixin, lab_command

NOLOGIN = "/usr/sbin/nologin"
#: umask of the processes run for a person: group members may write what they create
#: in a shared (setgid) space; others get nothing.
UMASK = 0o007


def isolated() -> bool:
    """True when the hub can run labs under per-user accounts (it runs as root)."""
    return os.geteuid() == 0


def unreachable_by_others(path: Path) -> Path | None:
    """The first directory on ``path``'s way (``path`` included) that other Unix
    accounts cannot traverse (no ``o+x``), or None when they can reach ``path``."""
    for directory in [*reversed(path.resolve().parents), path.resolve()]:
        if not directory.stat().st_mode & 0o001:
            return directory
    return None


def _run(*argv: str) -> None:
    """Run an account-management command (argv list, never a shell); ``RuntimeError``
    carrying the command's own message when it fails."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip() or done.returncode}")


def ensure_group(name: str) -> int:
    """The gid of Unix group ``name``, created as a system group when missing."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", "--system", name)
        return grp.getgrnam(name).gr_gid


def ensure_account(account: str, home: Path, groups: list[str]) -> pwd.struct_passwd:
    """Create or update the Unix ``account`` (no login shell) so that its home is ``home``
    and its supplementary groups are exactly ``groups`` (created when missing). Names
    must already be safe."""
    for group in groups:
        ensure_group(group)
    try:
        pwd.getpwnam(account)
    except KeyError:
        _run(
            "useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", str(home), "--shell", NOLOGIN,
            "--comment", "DataLab hub user", account,
        )
    _run("usermod", "--home", str(home), "--groups", ",".join(groups), account)
    return pwd.getpwnam(account)


def prepare_partner_space(layout: storage.Layout, partner_id: str) -> Path:
    """Create a partner space: group ``partner-<id>``, mode 2770 (setgid, so files
    created inside stay the partner's). Returns its path."""
    space = layout.partner_space(partner_id)
    space.mkdir(exist_ok=True)
    if isolated():
        os.chown(space, 0, ensure_group(partner_group(partner_id)))
        os.chmod(space, 0o2770)
    return space


def prepare_project_space(layout: storage.Layout, project: Project) -> Path:
    """Create a project space: group ``project-<id>``, mode 2770 (setgid). Once the
    project has ended, make it read-only instead (:func:`hub.storage.freeze_tree`: no
    write bit, owned by root when isolated, still readable by the group). Idempotent;
    returns its path."""
    space = layout.project_space(project.id)
    space.mkdir(exist_ok=True)
    if isolated():
        os.chown(space, 0, ensure_group(project_group(project.id)))
        os.chmod(space, 0o2770)
    if project.ended():
        storage.freeze_tree(space, 0 if isolated() else None)
    return space


class Person:
    """The local backend's execution policy for one person, used by every consumer that
    runs their code (labs, dashboards, report runs): their account, home and storage.

    ``username``: the hub user name; ``partner_ids``: their partners' ids (from their
    hub groups); ``settings``: the deployment's :class:`~hub.settings.Settings`, whose
    ``projects`` say which project spaces the person gets.
    """

    def __init__(self, settings: Settings, username: str, partner_ids: set[str]):
        self.settings = settings
        self.username = username
        self.partner_ids = set(partner_ids)
        self.layout = storage.Layout(settings.data_dir)
        self.account = system_account(username, settings.spawner.account_prefix)
        self.home = self.layout.home(self.account)
        self.projects = settings.projects_of(username)

    def prepare(self) -> Path:
        """Create the person's account, home and links to the library, their partner
        spaces and their project spaces; returns the home. Call it before each run, so
        partner and project membership changes apply at the next start. Raises
        ``RuntimeError`` (account commands) or ``OSError``.
        """
        partners = sorted(self.partner_ids)
        spaces = {
            storage.PARTNER_LINK_PREFIX + p: prepare_partner_space(self.layout, p) for p in partners
        }
        for project in self.projects:
            spaces[storage.PROJECT_LINK_PREFIX + project.id] = prepare_project_space(self.layout, project)
        self.home.mkdir(exist_ok=True)
        if isolated():
            groups = [partner_group(p) for p in partners] + [project_group(p.id) for p in self.projects]
            entry = ensure_account(self.account, self.home, groups)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
            os.chmod(self.home, 0o700)
        storage.link(self.home, storage.LIBRARY_LINK, self.layout.library)
        for name, space in spaces.items():
            storage.link(self.home, name, space)
        storage.unlink_stale(self.home, set(spaces))
        return self.home

    def env(self) -> dict[str, str]:
        """Environment variables of a process run for this person (to add to a base)."""
        return {
            "HOME": str(self.home),
            "USER": self.account if isolated() else os.environ.get("USER", ""),
            "SHELL": "/bin/bash",
            "PYTHONPATH": str(self.layout.library),
            "DATALAB_LIBRARY": str(self.layout.library),
            "DATALAB_PARTNERS": ",".join(sorted(self.partner_ids)),
            "DATALAB_PROJECTS": ",".join(p.id for p in self.projects),
        }

    def preexec_fn(self):
        """For ``subprocess.Popen(preexec_fn=...)``: set :data:`UMASK`, become the
        person's account (when isolated) and enter their home."""
        if isolated():
            become = set_user_setuid(self.account)
        else:
            home = str(self.home)
            become = lambda: os.chdir(home)  # noqa: E731

        def preexec() -> None:
            os.umask(UMASK)
            become()

        return preexec


class LocalSpawner(DataLabSpawnerMixin, LocalProcessSpawner):
    """LocalProcessSpawner running each lab as the user's own Unix account."""

    @default("cmd")
    def _default_cmd(self):
        return lab_command(sys.executable)

    extra_lab_args = List(
        Unicode(), help="Arguments added to every local lab's command line (after Spawner.args)"
    ).tag(config=True)

    @property
    def person(self) -> Person:
        return Person(self.settings, self.user.name, self.partner_ids)

    def get_args(self):
        return [*super().get_args(), *self.extra_lab_args]

    async def start(self):
        self.notebook_dir = str(self.person.prepare())
        return await super().start()

    def get_env(self):
        env = super().get_env()
        if self.selected_profile is not None:
            env["DATALAB_PROFILE"] = self.selected_profile.id
        return env

    def user_env(self, env):
        env.update(self.person.env())
        return env

    def make_preexec_fn(self, name):
        return self.person.preexec_fn()
