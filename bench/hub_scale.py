"""Hub start-up at scale (issue 20): the DataLab hub (docker backend, the Slurm profile
on the test cluster) started on a database holding a deployment's population, against the
same hub started on an empty database.

The full database holds ``users`` people spread over the deployment's partners (each in
their partner's group and a role group), ``servers`` running servers: default servers of
analysts on docker and on Slurm, and named servers of some of them on docker, each with
the rows JupyterHub writes at a start (server, spawner state, API token, OAuth client).
The servers really run, as the spawners see them:

- docker: a container of the lab image per server, named and labelled as
  :class:`~hub.backends.docker.lab.DataLabDockerSpawner` names them, on the hub's labs'
  network, whose spawner state names it, so that ``DockerSpawner.poll`` inspects it and
  finds it running. It runs a stub (:data:`STUB`) instead of the lab: any HTTP request
  gets 200, which is what JupyterHub's start-up check of a running server asks
  (``GET <server>/api``; a server that does not answer is stopped by the hub);
- Slurm: a batch job per server on the one-node test cluster
  (``tests/services/slurm.py``), in a partition of its own whose cores are shared by
  every job (``OverSubscribe=FORCE``: one job per core would hold two servers), running
  the same stub on 127.0.0.1; the spawner state holds its job id and cluster login, so
  that :class:`~hub.backends.slurm.lab.SlurmSpawner`'s poll really asks ``squeue``.

Each database kind (SQLite, PostgreSQL in a cluster of the bench's own) has two
databases: ``empty`` and ``full``. Each is first used by one unmeasured hub start (the
data directory's first-start work, the hub's own rows: roles, groups, services); the
full one is then filled through JupyterHub's ORM. Rounds alternate empty and full starts
(the order swapped every round); each start is timed from the hub process's start to the
first HTTP 200 of ``GET /hub/api/`` through the proxy, and to the hub's log line
"Initialized N spawners" (the start-up checks of every running server). Memory: the
resident set (RSS) of the hub process alone, and of the hub with its child processes (the
proxy and the hub-managed services), at the first answer and once the spawners are
initialized. Every sample carries the 1-minute load average.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import docker
import jupyterhub
import psutil
import yaml
from jupyterhub import orm
from jupyterhub.utils import hash_token, new_token

from hub import settings as hub_settings
from hub.backends.docker.lab import ensure_network
from hub.backends.docker.policy import LAB_GID, LAB_PYTHON, LAB_UID, LABEL, confined_host_config, names
from hub.groups import partner_group, role_group
from hub.names import safe_name
from hub.partners import ensure_groups
from hub.settings import Backend, Role, Settings
from tests.conftest import REPO, RunningHub, free_port_block, open_workdir
from tests.services import slurm as cluster_service
from tests.services.dockerd import docker_hub_overrides, remove_docker_objects

from .measure import loadavg, settle, spread
from .scale_load import GOAL_API_P95_RATIO, login_load

RESULTS = REPO / "bench" / "results"

#: The named server every user with one has (a valid JupyterHub 6 server name).
NAMED_SERVER = "analyse"
#: Every tenth person is a decision-maker (no lab); the others are analysts.
DECISION_MAKER_EVERY = 10
#: The port a lab listens on in its container (DockerSpawner's default).
LAB_PORT = 8888
#: The Slurm partition of the stub jobs, every core shared by all of them.
PARTITION = "scale"
#: Memory each stub job asks Slurm for (the node declares 8 GiB).
JOB_MEMORY = "24M"
#: Seconds between two polls of the hub, the log, Slurm or the stubs' ports.
POLL = 0.05
#: Docker API calls made at once while the stub containers are created.
DOCKER_THREADS = 8
#: The culler's idle timeout (s) of the measured hub: longer than a run, so that no
#: server of the full database is stopped while the run lasts.
IDLE_TIMEOUT = 86400
#: Goals (issue 20): a full start within twice the empty one, at most 1 GiB resident.
GOAL_START_RATIO = 2.0
GOAL_RSS_MIB = 1024

#: The stub standing for a running lab: a TCP server on (argv[1], argv[2]) answering any
#: request with HTTP 200, ``{}`` and the JupyterHub version argv[3] in the header a lab
#: sends (the hub logs a warning for each server without it), one connection at a time,
#: run by ``python -I -S`` (about 8 MiB).
STUB = """\
import socket, sys
answer = ("HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\n"
          "X-JupyterHub-Version: " + sys.argv[3] + "\\r\\nConnection: close\\r\\n\\r\\n{}").encode()
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(128)
while True:
    conn, _ = server.accept()
    with conn:
        conn.settimeout(5)
        try:
            conn.recv(65536)
            conn.sendall(answer)
        except OSError:
            pass
