"""A multi-host Slurm cluster on this machine, made of network namespaces, for the tests.

The module fixture ``austral`` reproduces how DataLab meets Austral: the hub is a VM
outside the cluster, on the university network, and reaches the cluster's network
through a router; the compute nodes are other hosts. Every "host" is a network
namespace the fixture makes (Debian's iproute2: ``ip netns``, veth pairs, bridges)::

      test runner (this machine's own namespace: the users' browsers)
        | 10.214.0.100
        |                     outside network 10.214.0.0/24 (bridge "lan-out")
        +----------------+------------------------------------+
                         | 10.214.0.2                         | 10.214.0.1
                       [hub]                                [gw]  router, ip_forward
        proxy and hub API on 10.214.0.2                       | 10.213.0.1
        (127.0.0.1 inside: proxy API, reports)                |
                                      cluster network 10.213.0.0/24 (bridge "lan-cl")
             +-------------------------+----------------------+---------------+
             | 10.213.0.2              | 10.213.0.11          | 10.213.0.12
           [ctl] slurmctld :6817,    [n1] slurmd -N n1      [n2] slurmd -N n2
                 slurmrestd :6820         :6818, labs            :6818, labs

- The hub and the cluster hosts route to each other through ``gw`` only (default
  routes); the test runner has a route to the outside network only, so it cannot reach
  the cluster: whatever the hub does with Slurm goes through the router, as from a VM
  outside Austral. The hub reaches each lab at its node's address (``NodeAddr``), the
  lab reaches the hub's API at 10.214.0.2 (``slurm.hub_address``).
- Namespaces share this machine's host name: the controller is declared under it (with
  the ``ctl`` address), slurmd gets its node name from ``-N``. The daemons listen on any
  address (no ``NoCtldInAddrAny``: it would bind to the host name's 127.0.x), which in a
  namespace means that host's own interfaces only.
- Each node declares one CPU, so that two one-core jobs land on two hosts.
- munged runs once, on this machine's file system (a Unix socket: namespaces share it,
  as the hosts of a cluster share one munge key). The hub host uses it only with
  ``slurm.transport: cli`` (a submit host); with ``rest`` it talks to slurmrestd only.
- Nodes, controller and hub share this machine's file system: homes and the hub's data
  directory are "shared project directories" as on Austral.

Daemons are stopped by PID, then the namespaces and the runner's veth are deleted, also
when the start fails half-way. Only the tests that ask for ``austral`` start it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, RunningHub
from tests.services.slurm import AustralLogins, Bootstrap, SlurmCluster, SlurmRest, _wait, make_jwt_key

CLUSTER_NET = "10.213.0"
OUTSIDE_NET = "10.214.0"
HUB_ADDRESS = f"{OUTSIDE_NET}.2"
RUNNER_ADDRESS = f"{OUTSIDE_NET}.100"
CONTROLLER = f"{CLUSTER_NET}.2"
NODES = {"n1": f"{CLUSTER_NET}.11", "n2": f"{CLUSTER_NET}.12"}
REST_PORT = 6820
NODE_MEMORY_MIB = 4096


def ip(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``ip ARGV`` (in namespace ``netns`` when given)."""
    where = ["ip", "netns", "exec", netns] if netns else []
    done = subprocess.run([*where, "ip", *argv], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args)}: {done.stderr.strip()}")
    return done


