"""The proxy at the DataLab's scale (issue 20, point 5): configurable-http-proxy, the
version ``make run`` and the tests use (``package.json``), with ``routes`` routes (one per
running lab) and ``websockets`` kernel-like websocket clients, on 127.0.0.1 only.

The routes' targets are one process of the bench's own (``python -m bench.proxy targets
PORT N``: a tornado server listening on N ports, answering any GET with a short body and
echoing websocket messages on any path ending in ``/ws``), so that the proxy's routing
table holds N distinct targets as it would with N labs. Measured:

- **route add**: ``POST /api/routes/<path>`` latency for each of the N routes, in order
  (the first tenth against the last tenth shows the cost of a larger table), and
  ``GET /api/routes`` at N routes (what the hub asks at every route check);
- **requests per second**: ``clients`` concurrent HTTP clients for ``seconds``, each
  requesting a random route's path, through the proxy and straight to the targets (the
  reference), interleaved ``rounds`` times: the ratio proxy / direct per round;
- **soak**: ``websockets`` clients each connected through the proxy to a route of its
  own, each sending a message every second and timing its echo, for ``soak_seconds``,
  while one route is removed and added again every 5 s (labs coming and going) and one
  request goes to a random route every 0.1 s (the labs' API traffic); the proxy's
  resident memory (RSS, psutil) every 10 s.

The HTTP and websocket clients share this process (asyncio, httpx, tornado): the request
rates are bounded by it as much as by the proxy, which is why the direct figure, taken
by the same client, is the reference. Everything started is ended at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import subprocess
import sys
import time

import httpx
import psutil
from tornado import httpclient, web, websocket
from tornado.ioloop import IOLoop

from tests.conftest import REPO, free_port_block

from .measure import loadavg, spread, summary

CHP = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
#: How often the soak samples the proxy's memory, and removes and re-adds a route (s).
MEMORY_EVERY, CHURN_EVERY = 10.0, 5.0


def route(i: int) -> str:
    return f"/user/bench{i:03d}"


class _Page(web.RequestHandler):
    def get(self, *_):
        self.write("ok")


class _Echo(websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


def serve_targets(first_port: int, count: int) -> None:
    """The targets' process: ``count`` ports from ``first_port`` on 127.0.0.1."""
    app = web.Application([(r".*/ws", _Echo), (r"(.*)", _Page)])
    for port in range(first_port, first_port + count):
        app.listen(port, "127.0.0.1")
    print("ready", flush=True)
    IOLoop.current().start()


async def _wait_http(url: str, timeout: float, headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                await client.get(url, headers=headers)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer within {timeout} s") from None
                await asyncio.sleep(0.05)


async def _load(client: httpx.AsyncClient, base: str, urls: list[str], clients: int, seconds: float) -> dict:
    """``clients`` loops requesting random ``urls`` for ``seconds``: requests per second,
    latency summary, errors."""
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds

    async def one_client():
        nonlocal errors
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                r = await client.get(base + random.choice(urls))
                if r.status_code != 200:
                    errors += 1
                    continue
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    return {"rps": round(len(latencies) / elapsed, 1), "latency": summary(latencies), "errors": errors,
            "loadavg": loadavg()}


async def _websocket_client(url: str, end: float, rtts: list[float], errors: list[str]) -> None:
    try:
        connection = await websocket.websocket_connect(httpclient.HTTPRequest(url, request_timeout=10))
    except Exception as e:  # recorded: a client that cannot connect is an error of the run
        errors.append(f"connect {url}: {type(e).__name__}: {e}")
        return
    try:
        while time.monotonic() < end:
            started = time.perf_counter()
            connection.write_message(secrets.token_hex(8))
            answer = await asyncio.wait_for(connection.read_message(), 10)
            if answer is None:
                errors.append(f"{url}: closed by the proxy")
                return
            rtts.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))
    except asyncio.TimeoutError:
        errors.append(f"{url}: no echo within 10 s")
    finally:
        connection.close()


