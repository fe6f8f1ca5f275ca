"""``datalab``: the operators' and analysts' command line.

::

    datalab [--config FILE] library update [--ref REF]   publish a library version now
    datalab [--config FILE] library status               the version labs see
    datalab [--config FILE] library follow               publish library.ref on schedule
    datalab [--url URL] [--token T] reports list|create|run|runs|delete   scheduled reports
    datalab [--url URL] [--token T] dashboards publish|list|unpublish      Voilà dashboards
    datalab [--url URL] [--token T] airlock list|request|approve|refuse|download  health data exports
    datalab [--config FILE] audit [--person P] [--partner X] [--kind K] [--last 7d] [--csv] ...
    datalab [--config FILE] audit verify                  check the audit trail's hash chain
    datalab [--config FILE] usage --month YYYY-MM [--csv] [--output FILE] [--no-slurm]

Each area registers itself in :data:`AREAS` with a function adding its subparser; every
command has a ``handler(ctx, args)`` default, where ``ctx`` (:class:`Context`) gives the
deployment file's settings and, for commands that talk to the hub's services, an HTTP
client with a hub API token (``--token``, else ``$JUPYTERHUB_API_TOKEN``; create one on
the hub's token page) at the hub URL of the deployment file (``--url`` overrides it).

Exit status: 0 done, 1 the command failed or a service refused (its message is printed),
2 bad usage, no token, or an unusable deployment file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Callable

from . import audit, library, usage
from .settings import ConfigError, GitRef, Settings, load


class Failure(Exception):
    """A request the hub or a service refused; ``str()`` is its message."""


class Client:
    """HTTP+JSON calls to the hub at ``url`` with a hub API ``token``."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: object = None) -> object:
        """``method`` on ``url + path``; the decoded JSON answer (None when empty).
        Raises :class:`Failure` with the service's message."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                message = json.loads(raw).get("message")
            except (ValueError, AttributeError):
                message = None
            raise Failure(f"HTTP {e.code}: {message or e.reason}") from None
        except urllib.error.URLError as e:
            raise Failure(f"{self.url}: {e.reason}") from None
        return json.loads(raw) if raw else None

    def fetch(self, path: str) -> bytes:
        """The raw body of ``GET url + path``. Raises :class:`Failure`."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.read()
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("message")
            except (ValueError, AttributeError):
                message = None
            raise Failure(f"HTTP {e.code}: {message or e.reason}") from None
        except urllib.error.URLError as e:
            raise Failure(f"{self.url}: {e.reason}") from None


class MissingToken(Exception):
    """A command needs a hub API token and none was given."""


class Context:
    """What a command may use: ``settings`` (the deployment file, loaded on first use;
    :class:`ConfigError`) and ``client`` (needs a token; :class:`MissingToken`)."""

    def __init__(self, config: str | None = None, url: str | None = None,
                 token: str | None = None, client: Client | None = None):
        self.config, self.url, self.token = config, url, token
        if client is not None:
            self.client = client

    @cached_property
    def settings(self) -> Settings:
        return load(self.config)

    @cached_property
    def client(self) -> Client:
        token = self.token or os.environ.get("JUPYTERHUB_API_TOKEN")
        if not token:
            raise MissingToken("a hub API token is needed: --token or JUPYTERHUB_API_TOKEN")
        return Client(self.url or self.hub_url(), token)

    def hub_url(self) -> str:
        """The hub's public URL from the deployment file (``DATALAB_PORT`` overrides its
        port)."""
        hub = self.settings.hub
        port = int(os.environ.get("DATALAB_PORT") or hub.port)
        return f"http://{hub.ip}:{port}{hub.base_url}".rstrip("/")


# -- datalab library ------------------------------------------------------------------
def _library_update(ctx: Context, args) -> int:
    try:
        published = library.publish(ctx.settings, ref=args.ref)
    except library.LibraryError as e:
        print(f"datalab library update: {e}", file=sys.stderr)
        return 1
    state = "published" if published.changed else "already current"
    print(f"{published.commit} {state} ({published.path})")
    return 0