@dataclass
class Network:
    """The namespaces and links of one run; ``names`` maps a host to its namespace."""

    tag: str
    names: dict[str, str] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)
    runner_link: str = ""

    def ns(self, host: str) -> str:
        return self.names[host]

    def exec(self, host: str) -> list[str]:
        """The prefix running a command on ``host``: ``nsenter --net`` into its namespace
        (``ip netns exec`` would also mount a fresh /sys, hiding /sys/fs/cgroup, without
        which slurmd refuses to start)."""
        return ["nsenter", f"--net=/run/netns/{self.ns(host)}", "--"]

    def build(self) -> None:
        for host in ("gw", "ctl", *NODES, "hub"):
            self.names[host] = f"{self.tag}-{host}"
            ip("netns", "add", self.names[host])
            self.made.append(self.names[host])
            ip("link", "set", "lo", "up", netns=self.names[host])
        gw = self.ns("gw")
        for bridge, net in (("lan-cl", CLUSTER_NET), ("lan-out", OUTSIDE_NET)):
            ip("link", "add", bridge, "type", "bridge", netns=gw)
            ip("addr", "add", f"{net}.1/24", "dev", bridge, netns=gw)
            ip("link", "set", bridge, "up", netns=gw)
        subprocess.run(["ip", "netns", "exec", gw, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True,
                       capture_output=True, timeout=30)
        hosts = {"ctl": (CONTROLLER, "lan-cl"), **{n: (a, "lan-cl") for n, a in NODES.items()}, "hub": (HUB_ADDRESS, "lan-out")}
        for host, (address, bridge) in hosts.items():
            inside, outside = f"{self.tag}{host}", f"{self.tag}{host}g"
            ip("link", "add", inside, "type", "veth", "peer", "name", outside)
            ip("link", "set", outside, "netns", gw)
            ip("link", "set", outside, "master", bridge, netns=gw)
            ip("link", "set", outside, "up", netns=gw)
            ip("link", "set", inside, "netns", self.ns(host))
            ip("link", "set", inside, "name", "eth0", netns=self.ns(host))
            ip("addr", "add", f"{address}/24", "dev", "eth0", netns=self.ns(host))
            ip("link", "set", "eth0", "up", netns=self.ns(host))
            net = OUTSIDE_NET if bridge == "lan-out" else CLUSTER_NET
            ip("route", "add", "default", "via", f"{net}.1", netns=self.ns(host))
        self.runner_link = f"{self.tag}t"
        ip("link", "add", self.runner_link, "type", "veth", "peer", "name", f"{self.tag}tg")
        ip("link", "set", f"{self.tag}tg", "netns", gw)
        ip("link", "set", f"{self.tag}tg", "master", "lan-out", netns=gw)
        ip("link", "set", f"{self.tag}tg", "up", netns=gw)
        ip("addr", "add", f"{RUNNER_ADDRESS}/24", "dev", self.runner_link)
        ip("link", "set", self.runner_link, "up")

    def remove(self) -> None:
        if self.runner_link:
            ip("link", "del", self.runner_link, check=False)
        for name in reversed(self.made):
            ip("netns", "del", name, check=False)


def _conf(root: Path) -> str:
    nodes = "\n".join(f"NodeName={n} NodeAddr={a} CPUs=1 RealMemory={NODE_MEMORY_MIB} State=UNKNOWN"
                      for n, a in NODES.items())
    return f"""\
ClusterName=austral{os.getpid()}
SlurmctldHost={socket.gethostname().split(".")[0]}({CONTROLLER})
SlurmctldPort=6817
SlurmdPort=6818
SrunPortRange=60001-60100
AuthType=auth/munge
AuthInfo=socket={root}/munge-run/munge.sock
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key={root}/jwt/jwt_hs256.key
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd-%n.log
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
MinJobAge=300
# pending jobs' expected start computed every second (backfill's default: 30 s)
SchedulerParameters=bf_interval=1
KillWait=5
{nodes}
PartitionName=debug Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP
PartitionName=court Nodes={",".join(NODES)} MaxTime=00:30:00 State=UP
"""


@dataclass
class Austral:
    """The running multi-host cluster: ``cluster`` (its commands run on the controller
    host), ``rest`` (slurmrestd), ``network`` (namespaces), ``hub_address`` (where the
    hub host listens)."""

    cluster: SlurmCluster
    rest: SlurmRest
    network: Network
    hub_address: str = HUB_ADDRESS

    def node_of(self, job_id: str) -> str:
        """The node a job runs (or ran) on."""
        return self.cluster.run("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%N").stdout.strip()


def _tcp_answers(netns_exec: list[str], host: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=1).close()"
    return subprocess.run([*netns_exec, "python3", "-c", probe], capture_output=True, timeout=10).returncode == 0


@pytest.fixture(scope="module")
def austral():
    """The multi-host cluster (see the module docstring), started once by the test module
    that asks for it (about 10 s), removed after it: ``SLURM_CONF`` names this cluster only
    meanwhile, so the hubs that later tests start talk to the one-node cluster again."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces, the Slurm daemons and the cluster logins need root")
    network = Network(f"dla{os.getpid() % 10000}")
    boot = Bootstrap("datalab-austral-", extra=("homes", "jwt", "spool/n1", "spool/n2"))
    make_jwt_key(boot.root / "jwt" / "jwt_hs256.key")
    cluster = boot.configure(_conf(boot.root))
    cluster.node = "n1"
    rest_log = boot.root / "slurmrestd.log"
    try:
        network.build()
        cluster.where = network.exec("ctl")
        boot.start_munge()
        boot.start([*network.exec("ctl"), "slurmctld", "-D", "-i", "-f", str(cluster.conf)],
                   cluster.env)
        _wait("slurmctld", lambda: "UP" in cluster.run("scontrol", "ping", check=False).stdout, 30, cluster)
        for node in NODES:
            boot.start([*network.exec(node), "slurmd", "-D", "-N", node, "-f", str(cluster.conf)],
                       cluster.env)
        _wait("slurmd n1 and n2", lambda: cluster.run("sinfo", "-h", "-N", "-p", "debug", "-o", "%t", check=False).stdout.split()
              == ["idle", "idle"], 40, cluster)
        with open(rest_log, "ab") as log:
            cluster.processes.append(subprocess.Popen(
                [*network.exec("ctl"), "slurmrestd", "-f", str(cluster.conf), "-a", "rest_auth/jwt",
                 "-s", "openapi/v0.0.38", "-u", "nobody", "-v", f"{CONTROLLER}:{REST_PORT}"],
                env={**cluster.env, "SLURM_JWT": "daemon"}, stdout=log, stderr=subprocess.STDOUT))
        _wait("slurmrestd", lambda: _tcp_answers(network.exec("hub"), CONTROLLER, REST_PORT), 30, cluster)
        saved = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(cluster.conf)
        try:
            yield Austral(cluster, SlurmRest(f"http://{CONTROLLER}:{REST_PORT}", boot.root / "jwt" / "jwt_hs256.key",
                                             rest_log), network)
        finally:
            if saved is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = saved
    finally:
        artifacts = {boot.root / name: f"austral-{name}" for name in
                     ("slurmctld.log", "slurmd-n1.log", "slurmd-n2.log", "daemons.log", "slurmrestd.log")}
        try:
            boot.stop(artifacts)
        finally:
            network.remove()


def hub_overrides(austral: Austral, overrides: dict) -> dict:
    """``overrides`` (from :func:`tests.services.slurm.slurm_hub_overrides`) for a hub
    on the ``hub`` host: proxy on its address, hub API there too (``slurm.hub_address``)."""
    config = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    return {**overrides, "hub": {**config["hub"], "ip": austral.hub_address},
            "slurm": {**overrides["slurm"], "hub_address": austral.hub_address}}


def start_on_hub_host(austral: Austral, running: RunningHub) -> RunningHub:
    """``running`` (not started yet) made to run on the ``hub`` host, reached at its address."""
    running.command_prefix = austral.network.exec("hub")
    running.url = f"http://{austral.hub_address}:{running.port}"
    return running


@pytest.fixture(scope="module")
def austral_hosts_logins(austral):
    """Cluster logins (``austral<n>h-...``, apart from ``austral_logins``' ones) with
    homes in the multi-host cluster's directory."""
    logins = AustralLogins(austral.cluster.root / "homes", tag="h")
    try:
        yield logins
    finally:
        logins.remove()
