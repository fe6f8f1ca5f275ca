"""Voilà's static files, kept in the dashboards service's memory once relayed.

Every live page loads about a hundred scripts and style sheets (9.3 MiB for the map
dashboard) from its dashboard's Voilà server. Relayed each time, a crowd of viewers
costs the service and that server one upstream request per file per viewer. Once a
dashboard's server has answered a file, the service keeps the answer (and a gzip copy
of a text one) for as long as that server runs, and answers the next viewers itself;
a browser that has the file already gets 304.

An entry is the answer of one server (its token is part of the key): a restarted server,
or another dashboard's, is asked again. Only ``200`` answers to plain ``GET`` requests
are kept, never one that sets a cookie, never a file next to the notebook
(``voila/files/``, :data:`.handlers.ASSETS` says which paths are static), and at most
:data:`MAX_FILE` bytes each, :data:`MAX_TOTAL` in all (least recently used first out).
"""

from __future__ import annotations

import gzip
from collections import OrderedDict
from dataclasses import dataclass

#: Largest file kept (bytes): larger ones are relayed each time.
MAX_FILE = 16 * 2**20
#: Bytes kept in all (bodies and their gzip copies).
MAX_TOTAL = 192 * 2**20
#: Media types worth a gzip copy (scripts, styles, maps, fonts described as text).
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                "application/x-javascript", "application/manifest+json")
#: Answer headers a kept file is served with (the rest are the service's own).
KEPT_HEADERS = {"content-type", "cache-control", "etag", "last-modified", "expires"}
#: Smallest body worth compressing.
MIN_GZIP = 1024


@dataclass(frozen=True)
class Asset:
    """One kept answer: its headers (:data:`KEPT_HEADERS`), body and gzip copy (None
    when not worth one)."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    gzipped: bytes | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")

    @property
    def etag(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "etag"), None)


def make_asset(headers: list[tuple[str, str]], body: bytes) -> Asset:
    """An :class:`Asset` of an answer's headers and body (compresses text; CPU-bound,
    run it off the event loop for large bodies)."""
    kept = tuple((name, value) for name, value in headers if name.lower() in KEPT_HEADERS)
    media = next((value for name, value in kept if name.lower() == "content-type"), "")
    worth = len(body) >= MIN_GZIP and media.startswith(COMPRESSIBLE)
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if worth else None
    return Asset(kept, body, gzipped if gzipped is not None and len(gzipped) < len(body) else None)


def keepable(method: str, path: str, status: int, headers: list[tuple[str, str]], size: int) -> bool:
    """Whether an answer may be kept: a ``200`` to ``GET`` of a static path, no cookie,
    no encoding of the server's own, at most :data:`MAX_FILE` bytes."""
    names = {name.lower() for name, _ in headers}
    return (method == "GET" and status == 200 and not path.startswith("voila/files/") and size <= MAX_FILE
            and "set-cookie" not in names and "content-encoding" not in names)


class AssetCache:
    """Kept answers by ``(server token, request URI)``, least recently used out first."""

    def __init__(self, max_total: int = MAX_TOTAL):
        self.max_total = max_total
        self.total = 0
        self.entries: OrderedDict[tuple[str, str], Asset] = OrderedDict()
        self.making: set[tuple[str, str]] = set()

    def claim(self, token: str, uri: str) -> bool:
        """Whether the answer now relayed should be made into an entry: not when it is
        kept already or another request is making it (a crowd's first live pages ask
        for the same files at once; each is compressed once)."""
        if (token, uri) in self.entries or (token, uri) in self.making:
            return False
        self.making.add((token, uri))
        return True

    def get(self, token: str, uri: str) -> Asset | None:
        asset = self.entries.get((token, uri))
        if asset is not None:
            self.entries.move_to_end((token, uri))
        return asset

    def put(self, token: str, uri: str, asset: Asset | None) -> None:
        """Keep ``asset`` (None: the claimed answer could not be kept)."""
        self.making.discard((token, uri))
        if asset is None:
            return
        old = self.entries.pop((token, uri), None)
        if old is not None:
            self.total -= old.size
        if asset.size > self.max_total:
            return
        self.entries[(token, uri)] = asset
        self.total += asset.size
        while self.total > self.max_total:
            _, dropped = self.entries.popitem(last=False)
            self.total -= dropped.size

    def forget(self, token: str) -> None:
        """Drop every answer of the server holding ``token`` (it stopped)."""
        for key in [key for key in self.entries if key[0] == token]:
            self.total -= self.entries.pop(key).size