def _library_status(ctx: Context, args) -> int:
    commit = library.current(ctx.settings)
    if commit is None:
        print("no library version published yet")
        return 1
    print(commit)
    return 0


def _library_follow(ctx: Context, args) -> int:
    try:
        library.follow(ctx.settings, log=lambda line: print(line, flush=True))
    except ValueError as e:
        print(f"datalab library follow: {e}", file=sys.stderr)
        return 2
    return 0


def _ref(value: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(GitRef).validate_python(value)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a branch, tag or commit name") from None


def add_library(subparsers) -> None:
    """``datalab library ...``: the versioned notebook library (see :mod:`hub.library`)."""
    group = subparsers.add_parser("library", help="the versioned notebook library")
    commands = group.add_subparsers(dest="command", required=True)
    update = commands.add_parser(
        "update", help="publish the library at library.ref (or --ref) for every lab, atomically"
    )
    update.add_argument("--ref", type=_ref, help="branch, tag or commit (default: library.ref)")
    update.set_defaults(handler=_library_update)
    status = commands.add_parser("status", help="print the commit labs currently see")
    status.set_defaults(handler=_library_status)
    follow = commands.add_parser(
        "follow", help="publish library.ref every library.follow_minutes (runs until stopped)"
    )
    follow.set_defaults(handler=_library_follow)


# -- datalab reports ------------------------------------------------------------------
REPORTS = "/services/reports/api"


def add_reports(subparsers) -> None:
    """``datalab reports``: scheduled papermill reports."""
    parser = subparsers.add_parser("reports", help="scheduled papermill reports")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="the schedules you manage").set_defaults(handler=reports_list)

    create = commands.add_parser("create", help="schedule a notebook")
    create.add_argument("id", help="schedule id: a slug such as rapport-76")
    create.add_argument("--notebook", required=True,
                        help="path as seen in your lab, e.g. bibliotheque/03-rapport-departement.ipynb")
    create.add_argument("--cron", required=True, help='minute hour day month day-of-week, e.g. "0 7 * * 1"')
    create.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter, passed as a string as written (\"07\" stays \"07\")")
    create.add_argument("-j", "--json-param", nargs=2, action="append", default=[], metavar=("NAME", "JSON"),
                        help="a parameter given as a JSON value (42, true, 1.5, [1, 2])")
    create.add_argument("--title", help="title shown in the gallery")
    create.add_argument("--time-zone", help="IANA time zone of the cron expression (default Europe/Paris)")
    create.add_argument("--profile", help="lab profile whose resources the runs get")
    create.add_argument("--kernel", help="kernelspec name (default: the notebook's)")
    create.add_argument("--audience-all", action="store_true", help="every DataLab member sees the outputs")
    create.add_argument("--partner", action="append", default=[],
                        help="a partner whose members see the outputs (default: your partners)")
    create.add_argument("--role", action="append", default=[],
                        help="a role whose holders see the outputs (with --partner: holders within those partners)")
    create.add_argument("--retention", type=int, help="finished runs kept")
    create.add_argument("--misfire", choices=["run-once", "skip"], help="a fire time missed while the service was down")
    create.set_defaults(handler=reports_create)

    run = commands.add_parser("run", help="run a schedule now")
    run.add_argument("id")
    run.add_argument("--wait", action="store_true", help="wait for the run to end; exit 1 if it failed")
    run.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")
    run.set_defaults(handler=reports_run)

    runs = commands.add_parser("runs", help="the runs of a schedule, newest first")
    runs.add_argument("id")
    runs.set_defaults(handler=reports_runs)

    delete = commands.add_parser("delete", help="delete a schedule and its archived runs")
    delete.add_argument("id")
    delete.set_defaults(handler=reports_delete)


def reports_list(ctx: Context, args) -> None:
    client = ctx.client
    for s in client.call("GET", f"{REPORTS}/schedules"):
        params = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in s["parameters"].items())
        print(f"{s['id']}\t{s['cron']} ({s['time_zone']})\tnext {s['next_run'] or '-'}\t{s['notebook']}\t{params}")


