"""A one-node Slurm cluster with accounting (slurmdbd + MariaDB) for the usage tests.

The shared ``slurm_cluster`` (tests/services/slurm.py) has no accounting, and many tests
use it: ``accounting_cluster`` is a second cluster of its own, started only by the tests
that ask for it. It has its own munged, a MariaDB server (Debian's ``mariadb-server``:
its own data directory and socket, TCP on 127.0.0.1 only, a generated password for the
``slurm`` database user), slurmdbd (Debian's ``slurmdbd``, on 127.0.0.1) and slurmctld +
slurmd with ``AccountingStorageType=accounting_storage/slurmdbd``, so ``sacct`` answers.
Every daemon is a child of the test run, stopped by PID at the end; ``SLURM_CONF`` is
not changed for the run (commands take ``cluster.env``). Nothing is installed here:
scripts/system-deps.sh installs the packages. Startup takes about 10 s.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, free_port_block
from tests.services.slurm import SlurmCluster, _slurm_conf, _wait

#: Slurm accounts of the cluster (those of datalab.example.yaml's entitlements), root
#: may submit to each.
ACCOUNTS = ("univ-alpha", "labo-atlas")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _slurmdbd_conf(root: Path, dbd_port: int, db_port: int, password: str) -> str:
    return f"""\
AuthType=auth/munge
AuthInfo=socket={root}/munge-run/munge.sock
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser=root
PidFile={root}/slurmdbd.pid
LogFile={root}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={password}
StorageLoc=slurm_acct_db_{os.getpid()}
"""


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def accounting_cluster():
    """A Slurm cluster whose jobs ``sacct`` reports (see the module's docstring)."""
    if os.geteuid() != 0:
        pytest.skip("the Slurm and MariaDB daemons need root")
    root = Path(tempfile.mkdtemp(prefix="datalab-slurmdbd-"))
    root.chmod(0o755)
    for sub in ("munge", "munge-run", "state", "spool", "mysql"):
        (root / sub).mkdir()
    (root / "munge").chmod(0o700)
    node = socket.gethostname().split(".")[0]
    ports = free_port_block(26)
    db_port, dbd_port = ports + 22, ports + 23
    name = f"dlacct{os.getpid()}"
    conf = root / "slurm.conf"
    conf.write_text(
        _slurm_conf(root, node, ports)
        .replace(f"ClusterName=dltest{os.getpid()}", f"ClusterName={name}")
        .replace("AccountingStorageType=accounting_storage/none",
                 "AccountingStorageType=accounting_storage/slurmdbd\n"
                 f"AccountingStorageHost=127.0.0.1\nAccountingStoragePort={dbd_port}\n"
                 # the munge socket slurmdbd connections use (AuthInfo covers the others)
                 f"AccountingStoragePass={root}/munge-run/munge.sock\n"
                 "JobCompType=jobcomp/none")
    )
    conf.chmod(0o644)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root=root, conf=conf, node=node, env=env)
    logs = open(root / "daemons.log", "ab")
    try:
        subprocess.run(["mungekey", "--create", f"--keyfile={root}/munge/munge.key"], check=True,
                       capture_output=True)
        munge = root / "munge"
        cluster.processes.append(subprocess.Popen(
            ["munged", "-F", f"--socket={root}/munge-run/munge.sock", f"--key-file={munge}/munge.key",
             f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed",
             f"--log-file={munge}/munged.log"], stdout=logs, stderr=subprocess.STDOUT))
        _wait("munged", lambda: (root / "munge-run" / "munge.sock").exists(), 20, cluster)

        datadir, sock = root / "mysql" / "data", root / "mysql" / "mysqld.sock"
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        mariadb = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={db_port}",
             "--bind-address=127.0.0.1", "--user=root", f"--pid-file={root}/mysql/mysqld.pid",
             f"--log-error={root}/mysql/mysqld.err", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M"], stdout=logs, stderr=subprocess.STDOUT)
        cluster.processes.insert(0, mariadb)
        _wait("mariadbd", lambda: sock.exists() and _port_open(db_port), 60, cluster)
        password = secrets.token_hex(16)
        database = f"slurm_acct_db_{os.getpid()}"
        subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={sock}", "-u", "root", "-e",
             f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{password}';"
             f"GRANT ALL ON {database}.* TO 'slurm'@'127.0.0.1';"],
            check=True, capture_output=True, timeout=60)

        dbd_conf = root / "slurmdbd.conf"
        dbd_conf.write_text(_slurmdbd_conf(root, dbd_port, db_port, password))
        dbd_conf.chmod(0o600)
        cluster.processes.append(subprocess.Popen(
            ["slurmdbd", "-D"], env=env,
            stdout=logs, stderr=subprocess.STDOUT))
        _wait("slurmdbd", lambda: _port_open(dbd_port), 60, cluster)
        for command in (["add", "cluster", name],
                        ["add", "account", ",".join(ACCOUNTS), f"cluster={name}"],
                        ["add", "user", "root", f"account={','.join(ACCOUNTS)}", f"cluster={name}"]):
            done = cluster.run("sacctmgr", "-i", *command, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"sacctmgr {' '.join(command)}: {done.stdout}{done.stderr}")

        cluster.processes.append(subprocess.Popen(
            ["slurmctld", "-D", "-i", "-f", str(conf)], env=env, stdout=logs, stderr=subprocess.STDOUT))
        _wait("slurmctld", lambda: cluster.run("scontrol", "ping", check=False).stdout.count("UP") > 0, 30, cluster)
        cluster.processes.append(subprocess.Popen(
            ["slurmd", "-D", "-N", node, "-f", str(conf)], env=env, stdout=logs, stderr=subprocess.STDOUT))
        _wait("slurmd", lambda: cluster.run("sinfo", "-h", "-o", "%t", check=False).stdout.strip() == "idle",
              30, cluster)
        yield cluster
    finally:
        if any(p.poll() is None for p in cluster.processes[-2:]):
            cluster.cancel_all()
        for process in reversed(cluster.processes):
            _terminate(process)
        logs.close()
        ARTIFACTS.mkdir(exist_ok=True)
        for path in (root / "slurmctld.log", root / "slurmdbd.log", root / "daemons.log",
                     root / "mysql" / "mysqld.err"):
            if path.exists():
                shutil.copy(path, ARTIFACTS / f"accounting-{path.name}")
        shutil.rmtree(root, ignore_errors=True)


def wait_accounted(cluster: SlurmCluster, job_id: str, timeout: float = 60) -> str:
    """The job's ``sacct`` line once slurmdbd has recorded its end (parsable2:
    JobID|Account|AllocCPUS|ElapsedRaw|State|End)."""
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        out = cluster.run("sacct", "-X", "-n", "--parsable2", "-j", job_id,
                          "--format=JobID,Account,AllocCPUS,ElapsedRaw,State,End", check=False).stdout
        line = out.strip().splitlines()[0] if out.strip() else ""
        if line and line.split("|")[4] == "COMPLETED" and line.split("|")[5] not in ("", "Unknown"):
            return line
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} not accounted after {timeout} s (sacct: {line!r})")
