"""The reports service's core: schedules, the scheduler, runs, visibility.

Schedules live in the reports' database (:func:`.db.database_url`); APScheduler 3
(``AsyncIOScheduler`` with a ``SQLAlchemyJobStore`` on that database) fires them. Every job is declared with
``coalesce=True`` and ``max_instances=1``: several missed fire times make one run, and a
schedule never has two runs at once. The misfire policy decides what a fire time missed
while the service was down becomes: ``run-once`` (``misfire_grace_time=None``: run once at
restart) or ``skip`` (``misfire_grace_time=reports.skip_after``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from hub import audit, confinement
from hub.messages import text
from hub.names import own_id
from hub.groups import partners_of, role_group
from hub.settings import Audience, Backend, MisfirePolicy, Profile, ReportSchedule, Role, Settings
from hub.storage import Layout

from ...metrics import REPORT_RUNS
from .archive import LOG, MAX_FILE, Archive, RunOutcome, finished_unseen, read_beneath
from .db import JOBS_TABLE, RunRow, ScheduleRow, database_url, engine_for, prepare, utcnow
from . import notebooks
from .notebooks import NotebookProblem
from .runners import BackendRunners, RunRequest
from .slots import RunSlots

log = logging.getLogger("datalab.reports")


OWNER_ROLES = {role_group(Role.analyst), role_group(Role.admin)}
ACTIVE = ("queued", "running")
#: Derived ids tried for a requested schedule id held by someone else, and their longest
#: length (:data:`hub.settings.base.Slug`).
OWN_ID_ATTEMPTS = 8
SCHEDULE_ID_LENGTH = 24

#: The running service, for the scheduler's jobs (APScheduler stores a textual
#: reference to :func:`fire`, not the service object).
_current: ReportsService | None = None


async def fire(schedule_id: str) -> None:
    """The scheduler's job: one run of ``schedule_id``, awaited to its end (so that
    ``max_instances=1`` holds for the whole run)."""
    if _current is None:
        raise RuntimeError("the reports service is not running")
    await _current.fire(schedule_id)


def read_notebook(path: str, home, library, partner_spaces) -> bytes:
    """The content of the notebook ``path`` names
    (:func:`~hub.services.reports.notebooks.resolve`), read without following any symbolic
    link from ``/`` to the file (:func:`~hub.services.reports.archive.read_beneath`): a
    link swapped in after the check is refused, never followed. Raises
    :class:`NotebookProblem` (``bad_path``, ``not_found``, ``unreadable``: not a regular
    file of at most :data:`~hub.services.reports.archive.MAX_FILE` bytes reached without
    links)."""
    target = notebooks.resolve(path, home, library, partner_spaces)
    data = read_beneath(target, MAX_FILE)
    if data is None:
        raise NotebookProblem("unreadable", path=path)
    return data


class Refused(Exception):
    """A request the service refuses: ``status`` (HTTP code) and a message in the
    deployment's language."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Caller:
    """Someone using the service: hub ``name`` and hub ``groups``."""

    def __init__(self, name: str, groups: set[str]):
        self.name = name
        self.groups = set(groups)

    @property
    def is_admin(self) -> bool:
        return role_group(Role.admin) in self.groups

    @property
    def may_schedule(self) -> bool:
        """Whether their role lets them create schedules (analysts and admins)."""
        return bool(self.groups & OWNER_ROLES)

    @property
    def partner_ids(self) -> set[str]:
        return partners_of(self.groups)


class HubAPI:
    """The hub's REST API with the service's token (scopes: ``read:users:name``,
    ``read:users:groups``)."""

    def __init__(self, api_url: str, token: str):
        self.api_url = api_url.rstrip("/")
        self.token = token

    async def groups(self, username: str) -> set[str] | None:
        """The hub groups of ``username``; None when the hub has no such user.
        ``tornado.httpclient.HTTPClientError`` for other failures."""
        try:
            response = await AsyncHTTPClient().fetch(
                f"{self.api_url}/users/{quote(username, safe='')}",
                headers={"Authorization": f"token {self.token}"},
                request_timeout=30,
            )
        except HTTPClientError as e:
            if e.code == 404:
                return None
            raise
        return set(json.loads(response.body).get("groups", []))


