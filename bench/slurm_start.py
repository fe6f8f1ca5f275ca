"""Slurm start overhead on the multi-host test cluster (``tests/services/austral.py``, used
as a library): a hub on a host of its own outside the cluster's network, compute nodes
``n1`` and ``n2``. Each round measures, one after the other (the order rotated every
round, each with the load average next to it):

(a) ``sbatch``
    of a one-core sleeping job, until ``squeue`` says RUNNING (the job is then cancelled);
(b) ``bare``
    the bare start of the lab program on compute node ``n1`` without the hub: the hub's
    Python environment's ``jupyter-lab`` (the server and extensions that
    ``jupyterhub-singleuser`` runs, without the hub's authentication), as the cluster
    login, in its home, on the node's address, until its ``/api`` answers the hub host;
(c) ``hub``
    a lab through the hub: POST of the server, progress until ``ready``, then the first
    answer of the lab's ``/api`` through the proxy; then stopped.

The round's ratio is c / (a + b); the hub log gives where (c)'s time went
(:func:`phases`)."""

from __future__ import annotations

import asyncio
import contextlib
import pwd
import re
import secrets
import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.conftest import PASSWORD, RunningHub, open_workdir, served
from tests.services import austral as austral_service
from tests.services.slurm import AustralLogins, slurm_hub_overrides

from .measure import loadavg, spread, summary
from .slurm import USER, submit_to_running
from .users import SimulatedUser

VENV = Path(__file__).resolve().parent.parent / ".venv"
BARE_NODE = "n1"
#: The cluster login of :data:`~bench.slurm.USER` (``slurm_hub_overrides``' table).
LAB_LOGIN = "ana1"
BARE_PORT = 38517

#: Lines of the hub log that mark the phases of a lab start, and the phase each ends.
_MARKS = {
    "submitted": re.compile(r"Submitting (?P<user>\S+)'s lab to Slurm"),
    "port_reported": re.compile(r"201 POST /hub/api/batchspawner \((?P<user>[^@]+)@"),
    "lab_called_hub": re.compile(r"200 GET /hub/api \(@"),
    "hub_saw_lab": re.compile(r"Slurm job \d+ of (?P<user>\S+) serves on"),
    "started": re.compile(r"User (?P<user>\S+) took [0-9.]+ seconds to start"),
    "routed": re.compile(r"201 POST /hub/api/users/(?P<user>[^/]+)/server "),
}
_SLURM_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\] ")
_STAMP = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")


@contextlib.contextmanager
def austral_hub(timeout: int):
    """The multi-host cluster and a DataLab hub on its ``hub`` host; everything stopped
    and removed on exit (jobs cancelled, daemons stopped, namespaces and logins deleted)."""
    with contextlib.contextmanager(austral_service.austral.__wrapped__)() as austral:
        logins = AustralLogins(austral.cluster.root / "homes", tag="b")
        try:
            overrides = austral_service.hub_overrides(
                austral, slurm_hub_overrides(austral.cluster, logins, start_timeout=timeout))
            running = austral_service.start_on_hub_host(
                austral, RunningHub(open_workdir("datalab-bench-austral-"), overrides))
            with served(running, "bench-austral-hub.log"):
                yield austral, logins, running
        finally:
            austral.cluster.cancel_all()
            logins.remove()


_POLL = """\
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        print(time.time())
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
"""


