"""``datalab``: the operators' command line.

::

    datalab [--config FILE] library update [--ref REF]   publish a library version now
    datalab [--config FILE] library status               the version labs see
    datalab [--config FILE] library follow               publish library.ref on schedule

Each command group is a function ``add_<group>(subparsers)`` that registers its
subcommands with a ``handler(settings, args) -> int`` default; :func:`main` loads the
deployment file once and calls the handler. Exit status: 0 done, 1 the command failed,
2 bad usage or an unusable deployment file.
"""

from __future__ import annotations

import argparse
import sys

from . import library
from .settings import ConfigError, GitRef, load


def _library_update(settings, args) -> int:
    try:
        published = library.publish(settings, ref=args.ref)
    except library.LibraryError as e:
        print(f"datalab library update: {e}", file=sys.stderr)
        return 1
    state = "published" if published.changed else "already current"
    print(f"{published.commit} {state} ({published.path})")
    return 0


def _library_status(settings, args) -> int:
    commit = library.current(settings)
    if commit is None:
        print("no library version published yet")
        return 1
    print(commit)
    return 0


def _library_follow(settings, args) -> int:
    try:
        library.follow(settings, log=lambda line: print(line, flush=True))
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


COMMAND_GROUPS = [add_library]


def parser() -> argparse.ArgumentParser:
    """The ``datalab`` argument parser with every command group registered."""
    top = argparse.ArgumentParser(prog="datalab", description="DataLab Hub operations")
    top.add_argument(
        "--config", help="deployment file (default: $DATALAB_CONFIG, else ./datalab.yaml)"
    )
    subparsers = top.add_subparsers(dest="group", required=True)
    for add in COMMAND_GROUPS:
        add(subparsers)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run ``datalab`` with ``argv`` (default: the process arguments); returns the exit
    status."""
    args = parser().parse_args(argv)
    try:
        settings = load(args.config)
    except ConfigError as e:
        print(f"datalab: the deployment file needs fixing:\n{e}", file=sys.stderr)
        return 2
    return args.handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())
