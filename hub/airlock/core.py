"""The airlock's rules (see :mod:`hub.airlock`): who may request, who may decide, what
is exported. Independent of JupyterHub: a person is a name and hub group names."""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from .. import audit, storage
from ..confinement import health_spaces
from ..groups import partner_group, partners_of, project_group
from ..messages import text
from ..names import system_account
from ..settings import Settings
from . import files
from .store import APPROVED, APPROVING, DATABASE, PENDING, REFUSED, ExportRequest, Store, utcnow

DIRECTORY = "airlock"
EXPORTS = "exports"
MIN_REASON, MAX_REASON = 3, 1000


class Refused(Exception):
    """An airlock action refused: ``status`` (HTTP), ``key`` of the message
    (``airlock_<key>`` in :mod:`hub.messages`) and the values filling it; ``rule``: the
    rule the audit trail names (default: ``key``; a request hidden from the person is
    answered as unknown, the trail says why)."""

    def __init__(self, status: int, key: str, rule: str | None = None, **values: object):
        super().__init__(key)
        self.status, self.key, self.values = status, key, values
        self.rule = rule or key

    def message(self, language: str) -> str:
        return text(language, f"airlock_{self.key}", **self.values)


@dataclass(frozen=True)
class Person:
    """Who acts: a hub user ``name``, their hub ``groups`` and the client's address."""

    name: str
    groups: frozenset[str]
    source: str = ""

    @property
    def partners(self) -> list[str]:
        return sorted(partners_of(self.groups))


@dataclass(frozen=True)
class Space:
    """A health space: ``kind`` (``partner`` or ``project``), ``id``, ``label``, its hub
    ``group`` and its data ``stewards``."""

    kind: str
    id: str
    label: str
    group: str
    stewards: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.id


