"""A profile's memory reaches every execution of its backend through that backend's one
policy function (``hub.backends.<name>.policy.execution``): the docker lab, dashboard
and report containers, the ``#SBATCH --mem`` line of Slurm labs and report runs, the
address-space limit of local report runs."""

from __future__ import annotations

import asyncio
import pwd
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from hub.backends.docker import dashboard as docker_dashboard
from hub.backends.docker import lab as docker_lab
from hub.backends.docker import report as docker_report
from hub.backends.local import policy as local_policy
from hub.backends.local import report as local_report
from hub.backends.protocol import Person
from hub.backends.slurm import lab as slurm_lab
from hub.backends.slurm import policy as slurm_policy
from hub.backends.slurm import report as slurm_report
from hub.backends.slurm.transport import Submitted
from hub.messages import text
from hub.services.dashboards.runners import Launch
from hub.services.dashboards.store import Dashboard
from hub.services.reports.archive import RunOutcome
from hub.services.reports.runners import RunRequest
from hub.settings import Audience, memory_bytes
from hub.storage import Layout

from ..deployment import EXAMPLE, settings_in

OWNER, PARTNERS = "analyste1", {"univ-alpha"}
#: The owner's cluster login: an ordinary account (uid 4321) the tests add to ``pwd``.
CLUSTER_LOGIN = "ana-austral"


def t(key, **values):
    return text("fr", key, **values)


def settings_on(tmp_path: Path, backend: str):
    settings = settings_in(tmp_path, spawner={**EXAMPLE["spawner"], "backend": backend},
                           slurm={**EXAMPLE["slurm"], "login": {"table": {OWNER: CLUSTER_LOGIN}}})
    Layout(settings.data_dir).create()
    return settings


def profile(settings, profile_id: str):
    return next(p for p in settings.profiles if p.id == profile_id)


@pytest.fixture
def policy_calls(monkeypatch):
    """Every call of a backend's policy function made by a consumer module, as
    ``(module name, profile id, spec)``."""
    calls = []

    def spy(module):
        real = module.execution

        def execution(settings, person, profile, *args, **kwargs):
            spec = real(settings, person, profile, *args, **kwargs)
            calls.append((module.__name__, profile.id if profile else None, spec))
            return spec

        monkeypatch.setattr(module, "execution", execution)

    for module in (docker_lab, docker_dashboard, docker_report, slurm_lab, slurm_report, local_report):
        spy(module)
    return calls


class FakeContainer:
    id = "c0ffee"
    attrs = {"NetworkSettings": {"Networks": {}}}

    def put_archive(self, path, data):
        return True

    def start(self):
        pass

    def reload(self):
        pass


class FakeEngine:
    """The docker-py calls the runners make, recording each container's options."""

    def __init__(self):
        self.created: list[dict] = []
        self.volumes = SimpleNamespace(create=lambda name, labels: SimpleNamespace(name=name))
        self.containers = SimpleNamespace(create=self._create, get=self._get)

    def _create(self, image, command=None, **options):
        self.created.append(options)
        return FakeContainer()

    def _get(self, name):
        raise docker.errors.NotFound(name)


def run_request(tmp_path: Path, settings, profile_id: str) -> RunRequest:
    notebook = tmp_path / "rapport.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    work_area = tmp_path / "run"
    work_area.mkdir()
    return RunRequest(run_id=1, owner=OWNER, partner_ids=PARTNERS, notebook=notebook, parameters={},
                      kernel="python3", profile=profile(settings, profile_id), work_area=work_area,
                      log_path=tmp_path / "run.log", cell_timeout=10, run_timeout=10)


