"""The reports service's web face: a JSON REST API and French pages, behind the hub's
OAuth (``HubOAuth``: browsers log in through the hub; scripts and the CLI send a hub
API token in the ``Authorization: token ...`` header).

Under the service prefix (``/services/reports/``)::

    GET    api/schedules                 schedules the caller manages (admins: all)
    POST   api/schedules                 create one (JSON, see hub.settings.ReportSchedule)
    GET    api/schedules/<id>            one schedule         DELETE: remove it
    GET    api/schedules/<id>/runs       its runs             POST: run now (202)
    GET    api/runs/<n>                  one run (its audience, its owner, admins)
    GET    api/reports                   runs published for the caller (the gallery's data)
    GET    runs/<n>/report.html|notebook.ipynb|run.log   a run's outputs (audience only)
    GET    /                             page: my scheduled reports, runs, "Lancer maintenant"
    GET    galerie                       page: the report gallery
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from hub import audit
from hub.messages import CATALOGUE, hub_error

from ...metrics import MetricsHandler
from .archive import HTML, LOG, NOTEBOOK, without_server_paths
from .db import RunRow, ScheduleRow
from .service import Caller, Refused, ReportsService, as_local

TEMPLATES = Path(__file__).resolve().parent / "templates"
CONTENT_TYPES = {
    HTML: "text/html; charset=utf-8",
    NOTEBOOK: "application/x-ipynb+json",
    LOG: "text/plain; charset=utf-8",
}
#: An archived report is the owner's code's output: shown without scripts, in an opaque
#: origin, fetching nothing but its own inline styles and images.
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Identifies the caller (``self.caller``: name and hub groups) on every request. A
    handler that sets ``audit_event`` (action, target) has it written to the audit trail
    with the caller's partners and the request's result once answered."""

    caller: Caller | None = None
    api = False
    audit_event: tuple[str, str] | None = None

    def on_finish(self):
        if self.audit_event is not None:
            action, target = self.audit_event
            caller = self.caller
            audit.record_request(self, action, caller.name if caller else "", target,
                                 sorted(caller.partner_ids) if caller else [])

    @property
    def service(self) -> ReportsService:
        return self.settings["reports"]

    @property
    def prefix(self) -> str:
        return self.settings["prefix"]

    async def prepare(self):
        user = self.get_current_user()
        if user is None or user.get("kind", "user") != "user":
            if self.api:
                raise web.HTTPError(403)
            return
        self.caller = Caller(user["name"], await self.service.groups_of(user["name"]))

    def refuse(self, refused: Refused):
        raise web.HTTPError(refused.status, reason=_ascii(refused.message), log_message=refused.message) from None

    def write_error(self, status_code, **kwargs):
        error = kwargs.get("exc_info", (None, None))[1]
        given = error.log_message if isinstance(error, web.HTTPError) else None
        message = hub_error(self.service.language, status_code, given)
        if self.api:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"status": status_code, "message": message}, ensure_ascii=False))
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(self.render_page("error.html", status=status_code, message=message))

    def render_page(self, name: str, **values) -> str:
        t = CATALOGUE[self.service.language]
        template = self.settings["jinja"].get_template(name)
        return template.render(
            t=t, language=self.service.language, prefix=self.prefix,
            hub_prefix=self.settings["hub_prefix"], caller=self.caller,
            xsrf=self.xsrf_token.decode() if self.caller else "", **values,
        )

    def schedule_model(self, row: ScheduleRow) -> dict:
        spec = row.spec
        next_run = self.service.next_run(row.id)
        return {
            **spec.model_dump(mode="json"),
            "owner": row.owner,
            "origin": row.origin,
            "next_run": next_run.isoformat() if next_run else None,
        }

    def run_model(self, run: RunRow, row: ScheduleRow) -> dict:
        zone = row.spec.time_zone
        base = url_path_join(self.prefix, "runs", str(run.id))
        return {
            "id": run.id,
            "schedule": row.id,
            "title": row.spec.title or row.id,
            "owner": row.owner,
            "trigger": run.trigger,
            "retry_of": run.retry_of,
            "status": run.status,
            "queued": _iso(as_local(run.queued, zone)),
            "started": _iso(as_local(run.started, zone)),
            "ended": _iso(as_local(run.ended, zone)),
            "duration": run.duration,
            "parameters": run.parameters,
            "error": run.error,
            "links": {name: url_path_join(base, name) for name in run.files + ([LOG] if run.started else [])},
        }

    def managed_schedule(self, schedule_id: str) -> ScheduleRow:
        try:
            row = self.service.schedule(schedule_id)
        except Refused as refused:
            self.refuse(refused)
        if not self.service.manages(self.caller, row):
            # a schedule one may not manage is reported as absent unless one sees it
            if self.service.sees(self.caller, row):
                self.refuse(Refused(403, self.service.t("reports_not_yours")))
            self.refuse(Refused(404, self.service.t("reports_unknown_schedule", id=schedule_id)))
        return row

    def visible_runs(self) -> list[tuple[RunRow, ScheduleRow]]:
        rows = {row.id: row for row in self.service.schedules() if self.service.sees(self.caller, row)}
        return [(run, rows[run.schedule_id]) for run in self.service.runs(list(rows))]


