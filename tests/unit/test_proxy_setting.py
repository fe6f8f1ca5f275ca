"""``proxy.managed``: the hub starts its proxy, or connects to one run apart (systemd)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub.settings import ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def settings_with(proxy: dict | None):
    data = copy.deepcopy(EXAMPLE)
    if proxy is None:
        data.pop("proxy", None)
    else:
        data["proxy"] = proxy
    return parse(data, REPO)


def test_by_default_the_hub_starts_its_proxy_and_stops_labs_with_it():
    c = Config()
    settings = settings_with(None)
    assert settings.proxy.managed is True
    hub_apply.apply_proxy(c, settings)
    assert "should_start" not in c.ConfigurableHTTPProxy
    assert "cleanup_servers" not in c.JupyterHub


def test_the_hub_starts_the_proxy_it_manages_again_within_a_second_of_its_end():
    c = Config()
    hub_apply.apply_proxy(c, settings_with(None))
    assert c.ConfigurableHTTPProxy.check_running_interval == hub_apply.MANAGED_PROXY_CHECK == 1


def test_the_hub_starts_the_repositorys_proxy():
    c = Config()
    hub_apply.apply_proxy(c, settings_with(None))
    assert c.ConfigurableHTTPProxy.command == [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]


def test_an_external_proxy_needs_no_proxy_command_where_the_hub_runs(tmp_path, monkeypatch):
    # a server deployed by ansible/: the proxy runs from its own directory, none on PATH
    monkeypatch.setattr(hub_apply, "REPO", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    c = Config()
    hub_apply.apply_proxy(c, settings_with({"managed": False}))
    assert "command" not in c.ConfigurableHTTPProxy
    with pytest.raises(ConfigError, match="configurable-http-proxy not found"):
        hub_apply.apply_proxy(Config(), settings_with(None))


def test_an_external_proxy_is_not_started_and_labs_outlive_the_hub():
    c = Config()
    hub_apply.apply_proxy(c, settings_with({"managed": False}))
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.JupyterHub.cleanup_servers is False


def test_an_external_proxy_gets_its_routes_back_without_waiting_for_the_periodic_check():
    from hub.routecheck import MARKER, RouteCheckingProxy

    c = Config()
    hub_apply.apply_proxy(c, settings_with({"managed": False}))
    assert c.JupyterHub.proxy_class is RouteCheckingProxy
    assert MARKER in c.Proxy.extra_routes
    assert RouteCheckingProxy().route_check_interval == 1.0


def test_unknown_proxy_key_names_its_path():
    with pytest.raises(ConfigError, match=r"proxy\.command"):
        settings_with({"managed": False, "command": "chp"})
