"""A simulated hub user (hubtraf-style) over httpx and websockets: log in through the
login form, start the default server through the REST API and follow its progress
stream, open the lab (OAuth), run a cell in a new kernel, stop the server."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from urllib.parse import quote

import httpx
from websockets.asyncio.client import connect


class JourneyError(RuntimeError):
    """A step of a simulated user's journey failed (the message names the step)."""


class SimulatedUser:
    """One person on a hub at ``base`` (e.g. http://127.0.0.1:18000). Use as an async
    context manager; every request has a ``timeout`` (seconds)."""

    def __init__(self, base: str, name: str, password: str, timeout: float = 120):
        self.base = base.rstrip("/")
        self.name = name
        self.password = password
        self.timeout = timeout
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> SimulatedUser:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.aclose()

    def _xsrf(self, path: str) -> str:
        """The ``_xsrf`` cookie a browser sends to ``path`` (the most specific one)."""
        matching = [c for c in self.client.cookies.jar if c.name == "_xsrf" and path.startswith(c.path)]
        if not matching:
            raise JourneyError(f"{self.name}: no _xsrf cookie for {path}")
        return max(matching, key=lambda c: len(c.path)).value

    async def login(self) -> float:
        """GET then POST the login form; returns the POST's latency (s). ``JourneyError``
        unless the hub answers the POST with a redirect (302)."""
        (await self.client.get(f"{self.base}/hub/login")).raise_for_status()
        t0 = time.perf_counter()
        r = await self.client.post(
            f"{self.base}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": self._xsrf("/hub/")},
        )
        elapsed = time.perf_counter() - t0
        if r.status_code != 302:
            raise JourneyError(f"{self.name}: login answered {r.status_code}")
        return elapsed

    async def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A hub REST API call below /hub/api, authenticated by the login cookie."""
        headers = {"X-XSRFToken": self._xsrf("/hub/api"), **kwargs.pop("headers", {})}
        return await self.client.request(method, f"{self.base}/hub/api{path}", headers=headers, **kwargs)

    async def spawn(self, options: dict | None = None) -> None:
        """POST the server start, then read the progress stream until the hub says the
        server is ready. ``JourneyError`` on a refused start, a failed spawn or no
        ready event within the timeout."""
        r = await self.api("POST", f"/users/{quote(self.name)}/server", json=options or {})
        if r.status_code not in (201, 202):
            raise JourneyError(f"{self.name}: spawn answered {r.status_code}: {r.text[:200]}")
        if r.status_code == 201:
            return
        headers = {"X-XSRFToken": self._xsrf("/hub/api"), "Accept": "text/event-stream"}
        url = f"{self.base}/hub/api/users/{quote(self.name)}/server/progress"
        async with asyncio.timeout(self.timeout):
            async with self.client.stream("GET", url, headers=headers) as stream:
                async for line in stream.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    if event.get("ready"):
                        return
                    if event.get("failed"):
                        raise JourneyError(f"{self.name}: spawn failed: {event.get('message')}")
        raise JourneyError(f"{self.name}: progress stream ended before the server was ready")

    async def stop(self, poll: float = 0.1) -> None:
        """DELETE the server, then wait (polling every ``poll`` s) until the hub no longer
        lists it. ``JourneyError`` on a refusal or after the timeout."""
        r = await self.api("DELETE", f"/users/{quote(self.name)}/server")
        if r.status_code not in (202, 204):
            raise JourneyError(f"{self.name}: stop answered {r.status_code}: {r.text[:200]}")
        deadline = time.monotonic() + self.timeout
        while r.status_code == 202 and time.monotonic() < deadline:
            model = (await self.api("GET", f"/users/{quote(self.name)}")).json()
            if "" not in model.get("servers", {}):
                return
            await asyncio.sleep(poll)
        if r.status_code == 202:
            raise JourneyError(f"{self.name}: server still listed {self.timeout} s after the stop")

    @property
    def lab(self) -> str:
        return f"{self.base}/user/{quote(self.name)}"

    async def open_lab(self) -> None:
        """GET the lab page, following the OAuth redirects like a browser (which sets the
        lab's cookies). ``JourneyError`` unless the lab page answers 200."""
        r = await self.client.get(f"{self.lab}/lab", follow_redirects=True)
        if r.status_code != 200 or "/hub/login" in str(r.url):
            raise JourneyError(f"{self.name}: lab page answered {r.status_code} at {r.url}")

    async def run_cell(self, code: str = "print(6 * 7)") -> str:
        """Start a kernel through the lab's REST API, run ``code`` over the kernel's
        websocket (Jupyter message protocol), delete the kernel; return the cell's stdout.
        ``JourneyError`` when the cell raises or nothing comes back in time."""
        path = f"/user/{quote(self.name)}/"
        headers = {"X-XSRFToken": self._xsrf(path)}
        r = await self.client.post(f"{self.lab}/api/kernels", json={"name": "python3"}, headers=headers)
        if r.status_code != 201:
            raise JourneyError(f"{self.name}: kernel start answered {r.status_code}")
        kernel = r.json()["id"]
        try:
            return await self._execute(kernel, code)
        finally:
            await self.client.delete(f"{self.lab}/api/kernels/{kernel}", headers=headers)

    async def _execute(self, kernel: str, code: str) -> str:
        ws_url = self.lab.replace("http://", "ws://", 1) + f"/api/kernels/{kernel}/channels"
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.client.cookies.jar)
        msg_id = uuid.uuid4().hex
        request = {
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }
        out, replied, idle = [], False, False
        async with asyncio.timeout(self.timeout):
            async with connect(ws_url, additional_headers={"Cookie": cookie}, origin=self.base,
                               max_size=2**24, open_timeout=self.timeout) as ws:
                await ws.send(json.dumps(request))
                while not (replied and idle):
                    msg = json.loads(await ws.recv())
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind = msg["msg_type"]
                    if kind == "stream":
                        out.append(msg["content"]["text"])
                    elif kind == "error":
                        raise JourneyError(f"{self.name}: cell raised {msg['content']['ename']}")
                    elif kind == "execute_reply":
                        replied = True
                    elif kind == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
        return "".join(out)