def reports_create(ctx: Context, args) -> None:
    client = ctx.client
    parameters: dict[str, object] = {name: value for name, value in args.param}
    for name, raw in args.json_param:
        try:
            parameters[name] = json.loads(raw)
        except ValueError:
            raise Failure(f"--json-param {name}: not a JSON value: {raw}") from None
    body: dict[str, object] = {"id": args.id, "notebook": args.notebook, "cron": args.cron, "parameters": parameters}
    for key in ("title", "time_zone", "profile", "kernel", "retention", "misfire"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.audience_all or args.partner or args.role:
        body["audience"] = {"all": args.audience_all, "partners": args.partner, "roles": args.role}
    created = client.call("POST", f"{REPORTS}/schedules", body)
    print(f"{created['id']}: next run {created['next_run']}")


def reports_run(ctx: Context, args) -> None:
    client = ctx.client
    run = client.call("POST", f"{REPORTS}/schedules/{args.id}/runs")
    print(f"run {run['id']} of {args.id}: {run['status']}")
    if not args.wait:
        return
    deadline = time.monotonic() + args.timeout
    while run["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise Failure(f"run {run['id']} still {run['status']} after {args.timeout:g} s")
        time.sleep(1)
        run = client.call("GET", f"{REPORTS}/runs/{run['id']}")
    print(_run_line(run))
    if run["status"] != "succeeded":
        raise Failure(run["error"] or run["status"])


def reports_runs(ctx: Context, args) -> None:
    client = ctx.client
    for run in client.call("GET", f"{REPORTS}/schedules/{args.id}/runs"):
        print(_run_line(run))


def reports_delete(ctx: Context, args) -> None:
    client = ctx.client
    client.call("DELETE", f"{REPORTS}/schedules/{args.id}")
    print(f"{args.id}: deleted")


def _run_line(run: dict) -> str:
    duration = f"{run['duration']} s" if run["duration"] is not None else "-"
    html = run["links"].get("report.html", "")
    return f"{run['id']}\t{run['status']}\t{run['started'] or '-'}\t{duration}\t{html}\t{run['error'] or ''}"


# -- datalab dashboards ---------------------------------------------------------------
DASHBOARDS = "/services/dashboards/api/dashboards"


def parse_audience(value: str) -> dict:
    """``"all"`` -> ``{"all": True}``; ``"partner:a,partner:b,role:decision-maker"`` ->
    ``{"partners": ["a", "b"], "roles": ["decision-maker"]}`` (the decision-makers of a or
    b: partners AND roles, OR within a kind); alternatives separated by ``|`` ->
    ``{"any_of": [...]}``. ``argparse`` error if bad."""
    if "|" in value:
        return {"any_of": [parse_audience(part) for part in value.split("|")]}
    audience: dict = {}
    for item in (part.strip() for part in value.split(",") if part.strip()):
        kind, _, name = item.partition(":")
        if item == "all":
            audience["all"] = True
        elif kind in ("partner", "role") and name:
            audience.setdefault(kind + "s", []).append(name)
        else:
            raise argparse.ArgumentTypeError(f"{item!r}: expected all, partner:<id> or role:<role>")
    if not audience:
        raise argparse.ArgumentTypeError("empty audience")
    return audience


def add_dashboards(subparsers) -> None:
    """``datalab dashboards``: Voilà dashboards (see :mod:`hub.services.dashboards`)."""
    parser = subparsers.add_parser("dashboards", help="Voilà dashboards")
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", help="publish a notebook (a new version if the id exists)")
    publish.add_argument("notebook", help="the .ipynb file")
    publish.add_argument("--title", required=True)
    publish.add_argument("--description", default="")
    publish.add_argument("--id", help="dashboard id (default: derived from the title)")
    publish.add_argument("--audience", type=parse_audience,
                         help="default: your partner's members; all, or partner:<id>,role:<role>,... "
                              "(a listed partner AND a listed role; alternatives separated by |)")
    publish.add_argument("--profile", help="the lab profile it runs in (default: your first)")
    publish.add_argument("--partner", help="the partner shown as publisher (default: your first)")
    publish.add_argument("--identity-free", action="store_true",
                         help="its output depends on nobody's identity: keep it warm")
    publish.set_defaults(handler=dashboards_publish)
    commands.add_parser("list", help="the dashboards you may see").set_defaults(handler=dashboards_list)
    unpublish = commands.add_parser("unpublish", help="remove a dashboard from every listing and URL")
    unpublish.add_argument("id")
    unpublish.set_defaults(handler=dashboards_unpublish)


def dashboards_publish(ctx: Context, args) -> None:
    try:
        notebook = json.loads(Path(args.notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Failure(f"{args.notebook}: not a readable notebook ({e})") from None
    body = {"notebook": notebook, "title": args.title, "identity_free": args.identity_free}
    for key in ("description", "id", "profile", "partner", "audience"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    dashboard = ctx.client.call("POST", DASHBOARDS, body)
    print(f"{dashboard['id']} version {dashboard['version']}: {dashboard['url']}")


def dashboards_list(ctx: Context, args) -> None:
    for d in ctx.client.call("GET", DASHBOARDS)["dashboards"]:
        print(f"{d['id']}\tv{d['version']}\t{d['author']}\t{d['partner']}\t{d['title']}")


def dashboards_unpublish(ctx: Context, args) -> None:
    ctx.client.call("DELETE", f"{DASHBOARDS}/{args.id}")
    print(f"{args.id} unpublished")


# -- datalab airlock ------------------------------------------------------------------
AIRLOCK = "/hub/api/airlock/requests"


def add_airlock(subparsers) -> None:
    """``datalab airlock``: export requests out of health data spaces (see
    :mod:`hub.airlock`), through the hub's REST API."""
    parser = subparsers.add_parser("airlock", help="export files out of a health data space (requests, decisions)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="your requests and those awaiting your decision").set_defaults(
        handler=airlock_list)
    request = commands.add_parser("request", help="ask for a file's export")
    request.add_argument("path", help="the file as seen in your lab, e.g. partenaire-<id>/resultats.csv")
    request.add_argument("--reason", required=True, help="why it must leave the space")
    request.set_defaults(handler=airlock_request)
    approve = commands.add_parser("approve", help="approve a request (data stewards; never your own)")
    approve.add_argument("id", type=int)
    approve.set_defaults(handler=airlock_approve)
    refuse = commands.add_parser("refuse", help="refuse a request (data stewards; never your own)")
    refuse.add_argument("id", type=int)
    refuse.add_argument("--reason", required=True, help="why it may not leave")
    refuse.set_defaults(handler=airlock_refuse)
    download = commands.add_parser("download", help="save an approved file (its hash is checked)")
    download.add_argument("id", type=int)
    download.add_argument("--output", help="where to write it (default: its exported name, here)")
    download.set_defaults(handler=airlock_download)


def _airlock_line(r: dict) -> str:
    return "\t".join([str(r["id"]), r["status"], r["requester"], r["space"], r["path"], r["sha256"],
                      r["decided_by"] or "-", r["decision_reason"] or ""])


def airlock_list(ctx: Context, args) -> None:
    found = ctx.client.call("GET", AIRLOCK)
    for title, rows in (("mine", found["mine"]), ("to decide", found["to_decide"])):
        print(f"# {title}")
        for r in rows:
            print(_airlock_line(r))


def airlock_request(ctx: Context, args) -> None:
    r = ctx.client.call("POST", AIRLOCK, {"path": args.path, "reason": args.reason})
    print(f"request {r['id']}: {r['status']} sha256 {r['sha256']}")


def airlock_approve(ctx: Context, args) -> None:
    r = ctx.client.call("POST", f"{AIRLOCK}/{args.id}/approve", {})
    print(f"request {r['id']}: {r['status']}, exported as {r['exported']}")


def airlock_refuse(ctx: Context, args) -> None:
    r = ctx.client.call("POST", f"{AIRLOCK}/{args.id}/refuse", {"reason": args.reason})
    print(f"request {r['id']}: {r['status']}")


def airlock_download(ctx: Context, args) -> None:
    r = ctx.client.call("GET", f"{AIRLOCK}/{args.id}")
    content = ctx.client.fetch(f"{AIRLOCK}/{args.id}/file")
    if hashlib.sha256(content).hexdigest() != r["sha256"]:
        raise Failure(f"request {args.id}: the file received does not match its hash {r['sha256']}")
    target = Path(args.output or r["exported"])
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(content)
    print(f"{target}: sha256 {r['sha256']} checked")


# -- datalab audit --------------------------------------------------------------------
def _time(value: str):
    try:
        return audit.parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected an ISO date or time, e.g. 2026-11-23") from None


def _duration(value: str):
    try:
        return audit.parse_duration(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_audit(subparsers) -> None:
    """``datalab audit``: filter the audit trail (see :mod:`hub.audit`); ``datalab audit
    verify``: check its hash chain. Both read ``<data_dir>/audit/`` directly (run them on
    the hub's machine, as its user)."""
    parser = subparsers.add_parser(
        "audit", help="filter the audit trail by person, partner, kind and period; verify its chain",
        description="Example: who opened which servers of partner X last week: "
                    "datalab audit --partner X --kind server --last 7d",
    )
    parser.add_argument("--person", help="the actor, or the owner of the target")
    parser.add_argument("--partner", help="a partner id among the event's partners")
    parser.add_argument("--kind", "--action", dest="action",
                        help="an event kind (action) or a dotted prefix (server, share, login, admin...)")
    parser.add_argument("--since", type=_time, help="from this UTC date/time (ISO 8601), inclusive")
    parser.add_argument("--until", type=_time, help="until this UTC date/time, exclusive")
    parser.add_argument("--last", type=_duration, help="the last N minutes/hours/days/weeks: 30m, 12h, 7d, 2w")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the matching JSON lines as written")
    output.add_argument("--csv", action="store_true", help="CSV with a header line (detail as JSON)")
    parser.set_defaults(handler=audit_query)
    commands = parser.add_subparsers(dest="audit_command", metavar="verify")
    verify = commands.add_parser(
        "verify", help="check the hash chain: exit 1 and name the first line deleted or altered",
        description="Checks every stream of the audit trail (the hub's and each service's, rotated "
                    "files included). Lines written before chaining existed are counted as "
                    "unchained, not as tampering. Exit 0: intact; 1: tampering found.")
    verify.set_defaults(handler=audit_verify)


#: CSV columns of ``datalab audit --csv``.
CSV_COLUMNS = ("timestamp", "actor", "action", "target", "partner", "source", "result", "detail")


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not evaluate (a leading =, +, -, @ is quoted)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv(events: list[dict]) -> str:
    """``events`` as CSV with a header line: the partner ids joined by ``;``, the detail
    as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        row = {k: str(e.get(k, "")) for k in CSV_COLUMNS}
        row["partner"] = ";".join(e.get("partner") or [])
        row["detail"] = json.dumps(e.get("detail") or {}, ensure_ascii=False, sort_keys=True)
        writer.writerow([_cell(row[k]) for k in CSV_COLUMNS])
    return out.getvalue()


def audit_query(ctx: Context, args) -> int:
    since = args.since
    if args.last is not None:
        since = datetime.now(timezone.utc) - args.last
    query = audit.Query(person=args.person, partner=args.partner, action=args.action,
                        since=since, until=args.until)
    events = audit.select(audit.read(ctx.settings.data_dir / audit.DIRECTORY), query)
    if args.csv:
        sys.stdout.write(audit_csv(events))
        return 0
    for e in events:
        if args.json:
            print(json.dumps(e, ensure_ascii=False))
        else:
            detail = " ".join(f"{k}={v}" for k, v in (e.get("detail") or {}).items())
            print("\t".join([e["timestamp"], e.get("actor", ""), e.get("action", ""), e.get("target", ""),
                             ",".join(e.get("partner") or []), e.get("source", ""), e.get("result", ""), detail]))
    return 0


#: What ``datalab audit verify`` says of each kind of :class:`hub.audit.Problem`.
PROBLEMS = {
    "altered": "altered (its text does not match its hash)",
    "deleted": "a line before this one was deleted (or the one before was rewritten)",
    "truncated": "the stream's last lines were deleted from here on",
}


def audit_verify(ctx: Context, args) -> int:
    checks = audit.verify(ctx.settings.data_dir / audit.DIRECTORY)
    tampered = False
    for check in checks:
        if check.problem is not None:
            tampered = True
            p = check.problem
            print(f"TAMPERED {check.stream}: {p.file} line {p.line}: {PROBLEMS[p.kind]}")
            continue
        notes = []
        if check.unchained:
            notes.append(f"{check.unchained} unchained line(s) written before chaining")
        if check.starts_after_removed:
            notes.append("starts after files removed by retention")
        extra = f" ({'; '.join(notes)})" if notes else ""
        print(f"ok {check.stream}: {check.lines} line(s) in {len(check.files)} file(s), head {check.head}{extra}")
    if not checks:
        print("no audit file")
    return 1 if tampered else 0


# -- datalab usage --------------------------------------------------------------------
def add_usage(subparsers) -> None:
    """``datalab usage``: per-partner container-hours and Slurm core/GPU-hours of a month
    (see :mod:`hub.usage`)."""
    parser = subparsers.add_parser("usage", help="per-partner container-hours and Slurm core/GPU-hours of a month")
    parser.add_argument("--month", required=True, help="calendar month (UTC), YYYY-MM")
    parser.add_argument("--csv", action="store_true", help="CSV with a header line (default: a table)")
    parser.add_argument("--output", help="write to this file instead of the standard output (mode 0644: "
                        "per-partner totals, no personal data; e.g. the admin dashboard's ~/usage/usage-YYYY-MM.csv)")
    parser.add_argument("--no-slurm", action="store_true", help="containers only (no sacct)")
    parser.set_defaults(handler=usage_report)


def usage_report(ctx: Context, args) -> int:
    try:
        lo, hi = usage.month_bounds(args.month)
        jobs = [] if args.no_slurm or not ctx.settings.slurm.entitlements else usage.sacct(lo, hi)
        events = audit.read(ctx.settings.data_dir / audit.DIRECTORY)
        result = usage.compute(args.month, events, jobs, usage.account_partners(ctx.settings))
    except usage.UsageError as e:
        raise Failure(str(e)) from None
    rows = result.rows()
    if args.csv:
        text = usage.to_csv(rows)
    else:
        lines = [f"{'partner':24} {'container h':>12} {'core h':>10} {'GPU h':>8}"]
        lines += [f"{r['partner']:24} {r['container_hours']:>12} {r['core_hours']:>10} {r['gpu_hours']:>8}"
                  for r in rows]
        text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


#: Areas of the command line: name -> function adding its subparser.
AREAS: dict[str, Callable] = {
    "library": add_library, "reports": add_reports, "dashboards": add_dashboards,
    "airlock": add_airlock, "audit": add_audit, "usage": add_usage,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``datalab`` argument parser with every area registered."""
    parser = argparse.ArgumentParser(prog="datalab", description="DataLab Hub command line")
    parser.add_argument(
        "--config",
        help="deployment file (default: $DATALAB_CONFIG, else datalab.yaml, else "
             "datalab.example.yaml, in the working directory then the repository)",
    )
    parser.add_argument("--url", help="the hub's public URL (default: from the deployment file)")
    parser.add_argument("--token", help="a hub API token (default: $JUPYTERHUB_API_TOKEN)")
    areas = parser.add_subparsers(dest="area", required=True)
    for add in AREAS.values():
        add(areas)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``datalab`` with ``argv`` (default: the process arguments); returns the exit
    status."""
    args = build_parser().parse_args(argv)
    ctx = Context(args.config, args.url, args.token)
    try:
        return args.handler(ctx, args) or 0
    except ConfigError as e:
        print(f"datalab: the deployment file needs fixing:\n{e}", file=sys.stderr)
        return 2
    except MissingToken as e:
        print(f"datalab: {e}", file=sys.stderr)
        return 2
    except Failure as failure:
        print(f"datalab: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
