"""Culling policy, disk usage scans and quotas, metrics wiring: the pure parts."""

from __future__ import annotations

import copy
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub import culling, diskusage, lab_activity, metrics
from hub.settings import ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)


def settings_with(**changes):
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return parse(data, REPO)


def error_of(**changes) -> str:
    with pytest.raises(ConfigError) as caught:
        settings_with(**changes)
    return str(caught.value)


# -- settings ---------------------------------------------------------------------------
def test_culling_override_of_an_undeclared_profile_names_the_key():
    message = error_of(culling={"profiles": {"geant": {"idle_timeout": 60}}})
    assert "culling.profiles.geant: unknown profile" in message
    assert "standard, calcul, austral" in message


def test_quota_of_an_undeclared_partner_names_the_key():
    message = error_of(disk_usage={"quotas": {"partners": {"univ-zeta": {"home": "1G"}}}})
    assert "disk_usage.quotas.partners.univ-zeta: unknown partner" in message


def test_quota_size_must_be_a_size():
    message = error_of(disk_usage={"quotas": {"home": "dix gigas"}})
    assert "disk_usage.quotas.home" in message


# -- culling policy ---------------------------------------------------------------------
def server(profile: str | None, started_minutes_ago: float) -> dict:
    started = NOW - dt.timedelta(minutes=started_minutes_ago)
    return {
        "user_options": {"profile": profile} if profile else {},
        "started": started.isoformat().replace("+00:00", "Z"),
    }


def test_idle_timeout_applies_to_a_server_without_profile():
    conf = settings_with(culling={"idle_timeout": 600}).culling
    assert culling.should_cull(conf, dt.timedelta(seconds=600), server(None, 30), NOW)
    assert not culling.should_cull(conf, dt.timedelta(seconds=599), server(None, 30), NOW)


def test_a_profile_keeps_its_own_idle_timeout():
    conf = settings_with(culling={"idle_timeout": 600, "profiles": {"calcul": {"idle_timeout": 7200}}}).culling
    assert not culling.should_cull(conf, dt.timedelta(hours=1), server("calcul", 90), NOW)
    assert culling.should_cull(conf, dt.timedelta(hours=1), server("standard", 90), NOW)
    assert culling.should_cull(conf, dt.timedelta(hours=2), server("calcul", 150), NOW)


def test_max_age_stops_an_active_server_of_its_profile_only():
    conf = settings_with(culling={"max_age": 0, "profiles": {"calcul": {"max_age": 3600}}}).culling
    assert culling.should_cull(conf, dt.timedelta(seconds=5), server("calcul", 61), NOW)
    assert not culling.should_cull(conf, dt.timedelta(seconds=5), server("calcul", 59), NOW)
    assert not culling.should_cull(conf, dt.timedelta(seconds=5), server("standard", 6000), NOW)


def test_culler_service_has_the_least_privilege_role(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_PORT", "18321")
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    s = settings_with(
        storage={"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")},
        culling={"idle_timeout": 900, "every": 30, "named_servers": False},
    )
    c = Config()
    hub_apply.configure(c, s)
    service = next(x for x in c.JupyterHub.services if x["name"] == culling.SERVICE_NAME)
    assert "--timeout=900" in service["command"] and "--cull-every=30" in service["command"]
    assert "--cull-named-servers=False" in service["command"]
    role = next(r for r in c.JupyterHub.load_roles if r["name"] == culling.ROLE_NAME)
    assert role["scopes"] == ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    assert role["services"] == [culling.SERVICE_NAME]
    assert c.JupyterHub.last_activity_interval == 300
    assert c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == "300"
    assert c.LocalSpawner.extra_lab_args == ["--ServerApp.jpserver_extensions=hub.lab_activity=True"]
    metrics_role = next(r for r in c.JupyterHub.load_roles if r["name"] == metrics.ROLE_NAME)
    assert metrics_role["scopes"] == ["read:metrics"]
    token = next(x for x in c.JupyterHub.services if x["name"] == metrics.SERVICE_NAME)["api_token"]
    assert (tmp_path / "data" / "hub" / metrics.TOKEN_FILE).read_text().strip() == token
    again = Config()
    hub_apply.configure(again, s)
    assert next(x for x in again.JupyterHub.services if x["name"] == metrics.SERVICE_NAME)["api_token"] == token


class FakeKernel:
    def __init__(self, state):
        self.execution_state = state


class FakeKernelManager:
    def __init__(self, *states):
        self.kernels = {str(i): FakeKernel(s) for i, s in enumerate(states)}

    def list_kernel_ids(self):
        return list(self.kernels)

    def get_kernel(self, kid):
        return self.kernels[kid]


