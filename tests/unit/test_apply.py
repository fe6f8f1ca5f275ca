"""Settings -> JupyterHub configuration, on a real data directory."""

from __future__ import annotations

import copy
import os
import stat

import pytest
from traitlets.config import Config

from hub import apply as hub_apply
from hub.backends import dispatch
from hub.secretfiles import kept_secret
from hub.settings import ConfigError, parse

from .deployment import EXAMPLE, REPO, settings_in


def test_apply_configures_hub_proxy_and_spawner(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_PORT", "18123")
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    c = Config()
    hub_apply.configure(c, settings_in(tmp_path))
    assert c.JupyterHub.bind_url == "http://127.0.0.1:18123/"
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:18124"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18125"
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'data' / 'hub' / 'jupyterhub.sqlite'}"
    assert c.SharedPasswordAuthenticator.user_password == "un-mot-de-passe"
    # local and Austral profiles (the class is wrapped by the audit trail's subclass)
    assert issubclass(c.JupyterHub.spawner_class, dispatch.ProfileSpawner)
    assert "partner-univ-alpha" in c.JupyterHub.load_groups
    assert c.JupyterHub.concurrent_spawn_limit == 100


def test_library_copy_is_read_only_for_others(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    hub_apply.configure(Config(), settings_in(tmp_path))
    library = tmp_path / "data" / "library" / "current"
    notebook = library / "02-carte-normandie.ipynb"
    assert stat.S_IMODE(notebook.stat().st_mode) == 0o644
    assert stat.S_IMODE((library / "data").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "data" / "hub").stat().st_mode) == 0o700


def test_demo_password_is_generated_once_and_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATALAB_DEMO_PASSWORD", raising=False)
    settings = settings_in(tmp_path)
    first, second = Config(), Config()
    hub_apply.configure(first, settings)
    hub_apply.configure(second, settings)
    password = first.SharedPasswordAuthenticator.user_password
    assert len(password) >= 8 and password == second.SharedPasswordAuthenticator.user_password
    assert f"password: {password}" in capsys.readouterr().err
    secret = tmp_path / "data" / "hub" / "demo_password"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_kept_secret_is_never_regenerated(tmp_path):
    assert kept_secret(tmp_path / "s" / "token") == kept_secret(tmp_path / "s" / "token")


@pytest.mark.skipif(os.geteuid() != 0, reason="the check guards per-user accounts, made as root")
def test_data_dir_unreachable_by_lab_accounts_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(private / "data"), "library_source": str(REPO / "shared_notebooks")}
    with pytest.raises(ConfigError, match=rf"storage.data_dir: .* cannot traverse {private} \(mode 700\)"):
        hub_apply.configure(Config(), parse(data, REPO))


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_the_dashboards_service_runs_on_local_and_docker_deployments(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("DATALAB_PORT", "18123")
    settings = settings_in(tmp_path, spawner={**EXAMPLE["spawner"], "backend": backend})
    c = Config()
    hub_apply.apply_dashboards(c, settings)
    assert [s["name"] for s in c.JupyterHub.services] == ["dashboards"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o666])
def test_secret_open_to_group_or_others_stops_the_hub(tmp_path, monkeypatch, mode):
    """Attack: a proxy token left readable (or writable) by others is refused, and the
    message names the file and the mode expected without quoting the secret."""
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    settings = settings_in(tmp_path)
    hub_apply.configure(Config(), settings)
    token = tmp_path / "data" / "hub" / "proxy_token"
    secret = token.read_text().strip()
    token.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        hub_apply.configure(Config(), settings)
    message = str(refused.value)
    assert str(token) in message and f"{mode:04o}" in message and "0600" in message
    assert secret not in message


def test_open_cookie_secret_stops_the_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    settings = settings_in(tmp_path)
    hub_apply.configure(Config(), settings)
    cookie = tmp_path / "data" / "hub" / "cookie_secret"
    cookie.write_text("c0ffee" * 10)
    cookie.chmod(0o644)
    with pytest.raises(ConfigError, match="cookie_secret.*0644.*0600") as refused:
        hub_apply.configure(Config(), settings)
    assert "c0ffee" not in str(refused.value)
    cookie.chmod(0o600)
    hub_apply.configure(Config(), settings)


def test_private_secret_files_are_used(tmp_path):
    path = tmp_path / "s" / "token"
    value = kept_secret(path)
    path.chmod(0o400)
    assert kept_secret(path) == value
