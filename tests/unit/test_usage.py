"""Usage accounting (hub/usage.py): a scripted month of labs and Slurm jobs."""

from __future__ import annotations

import datetime as dt

import pytest

from hub import usage

UTC = dt.timezone.utc


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 11, year: int = 2026):
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def server(action, target, partner, when, backend="local", result="success"):
    return {"timestamp": when.isoformat(), "action": action, "actor": target.split("/")[0],
            "target": target, "partner": partner, "result": result, "detail": {"backend": backend}}


def test_month_bounds():
    assert usage.month_bounds("2026-11") == (at(1), at(1, month=12))
    assert usage.month_bounds("2026-12") == (at(1, month=12), at(1, month=1, year=2027))
    for bad in ("2026-13", "2026-1", "novembre"):
        with pytest.raises(usage.UsageError):
            usage.month_bounds(bad)


def test_scripted_month_of_two_partners_to_the_second():
    """univ-alpha: 1 h 30 min 15 s and 45 s; chu-exemple-nord: a lab started on Oct 31
    at 23:00 and stopped on Nov 1 at 01:00:30 (3630 s in November); a failed start and a
    Slurm lab count for nothing; a lab still running at ``now`` counts up to now."""
    events = [
        server("server.start", "analyste2/", ["chu-exemple-nord"], at(31, 23, month=10)),
        server("server.stop", "analyste2/", ["chu-exemple-nord"], at(1, 1, 0, 30)),
        server("server.start", "analyste1/", ["univ-alpha"], at(3, 9)),
        server("server.stop", "analyste1/", ["univ-alpha"], at(3, 10, 30, 15)),
        server("server.start", "analyste1/", ["univ-alpha"], at(4, 9), result="failure"),
        server("server.start", "analyste1/calcul", ["univ-alpha"], at(5, 8)),
        server("server.stop", "analyste1/calcul", ["univ-alpha"], at(5, 8, 0, 45)),
        server("server.start", "analyste1/austral", ["univ-alpha"], at(6, 8), backend="slurm"),
        server("server.stop", "analyste1/austral", ["univ-alpha"], at(6, 18), backend="slurm"),
        server("server.start", "analyste3/", ["labo-atlas"], at(30, 23, 59, 0)),
    ]
    result = usage.compute("2026-11", events, [], {}, now=at(30, 23, 59, 40))
    assert result.partners["univ-alpha"].container_seconds == 5415 + 45
    assert result.partners["chu-exemple-nord"].container_seconds == 3630
    assert result.partners["labo-atlas"].container_seconds == 40
    october = usage.compute("2026-10", events, [], {}, now=at(30, 23, 59, 40))
    assert october.partners["chu-exemple-nord"].container_seconds == 3600


def test_a_start_without_stop_ends_at_the_next_start():
    events = [server("server.start", "a/", ["univ-alpha"], at(2, 10)),
              server("server.start", "a/", ["univ-alpha"], at(2, 11)),
              server("server.stop", "a/", ["univ-alpha"], at(2, 11, 10))]
    assert usage.compute("2026-11", events, [], {}).partners["univ-alpha"].container_seconds == 3600 + 600


def test_a_lab_of_two_partners_is_shared_between_them():
    events = [server("server.start", "a/", ["univ-alpha", "labo-atlas"], at(2, 10)),
              server("server.stop", "a/", ["univ-alpha", "labo-atlas"], at(2, 11))]
    result = usage.compute("2026-11", events, [], {})
    assert result.partners["univ-alpha"].container_seconds == result.partners["labo-atlas"].container_seconds == 1800


SACCT = """\
12|univ-alpha|2|billing=2,cpu=2,mem=100M,node=1|6|2026-11-30T10:00:00|2026-11-30T10:00:06|COMPLETED
13|labo-atlas|4|billing=4,cpu=4,gres/gpu=2,mem=1G,node=1|7200|2026-10-31T23:00:00|2026-11-01T01:00:00|CANCELLED by 0
14|univ-alpha|1|cpu=1,node=1|0|Unknown|Unknown|PENDING
15|autre|1|cpu=1,node=1|60|2026-11-30T11:00:00|Unknown|RUNNING
"""


def test_sacct_lines_to_core_and_gpu_seconds():
    jobs = usage.parse_sacct(SACCT)
    assert [(j.job_id, j.cpus, j.gpus, j.elapsed, j.state) for j in jobs] == [
        ("12", 2, 0, 6, "COMPLETED"), ("13", 4, 2, 7200, "CANCELLED"), ("15", 1, 0, 60, "RUNNING")]
    accounts = {"univ-alpha": "univ-alpha", "labo-atlas": "labo-atlas"}
    result = usage.compute("2026-11", [], jobs, accounts, now=at(30, 11, 1))
    assert result.partners["univ-alpha"].core_seconds == 12
    atlas = result.partners["labo-atlas"]
    assert (atlas.core_seconds, atlas.gpu_seconds) == (4 * 3600, 2 * 3600)
    assert result.partners["account:autre"].core_seconds == 60


def test_a_malformed_sacct_line_is_an_error():
    with pytest.raises(usage.UsageError):
        usage.parse_sacct("12|univ-alpha|2\n")


def test_sacct_without_configuration_never_runs(tmp_path):
    with pytest.raises(usage.UsageError, match="no Slurm configuration"):
        usage.sacct(at(1), at(1, month=12), env={"SLURM_CONF": str(tmp_path / "none.conf"), "PATH": "/usr/bin"})


def test_csv_rows():
    result = usage.compute("2026-11", [server("server.start", "a/", ["univ-alpha"], at(2, 10)),
                                       server("server.stop", "a/", ["univ-alpha"], at(2, 11, 30))],
                           usage.parse_sacct(SACCT), {"univ-alpha": "univ-alpha"}, now=at(30, 11, 1))
    text = usage.to_csv(result.rows())
    assert text.splitlines()[0] == ",".join(usage.CSV_COLUMNS)
    assert "2026-11,univ-alpha,1.5,0.003,0.0,5400,12,0" in text.splitlines()
