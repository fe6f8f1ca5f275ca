"""One run's process on its own (what every runner executes), without a hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def execute(tmp_path: Path, **changes) -> tuple[int, dict]:
    (tmp_path / "work").mkdir()
    spec = {
        "notebook": str(REPO / "shared_notebooks" / "03-rapport-departement.ipynb"),
        "output_dir": str(tmp_path), "work_dir": str(tmp_path / "work"),
        "parameters": {"department": "27", "report_date": "2020-03-27"},
        "kernel": "python3", "cell_timeout": 60, "language": "fr", "title": "Eure",
        **changes,
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.services.reports.execute"], input=json.dumps(spec), text=True,
        capture_output=True, timeout=180, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "shared_notebooks")},
        cwd=REPO,
    )
    return done.returncode, json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))


def test_a_missing_kernelspec_fails_clearly_before_anything_runs(tmp_path):
    code, result = execute(tmp_path, kernel="absent")
    assert code == 1
    assert result["error"].startswith("Noyau (kernelspec) « absent » introuvable. Noyaux disponibles : ")
    assert "python3" in result["error"]
    assert not (tmp_path / "notebook.ipynb").exists()


def test_a_run_writes_the_notebook_and_the_html(tmp_path):
    code, result = execute(tmp_path)
    assert (code, result) == (0, {"status": "succeeded", "error": None})
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Eure (27)" in html and "Personnes hospitalisées</strong> : 39" in html
    assert "<title>Eure</title>" in html and 'lang="fr"' in html
