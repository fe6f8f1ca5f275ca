"""The report runners' pure parts: which runner runs what, the docker container's name,
the Slurm batch script and how a job's end is read."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub.backends.docker.policy import names
from hub.backends.docker.report import DockerRunner, container_name
from hub.backends.local.report import LocalRunner
from hub.backends.protocol import ExecutionSpec, report_backends
from hub.backends.slurm.policy import SlurmRequest
from hub.backends.slurm.report import SlurmRunner, report_script
from hub.backends.slurm.transport import job_end
from hub.services.reports.archive import RunOutcome, read_beneath
from hub.services.reports.notebooks import NotebookProblem, resolve
from hub.services.reports.runners import BackendRunners, RunRequest, time_left
from hub.settings import Backend, parse

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def settings(tmp_path: Path, **changes):
    config = {**EXAMPLE, "storage": {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")},
              **changes}
    return parse(copy.deepcopy(config), REPO)


def request_for(settings_, profile_id: str, tmp_path: Path) -> RunRequest:
    profile = next(p for p in settings_.profiles if p.id == profile_id)
    return RunRequest(run_id=7, owner="analyste1", partner_ids={"univ-alpha"}, notebook=tmp_path / "n.ipynb",
                      parameters={}, kernel="python3", profile=profile, work_area=tmp_path / "w",
                      log_path=tmp_path / "log", cell_timeout=10, run_timeout=10)


def test_every_backend_has_a_report_runner(tmp_path):
    assert set(report_backends()) == set(Backend)
    runners = BackendRunners(settings(tmp_path))
    assert isinstance(runners.runner(Backend.local), LocalRunner)
    assert isinstance(runners.runner(Backend.docker), DockerRunner)
    assert isinstance(runners.runner(Backend.slurm), SlurmRunner)


class Recorder:
    def __init__(self, backend: Backend):
        self.backend = backend
        self.seen: list[int] = []

    async def run(self, request: RunRequest) -> RunOutcome:
        self.seen.append(request.run_id)
        request.started({"job": "42"})
        return RunOutcome("succeeded")


def test_each_run_goes_to_the_backend_of_its_profile(tmp_path):
    """On a local deployment, ``standard`` runs locally and ``austral`` (backend: slurm)
    on the cluster."""
    s = settings(tmp_path)
    runners = BackendRunners(s)
    for backend in Backend:
        runners.runners[backend] = Recorder(backend)
    asyncio.run(runners.run(request_for(s, "standard", tmp_path)))
    asyncio.run(runners.run(request_for(s, "austral", tmp_path)))
    assert runners.runners[Backend.local].seen == [7]
    assert runners.runners[Backend.slurm].seen == [7]
    assert runners.runners[Backend.docker].seen == []


def test_a_launched_run_announces_its_backend_and_launch_time_with_its_handle(tmp_path):
    """What the service records to follow the run after a restart names the backend
    that runs it and when it was launched (its ``run_timeout`` counts from then)."""
    s = settings(tmp_path)
    runners = BackendRunners(s)
    runners.runners[Backend.slurm] = Recorder(Backend.slurm)
    announced = []
    request = replace(request_for(s, "austral", tmp_path), started=announced.append)
    before = time.time()
    asyncio.run(runners.run(request))
    [handle] = announced
    assert handle["backend"] == "slurm" and handle["job"] == "42" and before <= handle["at"] <= time.time()
    assert time_left(replace(request, run_timeout=600), handle) > 590
    assert time_left(request, {**handle, "at": before - 3600}) == 0


@pytest.mark.parametrize("user", ["analyste1", "Zoé.Martin", "a" * 80, "rapport"])
def test_a_run_container_never_takes_a_lab_container_name(tmp_path, user):
    s = settings(tmp_path)
    name = container_name(s, user, 12)
    labs = {names(s.docker.name_prefix, user, server)["container"] for server in ("", "rapport-12", "12")}
    assert name not in labs
    assert name.startswith(names(s.docker.name_prefix, user)["container"])
    assert container_name(s, user, 13) != name


def script(work_area: Path, setup: str = "") -> str:
    request = SlurmRequest("univ-alpha", "debug", "normal", 1, 1024, 0, 30)
    library = "/data/bibliothèque"
    spec = ExecutionSpec(
        account="austral-ana1", home="/home/austral-ana1", mounts={},
        limits={"request": request, "directives": request.directives()},
        env={"HOME": "/home/austral-ana1", "PYTHONPATH": library, "DATALAB_LIBRARY": library,
             "DATALAB_PARTNERS": "labo-atlas,univ-alpha", "DATALAB_PROFILE": "austral",
             "DATALAB_CLUSTER": "Austral"},
    )
    return report_script(
        name="datalab-rapport-analyste1", spec=spec, work_area=work_area, venv=Path("/opt/venv"),
        setup=setup, prefix=["apptainer", "exec", "/images/lab.sif"],
    )


def test_the_batch_script_holds_the_request_and_quoted_paths_only(tmp_path):
    text = script(Path("/data/reports/work/7 bis"))
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --account=univ-alpha" in lines and "#SBATCH --partition=debug" in lines
    assert "#SBATCH --qos=normal" in lines and "#SBATCH --time=0:30:00" in lines and "#SBATCH --mem=1024M" in lines
    assert "#SBATCH --output=/data/reports/work/7 bis/job.log" in lines
    assert "export DATALAB_PARTNERS=labo-atlas,univ-alpha" in lines
    assert lines[-1] == ("apptainer exec /images/lab.sif python -m hub.services.reports.execute "
                         "'/data/reports/work/7 bis/spec.json'")
    (tmp_path / "job.sh").write_text(text)
    assert subprocess.run(["bash", "-n", str(tmp_path / "job.sh")]).returncode == 0


def test_the_operator_setup_comes_before_the_run(tmp_path):
    lines = script(Path("/w/7"), setup="module load python/3.11").splitlines()
    assert lines.index("module load python/3.11") < lines.index("export PATH=/opt/venv/bin:\"$PATH\"")


@pytest.mark.parametrize("line, expected", [
    ("JobId=12 JobName=datalab-rapport-a UserId=x(1) JobState=FAILED Reason=NonZeroExitCode "
     "Dependency=(null) ExitCode=1:0 RunTime=00:00:05", ("FAILED", "NonZeroExitCode", "1:0")),
    ("JobId=13 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15", ("TIMEOUT", "TimeLimit", "0:15")),
    ("JobId=14 JobState=RUNNING Reason=None ExitCode=0:0", ("RUNNING", "None", "0:0")),
    ("garbage", ("", "", "")),
])
def test_a_job_end_is_read_from_scontrol(line, expected):
    assert job_end(line) == expected


def test_the_reports_service_gets_the_slurm_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_PORT", "18123")
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    monkeypatch.setenv("DATALAB_CONFIG", str(REPO / "datalab.example.yaml"))
    monkeypatch.setenv("SLURM_CONF", "/etc/austral/slurm.conf")
    c = Config()
    hub_apply.configure(c, settings(tmp_path))
    (service,) = [s for s in c.JupyterHub.services if s["name"] == "reports"]
    assert service["environment"]["SLURM_CONF"] == "/etc/austral/slurm.conf"


def test_a_staged_notebook_is_read_through_no_link(tmp_path):
    """A directory swapped for a link after the path was checked is not followed."""
    (tmp_path / "space" / "dossier").mkdir(parents=True)
    (tmp_path / "space" / "dossier" / "n.ipynb").write_text("{}")
    (tmp_path / "ailleurs").mkdir()
    (tmp_path / "ailleurs" / "n.ipynb").write_text('{"secret": 1}')
    path = tmp_path / "space" / "dossier" / "n.ipynb"
    assert read_beneath(path, 1000) == b"{}"
    (tmp_path / "space" / "dossier").rename(tmp_path / "space" / "vu")
    (tmp_path / "space" / "dossier").symlink_to(tmp_path / "ailleurs")
    assert read_beneath(path, 1000) is None
    assert read_beneath(tmp_path / "space" / "vu" / "n.ipynb", 1) is None  # too large


def test_without_a_home_only_library_and_partner_paths_resolve(tmp_path):
    """A backend that gives the owner no home (no cluster login): home paths are not
    found, the library still is."""
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "n.ipynb").write_text("{}")
    assert resolve("bibliotheque/n.ipynb", None, tmp_path / "library", {}) == (tmp_path / "library" / "n.ipynb").resolve()
    with pytest.raises(NotebookProblem) as problem:
        resolve("n.ipynb", None, tmp_path / "library", {})
    assert problem.value.key == "not_found"
