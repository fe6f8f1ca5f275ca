"""Disk usage of homes, partner spaces and project spaces, with soft quotas.

:func:`scan` measures one tree like ``du`` (allocated blocks, hard links once, symbolic
links not followed, other file systems included), stopping after ``max_entries``
entries; :class:`UsageCache` keeps each measure ``disk_usage.cache_seconds``. The hub
runs scans in a worker thread, as its own user (root when isolation is on, so every
home is readable).

The French page ``/hub/espace`` (:class:`SpacePage`) shows a person their home (local
backend: under the data directory; docker backend: their home volume; a cluster home is
not measured here) and the spaces of their partners and projects; an admin also sees
every home and every space. Above its soft quota (``disk_usage.quotas``) a line is
flagged; nothing is refused: hard quotas are the file system's (XFS project quotas, see
DEVELOPERS.md).
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from jupyterhub.handlers import BaseHandler
from jupyterhub.orm import User
from tornado import web

from .names import system_account
from .groups import partners_of
from .settings import Backend, DiskUsage, Settings, disk_bytes
from .storage import Layout

PAGE_PATH = "/espace"


@dataclass(frozen=True)
class Usage:
    """One measure: ``bytes`` allocated, ``files`` (every entry but directories),
    ``complete`` False when the scan stopped at ``max_entries``, ``seconds`` it took."""

    bytes: int
    files: int
    complete: bool
    seconds: float


def scan(root: Path, max_entries: int) -> Usage:
    """Measure the tree at ``root`` (a missing ``root`` measures 0). Unreadable
    directories are skipped. ``max_entries`` bounds the entries visited."""
    began = time.monotonic()
    total = files = visited = 0
    seen: set[tuple[int, int]] = set()
    stack = [str(root)]
    complete = True
    try:
        top = os.lstat(root)
        total += top.st_blocks * 512
    except OSError:
        return Usage(0, 0, True, time.monotonic() - began)
    while stack:
        path = stack.pop()
        try:
            entries = os.scandir(path)
        except OSError:
            continue
        with entries:
            for entry in entries:
                visited += 1
                if visited > max_entries:
                    complete = False
                    stack.clear()
                    break
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                else:
                    files += 1
                    if st.st_nlink > 1:
                        if (st.st_dev, st.st_ino) in seen:
                            continue
                        seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return Usage(total, files, complete, time.monotonic() - began)


class UsageCache:
    """Measures kept ``ttl`` seconds, per path (thread-safe)."""

    def __init__(self, ttl: float, max_entries: int):
        self.ttl = ttl
        self.max_entries = max_entries
        self._kept: dict[Path, tuple[float, Usage]] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):
        # JupyterHub deep-copies extra_handlers' arguments: the page keeps this one cache
        return self

    def usage(self, path: Path) -> Usage:
        """The measure of ``path``: the kept one when fresh, else a new :func:`scan`."""
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(path)
        if kept and now - kept[0] < self.ttl:
            return kept[1]
        measured = scan(path, self.max_entries)
        with self._lock:
            self._kept[path] = (now, measured)
        return measured


@dataclass(frozen=True)
class Area:
    """A measured place: ``kind`` (home, partner, project), ``name`` (user, partner or
    project id), ``label`` shown, ``path``, ``quota`` in bytes (None: none)."""

    kind: str
    name: str
    label: str
    path: Path
    quota: int | None


def home_quota(conf: DiskUsage, partner_ids: set[str]) -> int | None:
    """The soft quota of the home of a member of ``partner_ids`` in bytes: the largest
    among their partners' ``home`` overrides, else ``quotas.home``."""
    overrides = [disk_bytes(q.home) for p, q in conf.quotas.partners.items() if p in partner_ids and q.home]
    if overrides:
        return max(overrides)
    return disk_bytes(conf.quotas.home) if conf.quotas.home else None


def partner_quota(conf: DiskUsage, partner_id: str) -> int | None:
    """The soft quota of a partner's space in bytes (its override, else the default)."""
    override = conf.quotas.partners.get(partner_id)
    size = override.partner_space if override and override.partner_space else conf.quotas.partner_space
    return disk_bytes(size) if size else None


def home_path(settings: Settings, username: str, docker_client=None) -> Path | None:
    """Where ``username``'s home is on this machine: under the data directory when some
    profile runs on the local backend; else, with the docker backend, the data directory
    of their home volume (``docker_client``: a docker-py client, default the local
    engine); None when it is elsewhere (a cluster home) or does not exist yet."""
    backends = settings.backends()
    if Backend.local in backends:
        account = system_account(username, settings.spawner.account_prefix)
        return Layout(settings.data_dir).home(account)
    if Backend.docker in backends:
        import docker

        from .backends.docker.policy import names

        try:
            client = docker_client or docker.from_env(timeout=10)
            volume = client.volumes.get(names(settings.docker.name_prefix, username)["volume"])
            return Path(volume.attrs["Mountpoint"])
        except (docker.errors.DockerException, KeyError):
            return None
    return None


