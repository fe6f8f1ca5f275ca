"""The dashboards service's kept static files (hub.services.dashboards.assets)."""

from __future__ import annotations

import gzip

import pytest

from hub.services.dashboards.assets import MAX_FILE, MIN_GZIP, AssetCache, keepable, make_asset

SCRIPT = [("Content-Type", "application/javascript; charset=UTF-8"), ("Etag", '"abc"'),
          ("Cache-Control", "max-age=315360000"), ("X-Upstream", "voila")]


def test_a_script_keeps_its_caching_headers_and_a_gzip_copy_of_the_same_bytes():
    body = b"console.log('carte');\n" * 200
    asset = make_asset(SCRIPT, body)
    assert dict(asset.headers) == {"Content-Type": "application/javascript; charset=UTF-8", "Etag": '"abc"',
                                   "Cache-Control": "max-age=315360000"}
    assert asset.etag == '"abc"'
    assert gzip.decompress(asset.gzipped) == body and len(asset.gzipped) < len(body)


@pytest.mark.parametrize("headers, body", [
    ([("Content-Type", "image/png")], b"\x89PNG" + bytes(range(256)) * 20),  # already compressed media
    (SCRIPT, b"x" * (MIN_GZIP - 1)),  # too small to be worth it
])
def test_no_gzip_copy_where_it_gains_nothing(headers, body):
    assert make_asset(headers, body).gzipped is None


@pytest.mark.parametrize("method, path, status, headers, size, kept", [
    ("GET", "voila/static/voila.js", 200, SCRIPT, 10, True),
    ("HEAD", "voila/static/voila.js", 200, SCRIPT, 10, False),
    ("GET", "voila/static/voila.js", 404, SCRIPT, 10, False),
    ("GET", "voila/static/voila.js", 304, SCRIPT, 0, False),
    ("GET", "voila/files/donnees.csv", 200, SCRIPT, 10, False),  # next to the notebook: may change
    ("GET", "voila/static/voila.js", 200, [*SCRIPT, ("Set-Cookie", "a=b")], 10, False),
    ("GET", "voila/static/voila.js", 200, [*SCRIPT, ("Content-Encoding", "gzip")], 10, False),
    ("GET", "voila/static/gros.js", 200, SCRIPT, MAX_FILE + 1, False),
])
def test_only_plain_answers_to_static_gets_are_kept(method, path, status, headers, size, kept):
    assert keepable(method, path, status, headers, size) is kept


def test_entries_are_per_server_and_the_least_recently_used_go_first():
    asset = make_asset(SCRIPT[:1], b"a" * 100)
    cache = AssetCache(max_total=250)
    cache.put("serveur-1", "/d/carte/voila/static/a.js", asset)
    cache.put("serveur-1", "/d/carte/voila/static/b.js", asset)
    assert cache.get("serveur-2", "/d/carte/voila/static/a.js") is None  # another server's answer
    assert cache.get("serveur-1", "/d/carte/voila/static/a.js") is asset  # a.js now the most recent
    cache.put("serveur-1", "/d/carte/voila/static/c.js", asset)
    assert cache.get("serveur-1", "/d/carte/voila/static/b.js") is None
    assert cache.get("serveur-1", "/d/carte/voila/static/a.js") is asset
    assert cache.total == 200


def test_a_stopped_server_s_answers_are_forgotten():
    asset = make_asset(SCRIPT[:1], b"a" * 100)
    cache = AssetCache()
    cache.put("serveur-1", "/a.js", asset)
    cache.put("serveur-2", "/a.js", asset)
    cache.forget("serveur-1")
    assert cache.get("serveur-1", "/a.js") is None and cache.get("serveur-2", "/a.js") is asset
    assert cache.total == 100


def test_an_answer_larger_than_the_whole_cache_is_not_kept():
    cache = AssetCache(max_total=50)
    cache.put("serveur-1", "/a.js", make_asset(SCRIPT[:1], b"a" * 100))
    assert cache.get("serveur-1", "/a.js") is None and cache.total == 0


def test_an_answer_is_made_into_an_entry_once_however_many_ask_at_once():
    cache = AssetCache()
    assert cache.claim("serveur-1", "/a.js")
    assert not cache.claim("serveur-1", "/a.js")  # a second live page's request meanwhile
    cache.put("serveur-1", "/a.js", None)  # the first could not make it: free to try again
    assert cache.claim("serveur-1", "/a.js")
    cache.put("serveur-1", "/a.js", make_asset(SCRIPT[:1], b"a" * 100))
    assert not cache.claim("serveur-1", "/a.js") and cache.get("serveur-1", "/a.js") is not None