"""


# -- the population ---------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    partner: str
    role: Role


@dataclass(frozen=True)
class Lab:
    """A running server: its owner, its name ("" for the default server), its backend
    and the profile it was started with."""

    user: str
    server: str
    backend: Backend
    profile: str


def population(settings: Settings, users: int, servers: int, named: int, slurm: int) -> tuple[list[Person], list[Lab]]:
    """``users`` people (``scale0000`` ...) spread in turn over the deployment's partners,
    every :data:`DECISION_MAKER_EVERY`-th a decision-maker, and ``servers`` running
    servers: ``slurm`` default servers of analysts whose partner has a Slurm profile, the
    other default servers on docker (the first profile of the partner whose backend is
    docker), and ``named`` named servers (:data:`NAMED_SERVER`, docker) of owners of
    docker default servers. ``ValueError`` when the population cannot hold them."""
    if not 0 <= named <= servers - named:
        raise ValueError(f"{named} named servers need as many default servers among {servers}")
    partners = [p.id for p in settings.partners]
    people = [
        Person(f"scale{i:04d}", partners[i % len(partners)],
               Role.decision_maker if i % DECISION_MAKER_EVERY == DECISION_MAKER_EVERY - 1 else Role.analyst)
        for i in range(users)
    ]
    analysts = [p for p in people if p.role == Role.analyst]

    def profile_on(partner: str, backend: Backend) -> str | None:
        return next((p.id for p in settings.profiles_for({partner}) if settings.backend_of(p) == backend), None)

    on_slurm = [p for p in analysts if profile_on(p.partner, Backend.slurm)][:slurm]
    if len(on_slurm) < slurm:
        raise ValueError(f"{slurm} Slurm servers, but only {len(on_slurm)} analysts have a Slurm profile")
    chosen = {p.name for p in on_slurm}
    on_docker = [p for p in analysts if p.name not in chosen and profile_on(p.partner, Backend.docker)]
    on_docker = on_docker[:servers - named - slurm]
    if len(on_docker) < servers - named - slurm:
        raise ValueError(f"{users} people hold {len(on_docker) + slurm} default servers, not {servers - named}")
    if named > len(on_docker):
        raise ValueError(f"{named} named servers, but only {len(on_docker)} docker default servers")
    labs = [Lab(p.name, "", Backend.slurm, profile_on(p.partner, Backend.slurm)) for p in on_slurm]
    labs += [Lab(p.name, "", Backend.docker, profile_on(p.partner, Backend.docker)) for p in on_docker]
    labs += [Lab(p.name, NAMED_SERVER, Backend.docker, profile_on(p.partner, Backend.docker)) for p in on_docker[:named]]
    return people, labs


# -- where the servers run, as their spawners' state says ---------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a running server answers, and the spawner state pointing at what runs it."""

    ip: str
    port: int
    state: dict


def docker_state(container_id: str, container_name: str) -> dict:
    """The state :class:`~hub.backends.dispatch.ProfileSpawner` saves for a docker lab."""
    return {"backend": Backend.docker.value, "child": {"object_id": container_id, "object_name": container_name}}


def slurm_state(job_id: str, login: str, node: str, submitted_at: float, walltime_end: float) -> dict:
    """The state :class:`~hub.backends.dispatch.ProfileSpawner` saves for a Slurm lab
    that is running (its start completed)."""
    return {"backend": Backend.slurm.value, "child": {
        "job_id": job_id, "login": login, "node": node, "phase": "running",
        "walltime_end": walltime_end, "submitted_at": submitted_at,
    }}


# -- the database -----------------------------------------------------------------------


def server_base_url(lab: Lab) -> str:
    """``/user/<name>/[<server>/]``: the server's URL prefix on a hub at ``/``."""
    return f"/user/{quote(lab.user, safe='')}/" + (f"{quote(lab.server, safe='')}/" if lab.server else "")