def areas_of(settings: Settings, username: str, partner_ids: set[str]) -> list[Area]:
    """The places shown to ``username``: their home (when :func:`home_path` finds it),
    their partners' spaces and their projects' spaces, in that order."""
    layout = Layout(settings.data_dir)
    conf = settings.disk_usage
    found = []
    home = home_path(settings, username)
    if home is not None:
        found.append(Area("home", username, username, home, home_quota(conf, partner_ids)))
    for partner in settings.partners:
        if partner.id in partner_ids:
            found.append(Area("partner", partner.id, partner.name, layout.partner_space(partner.id),
                              partner_quota(conf, partner.id)))
    project_quota = disk_bytes(conf.quotas.project_space) if conf.quotas.project_space else None
    for project in settings.projects_of(username):
        found.append(Area("project", project.id, project.title, layout.project_space(project.id), project_quota))
    return found


def all_areas(settings: Settings, users: dict[str, set[str]]) -> list[Area]:
    """Every home of ``users`` (name -> partner ids), then every partner and project
    space, for admins."""
    layout = Layout(settings.data_dir)
    conf = settings.disk_usage
    found = []
    for name, partner_ids in sorted(users.items()):
        home = home_path(settings, name)
        if home is not None:
            found.append(Area("home", name, name, home, home_quota(conf, partner_ids)))
    for partner in settings.partners:
        found.append(Area("partner", partner.id, partner.name, layout.partner_space(partner.id),
                          partner_quota(conf, partner.id)))
    project_quota = disk_bytes(conf.quotas.project_space) if conf.quotas.project_space else None
    for project in settings.projects:
        found.append(Area("project", project.id, project.title, layout.project_space(project.id), project_quota))
    return found


def human(size: int) -> str:
    """``1536`` -> ``"1,5 Kio"``: a size in bytes, French binary units."""
    value = float(size)
    for unit in ("o", "Kio", "Mio", "Gio", "Tio"):
        if value < 1024 or unit == "Tio":
            text = f"{value:.0f}" if unit == "o" else f"{value:.1f}"
            return f"{text.replace('.', ',')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def rows(areas: list[Area], cache: UsageCache) -> list[dict]:
    """One row per area for the page: its measure, quota and whether it is above it
    (areas whose directory does not exist are left out)."""
    out = []
    for area in areas:
        if not area.path.is_dir():
            continue
        usage = cache.usage(area.path)
        out.append({
            "kind": area.kind, "name": area.name, "label": area.label,
            "bytes": usage.bytes, "size": human(usage.bytes), "files": usage.files,
            "complete": usage.complete,
            "quota": human(area.quota) if area.quota is not None else None,
            "over": area.quota is not None and usage.bytes > area.quota,
        })
    return out


class SpacePage(BaseHandler):
    """``GET /hub/espace``: the person's disk usage; admins (scope ``list:users``)
    also see everyone's. Registered through ``c.JupyterHub.extra_handlers``."""

    def initialize(self, datalab_settings: Settings, cache: UsageCache):
        self.datalab_settings = datalab_settings
        self.cache = cache

    @web.authenticated
    async def get(self):
        user = self.current_user
        settings = self.datalab_settings
        partner_ids = partners_of([g.name for g in user.groups])
        users = None
        if self.has_scope("list:users"):
            users = {u.name: partners_of([g.name for g in u.groups]) for u in self.db.query(User)}
        loop = asyncio.get_running_loop()
        mine_rows = await loop.run_in_executor(
            None, lambda: rows(areas_of(settings, user.name, partner_ids), self.cache)
        )
        everyone_rows = None
        if users is not None:
            everyone_rows = await loop.run_in_executor(None, lambda: rows(all_areas(settings, users), self.cache))
        html = await self.render_template(
            "espace.html", user=user, mine=mine_rows, everyone=everyone_rows,
            cache_minutes=max(1, self.cache.ttl // 60),
        )
        self.finish(html)


def handlers(settings: Settings) -> list[tuple]:
    """``c.JupyterHub.extra_handlers`` entries (paths below the hub prefix)."""
    conf = settings.disk_usage
    cache = UsageCache(conf.cache_seconds, conf.max_entries)
    return [(PAGE_PATH, SpacePage, {"datalab_settings": settings, "cache": cache})]
