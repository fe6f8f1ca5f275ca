"""Disposable deployment targets for the Ansible playbooks (``ansible/``).

A target is a container of ``datalab-target:bookworm`` (images/target: Debian with
systemd as PID 1 and the Debian packages the roles install, built once per machine by
``scripts/build-target-image.sh``) on the project's own ``--internal`` network: it has no
route off this machine, and the tests reach it at its address on that network. Ansible
drives it through the ``community.docker.docker`` connection plugin (no SSH). Every
container and the network are removed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
BIN = REPO / ".venv" / "bin"
ARTIFACTS = REPO / "tests" / "artifacts"
NETWORK = f"datalab-ops-{os.getpid()}"
SUBNET = "172.31.250.0/24"
LABEL = "org.datalab.test=ops"
#: The cluster's munge key and slurm.conf the slurm_client role installs (made up here).
MUNGE_KEY = base64.b64encode(secrets.token_bytes(64)).decode()
SLURM_CONF = "ClusterName=austral\nSlurmctldHost=austral-ctl(192.0.2.10)\nAuthType=auth/munge\n"


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the docker CLI (argv list); ``CalledProcessError`` when ``check`` and it fails."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Target:
    """One running target container: its name and its address on the test network."""

    name: str
    ip: str

    def run(self, *argv: str, check: bool = True) -> str:
        """Run ``argv`` in the target as root; its stdout (stripped)."""
        done = docker("exec", self.name, *argv, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed in {self.name}: {done.stderr.strip()}")
        return done.stdout.strip()

    def read(self, path: str) -> str:
        return self.run("cat", path)


@dataclass
class PlaybookRun:
    """An ansible-playbook run: exit code, its host's recap counts, duration (s), output."""

    rc: int
    recap: dict[str, int]
    seconds: float
    output: str


@pytest.fixture(scope="session")
def target_image(dockerd) -> str:
    built = subprocess.run([str(REPO / "scripts" / "build-target-image.sh")], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cannot build the target image:\n{built.stdout}\n{built.stderr}")
    return "datalab-target:bookworm"


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The hub's wheelhouse tar (scripts/build-wheelhouse.sh, reused when its inputs are
    unchanged)."""
    built = subprocess.run([str(REPO / "scripts" / "build-wheelhouse.sh")], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cannot build the wheelhouse:\n{built.stderr}")
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def proxy_bundle() -> Path:
    """The proxy bundle tar (scripts/build-proxy-bundle.sh: configurable-http-proxy at the
    version of package-lock.json, reused when its inputs are unchanged)."""
    built = subprocess.run([str(REPO / "scripts" / "build-proxy-bundle.sh")], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cannot build the proxy bundle:\n{built.stderr}")
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def ops_network(dockerd):
    docker("network", "create", "--internal", "--subnet", SUBNET, "--label", LABEL, NETWORK)
    try:
        yield NETWORK
    finally:
        for name in docker("ps", "-aq", "--filter", f"network={NETWORK}").stdout.split():
            docker("rm", "-f", name, check=False)
        docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="session")
def start_target(target_image, ops_network):
    """A factory: ``start_target(suffix)`` runs a fresh target and waits until systemd
    says the system is running (60 s at most)."""
    started = []

    def start(suffix: str) -> Target:
        name = f"{NETWORK}-{suffix}"
        docker(
            "run", "-d", "--name", name, "--hostname", name, "--network", ops_network,
            "--label", LABEL, "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", target_image,
        )
        started.append(name)
        ip = docker("inspect", name, "--format",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}").stdout.strip()
        target = Target(name, ip)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = target.run("systemctl", "is-system-running", check=False)
            if state in ("running", "degraded"):
                return target
            time.sleep(1)
        raise AssertionError(f"{name}: systemd is {state!r} after 60 s")

    yield start
    for name in started:
        docker("rm", "-f", name, check=False)


@pytest.fixture(scope="session")
def playbook(tmp_path_factory, wheelhouse, proxy_bundle):
    """A function: ``playbook(name, target, **extra_vars)`` runs ansible/<name> against
    ``target`` with the one-host example inventory's variables; returns a
    :class:`PlaybookRun` and keeps the output in tests/artifacts/."""
    workdir = tmp_path_factory.mktemp("ansible")
    runs = {"n": 0}

    def run(name: str, target: Target, **extra_vars) -> PlaybookRun:
        inventory = workdir / f"{target.name}.json"
        inventory.write_text(json.dumps({"all": {
            "hosts": {target.name: {
                "ansible_connection": "community.docker.docker",
                "nginx_tls_server_name": target.name,
                "nginx_tls_self_signed_ips": [target.ip],
                "slurm_client_munge_key": MUNGE_KEY,
                "slurm_client_conf": SLURM_CONF,
            }},
            "children": {"hub": {"hosts": {target.name: {}}}, "slurm_login": {"hosts": {target.name: {}}}},
        }}))
        extra = {"datalab_wheelhouse": str(wheelhouse), "datalab_proxy_bundle": str(proxy_bundle), **extra_vars}
        argv = [
            str(BIN / "ansible-playbook"), "-i", str(inventory),
            "-i", str(ANSIBLE_DIR / "inventories" / "one-host" / "hosts.yml"),
            "--limit", target.name, "-e", json.dumps(extra), name,
        ]
        env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_LOCAL_TEMP": str(workdir / "local"), "TMPDIR": str(workdir)}
        start = time.monotonic()
        done = subprocess.run(argv, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=1200)
        seconds = time.monotonic() - start
        runs["n"] += 1
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"ansible-{runs['n']:02d}-{Path(name).stem}-{target.name.rsplit('-', 1)[-1]}.log").write_text(
            done.stdout + done.stderr)
        match = re.search(rf"^{re.escape(target.name)}\s*:\s*(.*)$", done.stdout, re.M)
        recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))} if match else {}
        return PlaybookRun(done.returncode, recap, seconds, done.stdout[-4000:] + done.stderr[-2000:])

    return run
