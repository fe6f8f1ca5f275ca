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
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port_block
from tests.services.slurm import Bootstrap, SlurmCluster, _slurm_conf, _wait, make_jwt_key

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


@pytest.fixture(scope="session")
def accounting_cluster():
    """A Slurm cluster whose jobs ``sacct`` reports (see the module's docstring)."""
    if os.geteuid() != 0:
        pytest.skip("the Slurm and MariaDB daemons need root")
    boot = Bootstrap("datalab-slurmdbd-", extra=("mysql", "jwt"))
    root = boot.root
    make_jwt_key(root / "jwt" / "jwt_hs256.key")  # the shared slurm.conf accepts JWTs
    ports = free_port_block(26)
    db_port, dbd_port = ports + 22, ports + 23
    name = f"dlacct{os.getpid()}"
    cluster = boot.configure(
        _slurm_conf(root, boot.node, ports)
        .replace(f"ClusterName=dltest{os.getpid()}", f"ClusterName={name}")
        .replace("AccountingStorageType=accounting_storage/none",
                 "AccountingStorageType=accounting_storage/slurmdbd\n"
                 f"AccountingStorageHost=127.0.0.1\nAccountingStoragePort={dbd_port}\n"
                 # the munge socket slurmdbd connections use (AuthInfo covers the others)
                 f"AccountingStoragePass={root}/munge-run/munge.sock\n"
                 "JobCompType=jobcomp/none")
    )
    try:
        boot.start_munge()
        datadir, sock = root / "mysql" / "data", root / "mysql" / "mysqld.sock"
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        mariadb = boot.start(
            ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={db_port}",
             "--bind-address=127.0.0.1", "--user=root", f"--pid-file={root}/mysql/mysqld.pid",
             f"--log-error={root}/mysql/mysqld.err", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M"])
        cluster.processes.insert(0, cluster.processes.pop(cluster.processes.index(mariadb)))
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
        boot.start(["slurmdbd", "-D"], cluster.env)
        _wait("slurmdbd", lambda: _port_open(dbd_port), 60, cluster)
        for command in (["add", "cluster", name],
                        ["add", "account", ",".join(ACCOUNTS), f"cluster={name}"],
                        ["add", "user", "root", f"account={','.join(ACCOUNTS)}", f"cluster={name}"]):
            done = cluster.run("sacctmgr", "-i", *command, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"sacctmgr {' '.join(command)}: {done.stdout}{done.stderr}")
        boot.start_slurm()
        yield cluster
    finally:
        boot.stop({path: f"accounting-{path.name}" for path in (
            root / "slurmctld.log", root / "slurmdbd.log", root / "daemons.log", root / "mysql" / "mysqld.err")})


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