def fill(db, settings: Settings, people: list[Person], labs: list[Lab], placements: dict[tuple[str, str], Placement],
         tokens: dict[tuple[str, str], str] | None = None) -> dict:
    """Write ``people`` and their running ``labs`` (those with a placement) into the hub
    database session ``db`` as a hub would have: each person with JupyterHub's default
    role ``user`` (when the database has it: a hub created it), in their partner's and
    role's groups (groups created when missing, with their declared properties); per
    running server a ``Server`` row, the spawner's state, start time and options, an API
    token with the scopes of JupyterHub's ``server`` role and the server's OAuth client
    (kept in ``tokens``, by (user, server name), when given). Returns the counts written."""
    ensure_groups(db, settings, [partner_group(p.id) for p in settings.partners] + [role_group(r) for r in Role])
    groups = {g.name: g for g in db.query(orm.Group)}
    if db.query(orm.OAuthClient).filter_by(identifier="jupyterhub").one_or_none() is None:
        db.add(orm.OAuthClient(identifier="jupyterhub", description="JupyterHub", allowed_scopes=[]))
    default_roles = [r for r in [orm.Role.find(db, "user")] if r is not None]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    users = {}
    for person in people:
        user = orm.User(name=person.name, created=now, last_activity=now, roles=list(default_roles))
        user.groups = [groups[partner_group(person.partner)], groups[role_group(person.role)]]
        db.add(user)
        users[person.name] = user
    db.commit()
    running = [lab for lab in labs if (lab.user, lab.server) in placements]
    for lab in running:
        place = placements[(lab.user, lab.server)]
        user = users[lab.user]
        base_url = server_base_url(lab)
        access = f"access:servers!server={lab.user}/{lab.server}"
        token = new_token()
        if tokens is not None:
            tokens[(lab.user, lab.server)] = token
        api_token = orm.APIToken(generated=True, note=f"Server at {base_url}", client_id="jupyterhub",
                                 scopes=["users:activity!user", access])
        db.add(api_token)
        api_token.token = token
        api_token.user = user
        client_id = f"jupyterhub-user-{quote(lab.user)}" + (f"-{quote(lab.server)}" if lab.server else "")
        client = orm.OAuthClient(identifier=client_id, secret=hash_token(token),
                                 redirect_uri=f"{base_url}oauth_callback", description=f"Server at {base_url}",
                                 allowed_scopes=[access])
        db.add(orm.Spawner(user=user, name=lab.server, server=orm.Server(ip=place.ip, port=place.port, base_url=base_url),
                           state=place.state, started=now, last_activity=now,
                           user_options={"profile": lab.profile}, oauth_client=client))
        user.last_activity = now
    db.commit()
    return {"users": len(people), "servers": len(running), "named": sum(1 for lab in running if lab.server),
            "slurm": sum(1 for lab in running if lab.backend == Backend.slurm)}


def running_servers(url: str) -> int:
    """How many servers the hub database at ``url`` records as running."""
    session = orm.new_session_factory(url)()
    try:
        return session.query(orm.Spawner).filter(orm.Spawner.server_id.isnot(None)).count()
    finally:
        session.close()
        session.get_bind().dispose()


def fill_database(url: str, settings: Settings, people: list[Person], labs: list[Lab],
                  placements: dict[tuple[str, str], Placement], tokens: dict | None = None) -> dict:
    """:func:`fill` the hub database at ``url``."""
    session = orm.new_session_factory(url)()
    try:
        return fill(session, settings, people, labs, placements, tokens)
    finally:
        session.close()
        session.get_bind().dispose()


# -- the stubs: containers and Slurm jobs -----------------------------------------------


