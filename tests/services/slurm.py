"""A real single-node Slurm cluster on 127.0.0.1 for the tests (Debian's slurm-wlm, munge).

The session fixture ``slurm_cluster`` writes a slurm.conf and a munge key into a fresh
directory, starts munged, slurmctld and slurmd in the foreground (as child processes of
the test run), and stops them by PID at the end, after cancelling every job. Its cluster
name, ports, munge socket and state directories are its own, so it never meets another
Slurm on the machine. ``SLURM_CONF`` is set for the run, so hubs started by the tests and
the Slurm commands they run use this cluster.

``slurm_rest`` adds slurmrestd (Slurm's REST API, JWT authentication) to that cluster:
slurmctld accepts JWTs signed with the cluster's ``jwt_hs256.key`` (``AuthAltTypes``),
slurmrestd runs as ``nobody`` on 127.0.0.1 and passes each request's token through.

``austral_logins`` creates the cluster login accounts (``austral<n>-...``) with homes in
the cluster directory, and removes them at the end. Nothing is installed here:
scripts/system-deps.sh installs the packages.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from tests.conftest import ARTIFACTS, REPO, RunningHub, free_port_block

NODE_MEMORY_MIB = 8192
#: More CPUs than this machine has (``SlurmdParameters=config_overrides``): two labs and a
#: report job run at once, as on one of Austral's nodes; what they run is small.
NODE_CPUS = 4


@dataclass
class SlurmCluster:
    """A running test cluster: ``conf`` is its slurm.conf, ``env`` the environment its
    commands need, ``partition`` the default partition, ``node`` its one node."""

    root: Path
    conf: Path
    node: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    restart_controller: Callable[[], float] | None = None
    partition: str = "debug"
    where: list[str] = field(default_factory=list)  # where commands run: ["ip", "netns", "exec", NS] or here

    def run(self, *argv: str, check: bool = True, user: str | None = None) -> subprocess.CompletedProcess:
        """Run a Slurm command (as ``user`` through sudo when given)."""
        prefix = [*self.where, *(["sudo", "-n", "-E", "-u", user, "--"] if user else [])]
        return subprocess.run([*prefix, *argv], env=self.env, capture_output=True, text=True,
                              check=check, timeout=60)

    def jobs(self, account: str | None = None) -> list[dict[str, str]]:
        """Jobs squeue lists: id, name, account, user, state, reason."""
        out = self.run("squeue", "-h", "-o", "%i|%j|%a|%u|%T|%r").stdout
        rows = [dict(zip(("id", "name", "account", "user", "state", "reason"), line.split("|")))
                for line in out.splitlines() if line.strip()]
        return [r for r in rows if account is None or r["account"] == account]

    def job_state(self, job_id: str) -> str:
        """The job's state, or "" once Slurm has forgotten it."""
        out = self.run("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T", check=False).stdout
        return out.strip()

    def wait_state(self, job_id: str, states: set[str], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.job_state(job_id)
            if state in states:
                return state
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} not in {states} after {timeout} s (now {self.job_state(job_id)!r})")

    def cancel_all(self) -> None:
        ids = self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
        if ids:
            self.run("scancel", *ids, check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = self.run("squeue", "-h", "-o", "%T", check=False).stdout.split()
            if not set(states) - {"CANCELLED", "COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}:
                return
            time.sleep(0.3)


def _slurm_conf(root: Path, node: str, ports: int) -> str:
    return f"""\
ClusterName=dltest{os.getpid()}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports}
SlurmdPort={ports + 1}
SrunPortRange={ports + 2}-{ports + 21}
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
AuthInfo=socket={root}/munge-run/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
EnforcePartLimits=ALL
ReturnToService=2
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key={root}/jwt/jwt_hs256.key
MinJobAge=300
# pending jobs' expected start computed every second (backfill's default: 30 s)
SchedulerParameters=bf_interval=1
KillWait=5
SlurmdParameters=config_overrides
NodeName={node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={NODE_MEMORY_MIB} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
PartitionName=court Nodes={node} MaxTime=00:30:00 State=UP
"""


def _wait(what: str, probe, timeout: float, cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in cluster.processes:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited ({p.returncode}) while waiting for {what}")
        if probe():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout} s")


def terminate(process: subprocess.Popen) -> None:
    """Stop a daemon the tests started: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Bootstrap:
    """The one-node test clusters' common life (``slurm_cluster`` here, the accounting
    cluster of tests/services/slurmdbd.py): a fresh root directory (munge key and socket,
    state, spool, ``extra`` sub-directories), munged, then slurmctld and slurmd in the
    foreground as children of the test run; at the end every job cancelled, every daemon
    stopped by PID, the logs kept as artifacts, the directory removed."""

    def __init__(self, prefix: str, extra: tuple[str, ...] = ()):
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.root.chmod(0o755)
        for sub in ("munge", "munge-run", "state", "spool", *extra):
            (self.root / sub).mkdir()
        (self.root / "munge").chmod(0o700)  # the key; the socket's directory must be world-traversable
        self.node = socket.gethostname().split(".")[0]
        self.logs = open(self.root / "daemons.log", "ab")
        self.cluster: SlurmCluster | None = None

    def configure(self, conf_text: str) -> SlurmCluster:
        """Write ``slurm.conf``; the cluster whose commands use it."""
        conf = self.root / "slurm.conf"
        conf.write_text(conf_text)
        conf.chmod(0o644)
        self.cluster = SlurmCluster(root=self.root, conf=conf, node=self.node,
                                    env={**os.environ, "SLURM_CONF": str(conf)})
        return self.cluster

    def start(self, process: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a daemon of the cluster, its output in ``daemons.log``."""
        daemon = subprocess.Popen(process, env=env, stdout=self.logs, stderr=subprocess.STDOUT)
        self.cluster.processes.append(daemon)
        return daemon

    def start_munge(self) -> None:
        subprocess.run(["mungekey", "--create", f"--keyfile={self.root}/munge/munge.key"], check=True,
                       capture_output=True)
        munge = self.root / "munge"
        self.start(["munged", "-F", f"--socket={self.root}/munge-run/munge.sock", f"--key-file={munge}/munge.key",
                    f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed",
                    f"--log-file={munge}/munged.log"])
        _wait("munged", lambda: (self.root / "munge-run" / "munge.sock").exists(), 20, self.cluster)

    def start_slurm(self) -> None:
        cluster = self.cluster
        self.start(["slurmctld", "-D", "-i", "-f", str(cluster.conf)], cluster.env)
        _wait("slurmctld", lambda: cluster.run("scontrol", "ping", check=False).stdout.count("UP") > 0, 30, cluster)
        self.start(["slurmd", "-D", "-N", self.node, "-f", str(cluster.conf)], cluster.env)
        _wait("slurmd", lambda: cluster.run("sinfo", "-h", "-o", "%t", check=False).stdout.strip() == "idle",
              30, cluster)
        cluster.restart_controller = self.restart_controller

    def restart_controller(self) -> float:
        """Stop slurmctld (SIGTERM, as ``systemctl restart slurmctld`` does) and start it
        again on its saved state; the seconds until it answered again."""
        cluster = self.cluster
        index, old = next((i, p) for i, p in enumerate(cluster.processes) if p.args[0] == "slurmctld")
        began = time.monotonic()
        terminate(old)
        cluster.processes[index] = subprocess.Popen(old.args, env=cluster.env, stdout=self.logs,
                                                    stderr=subprocess.STDOUT)
        _wait("slurmctld", lambda: cluster.run("scontrol", "ping", check=False).stdout.count("UP") > 0, 30, cluster)
        return time.monotonic() - began

    def stop(self, artifacts: dict[Path, str]) -> None:
        """Cancel the jobs (when slurmctld and slurmd were started), stop every daemon,
        copy ``artifacts`` (path -> name) to tests/artifacts, remove the directory."""
        if self.cluster is not None:
            if any(p.poll() is None for p in self.cluster.processes[-2:]):
                self.cluster.cancel_all()
            for process in reversed(self.cluster.processes):
                terminate(process)
        self.logs.close()
        ARTIFACTS.mkdir(exist_ok=True)
        for path, name in artifacts.items():
            if path.exists():
                shutil.copy(path, ARTIFACTS / name)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster():
    """The test cluster, started once per run (about 5 s), stopped at the end."""
    if os.geteuid() != 0:
        pytest.skip("the Slurm daemons and the cluster login accounts need root")
    boot = Bootstrap("datalab-slurm-", extra=("homes", "jwt"))
    make_jwt_key(boot.root / "jwt" / "jwt_hs256.key")
    cluster = boot.configure(_slurm_conf(boot.root, boot.node, free_port_block(22)))
    saved = os.environ.get("SLURM_CONF")
    try:
        boot.start_munge()
        boot.start_slurm()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        yield cluster
    finally:
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved
        boot.stop({boot.root / name: f"slurm-{name}" for name in ("slurmctld.log", "slurmd.log", "daemons.log")})


def make_jwt_key(path: Path) -> None:
    """A new HS256 key for slurmctld's ``auth/jwt`` (mode 0600, as the hub requires)."""
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))