def bare_start(austral, login: str, home: Path, timeout: float) -> float:
    """Seconds from starting the lab program on :data:`BARE_NODE` (as ``login``, in
    ``home``) until its ``/api`` answers a poller on the hub host (every 20 ms); the
    program is stopped after. ``TimeoutError`` after ``timeout``."""
    address = austral_service.NODES[BARE_NODE]
    url = f"http://{address}:{BARE_PORT}/user/bare/api"
    poller = subprocess.Popen([*austral.network.exec("hub"), "python3", "-c", _POLL, url, str(timeout)],
                              stdout=subprocess.PIPE, text=True)
    account = pwd.getpwnam(login)
    t0 = time.time()
    lab = subprocess.Popen(  # nsenter and setpriv exec: lab.pid is the lab program's
        [*austral.network.exec(BARE_NODE), "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
         "--init-groups", "--", "env", "-i", f"PATH={VENV / 'bin'}:/usr/bin:/bin", f"HOME={home}",
         f"USER={login}", str(VENV / "bin" / "jupyter-lab"), "--no-browser", f"--ip={address}",
         f"--port={BARE_PORT}", "--ServerApp.base_url=/user/bare/",
         f"--IdentityProvider.token={secrets.token_hex(16)}", "--ServerApp.answer_yes=True"],
        cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out, _ = poller.communicate(timeout=timeout + 5)
        if poller.returncode != 0:
            raise TimeoutError(f"the bare lab did not answer within {timeout} s")
        return float(out.strip()) - t0
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait(timeout=10)


async def hub_start(user: SimulatedUser) -> float:
    """Seconds from the POST of the server until the lab's ``/api`` first answers
    through the proxy (progress ``ready`` in between)."""
    t0 = time.perf_counter()
    await user.spawn({"profile": "austral", "partition": "debug", "cores": "1", "memory": "1G",
                      "walltime": "0:20"})
    deadline = time.monotonic() + user.timeout
    while time.monotonic() < deadline:
        r = await user.client.get(f"{user.lab}/api")
        if r.status_code == 200:
            return time.perf_counter() - t0
        await asyncio.sleep(0.02)
    raise TimeoutError("the lab did not answer through the proxy")


def _stamped(text: str):
    """(epoch seconds, line) of each line of a JupyterHub or Jupyter Server log."""
    for line in text.splitlines():
        stamp = _STAMP.match(line)
        if stamp:
            yield datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp(), line


def _slurm_stamped(text: str):
    """(epoch seconds, line) of each line of a Slurm daemon's log."""
    for line in text.splitlines():
        stamp = _SLURM_STAMP.match(line)
        if stamp:
            yield datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp(), line


def phases(hub_log: str, user: str, job_logs: Path, slurm_logs: list[Path]) -> dict[str, float]:
    """Seconds between the marks of ``user``'s last lab start, in time order: from the
    hub ``log``, the submission, batchspawner-singleuser's port report (after sbatch,
    scheduling, the batch script's commands, ``srun`` and its own imports), the lab's
    first hub API call, the hub seeing the lab listen (its poll), JupyterHub's end of start
    (its HTTP readiness check) and the route added; from the job's log (in
    ``job_logs``, the login's home), the lab program's first log line (its imports done)
    and the line saying it listens; from the Slurm daemons' ``slurm_logs``, the job's
    allocation (slurmctld), the batch script's start and its ``srun`` step's launch
    (slurmd), which time the script's commands before ``srun``."""
    found: dict[str, float] = {}
    job = ""
    for at, line in _stamped(hub_log):
        for mark, pattern in _MARKS.items():
            m = pattern.search(line)
            if m and m.groupdict().get("user", user) == user:
                if mark == "submitted":
                    found = {}
                if mark == "submitted" or "submitted" in found:
                    found.setdefault(mark, at)
                    job = re.search(r"Slurm job (\d+)", line).group(1) if mark == "hub_saw_lab" else job
    for slurm_log in slurm_logs if job else ():
        for at, line in _slurm_stamped(slurm_log.read_text(errors="replace") if slurm_log.exists() else ""):
            for mark, needle in (("allocated", f"sched: Allocate JobId={job} "),
                                 ("allocated", f"_start_job: Started JobId={job} "),
                                 ("batch_started", f"Launching batch job {job} "),
                                 ("srun_step", f"launch task StepId={job}.0 ")):
                if needle in line:
                    found.setdefault(mark, at)
    log = job_logs / f"datalab-austral-{job}.log"
    if job and log.exists():
        lines = list(_stamped(log.read_text(errors="replace")))
        if lines:
            found["lab_first_log"] = lines[0][0]
        listening = next((at for at, line in lines if "is running at" in line), None)
        if listening:
            found["lab_listening"] = listening
    order = sorted(found, key=found.get)
    return {f"{a}->{b}": round(found[b] - found[a], 3) for a, b in zip(order, order[1:])}


async def start_rounds(rounds: int, timeout: float) -> dict:
    """``rounds`` rounds of (a), (b), (c) (order rotated), each sample with its load."""
    record = {"cluster": "multi-host (tests/services/austral.py)", "loadavg_before": loadavg(),
              "rounds": [], "errors": []}
    with austral_hub(int(timeout)) as (austral, logins, running):
        sbatch_login = logins.login("benchjob")
        bare_login = logins.login("benchbare")
        slurm_logs = [austral.cluster.root / name for name in ("slurmctld.log", "slurmd-n1.log", "slurmd-n2.log")]
        async with SimulatedUser(running.url, USER, PASSWORD, timeout) as user:
            await user.login()
            steps = ["sbatch", "bare", "hub"]
            for i in range(rounds):
                sample: dict = {}
                for step in steps[i % 3:] + steps[:i % 3]:
                    load = loadavg()[0]
                    try:
                        if step == "sbatch":
                            took = await asyncio.to_thread(submit_to_running, austral.cluster, sbatch_login, timeout)
                        elif step == "bare":
                            took = await asyncio.to_thread(bare_start, austral, bare_login,
                                                           logins.home("benchbare"), timeout)
                        else:
                            took = await hub_start(user)
                            sample["phases"] = phases(running.log_path.read_text(errors="replace"), USER,
                                                      logins.home(LAB_LOGIN), slurm_logs)
                            await user.stop()
                    except Exception as e:  # recorded, the next round goes on
                        record["errors"].append(f"round {i + 1} {step}: {type(e).__name__}: {e}")
                        with contextlib.suppress(Exception):
                            await user.stop()
                        continue
                    finally:
                        await asyncio.to_thread(austral.cluster.cancel_all)
                    sample[step] = round(took, 3)
                    sample[f"load_{step}"] = load
                if all(k in sample for k in steps):
                    sample["ratio"] = round(sample["hub"] / (sample["sbatch"] + sample["bare"]), 2)
                record["rounds"].append(sample)
                print(f"slurm-start round {i + 1}: " + " ".join(
                    f"{k}={sample.get(k)}s(load {sample.get('load_' + k)})" for k in steps)
                    + f" ratio={sample.get('ratio')} phases={sample.get('phases')}", flush=True)
    for key in ("sbatch", "bare", "hub"):
        record[key] = summary([r[key] for r in record["rounds"] if key in r])
    record["ratio"] = spread([r["ratio"] for r in record["rounds"] if "ratio" in r])
    names = {name for r in record["rounds"] for name in r.get("phases", {})}
    record["phases_p50"] = {name: summary([r["phases"][name] for r in record["rounds"]
                                           if name in r.get("phases", {})])["p50"] for name in sorted(names)}
    record["loadavg_after"] = loadavg()
    return record
