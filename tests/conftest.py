"""Shared fixtures: one real hub (JupyterHub + configurable-http-proxy) per test run,
on free loopback ports, with its own data directory, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
import yaml

from hub.storage import Layout
from tests.clock import QUIET_CRON

pytest_plugins = [
    "tests.services.leftovers",  # first: the run fails when it leaves a process behind
    "tests.services.dockerd",
    "tests.services.oidc",
    "tests.services.slurm",
    "tests.services.austral",
    "tests.collabhub",  # before reports_hub, which imports it
    "tests.services.slurmdbd",
    "tests.services.reports_hub",
    "tests.airlockhub",
]

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"  # logs and screenshots kept after a run
PASSWORD = "test-password-0123"


def free_port_block(size: int = 8) -> int:
    """A port p with p..p+size-1 all free on 127.0.0.1 (the hub uses p, p+1, p+2, its
    services the next ones), below the kernel's ephemeral range: a hub restarted on the
    same ports must not find one taken meanwhile by an outgoing connection or a kernel's
    port (both come from that range)."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(10000, ephemeral_low - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no block of free ports on 127.0.0.1")


class RunningHub:
    """A hub process started from the example deployment with test overrides."""

    made = 0  # hubs made by this test run, numbering their account prefixes

    def __init__(self, workdir: Path, overrides: dict | None = None):
        self.workdir = workdir
        self.port = free_port_block()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = workdir / "data"
        config = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
        config["storage"] = {
            "data_dir": str(self.data_dir),
            "library_source": str(REPO / "shared_notebooks"),
        }
        # accounts of their own, so that two hubs (of this run or of another run on this
        # machine) never share one: a lab or dashboard of one hub keeps its account busy
        RunningHub.made += 1
        config["spawner"]["account_prefix"] = f"t{os.getpid() % 100000}n{RunningHub.made}-"
        config.update(overrides or {})
        for schedule in config.get("reports", {}).get("schedules", []):
            schedule["cron"] = QUIET_CRON  # the deployment's reports fire only when a test asks
        self.account_prefix = config["spawner"]["account_prefix"]
        for seed in config.get("dashboards", {}).get("publish", []):
            seed["notebook"] = str(REPO / seed["notebook"])
        self.config_path = workdir / "datalab.yaml"
        self.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        self.log_path = workdir / "hub.log"
        self.process: subprocess.Popen | None = None
        self.command_prefix: list[str] = []  # e.g. ["ip", "netns", "exec", NS]: the hub on a host of its own

    @property
    def layout(self) -> Layout:
        return Layout(self.data_dir)

    def start(self, timeout: float = 60, poll: float = 0.3) -> None:
        """Start the hub; return once ``GET /hub/api/`` answers 200 (asked every ``poll`` s)."""
        env = {
            **os.environ,
            "DATALAB_CONFIG": str(self.config_path),
            "DATALAB_PORT": str(self.port),
            "DATALAB_DEMO_PASSWORD": PASSWORD,
        }
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*self.command_prefix, str(REPO / ".venv" / "bin" / "jupyterhub"), "-f", str(REPO / "jupyterhub_config.py")],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(poll)
        raise RuntimeError(f"hub not answering after {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the hub, as a crash would; the proxy it started keeps running. When the
        test run is the subreaper of what it starts, that proxy becomes this process's
        child: a thread collects it when it ends, so that the next hub, which stops it,
        does not find it still there as a zombie ("Failed to stop proxy")."""
        pid_file = self.layout.hub / "proxy.pid"
        proxy = int(pid_file.read_text()) if pid_file.exists() else None
        self.process.kill()
        self.process.wait(timeout=60)
        if proxy is not None:
            threading.Thread(target=_collect, args=(proxy,), daemon=True).start()

    def service_process(self, module: str) -> psutil.Process:
        """The managed service running ``module`` (e.g. ``hub.services.reports``), a child
        of the hub (its lifeline wrapper exec'd it)."""
        for child in psutil.Process(self.process.pid).children():
            try:
                if module in child.cmdline():
                    return child
            except psutil.NoSuchProcess:
                continue
        raise AssertionError(f"no {module} service under the hub")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def remove_accounts(self) -> None:
        """Delete the Unix accounts this hub created (their homes are in our data dir)."""
        homes = str(self.layout.homes) + "/"
        for entry in pwd.getpwall():
            if entry.pw_dir.startswith(homes):
                subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)


def _collect(pid: int) -> None:
    """Wait for ``pid``'s end if it is this process's child (else nothing to do)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def open_workdir(prefix: str) -> Path:
    """A new directory for a test hub, outside pytest's 0700 temporary tree: labs run as
    other Unix accounts, which must be able to reach their homes."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir.chmod(0o755)
    return workdir


@contextlib.contextmanager
def served(running: RunningHub, artifact: str):
    """Start ``running``; on exit stop it, keep its log as ``tests/artifacts/<artifact>``,
    delete the Unix accounts it made and its directory."""
    try:
        running.start()
        yield running
    finally:
        running.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        if running.log_path.exists():
            shutil.copy(running.log_path, ARTIFACTS / artifact)
        if os.geteuid() == 0:
            running.remove_accounts()
        shutil.rmtree(running.workdir, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def host_firewall():
    """Hubs started as root keep firewall chains on this host (hub.backends.netfilter):
    the local backend's health-data chain, created by this run, is removed at its end."""
    from hub.backends import netfilter
    from hub.backends.local.firewall import CHAIN

    kept = netfilter.available() and bool(netfilter.chains_named(CHAIN))
    yield
    if netfilter.available() and not kept:
        for family in netfilter.families():
            netfilter.remove_chain(family, "OUTPUT", [], CHAIN)


@pytest.fixture(scope="session")
def hub():
    """The hub shared by the integration and browser tests of one run."""
    with served(RunningHub(open_workdir("datalab-test-")), "hub.log") as running:
        yield running