async def proxy_at_scale(routes: int, websockets: int, clients: int, seconds: float, rounds: int,
                         soak_seconds: float) -> dict:
    """Start the proxy and the targets, measure (module docstring), end both."""
    base = free_port_block(routes + 3)
    public, api, first_target = base, base + 1, base + 3
    token = secrets.token_hex(16)
    headers = {"Authorization": f"token {token}"}
    targets = subprocess.Popen([sys.executable, "-m", "bench.proxy", "targets", str(first_target), str(routes)],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    proxy = subprocess.Popen([str(CHP), "--ip", "127.0.0.1", "--port", str(public), "--api-ip", "127.0.0.1",
                              "--api-port", str(api), "--log-level", "warn"],
                             env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": token},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict = {"routes": routes, "websockets": websockets, "clients": clients, "version": _chp_version(),
                 "loadavg_before": loadavg()}
    try:
        if targets.stdout.readline().strip() != "ready":
            raise RuntimeError("the targets' process did not start")
        await _wait_http(f"http://127.0.0.1:{api}/api/routes", 20, headers)
        node = psutil.Process(proxy.pid)
        out["rss_empty_mib"] = round(node.memory_info().rss / 2**20, 1)
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=clients + 10)) as client:
            adds = []
            for i in range(routes):
                started = time.perf_counter()
                r = await client.post(f"http://127.0.0.1:{api}/api/routes{route(i)}", headers=headers,
                                      json={"target": f"http://127.0.0.1:{first_target + i}"})
                r.raise_for_status()
                adds.append(time.perf_counter() - started)
            tenth = max(1, routes // 10)
            out["route_add"] = {"all": summary(adds), "first_tenth": summary(adds[:tenth]),
                                "last_tenth": summary(adds[-tenth:])}
            listing = []
            for _ in range(10):
                started = time.perf_counter()
                r = await client.get(f"http://127.0.0.1:{api}/api/routes", headers=headers)
                listing.append(time.perf_counter() - started)
                if len(r.json()) != routes:
                    raise RuntimeError(f"the proxy lists {len(r.json())} routes, not {routes}")
            out["routes_get"] = summary(listing)
            out["rss_routes_mib"] = round(node.memory_info().rss / 2**20, 1)
            paths = [f"{route(i)}/api" for i in range(routes)]
            direct = [f"http://127.0.0.1:{first_target + i}{route(i)}/api" for i in range(routes)]
            out["rounds"] = []
            for _ in range(rounds):
                through = await _load(client, f"http://127.0.0.1:{public}", paths, clients, seconds)
                straight = await _load(client, "", direct, clients, seconds)
                out["rounds"].append({"proxy": through, "direct": straight,
                                      "ratio": round(through["rps"] / straight["rps"], 2) if straight["rps"] else None})
            out["rps_ratio"] = spread([r["ratio"] for r in out["rounds"] if r["ratio"] is not None])
            out["soak"] = await _soak(client, node, public, api, headers, first_target, routes, websockets,
                                      soak_seconds)
    finally:
        for process in (proxy, targets):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    out["loadavg_after"] = loadavg()
    return out


async def _soak(client, node, public: int, api: int, headers: dict, first_target: int, routes: int,
                websockets: int, seconds: float) -> dict:
    end = time.monotonic() + seconds
    rtts: list[float] = []
    errors: list[str] = []
    memory: list[tuple[float, float]] = []
    began = time.monotonic()
    sockets = [asyncio.ensure_future(_websocket_client(f"ws://127.0.0.1:{public}{route(i)}/ws", end, rtts, errors))
               for i in range(min(websockets, routes))]

    async def sample_memory():
        while time.monotonic() < end:
            memory.append((round(time.monotonic() - began, 1), round(node.memory_info().rss / 2**20, 1)))
            await asyncio.sleep(MEMORY_EVERY)

    async def churn():
        churned = 0
        while time.monotonic() + CHURN_EVERY < end:
            await asyncio.sleep(CHURN_EVERY)
            i = routes - 1 - churned % max(1, routes - websockets)  # never a websocket's route
            (await client.delete(f"http://127.0.0.1:{api}/api/routes{route(i)}", headers=headers)).raise_for_status()
            (await client.post(f"http://127.0.0.1:{api}/api/routes{route(i)}", headers=headers,
                               json={"target": f"http://127.0.0.1:{first_target + i}"})).raise_for_status()
            churned += 1
        return churned

    background = {"requests": 0, "errors": 0}

    async def light_load():
        """One request to a random route every 0.1 s (the labs' API traffic)."""
        while time.monotonic() < end:
            try:
                r = await client.get(f"http://127.0.0.1:{public}{route(random.randrange(routes))}/api")
                background["requests" if r.status_code == 200 else "errors"] += 1
            except httpx.HTTPError:
                background["errors"] += 1
            await asyncio.sleep(0.1)

    churned, *_ = await asyncio.gather(churn(), sample_memory(), light_load(), *sockets)
    rss = [m for _, m in memory]
    return {"seconds": seconds, "echo_rtt": summary(rtts), "websocket_errors": errors, "routes_churned": churned,
            "background_requests": background["requests"], "background_errors": background["errors"],
            "rss_mib": memory, "rss_first_mib": rss[0] if rss else None, "rss_max_mib": max(rss) if rss else None,
            "rss_last_mib": rss[-1] if rss else None, "loadavg": loadavg()}


def _chp_version() -> str:
    done = subprocess.run([str(CHP), "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


if __name__ == "__main__" and sys.argv[1:2] == ["targets"]:
    serve_targets(int(sys.argv[2]), int(sys.argv[3]))
