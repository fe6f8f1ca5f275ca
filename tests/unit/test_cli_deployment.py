"""The ``datalab`` command finds the deployment file as ``make run`` does:
``DATALAB_CONFIG``, else ``datalab.yaml``, else ``datalab.example.yaml`` (the working
directory, then the repository), and names the files it looked for when there is none."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import hub.settings as settings_module
from hub import cli
from hub.settings import ConfigError, config_path

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "datalab.example.yaml"


@pytest.fixture
def bare(tmp_path, monkeypatch) -> Path:
    """An empty working directory, a repository without deployment files, no
    ``DATALAB_CONFIG``."""
    work, repository = tmp_path / "work", tmp_path / "repo"
    work.mkdir()
    repository.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(settings_module, "REPOSITORY", repository)
    monkeypatch.delenv("DATALAB_CONFIG", raising=False)
    return tmp_path


def test_the_example_is_used_when_there_is_no_datalab_yaml(bare):
    shutil.copy(EXAMPLE, bare / "work" / "datalab.example.yaml")
    assert config_path() == bare / "work" / "datalab.example.yaml"


def test_datalab_yaml_wins_over_the_example(bare):
    shutil.copy(EXAMPLE, bare / "work" / "datalab.example.yaml")
    shutil.copy(EXAMPLE, bare / "work" / "datalab.yaml")
    assert config_path() == bare / "work" / "datalab.yaml"


def test_the_repository_is_looked_in_after_the_working_directory(bare):
    shutil.copy(EXAMPLE, bare / "repo" / "datalab.example.yaml")
    assert config_path() == bare / "repo" / "datalab.example.yaml"


def test_datalab_config_wins(bare, monkeypatch):
    shutil.copy(EXAMPLE, bare / "work" / "datalab.yaml")
    monkeypatch.setenv("DATALAB_CONFIG", str(bare / "autre.yaml"))
    assert config_path() == bare / "autre.yaml"


def test_no_deployment_file_lists_the_files_looked_for(bare, monkeypatch, capsys):
    with pytest.raises(ConfigError) as missing:
        config_path()
    for place in ("work", "repo"):
        for name in ("datalab.yaml", "datalab.example.yaml"):
            assert str(bare / place / name) in str(missing.value)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "un-jeton")
    assert cli.main(["reports", "list"]) == 2
    err = capsys.readouterr().err
    assert "no deployment file found" in err
    assert str(bare / "work" / "datalab.example.yaml") in err


class FakeReports(BaseHTTPRequestHandler):
    """The reports API's schedule list, answering only the expected token."""

    seen: list[tuple[str, str]] = []

    def do_GET(self):
        FakeReports.seen.append((self.path, self.headers.get("Authorization", "")))
        if self.path != "/services/reports/api/schedules" or self.headers.get("Authorization") != "token un-jeton":
            self.send_error(404)
            return
        body = json.dumps([{
            "id": "rapport-76", "cron": "0 6 * * *", "time_zone": "Europe/Paris", "next_run": None,
            "notebook": "bibliotheque/03-rapport-departement.ipynb", "parameters": {"department": "76"},
        }]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_reports_list_works_as_make_run_is_run_without_datalab_yaml(tmp_path):
    """`make run` in a working tree without datalab.yaml (DATALAB_CONFIG unset): the
    installed `datalab reports list` reads the same deployment and reaches its hub."""
    shutil.copy(EXAMPLE, tmp_path / "datalab.example.yaml")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeReports)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {k: v for k, v in os.environ.items() if k != "DATALAB_CONFIG"}
        env.update(DATALAB_PORT=str(server.server_address[1]), JUPYTERHUB_API_TOKEN="un-jeton")
        done = subprocess.run(
            [str(REPO / ".venv" / "bin" / "datalab"), "reports", "list"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rapport-76\t0 6 * * * (Europe/Paris)")
    assert ("/services/reports/api/schedules", "token un-jeton") in FakeReports.seen