def listening(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def wait_listening(placements: dict[tuple[str, str], Placement], timeout: float) -> list[tuple[str, str]]:
    """Wait (at most ``timeout`` s) until every placement accepts TCP connections; the
    servers that still do not."""
    waiting = dict(placements)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting = {key: p for key, p in waiting.items() if not listening(p.ip, p.port)}
        if waiting:
            time.sleep(POLL)
    return sorted(waiting)


def docker_stubs(client: docker.DockerClient, prefix: str, network: str, image: str,
                 labs: list[Lab]) -> dict[tuple[str, str], Placement]:
    """A running container of the lab image per docker lab, named, labelled and confined
    as the DataLab spawner makes it (:meth:`DataLabDockerSpawner._create_kwargs`), on the
    labs' ``network``, running :data:`STUB` on :data:`LAB_PORT`. ``docker.errors`` on a
    refusal (the containers made so far carry the prefix's label: removed with it)."""

    def run(lab: Lab) -> tuple[tuple[str, str], Placement]:
        named = names(prefix, lab.user, lab.server)
        container = client.containers.run(
            image, [LAB_PYTHON, "-I", "-S", "-c", STUB, "0.0.0.0", str(LAB_PORT), jupyterhub.__version__],
            name=named["container"], hostname=named["hostname"], network=network, detach=True,
            user=f"{LAB_UID}:{LAB_GID}", mem_limit="64m",
            labels={f"{LABEL}.prefix": prefix, f"{LABEL}.user": safe_name(lab.user),
                    f"{LABEL}.server": safe_name(lab.server) if lab.server else "", f"{LABEL}.profile": lab.profile},
            **confined_host_config(),
        )
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        return (lab.user, lab.server), Placement(ip, LAB_PORT, docker_state(container.id, named["container"]))

    with ThreadPoolExecutor(DOCKER_THREADS) as pool:
        return dict(pool.map(run, [lab for lab in labs if lab.backend == Backend.docker]))


def slurm_stubs(cluster, login: str, home: Path, labs: list[Lab], timeout: float) -> tuple[dict[tuple[str, str], Placement], list[str]]:
    """A batch job per Slurm lab, as cluster ``login`` in :data:`PARTITION`, running
    :data:`STUB` on 127.0.0.1 and a port of its own; waits (at most ``timeout`` s) until
    Slurm runs them. Jobs still pending then are cancelled and left out: the placements
    of the running ones, and what was left out and why."""
    slurm_labs = [lab for lab in labs if lab.backend == Backend.slurm]
    if not slurm_labs:
        return {}, []
    base = free_port_block(len(slurm_labs))
    jobs: dict[str, tuple[Lab, int, float]] = {}
    for i, lab in enumerate(slurm_labs):
        port = base + i
        command = f"exec /usr/bin/python3 -I -S -c {shlex.quote(STUB)} 127.0.0.1 {port} {jupyterhub.__version__}"
        job = cluster.run("sbatch", "--parsable", f"--partition={PARTITION}", f"--job-name=datalab-{safe_name(lab.user, 40)}",
                          f"--mem={JOB_MEMORY}", "--cpus-per-task=1", "--time=6:00:00", f"--chdir={home}",
                          "--output=/dev/null", "--wrap", command, user=login).stdout.strip()
        jobs[job] = (lab, port, time.time())
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    rows: dict[str, list[str]] = {}
    while time.monotonic() < deadline:
        out = cluster.run("squeue", "-h", "-o", "%i|%T|%N|%e", check=False).stdout
        rows = {f[0]: f[1:] for f in (line.split("|") for line in out.splitlines()) if len(f) == 4}
        states = {job: rows.get(job, ["GONE"])[0] for job in jobs}
        if all(state == "RUNNING" for state in states.values()):
            break
        time.sleep(POLL * 10)
    placements, left_out = {}, []
    for job, (lab, port, submitted) in jobs.items():
        if states.get(job) != "RUNNING":
            cluster.run("scancel", job, check=False)
            left_out.append(f"{lab.user}: job {job} {states.get(job, '?')} after {timeout:.0f} s")
            continue
        _, node, end = rows[job]
        walltime_end = datetime.fromisoformat(end).timestamp() if end[:1].isdigit() else 0.0
        placements[(lab.user, lab.server)] = Placement("127.0.0.1", port, slurm_state(job, login, node, submitted, walltime_end))
    return placements, left_out


@contextlib.contextmanager
def slurm_cluster(jobs: int):
    """The one-node test cluster (``tests/services/slurm.py``) with :data:`PARTITION`,
    whose cores each hold up to ``jobs`` jobs, and a cluster login with its home; every
    job cancelled, the daemons stopped and the login deleted on exit."""
    with contextlib.contextmanager(cluster_service.slurm_cluster.__wrapped__)() as cluster:
        logins = cluster_service.AustralLogins(cluster.root / "homes", tag="s")
        try:
            cluster.run("scontrol", "create", f"PartitionName={PARTITION}", f"Nodes={cluster.node}",
                        f"OverSubscribe=FORCE:{max(jobs, 1)}", "MaxTime=INFINITE", "State=UP")
            yield cluster, logins.login("scale"), logins.home("scale")
        finally:
            cluster.cancel_all()
            logins.remove()


# -- PostgreSQL -------------------------------------------------------------------------


class Postgres:
    """A PostgreSQL cluster of the bench's own: ``initdb`` and ``pg_ctl`` of the newest
    ``/usr/lib/postgresql/<version>/bin`` as the ``postgres`` account, data in a temporary
    directory, listening on 127.0.0.1 on a free port (its socket in that directory),
    password authentication for the role ``datalab``. :meth:`stop` stops it and removes
    the directory."""

    def __init__(self):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
        if not versions:
            raise RuntimeError("PostgreSQL is not installed: run `./scripts/system-deps.sh bench`")
        self.bin = versions[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="datalab-bench-pg-"))
        self.port = free_port_block(1)
        self.password = secrets.token_hex(16)
        self.started = False

    def _run(self, *argv: str, timeout: float = 120) -> None:
        done = subprocess.run([*argv], user="postgres", group="postgres", extra_groups=[], cwd=self.root,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        secret = self.root / "password"
        secret.write_text(self.password)
        shutil.chown(secret, "postgres", "postgres")
        secret.chmod(0o600)
        self._run(str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", "datalab", f"--pwfile={secret}",
                  "-A", "scram-sha-256", "-E", "UTF8", "--locale=C")
        secret.unlink()
        self.started = True
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "postgres.log"),
                  "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}", "-w", "-t", "60", "start")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://datalab:{self.password}@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        """Create ``database``; its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="datalab", password=self.password,
                                      dbname="postgres", connect_timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()
        return self.url(database)

    def stop(self) -> None:
        try:
            if self.started and (self.root / "data" / "postmaster.pid").exists():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres():
    cluster = Postgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