class ReportsService:
    """Schedules, runs and who sees what, for one deployment (``settings``). Runs execute
    through ``runner``; owners' groups come from ``hub``."""

    def __init__(self, settings: Settings, runner: BackendRunners, hub: HubAPI):
        self.settings = settings
        self.config = settings.reports
        self.language = settings.hub.language
        self.runner = runner
        self.hub = hub
        self.layout = Layout(settings.data_dir)
        self.archive = Archive(self.layout)
        self.engine = engine_for(database_url(settings))
        self.db = sessionmaker(self.engine, expire_on_commit=False)
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE)},
            timezone=ZoneInfo(self.config.time_zone),
        )
        self.slots = RunSlots(settings)
        self._tasks: dict[int, asyncio.Task] = {}

    def t(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)

    # -- life cycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Migrate the tables (:func:`.db.prepare`), create the directories, start the
        scheduler (paused), create or update the deployment's schedules, take over the
        runs an earlier service process left (:meth:`_recover`), then let missed and
        future fire times run."""
        global _current
        _current = self
        self.archive.create()
        prepare(self.settings, self.engine)
        self.migrate_audiences()
        self.scheduler.start(paused=True)
        for declared in self.config.schedules:
            try:
                await self._declare(declared.owner, ReportSchedule.model_validate(
                    declared.model_dump(exclude={"owner"})))
            except Refused as refused:
                log.error("reports.schedules %s not scheduled: %s", declared.id, refused.message)
        self._recover()
        self.scheduler.resume()

    def stop(self) -> None:
        """Stop firing. Runs in progress go on (their process, container or Slurm job
        does not depend on this one); the next service follows them (:meth:`_recover`)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def migrate_audiences(self) -> None:
        """Rewrite the audiences stored under the former rule (partners OR roles) into
        audiences admitting the same people under the current one (see
        :meth:`hub.settings.Audience.from_or_semantics`); a rewritten audience no longer
        looks former, so this changes nothing the second time."""
        migrated = []
        with self.db() as db:
            for row in db.scalars(select(ScheduleRow)):
                stored = json.loads(row.spec_json)
                audience = stored.get("audience")
                if audience is not None and Audience.is_former(audience):
                    stored["audience"] = Audience.from_or_semantics(audience).model_dump(mode="json")
                    row.spec_json = ReportSchedule.model_validate(stored).model_dump_json()
                    migrated.append(row.id)
            db.commit()
        if migrated:
            log.info("audiences rewritten for the partners-AND-roles rule: %s", ", ".join(migrated))

    def _recover(self) -> None:
        """Take over the runs an earlier service process left queued or running: a
        queued run is queued again; a started run is followed to its end when what it
        started (:attr:`.db.RunRow.handle`) still runs or has left its outcome, else it
        is recorded as interrupted and run again once (:meth:`_resume`)."""
        with self.db() as db:
            left = [(run, db.get(ScheduleRow, run.schedule_id))
                    for run in db.scalars(select(RunRow).where(RunRow.status.in_(ACTIVE)).order_by(RunRow.id))]
        for run, row in left:
            if row is None:
                self._update(run.id, status="failed", ended=utcnow(), error=self.t("reports_interrupted"))
            elif run.status == "queued":
                log.info("run %s of %s queued again", run.id, row.id)
                self._launch(run.id, self._execute(run.id, row))
            else:
                self._launch(run.id, self._resume(run, row))

    def _launch(self, run_id: int, work) -> asyncio.Task:
        task = asyncio.create_task(work)
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        return task

    async def _declare(self, owner: str, spec: ReportSchedule) -> None:
        """Create or update a schedule of the deployment file (its job is replaced only
        when the schedule changed, so a pending missed run survives a restart)."""
        groups = await self.hub.groups(owner)
        if groups is None:
            raise Refused(400, self.t("reports_unknown_owner", owner=owner))
        complete = self.complete(Caller(owner, groups), spec)
        with self.db() as db:
            row = db.get(ScheduleRow, spec.id)
            if row is not None and row.owner == owner and row.spec == complete:
                if self.scheduler.get_job(spec.id) is None:
                    self._schedule(complete)
                return
            action = "report.schedule.create" if row is None else "report.schedule.update"
            if row is None:
                row = ScheduleRow(id=spec.id, origin="deployment")
                db.add(row)
            row.owner = owner
            row.spec_json = complete.model_dump_json()
            db.commit()
        self._schedule(complete)
        audit.record(action, actor=audit.DEPLOYMENT, target=f"schedule:{spec.id}", partner=partners_of(groups),
                     owner=owner, cron=complete.cron)

    def _schedule(self, spec: ReportSchedule) -> None:
        policy = spec.misfire or self.config.misfire
        self.scheduler.add_job(
            "hub.services.reports.service:fire",
            trigger=CronTrigger.from_crontab(spec.cron, timezone=ZoneInfo(spec.time_zone)),
            args=[spec.id],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None if policy is MisfirePolicy.run_once else self.config.skip_after,
        )

    # -- schedules -------------------------------------------------------------------
    def complete(self, owner: Caller, spec: ReportSchedule) -> ReportSchedule:
        """``spec`` checked for ``owner`` and with every default filled in: the profile is
        offered to the owner, the notebook exists where the owner can read it and has a
        ``parameters`` cell declaring every given parameter with a matching type (no such
        cell is needed without parameters), the kernelspec exists (on a local profile; a
        container or a job checks it when it runs, against its own kernelspecs), the
        audience (default: the owner's partners) names declared partners and stays within
        the owner's health spaces (see :mod:`hub.confinement`). Raises :class:`Refused`."""
        if not owner.may_schedule:
            raise Refused(403, self.t("reports_not_allowed"))
        audience = spec.audience or (
            Audience(partners=sorted(owner.partner_ids)) if owner.partner_ids else Audience(roles=[Role.admin])
        )
        known = {p.id for p in self.settings.partners}
        for partner in audience.partner_ids():
            if partner not in known:
                raise Refused(400, self.t("reports_unknown_partner", partner=partner, known=", ".join(sorted(known))))
        try:
            confinement.check_audience(self.settings, owner.groups, audience)
        except confinement.HealthConfinementError as refusal:
            raise Refused(403, str(refusal)) from None
        profile = self._profile(owner, spec.profile)
        try:
            named_kernel = notebooks.inspect(
                self._notebook_content(owner, spec.notebook, self._profile_of(profile)), spec.notebook,
                spec.parameters,
            )
            kernel = spec.kernel or named_kernel or self.config.kernel
        except NotebookProblem as problem:
            raise Refused(400, self.t("reports_" + problem.key, **problem.values)) from None
        if self.settings.backend_of(self._profile_of(profile)) is Backend.local:
            self._check_kernel(kernel)
        return spec.model_copy(update={
            "profile": profile,
            "kernel": kernel,
            "audience": audience,
            "time_zone": spec.time_zone or self.config.time_zone,
            "retention": spec.retention or self.config.retention,
            "misfire": spec.misfire or self.config.misfire,
        })

    def _profile(self, owner: Caller, wanted: str | None) -> str:
        offered = self.settings.profiles_for(owner.partner_ids)
        allowed = ", ".join(p.id for p in offered) or "-"
        if wanted is None:
            if not offered:
                raise Refused(403, self.t("no_profile", contact=self.settings.hub.contact))
            return offered[0].id
        if any(p.id == wanted for p in offered):
            return wanted
        if any(p.id == wanted for p in self.settings.profiles):
            raise Refused(403, self.t("profile_forbidden", profile=wanted, allowed=allowed))
        raise Refused(400, self.t("profile_unknown", profile=wanted, allowed=allowed))

    def _profile_of(self, profile_id: str) -> Profile:
        return next(p for p in self.settings.profiles if p.id == profile_id)

    def _spaces(self, owner: Caller, profile: Profile):
        """The roots a notebook path of ``owner`` may name: home, library, partner spaces."""
        spaces = {p: self.layout.partner_space(p) for p in owner.partner_ids}
        return self.runner.home(owner.name, profile), self.layout.library, spaces

    def _notebook(self, owner: Caller, path: str, profile: Profile):
        try:
            return notebooks.resolve(path, *self._spaces(owner, profile))
        except NotebookProblem as problem:
            raise Refused(400, self.t("reports_" + problem.key, **problem.values)) from None

    def _notebook_content(self, owner: Caller, path: str, profile: Profile) -> bytes:
        """The notebook ``path`` of ``owner``, read without following links
        (:func:`read_notebook`). Raises :class:`NotebookProblem`."""
        return read_notebook(path, *self._spaces(owner, profile))

    def _check_kernel(self, kernel: str) -> None:
        from jupyter_client.kernelspec import KernelSpecManager

        available = KernelSpecManager().find_kernel_specs()
        if kernel not in available:
            raise Refused(400, self.t("reports_no_kernel", kernel=kernel, available=", ".join(sorted(available)) or "-"))

    def create(self, owner: Caller, data: object) -> ScheduleRow:
        """Create a schedule owned by ``owner`` from the API's JSON ``data``.
        An id held by someone else becomes one of the owner's own (see :meth:`_free_id`).
        Raises :class:`Refused` (400 invalid, 403 not allowed, 409 the owner's id taken)."""
        try:
            spec = ReportSchedule.model_validate(data)
        except ValidationError as e:
            raise Refused(400, self.t("reports_invalid", error=_describe(e))) from None
        complete = self.complete(owner, spec)
        with self.db() as db:
            complete = complete.model_copy(update={"id": self._free_id(db, spec.id, owner.name)})
            row = ScheduleRow(id=complete.id, owner=owner.name, spec_json=complete.model_dump_json(), origin="api")
            db.add(row)
            db.commit()
        self._schedule(complete)
        return row

    def _free_id(self, db, requested: str, owner: str) -> str:
        """``requested`` when free; :class:`Refused` 409 when it is the owner's own; else an
        id of the owner's own derived from it (:func:`hub.names.own_id`), so the answer
        never tells that a schedule hidden from them exists."""
        for attempt in range(OWN_ID_ATTEMPTS + 1):
            candidate = requested if attempt == 0 else own_id(requested, owner, SCHEDULE_ID_LENGTH, attempt - 1)
            row = db.get(ScheduleRow, candidate)
            if row is None:
                return candidate
            if row.owner == owner:
                raise Refused(409, self.t("reports_exists", id=candidate))
        raise Refused(409, self.t("reports_id_unavailable", id=requested))

    def schedule(self, schedule_id: str) -> ScheduleRow:
        """The schedule; :class:`Refused` 404 when there is none."""
        with self.db() as db:
            row = db.get(ScheduleRow, schedule_id)
        if row is None:
            raise Refused(404, self.t("reports_unknown_schedule", id=schedule_id))
        return row

    def schedules(self) -> list[ScheduleRow]:
        with self.db() as db:
            return list(db.scalars(select(ScheduleRow).order_by(ScheduleRow.id)))

    def delete(self, schedule_id: str) -> None:
        """Delete a schedule, its job, its runs and their archives."""
        self.schedule(schedule_id)
        if self.scheduler.get_job(schedule_id):
            self.scheduler.remove_job(schedule_id)
        with self.db() as db:
            for run in db.scalars(select(RunRow).where(RunRow.schedule_id == schedule_id)):
                self.archive.remove(run.id)
                db.delete(run)
            db.delete(db.get(ScheduleRow, schedule_id))
            db.commit()

    def next_run(self, schedule_id: str) -> datetime | None:
        job = self.scheduler.get_job(schedule_id)
        return job.next_run_time if job else None

    # -- who may do what -------------------------------------------------------------
    @staticmethod
    def manages(person: Caller, row: ScheduleRow) -> bool:
        """The owner and admins manage a schedule (run now, delete, see its runs)."""
        return person.name == row.owner or person.is_admin

    def sees(self, person: Caller, row: ScheduleRow) -> bool:
        """The owner and the schedule's audience see its outputs."""
        return person.name == row.owner or row.spec.audience.admits(person.groups)

    # -- runs ------------------------------------------------------------------------
    async def fire(self, schedule_id: str) -> None:
        """A scheduled fire time: one run, awaited; skipped when the schedule already has
        one queued or running (a run now), or no longer exists."""
        try:
            run = self.start_run(schedule_id, "cron")
        except Refused as refused:
            log.warning("scheduled run of %s skipped: %s", schedule_id, refused.message)
            audit.record("report.run", actor="scheduler", target=f"schedule:{schedule_id}",
                         result="refused", status=refused.status, trigger="cron")
            return
        owner = self.schedule(schedule_id).owner
        try:
            partner = partners_of(await self.groups_of(owner))
        except (OSError, HTTPClientError):
            partner = set()
        audit.record("report.run", actor="scheduler", target=f"schedule:{schedule_id}",
                     partner=partner, trigger="cron", owner=owner)
        await self._tasks[run.id]

    def start_run(self, schedule_id: str, trigger: str, retry_of: int | None = None) -> RunRow:
        """Queue a run of ``schedule_id`` and start it in the background (it waits,
        queued, for a slot of its backend: :mod:`.slots`). Raises :class:`Refused` 404 or 409
        (a run of this schedule is already queued or running)."""
        row = self.schedule(schedule_id)
        with self.db() as db:
            busy = db.scalar(select(RunRow.id).where(RunRow.schedule_id == schedule_id, RunRow.status.in_(ACTIVE)))
            if busy is not None:
                raise Refused(409, self.t("reports_busy", id=schedule_id))
            run = RunRow(schedule_id=schedule_id, trigger=trigger, status="queued", retry_of=retry_of,
                         parameters_json=json.dumps(row.spec.parameters, ensure_ascii=False))
            db.add(run)
            db.commit()
        self._launch(run.id, self._execute(run.id, row))
        return run

    async def _execute(self, run_id: int, row: ScheduleRow) -> None:
        log_path = self.archive.run_dir(run_id) / LOG
        try:
            request = await self._request(run_id, row, log_path)
        except Exception as e:
            request, outcome = None, self._failure(e, run_id, row)
            self._update(run_id, status="running", started=utcnow())
        partner: list[str] = []
        if request is not None:
            partner = sorted(request.partner_ids)
            async with self.slots.slot(self.settings.backend_of(request.profile)):
                self._update(run_id, status="running", started=utcnow())
                try:
                    outcome = await self.runner.run(request)
                except Exception as e:
                    outcome = self._failure(e, run_id, row)
        self._finish(run_id, row, outcome, partner)

    async def _resume(self, run: RunRow, row: ScheduleRow) -> None:
        """Follow ``run``, started by an earlier service process, to its end
        (:meth:`~.runners.BackendRunners.resume`, within what is left of
        ``reports.run_timeout``). When nothing of it runs any more and it left no
        outcome, it is recorded as interrupted and, unless it was itself a run again,
        run again once."""
        request = self._resume_request(run, row)
        outcome = None
        if request is not None and run.handle is not None:
            log.info("run %s of %s: following %s left by the previous service", run.id, row.id, run.handle)
            async with self.slots.slot(self.settings.backend_of(request.profile)):
                try:
                    outcome = await self.runner.resume(request, run.handle)
                except Exception as e:
                    outcome = self._failure(e, run.id, row)
        if outcome is None and request is not None:
            outcome = finished_unseen(request.work_area)
        if outcome is not None:
            self._finish(run.id, row, outcome, [])
            return
        again = run.retry_of is None
        log.warning("run %s of %s interrupted%s", run.id, row.id, ", run again" if again else "")
        self._update(run.id, status="failed", ended=utcnow(),
                     error=self.t("reports_interrupted_again" if again else "reports_interrupted"))
        REPORT_RUNS.labels(status="failed").inc()
        audit.record("report.run.end", actor=audit.SCHEDULER, target=f"run:{run.id}", result="failure",
                     schedule=row.id, owner=row.owner, status="interrupted")
        if again:
            try:
                retry = self.start_run(row.id, "retry", retry_of=run.id)
            except Refused as refused:
                log.warning("run %s of %s not run again: %s", run.id, row.id, refused.message)
                return
            await self._tasks[retry.id]

    def _resume_request(self, run: RunRow, row: ScheduleRow) -> RunRequest | None:
        """What the runners need to follow ``run``: its work area, log and profile; None
        when its work area or its profile is gone."""
        work_area = self.archive.work / str(run.id)
        profile = next((p for p in self.settings.profiles if p.id == row.spec.profile), None)
        if profile is None or not work_area.is_dir():
            return None
        return RunRequest(
            run_id=run.id, owner=row.owner, partner_ids=set(), notebook=work_area / "input.ipynb",
            parameters=run.parameters, kernel=row.spec.kernel or self.config.kernel, profile=profile,
            work_area=work_area, log_path=self.archive.run_dir(run.id) / LOG,
            cell_timeout=self.config.cell_timeout, run_timeout=self.config.run_timeout,
            language=self.language, title=row.spec.title or row.spec.id,
        )

    def _finish(self, run_id: int, row: ScheduleRow, outcome: RunOutcome, partner: list[str]) -> None:
        kept = self.archive.keep(outcome, run_id)
        self._update(run_id, status=outcome.status, ended=utcnow(), error=outcome.error,
                     files_json=json.dumps(kept))
        log.info("run %s of %s %s", run_id, row.id, outcome.status)
        REPORT_RUNS.labels(status=outcome.status).inc()
        audit.record("report.run.end", actor=audit.SCHEDULER, target=f"run:{run_id}", partner=partner,
                     result="success" if outcome.status == "succeeded" else "failure",
                     schedule=row.id, owner=row.owner, status=outcome.status)
        self._apply_retention(row)

    @staticmethod
    def _failure(error: Exception, run_id: int, row: ScheduleRow) -> RunOutcome:
        """The outcome of a run that could not run: a refusal's message, else the error."""
        if isinstance(error, Refused):
            return RunOutcome("failed", error.message)
        log.error("run %s of %s could not run", run_id, row.id, exc_info=error)
        return RunOutcome("failed", f"{type(error).__name__}: {error}")

    async def _request(self, run_id: int, row: ScheduleRow, log_path) -> RunRequest:
        spec = row.spec
        groups = await self.hub.groups(row.owner)
        if groups is None:
            raise Refused(400, self.t("reports_unknown_owner", owner=row.owner))
        owner = Caller(row.owner, groups)
        profile_id = self._profile(owner, spec.profile)
        return RunRequest(
            run_id=run_id,
            owner=row.owner,
            partner_ids=owner.partner_ids,
            notebook=self._notebook(owner, spec.notebook, self._profile_of(profile_id)),
            parameters=spec.parameters,
            kernel=spec.kernel,
            profile=self._profile_of(profile_id),
            work_area=self.archive.work_area(run_id),
            log_path=log_path,
            cell_timeout=self.config.cell_timeout,
            run_timeout=self.config.run_timeout,
            language=self.language,
            title=spec.title or spec.id,
            started=lambda handle: self._update(run_id, handle_json=json.dumps(handle)),
        )

    def _update(self, run_id: int, **values) -> None:
        with self.db() as db:
            run = db.get(RunRow, run_id)
            for key, value in values.items():
                setattr(run, key, value)
            db.commit()

    def _apply_retention(self, row: ScheduleRow) -> None:
        """Keep the schedule's ``retention`` most recent finished runs, delete the rest."""
        keep = row.spec.retention or self.config.retention
        with self.db() as db:
            finished = db.scalars(
                select(RunRow)
                .where(RunRow.schedule_id == row.id, RunRow.status.not_in(ACTIVE))
                .order_by(RunRow.id.desc())
                .offset(keep)
            ).all()
            for run in finished:
                self.archive.remove(run.id)
                db.delete(run)
            db.commit()

    def run(self, run_id: int) -> tuple[RunRow, ScheduleRow]:
        """A run and its schedule; :class:`Refused` 404."""
        with self.db() as db:
            run = db.get(RunRow, run_id)
            row = db.get(ScheduleRow, run.schedule_id) if run else None
        if run is None or row is None:
            raise Refused(404, self.t("reports_unknown_run", id=run_id))
        return run, row

    def runs(self, schedule_ids: list[str] | None = None, limit: int = 200) -> list[RunRow]:
        """Runs, newest first (of ``schedule_ids`` when given)."""
        query = select(RunRow).order_by(RunRow.id.desc()).limit(limit)
        if schedule_ids is not None:
            query = query.where(RunRow.schedule_id.in_(schedule_ids))
        with self.db() as db:
            return list(db.scalars(query))

    async def groups_of(self, name: str) -> set[str]:
        return await self.hub.groups(name) or set()


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and "[" in p))
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def as_local(moment: datetime | None, zone: str) -> datetime | None:
    """A stored naive-UTC time (or an aware one) in time zone ``zone``."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(zone))