class Airlock:
    """The airlock of one deployment: its store (:mod:`.store`), staging area and export
    areas under ``settings.data_dir``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.layout = storage.Layout(settings.data_dir)
        self.root = settings.data_dir / DIRECTORY
        self.staging = self.root / "staging"
        self.exports = settings.data_dir / EXPORTS
        for directory, mode in ((self.root, 0o700), (self.staging, 0o700), (self.exports, 0o711)):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, mode)
        self.store = Store(self.root / DATABASE)

    # -- spaces and roles -------------------------------------------------------------
    def spaces(self) -> dict[tuple[str, str], Space]:
        """Every health space of the deployment, by ``(kind, id)``."""
        found = {}
        for p in self.settings.partners:
            if p.holds_health_data:
                found[("partner", p.id)] = Space("partner", p.id, p.name, partner_group(p.id), tuple(p.data_stewards))
        for p in self.settings.projects:
            if p.health_data:
                found[("project", p.id)] = Space("project", p.id, p.title, project_group(p.id), tuple(p.data_stewards))
        return found

    def spaces_of(self, person: Person) -> list[Space]:
        """The health spaces ``person`` belongs to."""
        mine = health_spaces(self.settings, person.groups)
        return [s for s in self.spaces().values() if s.group in mine]

    def stewarded_by(self, person: Person) -> set[tuple[str, str]]:
        """The spaces whose data steward ``person`` is (declared and still a member)."""
        return {s.key for s in self.spaces_of(person) if person.name in s.stewards}

    def may_request(self, person: Person) -> bool:
        return bool(self.spaces_of(person))

    # -- requests ---------------------------------------------------------------------
    def locate(self, person: Person, path: str) -> tuple[Space, Path, tuple[str, ...]]:
        """The health space, its directory and the components beneath it of ``path`` as
        ``person`` sees it in their lab. :class:`Refused`."""
        try:
            parts = files.split(path)
        except files.FileRefused as refusal:
            raise Refused(400, refusal.key) from None
        mine = {s.key: s for s in self.spaces_of(person)}
        first = parts[0]
        for prefix, kind in ((storage.PARTNER_LINK_PREFIX, "partner"), (storage.PROJECT_LINK_PREFIX, "project")):
            if first.startswith(prefix) and len(parts) > 1:
                space_id = first[len(prefix):]
                group = partner_group(space_id) if kind == "partner" else project_group(space_id)
                if group not in person.groups:
                    raise Refused(403, "not_your_space", space=first)
                if (kind, space_id) not in mine:
                    raise Refused(400, "not_health", space=first)
                root = (self.layout.partner_space if kind == "partner" else self.layout.project_space)(space_id)
                return mine[(kind, space_id)], root, parts[1:]
        partners = [s for s in mine.values() if s.kind == "partner"]
        if not partners:
            raise Refused(400, "not_health", space=first)
        if len(partners) > 1:
            raise Refused(400, "home_ambiguous")
        return partners[0], self.layout.home(self._account(person.name)), parts

    def _account(self, name: str) -> str:
        return system_account(name, self.settings.spawner.account_prefix)

    def _reader(self, name: str) -> files.Reader | None:
        """The Unix account the hub reads for (as root, when the person has one)."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(self._account(name))
        except KeyError:
            return None
        return files.Reader(entry.pw_uid, frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid)))

    def request(self, person: Person, path: str, reason: str) -> ExportRequest:
        """Stage the file ``path`` names (see :meth:`locate`) and record the request;
        :class:`Refused` (audited) when the path, the file or the reason is refused."""
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        shown = path if isinstance(path, str) else ""
        try:
            if not MIN_REASON <= len(reason) <= MAX_REASON:
                raise Refused(400, "reason", low=MIN_REASON, high=MAX_REASON)
            space, root, parts = self.locate(person, shown)
            try:
                fd = files.open_beneath(root, parts, self._reader(person.name))
                staged, size, digest = files.copy_fd(fd, self.staging)
            except files.FileRefused as refusal:
                raise Refused(400, refusal.key, **refusal.values) from None
        except Refused as refusal:
            self._audit("airlock.request", person, None, result="refused", path=shown, refusal=refusal.rule,
                        partner=person.partners)
            raise
        row = self.store.add(requester=person.name, space_kind=space.kind, space_id=space.id, path=shown,
                             name=parts[-1], reason=reason, size=size, sha256=digest)
        os.replace(staged, self.staging / str(row.id))
        self._audit("airlock.request", person, row, reason=reason, size=size)
        return row

    def get(self, person: Person, request_id: int) -> ExportRequest:
        """A request ``person`` may see (theirs, or of a space they are a steward of);
        :class:`Refused` 404 otherwise."""
        row = self.store.get(request_id)
        if row is None or not (row.requester == person.name or (row.space_kind, row.space_id) in self.stewarded_by(person)):
            raise Refused(404, "unknown", id=request_id)
        return row

    def mine(self, person: Person) -> list[ExportRequest]:
        return self.store.of_requester(person.name)

    def to_decide(self, person: Person) -> list[ExportRequest]:
        """Pending requests of others in the spaces ``person`` is a steward of."""
        rows = self.store.in_spaces(self.stewarded_by(person), PENDING)
        return [r for r in rows if r.requester != person.name]

    def decided_in(self, person: Person) -> list[ExportRequest]:
        """Decided requests of the spaces ``person`` is a steward of."""
        return [r for r in self.store.in_spaces(self.stewarded_by(person)) if r.status in (APPROVED, REFUSED)]

    def _decision(self, action: str, person: Person, request_id: int) -> ExportRequest:
        """The request ``person`` may decide on; :class:`Refused` (audited as
        ``action``) otherwise: 403 for the requester and for a member of the space who is
        no steward, 404 (as an unknown request) for anyone outside the space."""
        row = self.store.get(request_id)
        try:
            if row is None:
                raise Refused(404, "unknown", id=request_id)
            if row.requester == person.name:
                raise Refused(403, "self")
            if (row.space_kind, row.space_id) not in self.stewarded_by(person):
                space = self.spaces().get((row.space_kind, row.space_id))
                if space is not None and space.group in person.groups:
                    raise Refused(403, "not_steward")
                raise Refused(404, "unknown", rule="not_steward", id=request_id)
            if row.status != PENDING:
                raise Refused(409, "not_pending", id=request_id)
        except Refused as refusal:
            self._audit(action, person, row, result="refused", refusal=refusal.rule, request=request_id)
            raise
        return row

    def approve(self, person: Person, request_id: int) -> ExportRequest:
        """Export the staged copy of a pending request (see :mod:`hub.airlock`);
        :class:`Refused` (audited): unknown, own request, not a steward, not pending,
        staged copy altered (``hash_mismatch``)."""
        row = self._decision("airlock.approve", person, request_id)
        if not self.store.transition(row.id, PENDING, APPROVING):
            self._audit("airlock.approve", person, row, result="refused", refusal="not_pending")
            raise Refused(409, "not_pending", id=row.id)
        staged = self.staging / str(row.id)
        name = f"{row.id}-{row.name}"
        try:
            if files.sha256_of(staged) != row.sha256:
                raise files.FileRefused("hash_mismatch")
            digest = files.export(staged, self._export_dir(row), name, row.sha256, self._export_gid(row))
        except (files.FileRefused, OSError) as problem:
            self.store.transition(row.id, APPROVING, PENDING)
            key = problem.key if isinstance(problem, files.FileRefused) else "export_failed"
            self._audit("airlock.approve", person, row, result="refused" if key == "hash_mismatch" else "failure",
                        refusal=key)
            raise Refused(409 if key == "hash_mismatch" else 500, key) from None
        staged.unlink()
        self.store.transition(row.id, APPROVING, APPROVED, decided=utcnow(), decided_by=person.name, exported=name)
        self._audit("airlock.approve", person, row)
        where = self._export_dir(row).relative_to(self.settings.data_dir) / name
        self._audit("airlock.export", person, row, export=str(where), sha256=digest)
        return self.store.get(row.id)

    def refuse(self, person: Person, request_id: int, reason: str) -> ExportRequest:
        """Refuse a pending request with a ``reason``; its staged copy is deleted.
        :class:`Refused` (audited) as for :meth:`approve`, or ``reason``."""
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        row = self._decision("airlock.refuse", person, request_id)
        if not MIN_REASON <= len(reason) <= MAX_REASON:
            self._audit("airlock.refuse", person, row, result="refused", refusal="reason")
            raise Refused(400, "reason", low=MIN_REASON, high=MAX_REASON)
        if not self.store.transition(row.id, PENDING, REFUSED, decided=utcnow(), decided_by=person.name,
                                     decision_reason=reason):
            self._audit("airlock.refuse", person, row, result="refused", refusal="not_pending")
            raise Refused(409, "not_pending", id=row.id)
        (self.staging / str(row.id)).unlink(missing_ok=True)
        self._audit("airlock.refuse", person, row, reason=reason)
        return self.store.get(row.id)

    def exported_file(self, person: Person, request_id: int) -> tuple[ExportRequest, Path]:
        """The exported file of an approved request, for its requester or a steward of
        its space (audited ``airlock.download``); :class:`Refused` 404 otherwise."""
        try:
            row = self.get(person, request_id)
            if row.status != APPROVED or not row.exported:
                raise Refused(404, "not_exported", id=request_id)
        except Refused as refusal:
            self._audit("airlock.download", person, self.store.get(request_id), result="refused",
                        refusal=refusal.rule, request=request_id)
            raise
        self._audit("airlock.download", person, row)
        return row, self._export_dir(row) / row.exported

    # -- export areas -------------------------------------------------------------------
    def _export_dir(self, row: ExportRequest) -> Path:
        """``exports/partners/<id>`` or ``exports/projects/<id>``, made on first use:
        mode 2750, group the space's Unix group when it exists (else 0700)."""
        kind_dir = self.exports / f"{row.space_kind}s"
        directory = kind_dir / row.space_id
        if not directory.is_dir():
            kind_dir.mkdir(exist_ok=True)
            os.chmod(kind_dir, 0o711)
            directory.mkdir(exist_ok=True)
        gid = self._export_gid(row)
        if gid is not None:
            os.chown(directory, 0, gid)
        os.chmod(directory, 0o2750 if gid is not None else 0o700)
        return directory

    def _export_gid(self, row: ExportRequest) -> int | None:
        if os.geteuid() != 0:
            return None
        group = partner_group(row.space_id) if row.space_kind == "partner" else project_group(row.space_id)
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return None

    # -- audit ----------------------------------------------------------------------------
    def _audit(self, action: str, person: Person, row: ExportRequest | None, *, result: str = "success",
               partner: list[str] | None = None, **detail) -> None:
        if row is not None:
            partner = [row.space_id] if row.space_kind == "partner" else person.partners
            detail = {"request": row.id, "space": f"{row.space_kind}:{row.space_id}", "file": row.name,
                      "owner": row.requester, "sha256": row.sha256, **detail}
        audit.record(action, actor=person.name, target=f"airlock:{row.id}" if row is not None else "",
                     partner=partner or [], source=person.source, result=result, **detail)

    def close(self) -> None:
        self.store.close()