# -- the hub ----------------------------------------------------------------------------


@contextlib.contextmanager
def scale_hub(image: str, prefix: str):
    """The DataLab hub of the measurements (not started): docker backend with its own
    prefix and labs' network (created here, so the stub containers can join it before
    the hub's first start), the example's Slurm profile, the culler's idle timeout at
    :data:`IDLE_TIMEOUT` (the servers' activity dates from the filling). On exit: stopped, its log kept
    as ``bench/results/hub-scale.log``, the accounts it made, its containers, volumes,
    network and directory removed."""
    overrides = docker_hub_overrides(prefix, image)
    example = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
    overrides["culling"] = {**example["culling"], "idle_timeout": IDLE_TIMEOUT}
    running = RunningHub(open_workdir("datalab-bench-scale-"), overrides=overrides)
    config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
    try:
        ensure_network(docker.from_env(), config["docker"]["network"], config["docker"]["subnet"])
        yield running, config["docker"]["network"]
    finally:
        running.stop()
        RESULTS.mkdir(parents=True, exist_ok=True)
        if running.log_path.exists():
            shutil.copy(running.log_path, RESULTS / "hub-scale.log")
        if os.geteuid() == 0:
            running.remove_accounts()
        shutil.rmtree(running.workdir, ignore_errors=True)
        remove_docker_objects(prefix)


def declare_people(running: RunningHub, people: list[Person]) -> None:
    """Let ``people`` log in: add them to the deployment file's demo users (partner and
    role as in the database)."""
    config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
    config["auth"]["demo_users"] += [{"name": p.name, "partner": p.partner, "role": p.role.value} for p in people]
    running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def use_database(running: RunningHub, url: str) -> None:
    """Point the hub's deployment file at the database ``url`` (``hub.db_url``)."""
    config = yaml.safe_load(running.config_path.read_text(encoding="utf-8"))
    config["hub"]["db_url"] = url
    running.config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def memory(pid: int) -> dict[str, int]:
    """Resident bytes of process ``pid`` (``hub``) and of it with every descendant
    (``tree``: the proxy, the hub-managed services, commands running at that moment)."""
    hub = psutil.Process(pid)
    tree = hub.memory_info().rss
    for child in hub.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            tree += child.memory_info().rss
    return {"hub": hub.memory_info().rss, "tree": tree}


_INITIALIZED = re.compile(r"Initialized (\d+) spawners in ([0-9.]+) seconds")
_STOPPED = ("appears to have stopped while the Hub was down", "does not appear to be running at",
            "Failed to poll spawner")


