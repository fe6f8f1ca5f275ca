"""Where labs reach the hub, only its API answers (hub.apigate): tried as a lab would,
against a real tornado application with a page, an API and a catch-all."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets.config import Config

from hub.apigate import ApiGate, listen_for_labs


class Page(web.RequestHandler):
    def get(self, *args):
        self.write("page de connexion")


class Api(web.RequestHandler):
    def get(self, *args):
        self.write({"version": "5", "ip": self.request.remote_ip})


def application() -> web.Application:
    return web.Application([
        (r"/hub/api", Api),
        (r"/hub/api/(.*)", Api),
        (r"/hub/login", Page),
        (r"/hub/(.*)", Page),
    ])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fetch(url: str, **kwargs) -> tuple[int, str]:
    try:
        r = await AsyncHTTPClient().fetch(url, **kwargs)
        return r.code, r.body.decode()
    except HTTPClientError as e:
        return e.code, e.response.body.decode() if e.response else ""


def test_the_gate_answers_the_api_and_refuses_every_page():
    async def scenario():
        port = free_port()
        c = Config()
        listen_for_labs(c, f"http://127.0.0.1:{port}")
        servers = ApiGate(config=c).listen(application(), "/hub/api")
        base = f"http://127.0.0.1:{port}"
        try:
            assert (await fetch(f"{base}/hub/api"))[0] == 200
            code, body = await fetch(f"{base}/hub/api/users", headers={"X-Forwarded-For": "10.9.9.9"})
            assert code == 200 and '"ip": "127.0.0.1"' in body  # the lab's own address, not the header's
            for path in ("/hub/login", "/hub/admin", "/hub/token", "/hub/apix", "/hub/api%2F..%2Flogin",
                         "/hub//api/users", "/hub/API/users", "/"):
                code, body = await fetch(f"{base}{path}")
                assert code == 404 and "connexion" not in body, path
            # sent as is, the path stays below the API: the API's routes answer it, never a page
            code, body = await fetch(f"{base}/hub/api/../login")
            assert "connexion" not in body and '"version"' in body
        finally:
            for server in servers:
                server.stop()

    asyncio.run(scenario())


def test_each_address_is_listed_once():
    c = Config()
    listen_for_labs(c, "http://10.1.0.1:8001")
    listen_for_labs(c, "http://10.1.0.1:8001/")
    listen_for_labs(c, "http://[fd00::2]:8001")
    assert c.ApiGate.addresses == ["10.1.0.1:8001", "[fd00::2]:8001"]


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "[::1]:{port}"])
def test_the_gate_listens_on_ipv4_and_ipv6_hosts(address):
    async def scenario():
        port = free_port()
        c = Config()
        c.ApiGate.addresses = [address.format(port=port)]
        servers = ApiGate(config=c).listen(application(), "/hub/api")
        host = address.split("]")[0] + "]" if address.startswith("[") else "127.0.0.1"
        try:
            assert (await fetch(f"http://{host}:{port}/hub/api/"))[0] == 200
        finally:
            for server in servers:
                server.stop()

    asyncio.run(scenario())
