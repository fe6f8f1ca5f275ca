"""The benchmark's own arithmetic (bench/measure.py, bench/__main__.py ratios) and the
docker spawner's readiness probe, which returns as soon as a lab answers."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

from bench.report import ratios
from bench.measure import percentile, process_cpu_seconds, summary
from hub.backends.docker.lab import DataLabDockerSpawner


def test_percentile_interpolates_between_ranks():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == 4.8
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_summary_rounds_to_milliseconds():
    assert summary([0.0014, 0.0026, 1.0]) == {"n": 3, "p50": 0.003, "p95": 0.9, "max": 1.0}


def test_process_cpu_seconds_grows_with_work():
    import os

    before = process_cpu_seconds(os.getpid())
    total = 0
    for i in range(3_000_000):
        total += i * i
    assert process_cpu_seconds(os.getpid()) > before


def _round(system, n, latencies, cpu, stop):
    return {"system": system, "concurrency": n, "spawn_latencies": latencies, "container_cpus": cpu,
            "stop_wall": stop, "spawn_wall": max(latencies, default=60.0), "errors": [], "loadavg_before": [1.0, 1.0, 1.0]}


def test_ratios_compare_each_system_with_its_reference_at_the_same_concurrency():
    spawns = [
        _round("bare", 1, [2.0], [1.0], 0.5), _round("datalab", 1, [3.0], [1.5], 0.25),
        _round("vanilla", 1, [6.0], [2.0], 1.0), _round("bare", 1, [4.0], [1.2], 0.5),
        _round("datalab", 10, [10.0] * 5 + [12.0] * 5, [1.6, 1.4], 3.0),
        _round("bare", 10, [5.0] * 5 + [6.0] * 5, [1.0, 1.0], 6.0),
    ]
    logins = [{"system": "datalab", "api_idle": {"p95": 0.01}, "api_loaded": {"p95": 0.05}},
              {"system": "vanilla", "api_idle": {"p95": 0.01}, "api_loaded": {"p95": 0.1}}]
    out = ratios(spawns, logins)["ratios"]
    assert out["spawn_p50_1_vs_bare"] == 1.0  # 3.0 against the median of 2.0 and 4.0
    assert out["spawn_p50_1_vs_vanilla"] == 0.5
    assert out["cpu_per_start_1_vs_bare"] == 1.36  # 1.5 against the median of 1.0 and 1.2
    assert out["stop_wall_1_vs_vanilla"] == 0.25
    assert out["spawn_p50_10_vs_bare"] == 2.0
    assert out["stop_wall_10_vs_bare"] == 0.5
    assert "spawn_p50_10_vs_vanilla" not in out
    failed = [_round("bare", 1, [2.0], [1.0], 0.5), {**_round("datalab", 1, [], [], 0.1), "errors": ["x"]}]
    assert "stop_wall_1_vs_bare" not in ratios(failed, [])["ratios"]
    assert out["api_p95_under_logins_vs_idle_datalab"] == 5.0
    assert out["api_p95_under_logins_vs_vanilla"] == 0.5


class _LateLab(BaseHTTPRequestHandler):
    """Answers 503 to its first requests, then 200; records the paths asked."""

    failures = 3
    paths: list[str] = []

    def do_GET(self):
        _LateLab.paths.append(self.path)
        self.send_response(503 if len(_LateLab.paths) <= _LateLab.failures else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_readiness_probe_returns_once_the_lab_api_answers_below_500():
    _LateLab.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LateLab)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spawner = SimpleNamespace(server=SimpleNamespace(base_url="/user/ana/"), http_timeout=30)
    try:
        asyncio.run(DataLabDockerSpawner._wait_answering(spawner, "127.0.0.1", server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()
    assert _LateLab.paths == ["/user/ana/api"] * (_LateLab.failures + 1)


def test_readiness_probe_gives_up_after_http_timeout_on_a_silent_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spawner = SimpleNamespace(server=SimpleNamespace(base_url="/user/ana/"), http_timeout=0.3)
    asyncio.run(DataLabDockerSpawner._wait_answering(spawner, "127.0.0.1", port))


def test_account_memory_counts_the_accounts_processes_only():
    import os
    import pwd

    import pytest

    from bench.dashboard import account_memory

    me = pwd.getpwuid(os.getuid()).pw_name
    proportional, resident = account_memory(me)
    assert 10 * 2**20 < proportional <= resident  # at least this test's own interpreter; shared pages split
    assert account_memory("nobody")[0] < proportional
    with pytest.raises(KeyError):
        account_memory("no-such-account-datalab")


def test_spread_of_per_repetition_ratios_pairs_rounds_by_repetition():
    spawns = [_round("bare", 10, [2.0], [1.0], 1.0), _round("datalab", 10, [3.0], [1.0], 1.0),
              _round("bare", 10, [4.0], [1.0], 1.0), _round("datalab", 10, [4.0], [1.0], 1.0),
              _round("bare", 10, [1.0], [1.0], 1.0), _round("datalab", 10, [2.0], [1.0], 1.0)]
    spread = ratios(spawns, [])["spread"]["spawn_p50_10_vs_bare"]
    assert spread == {"n": 3, "median": 1.5, "min": 1.0, "max": 2.0}


def test_the_viewers_p95_is_read_against_each_floor_of_the_same_round():
    from bench.__main__ import viewer_ratios

    def crowd(design, p95, memory=None):
        return {"design": design, "painted": {"p95": p95}, "author_memory_bytes": memory}

    rounds = [crowd("previous", 100.0, 4.0), crowd("current", 10.0, 2.0), crowd("floor", 8.0), crowd("blank", 5.0),
              crowd("previous", 200.0, 4.0), crowd("current", 12.0, 1.0), crowd("floor", 6.0), crowd("blank", 4.0)]
    assert viewer_ratios(rounds) == {
        "viewers_paint_p95_current_vs_previous": 0.08,
        "viewers_memory_current_vs_previous": 0.38,
        "viewers_paint_p95_current_vs_floor": 1.62,
        "viewers_paint_p95_current_vs_blank": 2.5,
    }


def test_cpu_busy_sees_a_busy_core():
    import multiprocessing
    import os

    from bench.measure import cpu_busy

    def spin(stop):
        while not stop.is_set():
            pass

    stop = multiprocessing.Event()
    worker = multiprocessing.Process(target=spin, args=(stop,))
    worker.start()
    try:
        busy = cpu_busy(1.0)
    finally:
        stop.set()
        worker.join(10)
    assert busy >= 0.9 / os.cpu_count()


def test_bench_refuses_a_busy_machine(monkeypatch, capsys):
    import bench.__main__ as driver

    monkeypatch.setattr(driver, "quiet_enough", lambda *a, **k: (False, {"loadavg": [9.0, 9.0, 9.0], "cpu_busy": 0.9, "cores": 2}))
    monkeypatch.setattr(driver, "run", lambda args: (_ for _ in ()).throw(AssertionError("ran on a busy machine")))
    assert driver.main(["--wait-quiet", "0"]) == 2
    assert "busy" in capsys.readouterr().err