def timed_start(running: RunningHub, url: str, timeout: float) -> dict:
    """Start the hub on the database ``url``, time it and measure its memory (see the
    module's docstring), then stop it. The servers the hub found running or stopped are
    counted from its log."""
    use_database(running, url)
    offset = running.log_path.stat().st_size if running.log_path.exists() else 0
    sample = {"loadavg_before": loadavg()}
    try:
        t0 = time.perf_counter()
        running.start(timeout, poll=POLL)
        sample["first_answer"] = round(time.perf_counter() - t0, 3)
        sample["rss_first_answer"] = memory(running.process.pid)
        deadline = t0 + timeout
        while True:
            log = running.log_path.read_bytes()[offset:].decode(errors="replace")
            found = _INITIALIZED.search(log)
            if found or time.perf_counter() > deadline:
                break
            time.sleep(POLL)
        sample["initialized"] = round(time.perf_counter() - t0, 3) if found else None
        sample["hub_init_spawners"] = float(found.group(2)) if found else None
        sample["spawners_checked"] = int(found.group(1)) if found else None
        sample["rss_initialized"] = memory(running.process.pid)
        sample["still_running"] = log.count(" still running")
        sample["stopped_by_hub"] = sum(log.count(s) for s in _STOPPED)
        sample["loadavg_after"] = loadavg()
    finally:
        running.stop()
    return sample


def _mib(n: int) -> float:
    return round(n / 2**20, 1)


def _print_sample(kind: str, which: str, sample: dict) -> None:
    print(f"hub-scale {kind:10} {which:5} first answer {sample['first_answer']} s, spawners initialized "
          f"{sample['initialized']} s ({sample['spawners_checked']} checked, {sample['still_running']} running, "
          f"{sample['stopped_by_hub']} stopped by the hub); RSS hub {_mib(sample['rss_initialized']['hub'])} MiB, "
          f"with children {_mib(sample['rss_initialized']['tree'])} MiB; load {sample['loadavg_before'][0]}"
          f"->{sample['loadavg_after'][0]}", flush=True)


def summarize(samples: list[dict]) -> dict:
    """Per database kind: the per-round ratios full / empty of the first answer and of the
    spawners' initialization (median, min, max), and the full starts' memory in MiB."""
    out = {}
    for kind in dict.fromkeys(s["db"] for s in samples):
        rounds: dict[int, dict] = {}
        for s in samples:
            if s["db"] == kind:
                rounds.setdefault(s["round"], {})[s["which"]] = s
        pairs = [r for r in rounds.values() if {"empty", "full"} <= set(r)]

        def ratios(key: str) -> list[float]:
            return [p["full"][key] / p["empty"][key] for p in pairs if p["full"][key] and p["empty"][key]]

        full = [p["full"] for p in pairs]
        out[kind] = {
            "first_answer_full_vs_empty": spread(ratios("first_answer")),
            "initialized_full_vs_empty": spread(ratios("initialized")),
            "rss_hub_full_mib": spread([_mib(s["rss_initialized"]["hub"]) for s in full]),
            "rss_tree_full_mib": spread([_mib(s["rss_initialized"]["tree"]) for s in full]),
            "rss_tree_empty_mib": spread([_mib(p["empty"]["rss_initialized"]["tree"]) for p in pairs]),
        }
    return out


