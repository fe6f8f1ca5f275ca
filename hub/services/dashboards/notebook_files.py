"""The author's notebooks, for the publish page: run *as the author* (a process of their
account, or a container of the lab image with their home), so the service reads nothing
the author could not read. Imports nothing from the hub.

``python notebook_files.py list HOME``: JSON list of the ``.ipynb`` paths under ``HOME``
(relative, sorted; hidden entries and checkpoints skipped; symbolic links to directories
followed, at most :data:`MAX_DEPTH` levels and :data:`MAX_FILES` paths).
``python notebook_files.py read HOME PATH``: the notebook ``HOME/PATH`` on standard output
(at most :data:`MAX_BYTES`). Output ends with a newline: a container's log keeps no
unfinished last line. Exit status 2 (the reason on standard error) when ``PATH``
is absolute, climbs out with ``..``, is not an ``.ipynb`` file, is too large or unreadable.
"""

from __future__ import annotations

import json
import os
import sys

MAX_DEPTH = 4
MAX_FILES = 500
MAX_BYTES = 20 * 2**20


def notebooks(home: str) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(home, followlinks=True):
        rel = os.path.relpath(dirpath, home)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < MAX_DEPTH else []
        for name in sorted(filenames):
            if name.endswith(".ipynb") and not name.startswith("."):
                found.append(os.path.normpath(os.path.join(rel, name)))
                if len(found) >= MAX_FILES:
                    return sorted(found)
    return sorted(found)


def read(home: str, path: str) -> bytes:
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or not path.endswith(".ipynb"):
        raise ValueError(f"not a notebook path under your home: {path!r}")
    with open(os.path.join(home, path), "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{path!r} is larger than {MAX_BYTES // 2**20} MiB")
    return data


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "list":
        print(json.dumps(notebooks(argv[1])))
        return 0
    if len(argv) == 3 and argv[0] == "read":
        try:
            sys.stdout.buffer.write(read(argv[1], argv[2]).rstrip(b"\n") + b"\n")
        except (ValueError, OSError) as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    print("usage: notebook_files.py list HOME | read HOME PATH", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
