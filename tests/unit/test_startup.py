"""Start-up (hub/startup.py) makes what the hub needs once and idempotently; applying
the deployment (hub/apply.py) then changes nothing outside JupyterHub's configuration;
the operator's ``jupyterhub_config.d`` files come last."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from traitlets.config import Config, PyFileConfigLoader

from hub import apply as hub_apply
from hub import startup

from .deployment import REPO, example_in, settings_in


def snapshot(root: Path) -> dict[str, tuple[int, int, float]]:
    """Every path under ``root`` with its mode, size and modification time."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def test_prepare_twice_changes_nothing_and_keeps_the_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("DATALAB_DEMO_PASSWORD", raising=False)
    settings = settings_in(tmp_path)
    first = startup.prepare(settings)
    before = snapshot(tmp_path / "data")
    second = startup.prepare(settings)
    after = snapshot(tmp_path / "data")
    assert {path: mode for path, (mode, _, _) in after.items()} == {path: mode for path, (mode, _, _) in before.items()}
    assert (first.proxy_token, first.metrics_token, first.demo_password) == (
        second.proxy_token, second.metrics_token, second.demo_password)
    assert (tmp_path / "data" / "library" / "current").is_symlink()


def test_apply_changes_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    settings = settings_in(tmp_path)
    host = startup.prepare(settings)
    before = snapshot(tmp_path)
    c = Config()
    hub_apply.apply(c, settings, host)
    assert snapshot(tmp_path) == before
    assert c.ConfigurableHTTPProxy.auth_token == host.proxy_token


def test_config_dir_files_load_after_the_deployment_in_name_order(tmp_path, monkeypatch):
    extra = tmp_path / "jupyterhub_config.d"
    extra.mkdir()
    (extra / "20-url.py").write_text('c.Spawner.default_url = "/tree"\n', encoding="utf-8")
    (extra / "10-url.py").write_text('c.Spawner.default_url = "/doc"\n', encoding="utf-8")
    (extra / "notes.txt").write_text('c.Spawner.default_url = "/ignored"\n', encoding="utf-8")
    (tmp_path / "datalab.yaml").write_text(yaml.safe_dump(example_in(tmp_path)), encoding="utf-8")
    monkeypatch.setenv("DATALAB_CONFIG", str(tmp_path / "datalab.yaml"))
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    monkeypatch.delenv("DATALAB_BACKEND", raising=False)

    assert [p.name for p in hub_apply.config_files(settings_in(tmp_path, tmp_path))] == ["10-url.py", "20-url.py"]
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO)).load_config()
    assert config.Spawner.default_url == "/tree"
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000/"  # the deployment is applied too


def test_no_config_dir_loads_nothing(tmp_path):
    assert hub_apply.config_files(settings_in(tmp_path, tmp_path, hub={"config_dir": None})) == []
    assert hub_apply.config_files(settings_in(tmp_path, tmp_path)) == []  # default folder absent


def test_batchspawner_api_exists_once_a_dispatching_deployment_is_applied(tmp_path):
    """The dispatcher creates the Slurm spawner only when a lab starts; batchspawner's
    API (where a starting Slurm lab reports its port) must be registered by then, so the
    check runs in a fresh interpreter, after applying the example (local and Austral);
    like every unit test, it leaves this machine's firewall alone (tests/unit/conftest.py)."""
    program = (
        "import subprocess, sys; from pathlib import Path; from traitlets.config import Config\n"
        "from hub.backends import netfilter\n"
        "netfilter._run = lambda argv, stdin=None: subprocess.CompletedProcess(argv, 0, '', '')\n"
        "from hub.apply import configure; from tests.unit.deployment import settings_in\n"
        f"configure(Config(), settings_in(Path({str(tmp_path)!r})))\n"
        "from jupyterhub.apihandlers import default_handlers\n"
        "sys.exit(0 if any(h[0] == '/api/batchspawner' for h in default_handlers) else 3)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "DATALAB_DEMO_PASSWORD": "un-mot-de-passe"}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