def test_a_busy_kernel_counts_as_activity():
    assert lab_activity.busy(FakeKernelManager("idle", "busy"))
    assert not lab_activity.busy(FakeKernelManager("idle", "starting"))
    assert not lab_activity.busy(FakeKernelManager())
    assert lab_activity.SETTINGS_KEY.endswith("_last_activity")


# -- disk usage -------------------------------------------------------------------------
def test_scan_counts_files_and_blocks_hard_links_once_symlinks_not_followed(tmp_path):
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "data.bin").write_bytes(os.urandom(100_000))
    os.link(tree / "a" / "data.bin", tree / "same.bin")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(os.urandom(500_000))
    (tree / "lien").symlink_to(outside)
    usage = diskusage.scan(tree, max_entries=1000)
    assert usage.files == 3  # data.bin, same.bin (a hard link), lien
    assert usage.complete
    assert 100_000 <= usage.bytes < 500_000


def test_scan_stops_after_max_entries_and_says_so(tmp_path):
    for i in range(50):
        (tmp_path / f"f{i}").write_text("x")
    usage = diskusage.scan(tmp_path, max_entries=10)
    assert not usage.complete
    assert usage.files == 10


def test_scan_of_a_missing_directory_is_zero(tmp_path):
    assert diskusage.scan(tmp_path / "absent", 10).bytes == 0


def test_cache_keeps_a_measure_for_its_ttl(tmp_path):
    cache = diskusage.UsageCache(ttl=3600, max_entries=1000)
    first = cache.usage(tmp_path)
    (tmp_path / "nouveau.bin").write_bytes(os.urandom(50_000))
    assert cache.usage(tmp_path) == first
    assert diskusage.UsageCache(ttl=0, max_entries=1000).usage(tmp_path).files == 1


def test_home_quota_is_the_largest_of_the_persons_partners():
    conf = settings_with(disk_usage={"quotas": {
        "home": "10G", "partners": {"univ-alpha": {"home": "20G"}, "labo-atlas": {"home": "5G"}},
    }}).disk_usage
    assert diskusage.home_quota(conf, {"univ-alpha", "labo-atlas"}) == 20 * 1024**3
    assert diskusage.home_quota(conf, {"labo-atlas"}) == 5 * 1024**3
    assert diskusage.home_quota(conf, {"univ-beta"}) == 10 * 1024**3


def test_partner_space_quota_override_and_none():
    conf = settings_with(disk_usage={"quotas": {
        "partner_space": None, "partners": {"chu-exemple-nord": {"partner_space": "2T"}},
    }}).disk_usage
    assert diskusage.partner_quota(conf, "chu-exemple-nord") == 2 * 1024**4
    assert diskusage.partner_quota(conf, "univ-alpha") is None


def test_sizes_are_shown_in_french_units():
    assert diskusage.human(512) == "512 o"
    assert diskusage.human(1536) == "1,5 Kio"
    assert diskusage.human(3 * 1024**3) == "3,0 Gio"


class FakeVolumes:
    def __init__(self, known: dict[str, str]):
        self.known = known

    def get(self, name):
        import docker

        if name not in self.known:
            raise docker.errors.NotFound(f"no volume {name}")
        return type("Volume", (), {"attrs": {"Mountpoint": self.known[name]}})()


def test_home_is_the_home_volume_on_docker_and_under_the_data_dir_on_local():
    docker_settings = settings_with(
        spawner={**EXAMPLE["spawner"], "backend": "docker"},
        profiles=[p for p in EXAMPLE["profiles"] if "backend" not in p],
    )
    client = type("Client", (), {"volumes": FakeVolumes({"datalab-home-analyste1": "/var/lib/docker/volumes/x/_data"})})()
    assert diskusage.home_path(docker_settings, "analyste1", client) == Path("/var/lib/docker/volumes/x/_data")
    assert diskusage.home_path(docker_settings, "analyste2", client) is None
    local = settings_with()
    assert diskusage.home_path(local, "analyste1") == local.data_dir / "homes" / "jupyter-analyste1"


def test_the_culler_stops_on_sigint_even_when_started_with_sigint_ignored():
    """The hub stops its services with SIGINT (SIGTERM only 30 s later); a shell's
    background job inherits SIGINT ignored. The culler must stop on it all the same."""
    env = {**os.environ, "JUPYTERHUB_API_TOKEN": "not-a-token", "DATALAB_CONFIG": str(REPO / "datalab.example.yaml")}
    culler = subprocess.Popen(
        [sys.executable, "-m", "hub.culling", "--url=http://127.0.0.1:9/hub/api", "--cull-every=5"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        time.sleep(2)  # its loop is running (port 9 refuses: a failed cull is logged)
        assert culler.poll() is None
        culler.send_signal(signal.SIGINT)
        assert culler.wait(timeout=15) == 0
    finally:
        culler.kill()