def test_docker_memory_reaches_the_lab_the_dashboard_and_the_report_container(tmp_path, policy_calls):
    settings = settings_on(tmp_path, "docker")
    calcul = profile(settings, "calcul")
    expected = memory_bytes(calcul.memory)

    user = SimpleNamespace(name=OWNER, groups=[SimpleNamespace(name="partner-univ-alpha")])
    spawner = docker_lab.DataLabDockerSpawner(datalab_settings=settings, user=user)
    spawner.apply_profile(calcul)
    spawner.prepare_execution()
    host = spawner._host_config(spawner)
    assert host["mem_limit"] == host["memswap_limit"] == expected

    engine = FakeEngine()
    runner = docker_dashboard.DockerRunner.__new__(docker_dashboard.DockerRunner)
    runner.settings, runner.client, runner.image, runner.prefix = settings, engine, "image", settings.docker.name_prefix
    notebook = tmp_path / "carte.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    board = Dashboard(id="carte", title="Carte", author=OWNER, partner="univ-alpha",
                      audience=Audience(all=True), profile="calcul")
    runner._create(Launch(board, notebook, "/services/dashboards/d/carte/", PARTNERS, calcul), [], "jeton")
    assert engine.created[-1]["mem_limit"] == engine.created[-1]["memswap_limit"] == expected

    reports = docker_report.DockerRunner(settings)
    reports._client = engine
    reports._create(run_request(tmp_path, settings, "calcul"))
    assert engine.created[-1]["mem_limit"] == engine.created[-1]["memswap_limit"] == expected

    assert [(module, profile_id) for module, profile_id, _ in policy_calls] == [
        ("hub.backends.docker.lab", "calcul"),
        ("hub.backends.docker.dashboard", "calcul"),
        ("hub.backends.docker.report", "calcul"),
    ]
    assert all(spec.limits["mem_limit"] == expected for _, _, spec in policy_calls)


def test_a_docker_lab_container_is_not_auto_removed(tmp_path, policy_calls):
    """dockerd's --live-restore drops auto-removed containers when it restarts: the lab's
    container is removed by the spawner at its stop instead (DockerSpawner's ``remove``)."""
    settings = settings_on(tmp_path, "docker")
    user = SimpleNamespace(name=OWNER, groups=[SimpleNamespace(name="partner-univ-alpha")])
    spawner = docker_lab.DataLabDockerSpawner(datalab_settings=settings, user=user, remove=True)
    spawner.apply_profile(profile(settings, "calcul"))
    spawner.prepare_execution()
    assert spawner._host_config(spawner)["auto_remove"] is False


def test_slurm_memory_reaches_the_sbatch_mem_line_of_labs_and_report_runs(tmp_path, policy_calls, monkeypatch):
    real_getpwnam = pwd.getpwnam

    def getpwnam(name):
        if name == CLUSTER_LOGIN:
            return pwd.struct_passwd((name, "x", 4321, 4321, "", str(tmp_path), "/bin/sh"))
        return real_getpwnam(name)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    settings = settings_on(tmp_path, "local")
    austral = profile(settings, "austral")

    user = SimpleNamespace(name=OWNER, groups=[SimpleNamespace(name="partner-univ-alpha")])

    async def no_auth_state():
        return None

    user.get_auth_state = no_auth_state
    spawner = slurm_lab.SlurmSpawner(datalab_settings=settings, user=user)
    spawner.apply_profile(austral)
    spawner.apply_profile_options(austral, {"memory": "3G"})
    scripts = []

    async def sbatch(script):
        scripts.append(script)
        return Submitted("", "refused by the test")

    monkeypatch.setattr(spawner, "_submit", sbatch)
    with pytest.raises(slurm_policy.SlurmError):
        asyncio.run(spawner.start())
    assert "#SBATCH --mem=3072M" in scripts[0].splitlines()

    runner = slurm_report.SlurmRunner(settings)

    async def submit(request, login, script, t):
        scripts.append(script)
        return RunOutcome("failed", "not submitted")

    monkeypatch.setattr(runner, "_submit_and_follow", submit)
    asyncio.run(runner.run(run_request(tmp_path, settings, "austral")))
    default = memory_bytes(settings.slurm.entitlements[0].default_memory) // 1024**2
    assert f"#SBATCH --mem={default}M" in scripts[1].splitlines()

    assert [(module, profile_id) for module, profile_id, _ in policy_calls] == [
        ("hub.backends.slurm.lab", "austral"),
        ("hub.backends.slurm.report", "austral"),
    ]
    assert [spec.limits["request"].memory_mib for _, _, spec in policy_calls] == [3072, default]


def test_local_memory_is_the_report_runs_address_space_limit(tmp_path):
    settings = settings_on(tmp_path, "local")
    calcul = profile(settings, "calcul")
    spec = local_policy.execution(settings, Person.of(OWNER, PARTNERS), calcul)
    assert spec.limits == {"RLIMIT_AS": memory_bytes(calcul.memory)}
    assert spec.env["DATALAB_PROFILE"] == "calcul"
