"""The audit trail's hash chain (hub/audit.py), ``datalab audit verify`` and the CLI's
kind filter and CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import threading

import pytest

from hub import audit, cli

UTC = dt.timezone.utc


def write(directory, n, process="hub", start=0):
    w = audit.Writer(directory, process)
    for i in range(start, start + n):
        w.record("login", actor=f"person{i}")
    w.close()


def text_lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def rewrite(path, lines) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def check(directory, stream="audit.jsonl") -> audit.StreamCheck:
    (found,) = [c for c in audit.verify(directory) if c.stream == stream]
    return found


@pytest.fixture
def config(tmp_path):
    from tests.conftest import REPO

    path = tmp_path / "datalab.yaml"
    path.write_text((REPO / "datalab.example.yaml").read_text(encoding="utf-8").replace(
        "data_dir: var", f"data_dir: {tmp_path / 'data'}"), encoding="utf-8")
    return path


def test_each_line_carries_the_hash_of_the_previous_one(tmp_path):
    write(tmp_path, 3)
    raw = (tmp_path / "audit.jsonl").read_bytes().splitlines()
    events = [json.loads(line) for line in raw]
    assert events[0]["prev"] == audit.GENESIS
    assert events[1]["prev"] == events[0]["hash"] == audit.line_hash(raw[0])
    assert events[2]["prev"] == events[1]["hash"]
    assert check(tmp_path) == audit.StreamCheck("audit.jsonl", ("audit.jsonl",), 3, 0, events[2]["hash"],
                                                False, None)


def test_the_chain_runs_across_rotated_files(tmp_path):
    w = audit.Writer(tmp_path, "hub")
    w.record("login", actor="before")
    (handler,) = w.logger.handlers
    handler.doRollover()
    w.record("login", actor="after")
    w.close()
    (rotated,) = [p for p in audit.files(tmp_path) if p.name != "audit.jsonl"]
    last_of_old = rotated.read_bytes().splitlines()[-1]
    first_of_new = json.loads((tmp_path / "audit.jsonl").read_bytes().splitlines()[0])
    assert first_of_new["prev"] == audit.line_hash(last_of_old)
    result = check(tmp_path)
    assert result.problem is None and result.files == (rotated.name, "audit.jsonl") and result.lines == 2


def test_a_deleted_line_in_the_middle_is_named(tmp_path):
    write(tmp_path, 5)
    path = tmp_path / "audit.jsonl"
    lines = text_lines(path)
    rewrite(path, lines[:2] + lines[3:])  # line 3 deleted
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 3, "deleted")


def test_an_edited_line_is_named(tmp_path):
    write(tmp_path, 5)
    path = tmp_path / "audit.jsonl"
    lines = text_lines(path)
    lines[3] = lines[3].replace('"actor":"person3"', '"actor":"someone"')
    rewrite(path, lines)
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 4, "altered")


def test_an_edited_line_with_a_recomputed_hash_breaks_the_next_link(tmp_path):
    write(tmp_path, 4)
    path = tmp_path / "audit.jsonl"
    lines = text_lines(path)
    event = json.loads(lines[1])
    event["actor"] = "someone"
    del event["hash"]
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    lines[1] = body[:-1] + f',"hash":"{audit.digest(body.encode())}"}}'
    rewrite(path, lines)
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 3, "deleted")


def test_a_deleted_first_line_of_a_rotated_file_and_a_removed_hash_are_named(tmp_path):
    w = audit.Writer(tmp_path, "hub")
    w.record("login", actor="a")
    w.logger.handlers[0].doRollover()
    w.record("login", actor="b")
    w.record("login", actor="c")
    w.close()
    current = tmp_path / "audit.jsonl"
    lines = text_lines(current)
    rewrite(current, lines[1:])
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 1, "deleted")
    rewrite(current, [lines[0], lines[1].split(',"hash"')[0] + "}"])
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 2, "altered")


def test_deleted_last_lines_are_found_by_the_head(tmp_path):
    write(tmp_path, 4)
    path = tmp_path / "audit.jsonl"
    rewrite(path, text_lines(path)[:2])
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 3, "truncated")
    path.unlink()
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 1, "truncated")


def test_lines_written_before_chaining_are_unchained_not_tampered(tmp_path):
    legacy = [json.dumps({"timestamp": f"2026-11-2{i}T08:00:00+00:00", "action": "login", "actor": "a"})
              for i in range(3)]
    rewrite(tmp_path / "audit.jsonl", legacy)
    write(tmp_path, 2)
    first_chained = json.loads(text_lines(tmp_path / "audit.jsonl")[3])
    assert first_chained["prev"] == audit.digest(legacy[-1].encode())
    result = check(tmp_path)
    assert (result.problem, result.lines, result.unchained) == (None, 5, 3)
    rewrite(tmp_path / "audit.jsonl", legacy[:2] + text_lines(tmp_path / "audit.jsonl")[3:])
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 3, "deleted")


def test_a_line_inserted_after_the_chain_started_is_altered(tmp_path):
    write(tmp_path, 3)
    path = tmp_path / "audit.jsonl"
    lines = text_lines(path)
    forged = json.dumps({"timestamp": "2026-11-23T08:00:00+00:00", "action": "login", "actor": "x"})
    rewrite(path, lines[:2] + [forged] + lines[2:])
    assert check(tmp_path).problem == audit.Problem("audit.jsonl", 3, "altered")


def test_a_stream_whose_oldest_files_were_removed_is_not_tampered(tmp_path):
    write(tmp_path, 4)
    path = tmp_path / "audit.jsonl"
    rewrite(path, text_lines(path)[2:])
    result = check(tmp_path)
    assert result.problem is None and result.starts_after_removed


def test_each_process_has_its_own_chain(tmp_path):
    write(tmp_path, 2, "hub")
    write(tmp_path, 2, "reports")
    assert [(c.stream, c.lines, c.problem) for c in audit.verify(tmp_path)] == [
        ("audit-reports.jsonl", 2, None), ("audit.jsonl", 2, None)]


def test_threads_writing_at_once_keep_the_chain(tmp_path):
    w = audit.Writer(tmp_path, "hub")
    threads = [threading.Thread(target=lambda n=n: [w.record("login", actor=f"t{n}") for _ in range(50)])
               for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    w.close()
    result = check(tmp_path)
    assert (result.lines, result.problem) == (200, None)


def _write_in_process(directory: str, n: int, name: str) -> None:
    writer = audit.Writer(audit.Path(directory), "hub")
    for _ in range(n):
        writer.record("login", actor=name)
    writer.close()


def test_processes_writing_one_stream_at_once_keep_the_chain(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_in_process, args=(str(tmp_path), 100, f"p{i}")) for i in range(3)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=60)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    result = check(tmp_path)
    assert (result.lines, result.problem) == (300, None)


def test_a_file_of_a_past_day_is_rotated_at_the_next_write(tmp_path):
    write(tmp_path, 1)
    yesterday = (dt.datetime.now(UTC) - dt.timedelta(days=1)).timestamp()
    os.utime(tmp_path / "audit.jsonl", (yesterday, yesterday))
    write(tmp_path, 1, start=1)
    day = dt.datetime.fromtimestamp(yesterday, UTC).date().isoformat()
    assert [p.name for p in audit.stream_files(tmp_path, "audit.jsonl")] == [f"audit.jsonl.{day}", "audit.jsonl"]
    assert check(tmp_path).problem is None


def test_retention_keeps_the_newest_rotated_files(tmp_path):
    w = audit.Writer(tmp_path, "hub", retention_days=2)
    for i in range(4):
        w.record("login", actor=f"p{i}")
        w.logger.handlers[0].doRollover()
    w.record("login", actor="now")
    w.close()
    assert len(audit.stream_files(tmp_path, "audit.jsonl")) == 3
    result = check(tmp_path)
    assert result.problem is None and result.starts_after_removed


def test_cli_verify_exits_0_on_an_intact_trail_and_1_naming_the_line(config, tmp_path, capsys):
    directory = tmp_path / "data" / "audit"
    write(directory, 5)
    write(directory, 2, "reports")
    assert cli.main(["--config", str(config), "audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "ok audit.jsonl: 5 line(s) in 1 file(s)" in out and "ok audit-reports.jsonl: 2 line(s)" in out
    lines = text_lines(directory / "audit.jsonl")
    rewrite(directory / "audit.jsonl", lines[:1] + lines[2:])
    assert cli.main(["--config", str(config), "audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED audit.jsonl: audit.jsonl line 2: a line before this one was deleted" in out
    assert "ok audit-reports.jsonl" in out


def test_cli_filters_by_kind_person_and_period_and_exports_csv(config, tmp_path, capsys):
    w = audit.Writer(tmp_path / "data" / "audit", "hub")
    t = dt.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    w.record("server.stop", actor="service:idle-culler", target="analyste1/", partner=["univ-alpha"], when=t,
             backend="local")
    w.record("server.stop", actor="analyste2", target="analyste2/", partner=["chu-exemple-nord"], when=t)
    w.record("login", actor="=HYPERLINK(1)", target="user:x", when=t)
    w.record("server.start", actor="analyste1", target="analyste1/", partner=["univ-alpha"],
             when=t + dt.timedelta(days=2))
    w.close()
    base = ["--config", str(config), "audit"]
    assert cli.main([*base, "--kind", "server.stop", "--person", "analyste1", "--until", "2026-11-24", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [list(cli.CSV_COLUMNS), ["2026-11-23T09:00:00+00:00", "service:idle-culler", "server.stop",
                                            "analyste1/", "univ-alpha", "", "success", '{"backend": "local"}']]
    assert cli.main([*base, "--kind", "login", "--csv"]) == 0
    (_, row) = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert row[1] == "'=HYPERLINK(1)"  # a spreadsheet does not evaluate it
    w = audit.Writer(tmp_path / "data" / "audit", "reports")
    w.record("report.run.end", actor="scheduler", target="run:7", when=t, schedule="rapport-14", owner="analyste1")
    w.close()
    assert cli.main([*base, "--person", "analyste1", "--kind", "report", "--csv"]) == 0
    assert [r[3] for r in csv.reader(io.StringIO(capsys.readouterr().out))] == ["target", "run:7"]
    assert cli.main([*base, "--partner", "univ-alpha", "--since", "2026-11-24", "--csv"]) == 0
    assert [r[2] for r in csv.reader(io.StringIO(capsys.readouterr().out))] == ["action", "server.start"]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["audit", "--csv", "--json"])


def test_a_last_line_longer_than_the_tail_read_is_chained_whole(tmp_path):
    long = json.dumps({"timestamp": "2026-11-22T08:00:00+00:00", "action": "login", "actor": "a" * (3 * audit.TAIL)})
    rewrite(tmp_path / "audit.jsonl", ["{}", long])
    write(tmp_path, 1)
    assert json.loads(text_lines(tmp_path / "audit.jsonl")[2])["prev"] == audit.digest(long.encode())
    assert check(tmp_path).problem is None