def hub_scale(args, image: str) -> dict:
    """The whole part: population, stubs, databases, rounds; everything removed at the end."""
    kinds = [k.strip() for k in args.scale_db.split(",") if k.strip()]
    unknown = set(kinds) - {"sqlite", "postgresql"}
    if unknown:
        raise ValueError(f"--scale-db: unknown {', '.join(sorted(unknown))} (sqlite, postgresql)")
    named = args.scale_servers // 5 if args.scale_named is None else args.scale_named
    slurm = args.scale_servers // 4 if args.scale_slurm is None else args.scale_slurm
    prefix = f"b{os.getpid() % 100000}s-"
    record = {"users": args.scale_users, "servers": args.scale_servers, "named": named, "slurm_requested": slurm,
              "rounds": args.scale_rounds, "databases": kinds, "loadavg_before": loadavg(), "samples": [],
              "errors": []}
    with contextlib.ExitStack() as stack:
        cluster = login = home = None
        if slurm:
            cluster, login, home = stack.enter_context(slurm_cluster(slurm))
        pg = stack.enter_context(postgres()) if "postgresql" in kinds else None
        running, network = stack.enter_context(scale_hub(image, prefix))
        settings = hub_settings.load(running.config_path)
        people, labs = population(settings, args.scale_users, args.scale_servers, named, slurm)
        work = Path(tempfile.mkdtemp(prefix="datalab-bench-scale-db-"))
        stack.callback(shutil.rmtree, work, True)
        databases = {}
        for kind in kinds:
            if kind == "sqlite":
                databases[kind] = {w: f"sqlite:///{work / f'{w}.sqlite'}" for w in ("empty", "full")}
            else:
                databases[kind] = {w: pg.create(f"hub_{w}") for w in ("empty", "full")}
            for url in databases[kind].values():  # unmeasured first starts
                timed_start(running, url, args.timeout)
        t0 = time.perf_counter()
        placements = docker_stubs(docker.from_env(max_pool_size=DOCKER_THREADS), prefix, network, image, labs)
        if cluster is not None:
            on_slurm, left_out = slurm_stubs(cluster, login, home, labs, args.timeout)
            placements.update(on_slurm)
            record["slurm_left_out"] = left_out
        silent = wait_listening(placements, args.timeout)
        if silent:
            record["errors"].append(f"{len(silent)} stubs not listening after {args.timeout} s: {silent[:5]}")
            placements = {k: v for k, v in placements.items() if k not in silent}
        record["stubs_seconds"] = round(time.perf_counter() - t0, 1)
        record["slurm_running"] = sum(1 for p in placements.values() if p.state["backend"] == Backend.slurm.value)
        tokens: dict[tuple[str, str], str] = {}
        for kind in kinds:
            record[f"filled_{kind}"] = fill_database(databases[kind]["full"], settings, people, labs, placements,
                                                     tokens if kind == kinds[0] else None)
        print(f"hub-scale population: {args.scale_users} users, {len(placements)} running servers "
              f"({record['slurm_running']} on Slurm of {slurm} asked, {named} named) in {record['stubs_seconds']} s"
              + (f"; left out: {record['slurm_left_out']}" if record.get("slurm_left_out") else ""), flush=True)
        for r in range(args.scale_rounds):
            for kind in kinds:
                for which in (("empty", "full") if r % 2 == 0 else ("full", "empty")):
                    quiet = settle(args.max_busy, args.settle_seconds)
                    try:
                        sample = {"db": kind, "which": which, "round": r, "settle": quiet,
                                  **timed_start(running, databases[kind][which], args.timeout)}
                    except RuntimeError as e:  # the hub did not start: recorded, the rounds go on
                        record["errors"].append(f"round {r} {kind} {which}: {str(e)[:2000]}")
                        continue
                    sample["running_in_db"] = running_servers(databases[kind][which])
                    if which == "full" and sample["running_in_db"] != len(placements):
                        record["errors"].append(f"round {r} {kind}: {sample['running_in_db']} servers running after "
                                                f"the start, {len(placements)} before")
                    record["samples"].append(sample)
                    _print_sample(kind, which, sample)
        if args.scale_logins:
            declare_people(running, people)
            settle(args.max_busy, args.settle_seconds)
            servers = [(user, server, token) for (user, server), token in tokens.items()]
            use_database(running, databases[kinds[0]]["full"])
            load = record["login_load"] = login_load(running, [p.name for p in people[:args.scale_logins]], servers,
                                                     args.scale_login_seconds, args.timeout)
            print(f"hub-scale load on {kinds[0]}: {load['people']} logins and {load['servers']} labs' activity "
                  f"reports over {load['duration']} s: API P95 idle {load['api_idle']['p95']} s, loaded "
                  f"{load['api_loaded']['p95']} s (ratio {load['api_p95_ratio']}, goal <= {GOAL_API_P95_RATIO}); "
                  f"login errors {len(load['login_errors'])}, activity errors {len(load['activity_errors'])}; "
                  f"hub CPU {load['hub_cpu_seconds']} s ({load['hub_cpu_percent']} % of a core); load "
                  f"{load['loadavg_before'][0]}->{load['loadavg_after'][0]}", flush=True)
    record["summary"] = summarize(record["samples"])
    record["loadavg_after"] = loadavg()
    return record