class NotFoundPage(BaseHandler):
    """Any other path of the service: the service's own 404 page (or JSON under ``api/``)."""

    async def prepare(self):
        self.api = self.request.path.startswith(url_path_join(self.prefix, "api/"))
        await super().prepare()
        raise web.HTTPError(404)


class APIHandler(BaseHandler):
    api = True

    def send(self, data, status: int = 200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False))

    def body(self):
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            self.refuse(Refused(400, self.service.t("reports_invalid", error="JSON")))


class SchedulesAPI(APIHandler):
    def get(self):
        rows = [r for r in self.service.schedules() if self.service.manages(self.caller, r)]
        self.send([self.schedule_model(r) for r in rows])

    def post(self):
        body = self.body()
        self.audit_event = ("report.schedule.create", f"schedule:{body.get('id', '') if isinstance(body, dict) else ''}")
        try:
            row = self.service.create(self.caller, body)
        except Refused as refused:
            self.refuse(refused)
        self.send(self.schedule_model(row), 201)


class ScheduleAPI(APIHandler):
    def get(self, schedule_id):
        self.send(self.schedule_model(self.managed_schedule(schedule_id)))

    def delete(self, schedule_id):
        self.audit_event = ("report.schedule.delete", f"schedule:{schedule_id}")
        self.managed_schedule(schedule_id)
        self.service.delete(schedule_id)
        self.set_status(204)
        self.finish()


class RunsAPI(APIHandler):
    def get(self, schedule_id):
        row = self.managed_schedule(schedule_id)
        self.send([self.run_model(run, row) for run in self.service.runs([row.id])])

    def post(self, schedule_id):
        self.audit_event = ("report.run", f"schedule:{schedule_id}")
        row = self.managed_schedule(schedule_id)
        try:
            run = self.service.start_run(row.id, "manual")
        except Refused as refused:
            self.refuse(refused)
        self.send(self.run_model(run, row), 202)


class RunAPI(APIHandler):
    def get(self, run_id):
        run, row = self.visible_run(int(run_id))
        self.send(self.run_model(run, row))

    def visible_run(self, run_id: int) -> tuple[RunRow, ScheduleRow]:
        try:
            run, row = self.service.run(run_id)
        except Refused as refused:
            self.refuse(refused)
        if not (self.service.sees(self.caller, row) or self.service.manages(self.caller, row)):
            # a run one may not see is answered as absent: the answer never tells it exists
            self.refuse(Refused(404, self.service.t("reports_unknown_run", id=run_id)))
        return run, row


class ReportsAPI(APIHandler):
    def get(self):
        self.send([self.run_model(run, row) for run, row in self.visible_runs()])