@dataclass
class SlurmRest:
    """slurmrestd in front of the test cluster: ``url`` (without ``/slurm/...``),
    ``key`` the cluster's JWT key, ``log`` slurmrestd's log (one line per request)."""

    url: str
    key: Path
    log: Path

    def requests(self, what: str) -> int:
        """How many requests slurmrestd logged containing ``what`` (e.g. ``POST /slurm/v0.0.38/job/submit``)."""
        return self.log.read_text(errors="replace").count(what)


@pytest.fixture(scope="session")
def slurm_rest(slurm_cluster):
    """slurmrestd (JWT authentication, OpenAPI v0.0.38) for the test cluster, started once
    by the tests that ask for it, stopped by PID at the end."""
    port = free_port_block(1)
    log_path = slurm_cluster.root / "slurmrestd.log"
    rest = SlurmRest(f"http://127.0.0.1:{port}", slurm_cluster.root / "jwt" / "jwt_hs256.key", log_path)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            ["slurmrestd", "-f", str(slurm_cluster.conf), "-a", "rest_auth/jwt", "-s", "openapi/v0.0.38",
             "-u", "nobody", "-v", f"127.0.0.1:{port}"],
            env={**slurm_cluster.env, "SLURM_JWT": "daemon"}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _answers(rest.url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slurmrestd not answering:\n{log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield rest
    finally:
        terminate(process)
        ARTIFACTS.mkdir(exist_ok=True)
        if log_path.exists():
            shutil.copy(log_path, ARTIFACTS / "slurm-slurmrestd.log")


def _answers(url: str) -> bool:
    try:
        with socket.create_connection(tuple(url.removeprefix("http://").split(":")), timeout=1):  # type: ignore[arg-type]
            return True
    except OSError:
        return False


class AustralLogins:
    """Cluster login accounts of one test run: ``login(short)`` is
    ``austral<n><tag>-<short>``, created with a private home on first use. Ordinary
    accounts (uid 1000 or more), as on a cluster: the hub refuses system accounts as logins."""

    def __init__(self, homes: Path, tag: str = ""):
        self.homes = homes
        self.prefix = f"austral{os.getpid() % 100000}{tag}-"
        self.created: list[str] = []

    def login(self, short: str) -> str:
        name = self.prefix + short
        try:
            pwd.getpwnam(name)
        except KeyError:
            home = self.homes / name
            subprocess.run(
                ["useradd", "--user-group", "--create-home", "--home-dir", str(home),
                 "--shell", "/bin/bash", "--comment", "DataLab test cluster login", name],
                check=True, capture_output=True)
            home.chmod(0o700)
            self.created.append(name)
        return name

    def home(self, short: str) -> Path:
        return Path(pwd.getpwnam(self.login(short)).pw_dir)

    def remove(self) -> None:
        for name in self.created:
            subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture(scope="session")
def austral_logins(slurm_cluster):
    logins = AustralLogins(slurm_cluster.root / "homes")
    try:
        yield logins
    finally:
        logins.remove()


def slurm_hub_overrides(cluster: SlurmCluster, logins: AustralLogins, start_timeout: int = 25) -> dict:
    """Deployment-file overrides for a hub whose ``austral`` profile runs on the test
    cluster: univ-alpha is entitled (partitions debug and court, 2 cores, 4G, 1 h);
    analyste1 maps to a login through the table, other univ-alpha users through the
    pattern ``austral<n>-{name}``; ``cartographe`` has an account, ``sanscompte`` none;
    ``analyste-beta`` belongs to univ-beta, which is not entitled."""
    config = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    auth = config["auth"]
    auth["demo_users"] += [
        {"name": "cartographe", "partner": "univ-alpha", "role": "analyst"},
        {"name": "sanscompte", "partner": "univ-alpha", "role": "analyst"},
        {"name": "analyste-beta", "partner": "univ-beta", "role": "analyst"},
    ]
    logins.login("cartographe")
    slurm = config["slurm"]
    slurm["entitlements"][0] = {
        "partner": "univ-alpha", "account": "univ-alpha", "partitions": ["debug", "court"],
        "qos": ["normal"], "max_cores": 2, "max_memory": "4G", "max_gpus": 1,
        "max_walltime": "1:00", "default_cores": 1, "default_memory": "1G",
        "default_walltime": "0:30",
    }
    slurm["login"] = {"claim": "oauth_user.austral_login",
                      "table": {"analyste1": logins.login("ana1")},
                      "pattern": logins.prefix + "{name}"}
    spawner = {**config["spawner"], "start_timeout": start_timeout}
    return {"auth": auth, "slurm": slurm, "spawner": spawner}


def rest_overrides(overrides: dict, cluster: SlurmCluster, rest: SlurmRest) -> dict:
    """``overrides`` (from :func:`slurm_hub_overrides`) with ``slurm.transport: rest``
    through ``rest``. The jobs' environment is the hub's, without SLURM_CONF: the
    operator setup exports the nodes' one, as a deployment would (``slurm.lab.setup``)."""
    slurm = {**overrides["slurm"], "transport": "rest", "rest": {"url": rest.url, "jwt_key_file": str(rest.key)},
             "lab": {**overrides["slurm"].get("lab", {}), "setup": f"export SLURM_CONF={cluster.conf}"}}
    return {**overrides, "slurm": slurm}


@pytest.fixture(scope="session")
def slurm_hub(slurm_cluster, austral_logins):
    """A hub whose univ-alpha users may start labs on the test cluster (see
    :func:`slurm_hub_overrides`), shared by the Slurm tests of one run."""
    workdir = Path(tempfile.mkdtemp(prefix="datalab-slurmhub-"))
    workdir.chmod(0o755)
    running = RunningHub(workdir, slurm_hub_overrides(slurm_cluster, austral_logins))
    try:
        running.start()
        yield running
    finally:
        running.stop()
        slurm_cluster.cancel_all()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(running.log_path, ARTIFACTS / "slurm-hub.log")
        running.remove_accounts()
        shutil.rmtree(workdir, ignore_errors=True)


class Blocker:
    """A job holding every core of the node, so that labs wait with reason Resources."""

    def __init__(self, cluster: SlurmCluster, logins: AustralLogins):
        self.cluster = cluster
        self.login = logins.login("bloc")
        self.job_id = ""

    def __enter__(self) -> Blocker:
        self.job_id = self.cluster.run(
            "sbatch", "--parsable", "--account=autre", f"--cpus-per-task={NODE_CPUS}", "--mem=512M",
            "--time=0:10:00", "--output=/dev/null", "--wrap", "sleep 600", user=self.login,
        ).stdout.strip()
        self.cluster.wait_state(self.job_id, {"RUNNING"})
        return self

    def release(self) -> None:
        if self.job_id:
            self.cluster.run("scancel", self.job_id, check=False)
            self.job_id = ""

    def __exit__(self, *exc) -> None:
        self.release()


@pytest.fixture
def blocker(slurm_cluster, austral_logins):
    """A :class:`Blocker` to enter (``with blocker: ...``) or release by hand."""
    held = Blocker(slurm_cluster, austral_logins)
    try:
        yield held
    finally:
        held.release()
