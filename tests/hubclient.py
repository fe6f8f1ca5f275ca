"""A small client that talks to a running hub the way a browser and a script do:
login form (cookies, XSRF), REST API, the lab's OAuth, kernels over the websocket."""

from __future__ import annotations

import json
import re
import time
import uuid

import requests
import websocket


class KernelError(AssertionError):
    """Code sent to a kernel raised; the message carries the traceback's last lines."""


class HubClient:
    """One logged-in person (the login response is not followed: for a user with a single
    profile, JupyterHub's spawn page would start the lab at once). ``base``: the hub's public URL, e.g. http://127.0.0.1:18000."""

    def __init__(self, base: str, username: str, password: str):
        self.base = base.rstrip("/")
        self.username = username
        self.session = requests.Session()
        self.login_response = self._login(password)

    def _xsrf(self, path: str = "/hub/") -> str:
        """The ``_xsrf`` cookie a browser would send to ``path`` (the most specific)."""
        matching = [
            c for c in self.session.cookies if c.name == "_xsrf" and path.startswith(c.path)
        ]
        return max(matching, key=lambda c: len(c.path)).value

    def _login(self, password: str) -> requests.Response:
        self.session.get(f"{self.base}/hub/login").raise_for_status()
        return self.session.post(
            f"{self.base}/hub/login",
            data={"username": self.username, "password": password, "_xsrf": self._xsrf()},
            allow_redirects=False,
        )

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A hub REST API call (``path`` below /hub/api), authenticated by the cookie."""
        headers = {"X-XSRFToken": self._xsrf("/hub/api"), **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.base}/hub/api{path}", headers=headers, **kwargs)

    def start_server(self, options: dict | None = None, timeout: float = 90) -> requests.Response:
        """POST the server start, then wait until the hub says it is ready.
        Returns the POST's response (checked by the caller when it is an error)."""
        r = self.api("POST", f"/users/{self.username}/server", json=options or {})
        if r.status_code in (201, 202):
            self.wait_ready(timeout)
        return r

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{self.username}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.username}'s server not ready after {timeout} s")

    def stop_server(self) -> None:
        r = self.api("DELETE", f"/users/{self.username}/server")
        assert r.status_code in (202, 204), r.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "" not in self.api("GET", f"/users/{self.username}").json().get("servers", {}):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{self.username}'s server did not stop")

    # -- the lab (single-user server) -------------------------------------------------
    @property
    def lab_url(self) -> str:
        return f"{self.base}/user/{self.username}"

    def open_lab(self) -> requests.Response:
        """GET the lab page: follows the OAuth redirects like a browser, sets cookies."""
        r = self.session.get(f"{self.lab_url}/lab")
        r.raise_for_status()
        return r

    def lab_api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A Jupyter Server API call (``path`` below /api) with the lab's cookies."""
        headers = {"X-XSRFToken": self._xsrf(f"/user/{self.username}/"), **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.lab_url}/api{path}", headers=headers, **kwargs)

    def execute(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in a new kernel over the websocket; return its stdout.
        Raises :class:`KernelError` with the traceback when the code raises."""
        kernel = self.lab_api("POST", "/kernels", json={"name": "python3"})
        kernel.raise_for_status()
        kernel_id = kernel.json()["id"]
        try:
            return self._execute_in(kernel_id, code, timeout)
        finally:
            self.lab_api("DELETE", f"/kernels/{kernel_id}")

    def _execute_in(self, kernel_id: str, code: str, timeout: float) -> str:
        ws_url = self.lab_url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        ws = websocket.create_connection(ws_url, cookie=cookies, origin=self.base, timeout=timeout)
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.username,
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out, error, idle, replied = [], None, False, False
        deadline = time.monotonic() + timeout
        try:
            while not (idle and replied):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"kernel did not finish within {timeout} s")
                ws.settimeout(min(remaining, 5))
                try:
                    msg = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    error = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(msg["content"]["traceback"][-3:]))
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
        finally:
            ws.close()
        if error:
            raise KernelError(error)
        return "".join(out)
