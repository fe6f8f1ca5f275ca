"""``datalab``: the command line of DataLab Hub, one subcommand group per service.

::

    datalab dashboards publish NOTEBOOK --title "..." [--audience all|partner:ID,role:ROLE]
                                        [--description ...] [--id ID] [--profile ID]
                                        [--partner ID] [--identity-free]
    datalab dashboards list
    datalab dashboards unpublish ID

It talks to the services through the hub's public URL (``--url``, else ``$DATALAB_URL``,
else http://127.0.0.1:8000) with a hub API token (``--token``, else ``$DATALAB_TOKEN``,
else ``$JUPYTERHUB_API_TOKEN``): create one on the hub's "Jetons d'accès" page. Exit
status: 0 done, 1 refused by the service (its message is printed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


class Refused(Exception):
    """The service answered with an error; ``str()`` is its status and message."""


def call(args: argparse.Namespace, method: str, path: str, body: dict | None = None) -> dict | None:
    """One REST call to ``<url>/services/<path>``; the decoded JSON answer (None when
    empty). Raises :class:`Refused` on an HTTP error, ``OSError`` when unreachable."""
    token = args.token or os.environ.get("DATALAB_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        raise Refused("no token: pass --token or set DATALAB_TOKEN (hub page 'Jetons d'accès')")
    url = (args.url or os.environ.get("DATALAB_URL") or DEFAULT_URL).rstrip("/") + "/services/" + path
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode("utf-8"),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("message", detail)
        except (json.JSONDecodeError, AttributeError):
            pass
        raise Refused(f"HTTP {e.code}: {detail}") from None
    return json.loads(payload) if payload else None


def parse_audience(value: str) -> dict:
    """``"all"`` -> ``{"all": True}``; ``"partner:a,partner:b,role:decision-maker"`` ->
    ``{"partners": ["a", "b"], "roles": ["decision-maker"]}``. ``argparse`` error if bad."""
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


def dashboards_publish(args: argparse.Namespace) -> None:
    notebook = json.loads(Path(args.notebook).read_text(encoding="utf-8"))
    body = {"notebook": notebook, "title": args.title, "audience": args.audience,
            "identity_free": args.identity_free}
    for key in ("description", "id", "profile", "partner"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    dashboard = call(args, "POST", "dashboards/api/dashboards", body)
    print(f"{dashboard['id']} version {dashboard['version']}: {dashboard['url']}")


def dashboards_list(args: argparse.Namespace) -> None:
    for d in call(args, "GET", "dashboards/api/dashboards")["dashboards"]:
        print(f"{d['id']}\tv{d['version']}\t{d['author']}\t{d['partner']}\t{d['title']}")


def dashboards_unpublish(args: argparse.Namespace) -> None:
    call(args, "DELETE", f"dashboards/api/dashboards/{args.id}")
    print(f"{args.id} unpublished")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="datalab", description="DataLab Hub command line")
    top.add_argument("--url", help=f"the hub's public URL (default $DATALAB_URL or {DEFAULT_URL})")
    top.add_argument("--token", help="a hub API token (default $DATALAB_TOKEN or $JUPYTERHUB_API_TOKEN)")
    groups = top.add_subparsers(dest="group", required=True)

    dashboards = groups.add_parser("dashboards", help="Voilà dashboards").add_subparsers(dest="command", required=True)
    publish = dashboards.add_parser("publish", help="publish a notebook (a new version if the id exists)")
    publish.add_argument("notebook", help="the .ipynb file")
    publish.add_argument("--title", required=True)
    publish.add_argument("--description", default="")
    publish.add_argument("--id", help="dashboard id (default: derived from the title)")
    publish.add_argument("--audience", type=parse_audience, default={"all": True},
                         help="all (default), or partner:<id>,role:<role>,...")
    publish.add_argument("--profile", help="the lab profile it runs in (default: your first)")
    publish.add_argument("--partner", help="the partner shown as publisher (default: your first)")
    publish.add_argument("--identity-free", action="store_true",
                         help="its output depends on nobody's identity: keep it warm")
    publish.set_defaults(run=dashboards_publish)
    listing = dashboards.add_parser("list", help="the dashboards you may see")
    listing.set_defaults(run=dashboards_list)
    unpublish = dashboards.add_parser("unpublish", help="remove a dashboard from every listing and URL")
    unpublish.add_argument("id")
    unpublish.set_defaults(run=dashboards_unpublish)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except Refused as e:
        print(f"datalab: {e}", file=sys.stderr)
        return 1
    except (OSError, json.JSONDecodeError) as e:
        print(f"datalab: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
