"""``datalab``: the operators' and analysts' command line.

Each area is a subcommand with its own sub-subcommands (``datalab reports ...``); an area
registers itself in :data:`AREAS` with a function that adds its parser. Commands talk to
the hub's services over HTTP with a hub API token (``--token``, else the
``JUPYTERHUB_API_TOKEN`` environment variable; create one on the hub's token page), at the
hub URL of the deployment file (``--url`` overrides it).

Exit status: 0 on success, 1 when the service refuses (its message is printed), 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Callable


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


def default_url() -> str:
    """The hub's public URL from the deployment file (``DATALAB_PORT`` overrides its
    port)."""
    from .settings import load

    settings = load()
    port = int(os.environ.get("DATALAB_PORT") or settings.hub.port)
    return f"http://{settings.hub.ip}:{port}{settings.hub.base_url}".rstrip("/")


# -- datalab reports ------------------------------------------------------------------
REPORTS = "/services/reports/api"


def add_reports(subparsers) -> None:
    """``datalab reports``: scheduled papermill reports."""
    parser = subparsers.add_parser("reports", help="scheduled papermill reports")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="the schedules you manage").set_defaults(run=reports_list)

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
    create.add_argument("--partner", action="append", default=[], help="a partner whose members see the outputs")
    create.add_argument("--role", action="append", default=[], help="a role whose holders see the outputs")
    create.add_argument("--retention", type=int, help="finished runs kept")
    create.add_argument("--misfire", choices=["run-once", "skip"], help="a fire time missed while the service was down")
    create.set_defaults(run=reports_create)

    run = commands.add_parser("run", help="run a schedule now")
    run.add_argument("id")
    run.add_argument("--wait", action="store_true", help="wait for the run to end; exit 1 if it failed")
    run.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits at most")
    run.set_defaults(run=reports_run)

    runs = commands.add_parser("runs", help="the runs of a schedule, newest first")
    runs.add_argument("id")
    runs.set_defaults(run=reports_runs)

    delete = commands.add_parser("delete", help="delete a schedule and its archived runs")
    delete.add_argument("id")
    delete.set_defaults(run=reports_delete)


def reports_list(client: Client, args) -> None:
    for s in client.call("GET", f"{REPORTS}/schedules"):
        params = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in s["parameters"].items())
        print(f"{s['id']}\t{s['cron']} ({s['time_zone']})\tnext {s['next_run'] or '-'}\t{s['notebook']}\t{params}")


def reports_create(client: Client, args) -> None:
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


def reports_run(client: Client, args) -> None:
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


def reports_runs(client: Client, args) -> None:
    for run in client.call("GET", f"{REPORTS}/schedules/{args.id}/runs"):
        print(_run_line(run))


def reports_delete(client: Client, args) -> None:
    client.call("DELETE", f"{REPORTS}/schedules/{args.id}")
    print(f"{args.id}: deleted")


def _run_line(run: dict) -> str:
    duration = f"{run['duration']} s" if run["duration"] is not None else "-"
    html = run["links"].get("report.html", "")
    return f"{run['id']}\t{run['status']}\t{run['started'] or '-'}\t{duration}\t{html}\t{run['error'] or ''}"


#: Areas of the command line: name -> function adding its subparser.
AREAS: dict[str, Callable] = {"reports": add_reports}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="datalab", description="DataLab Hub command line")
    parser.add_argument("--url", help="the hub's public URL (default: from the deployment file)")
    parser.add_argument("--token", help="a hub API token (default: $JUPYTERHUB_API_TOKEN)")
    areas = parser.add_subparsers(dest="area", required=True)
    for add in AREAS.values():
        add(areas)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = args.token or os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        print("datalab: a hub API token is needed: --token or JUPYTERHUB_API_TOKEN", file=sys.stderr)
        return 2
    try:
        args.run(Client(args.url or default_url(), token), args)
    except Failure as failure:
        print(f"datalab: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
