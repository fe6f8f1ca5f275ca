"""Listeners of the tests' own, to prove what code run for a person can or cannot reach,
without ever sending a packet off this machine.

:func:`listener`: a TCP server on an address of this host. :func:`outside_namespace`: a
network namespace of the test's own, joined to the host by a veth pair (host side
``.1``, namespace side ``.2`` of a /30 of 10.213.0.0/16), with a TCP server in it: for a
process of the host or a container, an address off the machine (the host routes to it,
``net.ipv4.ip_forward`` permitting). Both are removed on exit. :func:`probe_program`: the
Python a container or a kernel runs to try a TCP connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

#: Seconds a probe waits for a TCP connection.
PROBE_TIMEOUT = 3


def probe_program(host: str, port: int) -> str:
    """Python statements printing ``open`` when a TCP connection to ``host:port`` succeeds
    within :data:`PROBE_TIMEOUT` seconds, else the error's class name."""
    return (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout={PROBE_TIMEOUT}).close()\n"
        "    print('open')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
    )


def connects(host: str, port: int) -> bool:
    """True when this process opens a TCP connection to ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def listener(address: str):
    """A TCP server on ``address`` (a port the kernel picks), accepting and closing
    connections until exit; yields its port."""
    server = socket.socket()
    server.bind((address, 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


SERVER = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind((sys.argv[1], int(sys.argv[2])))\n"
    "s.listen(16)\n"
    "while True:\n"
    "    s.accept()[0].close()\n"
)


@contextlib.contextmanager
def outside_namespace(tag: str, port: int = 8080):
    """A namespace ``dl<pid><tag>`` with a TCP server on ``<ns address>:port``; yields
    ``(host side address, namespace address, port)`` once this host connects to it."""
    index = (os.getpid() * 7 + sum(map(ord, tag))) % 16000
    base = f"10.213.{index // 64}.{(index % 64) * 4}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    host_side, ns_side = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
    name = f"dl{os.getpid() % 100000}{tag}"
    veth = f"v{os.getpid() % 100000}{tag}"[:15]
    server = None
    _ip("netns", "add", name)
    try:
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("addr", "add", f"{host_side}/30", "dev", veth)
        _ip("link", "set", veth, "up")
        _ip("-n", name, "addr", "add", f"{ns_side}/30", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "route", "add", "default", "via", host_side)
        server = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", SERVER, ns_side, str(port)])
        deadline = time.monotonic() + 10
        while not connects(ns_side, port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server of namespace {name} does not answer")
            time.sleep(0.1)
        yield host_side, ns_side, port
    finally:
        if server is not None:
            server.kill()
            server.wait(10)
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
