"""The audit trail's writer, filter and reader (hub/audit.py), and the CLI's filters."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets

import pytest

from hub import audit, cli

UTC = dt.timezone.utc


@pytest.fixture
def writer(tmp_path):
    w = audit.Writer(tmp_path / "audit", "hub", retention_days=3)
    yield w
    w.close()


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_event_is_one_json_line_with_every_field(writer):
    when = dt.datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC)
    writer.record("server.start", actor="analyste1", target="analyste1/", partner=["univ-alpha"],
                  source="127.0.0.1", when=when, backend="local")
    (event,) = lines(writer.path)
    assert event.pop("prev") == audit.GENESIS and len(event.pop("hash")) == 64  # the chain's fields
    assert event == {
        "timestamp": "2026-11-23T09:30:00.123456+00:00", "actor": "analyste1", "action": "server.start",
        "target": "analyste1/", "partner": ["univ-alpha"], "source": "127.0.0.1", "result": "success",
        "detail": {"backend": "local"},
    }


def test_a_local_time_is_written_in_utc(writer):
    paris = dt.timezone(dt.timedelta(hours=1))
    writer.record("login", actor="a", when=dt.datetime(2026, 11, 23, 10, 0, tzinfo=paris))
    assert lines(writer.path)[0]["timestamp"] == "2026-11-23T09:00:00+00:00"


def test_files_and_directory_are_private(writer):
    writer.record("login", actor="a")
    assert writer.path.parent.stat().st_mode & 0o777 == 0o750
    assert writer.path.stat().st_mode & 0o777 == 0o640


def test_an_unknown_action_or_result_is_refused(writer):
    with pytest.raises(ValueError):
        writer.record("login", actor="a", result="ok")
    with pytest.raises(ValueError):
        writer.record("logon", actor="a")


def test_the_module_writer_never_breaks_the_audited_action(tmp_path, caplog):
    audit.configure(tmp_path, "hub")
    try:
        with caplog.at_level(logging.ERROR, logger="datalab.audit"):
            assert audit.record("login", actor="a", result="maybe") is None
        assert "cannot write login" in caplog.text
        assert audit.record("login", actor="a")["actor"] == "a"
    finally:
        audit.configure(tmp_path, "hub").close()


@pytest.mark.parametrize("secret", [
    secrets.token_hex(16),  # JupyterHub API tokens
    secrets.token_urlsafe(32),  # share codes, OAuth state
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmFseXN0ZTEifQ.c2lnbmF0dXJl",  # a JWT
])
def test_token_like_values_are_masked_everywhere(writer, secret):
    writer.record("share.grant", actor=f"x {secret}", target=f"owner/{secret}", partner=[secret],
                  source="127.0.0.1", reason=f"url?code={secret}")
    text = writer.path.read_text()
    assert secret not in text and text.count(audit.MASK) == 4


def test_secret_details_and_non_scalars_are_dropped(writer):
    writer.record("login", actor="a", token="abc", client_secret="s", password="p", Cookie="c",
                  notebook_content="print(1)", cells=[{"source": "x"}], status=302)
    assert lines(writer.path)[0]["detail"] == {"status": 302}


def test_long_names_and_commits_are_not_masked():
    assert audit.mask("hub.audit_hooks.AuditedSharedPasswordAuthenticator") == \
        "hub.audit_hooks.AuditedSharedPasswordAuthenticator"
    assert audit.mask("library version 1beaceb4c2d1") == "library version 1beaceb4c2d1"


def test_log_filter_masks_the_hubs_log_records():
    sid = secrets.token_hex(16)
    record = logging.LogRecord("JupyterHub", logging.INFO, __file__, 1,
                               "Setting new xsrf cookie for %s", (f"b'{sid}:x'",), None)
    assert audit.LogScrubFilter().filter(record)
    assert sid not in record.getMessage() and audit.MASK in record.getMessage()


def test_reader_merges_the_processes_files_in_time_order(tmp_path):
    directory = tmp_path / "audit"
    hub = audit.Writer(directory, "hub")
    reports = audit.Writer(directory, "reports")
    t0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    hub.record("login", actor="a", when=t0 + dt.timedelta(seconds=2))
    reports.record("report.run", actor="a", when=t0 + dt.timedelta(seconds=1))
    (directory / "audit.jsonl.2026-11-22").write_text(
        json.dumps({"timestamp": "2026-11-22T08:00:00+00:00", "action": "logout", "actor": "a"}) + "\nnot json\n")
    hub.close()
    reports.close()
    assert [e["action"] for e in audit.read(directory)] == ["logout", "report.run", "login"]
    assert {p.name for p in audit.files(directory)} == {
        "audit.jsonl", "audit-reports.jsonl", "audit.jsonl.2026-11-22"}


def event(action, actor, target, partner, when):
    return {"timestamp": when.isoformat(), "action": action, "actor": actor, "target": target,
            "partner": partner, "result": "success"}


def test_query_by_person_partner_action_prefix_and_period():
    t = dt.datetime(2026, 11, 23, tzinfo=UTC)
    events = [
        event("server.start", "analyste1", "analyste1/", ["univ-alpha"], t),
        event("server.access", "analyste2", "analyste1/", ["univ-alpha"], t + dt.timedelta(days=1)),
        event("server.start", "analyste2", "analyste2/", ["chu-exemple-nord"], t + dt.timedelta(days=2)),
        event("serverless", "analyste1", "", ["univ-alpha"], t),
        event("login", "analyste1", "user:analyste1", ["univ-alpha"], t - dt.timedelta(days=9)),
    ]
    pick = lambda **q: [(e["action"], e["actor"]) for e in audit.select(events, audit.Query(**q))]  # noqa: E731
    assert pick(partner="univ-alpha", action="server") == [("server.start", "analyste1"), ("server.access", "analyste2")]
    assert pick(person="analyste1", since=t) == [("server.start", "analyste1"), ("server.access", "analyste2"),
                                                 ("serverless", "analyste1")]
    assert pick(until=t) == [("login", "analyste1")]
    assert pick(since=t + dt.timedelta(days=1), until=t + dt.timedelta(days=2)) == [("server.access", "analyste2")]


def test_durations_and_times_of_the_cli():
    assert audit.parse_duration("7d") == dt.timedelta(days=7)
    assert audit.parse_duration("12h") == dt.timedelta(hours=12)
    assert audit.parse_time("2026-11-23") == dt.datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(ValueError):
        audit.parse_duration("7 days")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["audit", "--last", "soon"])


def test_cli_prints_matching_events(tmp_path, capsys):
    config = tmp_path / "datalab.yaml"
    from tests.conftest import REPO

    config.write_text((REPO / "datalab.example.yaml").read_text(encoding="utf-8").replace(
        "data_dir: var", f"data_dir: {tmp_path / 'data'}"), encoding="utf-8")
    writer = audit.Writer(tmp_path / "data" / "audit", "hub")
    now = dt.datetime.now(UTC)
    writer.record("server.access", actor="analyste2", target="analyste1/", partner=["univ-alpha"],
                  source="127.0.0.1", when=now - dt.timedelta(days=2), shared=True)
    writer.record("server.access", actor="analyste2", target="analyste1/", partner=["univ-alpha"],
                  when=now - dt.timedelta(days=10))
    writer.record("server.start", actor="analyste2", target="analyste2/", partner=["chu-exemple-nord"])
    writer.close()
    assert cli.main(["--config", str(config), "audit", "--partner", "univ-alpha", "--last", "7d"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split("\t")[1:7] == ["analyste2", "server.access", "analyste1/", "univ-alpha", "127.0.0.1",
                                     "success"]
    assert line.endswith("shared=True")


def test_rotation_keeps_the_old_file_readable_and_the_new_one_private(writer):
    writer.record("login", actor="before")
    (handler,) = [h for h in writer.logger.handlers if isinstance(h, audit.AuditFileHandler)]
    handler.doRollover()
    writer.record("login", actor="after")
    rotated = [p for p in audit.files(writer.path.parent) if p != writer.path]
    assert len(rotated) == 1 and rotated[0].name.startswith("audit.jsonl.")
    assert writer.path.stat().st_mode & 0o777 == 0o640
    assert [e["actor"] for e in audit.read(writer.path.parent)] == ["before", "after"]
