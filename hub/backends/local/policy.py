"""The ``local`` backend's execution policy: a person's code is a process on the hub's
machine (their lab, their dashboards, their report runs).

With the hub running as root, each hub user gets a Unix account ``jupyter-<escaped>``
(created on first start, TLJH-style) whose supplementary groups are exactly its partners'
``partner-<id>`` groups and its projects' ``project-<id>`` groups, refreshed at every
start; the lab runs as that account (umask 007, so that files made in a shared space are
writable by the space's group), and file modes enforce the read-only library, the private
homes and the members-only partner and project spaces. Without root, every lab runs as the hub's own user: isolation is off, and the hub
says so at start.

:func:`execution` is the one policy: labs (:mod:`.lab`), dashboards (:mod:`.dashboard`)
and report runs (:mod:`.report`) all run with the :class:`~hub.backends.protocol.ExecutionSpec`
it gives, after :func:`prepare` and through :func:`preexec_fn`.
"""

from __future__ import annotations

import grp
import os
import pwd
import resource
import subprocess
from pathlib import Path

from jupyterhub.spawner import set_user_setuid

from ... import storage
from ...groups import partner_group, project_group
from ...names import system_account
from ...settings import ConfigError, Profile, Project, Settings, memory_bytes
from ..protocol import ExecutionSpec, Person

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


def check_reachable(path: Path, message: str) -> None:
    """When isolated (labs and runs under per-user accounts), ``ConfigError`` with
    ``message`` (``{blocked}``: the first directory others cannot traverse, ``{mode}``:
    its mode, ``{path}``: ``path``) when ``path`` is out of other accounts' reach."""
    if not isolated():
        return
    blocked = unreachable_by_others(path)
    if blocked:
        raise ConfigError(message.format(blocked=blocked, mode=f"{blocked.stat().st_mode & 0o777:o}", path=path))


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


class Account:
    """A person's Unix account, home and storage on this machine.

    ``settings``: the deployment's :class:`~hub.settings.Settings`, whose ``projects`` say
    which project spaces the person gets; ``person``: whose account.
    """

    def __init__(self, settings: Settings, person: Person):
        self.settings = settings
        self.username = person.name
        self.partner_ids = set(person.partner_ids)
        self.layout = storage.Layout(settings.data_dir)
        self.account = system_account(person.name, settings.spawner.account_prefix)
        self.home = self.layout.home(self.account)
        self.projects = settings.projects_of(person.name)

    def prepare(self) -> Path:
        """Create the person's account, home and links to the library, their partner
        spaces and their project spaces; returns the home. Call it before each run, so
        partner and project membership changes apply at the next start. Raises
        ``RuntimeError`` (account commands) or ``OSError``.
        """
        partners = sorted(self.partner_ids)
        spaces = self.spaces()
        self.home.mkdir(exist_ok=True)
        owner = (None, None)
        if isolated():
            groups = [partner_group(p) for p in partners] + [project_group(p.id) for p in self.projects]
            entry = ensure_account(self.account, self.home, groups)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
            os.chmod(self.home, 0o700)
            owner = (entry.pw_uid, entry.pw_gid)
        storage.private_dir(self.home, storage.TMP_DIR, *owner)
        storage.link(self.home, storage.LIBRARY_LINK, self.layout.library)
        for name, space in spaces.items():
            storage.link(self.home, name, space)
        storage.unlink_stale(self.home, set(spaces))
        return self.home

    def spaces(self) -> dict[str, Path]:
        """The person's partner and project spaces (created when missing) by the name of
        their link in the home."""
        spaces = {
            storage.PARTNER_LINK_PREFIX + p: prepare_partner_space(self.layout, p) for p in sorted(self.partner_ids)
        }
        for project in self.projects:
            spaces[storage.PROJECT_LINK_PREFIX + project.id] = prepare_project_space(self.layout, project)
        return spaces

    def env(self) -> dict[str, str]:
        """Environment variables of a process run for this person (to add to a base)."""
        return {
            "HOME": str(self.home),
            "USER": self.account if isolated() else os.environ.get("USER", ""),
            "SHELL": "/bin/bash",
            "TMPDIR": str(self.home / storage.TMP_DIR),
            "PYTHONPATH": str(self.layout.library),
            "DATALAB_LIBRARY": str(self.layout.library),
            "DATALAB_PARTNERS": ",".join(sorted(self.partner_ids)),
            "DATALAB_PROJECTS": ",".join(p.id for p in self.projects),
        }


def execution(settings: Settings, person: Person, profile: Profile | None) -> ExecutionSpec:
    """How ``person``'s code runs with ``profile``: as their Unix account (when isolated),
    in their home, with their library, partner and project links (``mounts``), the
    profile's memory as the address-space limit (``limits["RLIMIT_AS"]``, bytes) and the
    DataLab environment (``DATALAB_PROFILE`` included). Run :func:`prepare` first."""
    account = Account(settings, person)
    env = account.env()
    limits: dict[str, object] = {}
    if profile is not None:
        env["DATALAB_PROFILE"] = profile.id
        limits["RLIMIT_AS"] = memory_bytes(profile.memory)
    layout = account.layout
    links = {storage.LIBRARY_LINK: layout.library}
    links.update({storage.PARTNER_LINK_PREFIX + p: layout.partner_space(p) for p in sorted(account.partner_ids)})
    links.update({storage.PROJECT_LINK_PREFIX + p.id: layout.project_space(p.id) for p in account.projects})
    return ExecutionSpec(
        account=account.account, home=str(account.home),
        mounts={str(path): {"bind": f"{account.home}/{name}", "mode": "rw"} for name, path in links.items()},
        limits=limits, env=env,
    )


def prepare(settings: Settings, person: Person) -> Path:
    """Create ``person``'s account, home and spaces (see :meth:`Account.prepare`)."""
    return Account(settings, person).prepare()


def preexec_fn(spec: ExecutionSpec, workdir: str | None = None, *, memory_limit: bool = False):
    """For ``subprocess.Popen(preexec_fn=...)``: with ``memory_limit``, apply the spec's
    ``RLIMIT_AS`` (report runs; labs and dashboards get the profile's limits as
    ``MEM_LIMIT``/``CPU_LIMIT`` only), set :data:`UMASK`, become the spec's account
    (when isolated), then enter ``workdir`` (default: the home)."""
    limit = spec.limits.get("RLIMIT_AS") if memory_limit else None
    become = set_user_setuid(spec.account) if isolated() else None
    target = workdir or spec.home

    def preexec() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.umask(UMASK)
        if become is not None:
            become()
        os.chdir(target)

    return preexec