class RunFile(RunAPI):
    """A run's archived output, for its audience (404 for anyone else, as if absent)."""

    api = False

    @web.authenticated
    def get(self, run_id, name):
        self.audit_event = ("report.download", f"run:{run_id}/{name}")
        run, _ = self.visible_run(int(run_id))
        path = self.service.archive.file(run.id, name)
        if path is None or (name != LOG and name not in run.files):
            raise web.HTTPError(404)
        self.set_header("Content-Type", CONTENT_TYPES[name])
        self.set_header("X-Content-Type-Options", "nosniff")
        if name == HTML:
            self.set_header("Content-Security-Policy", REPORT_CSP)
        if name == NOTEBOOK:
            self.set_header("Content-Disposition", f'attachment; filename="rapport-{run.id}.ipynb"')
        if name == LOG:
            self.finish(without_server_paths(path.read_bytes().decode("utf-8", "replace")).encode())
            return
        self.finish(path.read_bytes())


class SchedulesPage(BaseHandler):
    @web.authenticated
    def get(self):
        rows = [r for r in self.service.schedules() if self.service.manages(self.caller, r)]
        runs = {}
        for run in self.service.runs([r.id for r in rows]):
            runs.setdefault(run.schedule_id, []).append(run)
        self.finish(self.render_page(
            "schedules.html",
            schedules=[(self.schedule_model(r), [self.run_model(x, r) for x in runs.get(r.id, [])[:10]]) for r in rows],
            notice=self.get_argument("lance", ""),
        ))


class RunNowForm(BaseHandler):
    @web.authenticated
    def post(self, schedule_id):
        self.audit_event = ("report.run", f"schedule:{schedule_id}")
        row = self.managed_schedule(schedule_id)
        try:
            self.service.start_run(row.id, "manual")
        except Refused as refused:
            self.refuse(refused)
        self.redirect(url_path_join(self.prefix) + "?lance=" + row.id)


class GalleryPage(BaseHandler):
    @web.authenticated
    def get(self):
        runs = [self.run_model(run, row) for run, row in self.visible_runs() if run.status not in ("queued", "running")]
        self.finish(self.render_page("gallery.html", runs=runs))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _ascii(message: str) -> str:
    """An HTTP reason phrase must be ASCII; the full message goes in the body."""
    return message.encode("ascii", "replace").decode()[:200]


def make_app(service: ReportsService, prefix: str, hub_prefix: str, cookie_secret: str) -> web.Application:
    """The tornado application under ``prefix`` (the service's URL prefix, ending in /)."""
    jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    jinja.filters["when"] = lambda iso: iso.replace("T", " ")[:16] if iso else "—"
    jinja.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    routes = [
        (r"oauth_callback", HubOAuthCallbackHandler),
        (r"metrics", MetricsHandler),
        (r"api/schedules", SchedulesAPI),
        (r"api/schedules/([a-z0-9-]+)", ScheduleAPI),
        (r"api/schedules/([a-z0-9-]+)/runs", RunsAPI),
        (r"api/runs/([0-9]+)", RunAPI),
        (r"api/reports", ReportsAPI),
        (r"runs/([0-9]+)/(report\.html|notebook\.ipynb|run\.log)", RunFile),
        (r"schedules/([a-z0-9-]+)/run", RunNowForm),
        (r"galerie", GalleryPage),
        (r"", SchedulesPage),
    ]
    return web.Application(
        [(url_path_join(prefix, pattern) + "$" if pattern else prefix + "$", handler)
         for pattern, handler in routes],
        reports=service,
        prefix=prefix,
        hub_prefix=hub_prefix,
        jinja=jinja,
        cookie_secret=cookie_secret,
        # no tornado XSRF check: HubOAuth accepts a cookie on a POST only with a valid
        # _xsrf (and a token-authenticated request needs none)
        xsrf_cookies=False,
        login_url=url_path_join(hub_prefix, "login"),
        default_handler_class=NotFoundPage,
    )
