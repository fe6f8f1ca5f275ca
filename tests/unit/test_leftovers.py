"""The run's check for processes left behind (tests/services/leftovers.py) can fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.services.leftovers"]\n')
    (tmp_path / "test_it.py").write_text(f"import subprocess\n\n\ndef test_it():\n    {body}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATALAB_LEFTOVER_GRACE": "2"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_detached_process_left_behind_fails_the_run_and_is_ended(tmp_path):
    marker = f"sleep 3{os.getpid() % 1000:03d}"
    body = (
        f'subprocess.Popen(["setsid", "sh", "-c", "{marker} & exit 0"]); '
        "import time; deadline = time.monotonic() + 10\n"
        f'    while "{marker}" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout:\n'
        "        assert time.monotonic() < deadline\n"
        "        time.sleep(0.1)"
    )
    done = run(tmp_path, body)
    assert done.returncode == 1, done.stdout
    last = done.stderr.strip().splitlines()  # printed last, after pytest's summary
    assert last[-2].startswith("FAILED: the test run left 1 process(es) behind"), done.stderr
    assert marker in last[-1]
    assert marker not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


def test_a_run_that_ends_its_processes_passes(tmp_path):
    done = run(tmp_path, 'subprocess.run(["sh", "-c", "sleep 0.1 & wait"], check=True)')
    assert done.returncode == 0, done.stdout
    assert "behind" not in done.stdout + done.stderr


def test_an_orphan_that_ends_during_the_run_is_collected_not_left_a_zombie(tmp_path):
    """A process whose parent died ends during the run: its PID must not look alive (a
    hub checks with kill(pid, 0) that the proxy its killed predecessor left has stopped)."""
    body = (
        'p = subprocess.run(["sh", "-c", "sleep 1 & echo $!"], capture_output=True, text=True); '
        "import os, time; pid = int(p.stdout); deadline = time.monotonic() + 10\n"
        "    while time.monotonic() < deadline:\n"
        "        try:\n"
        "            os.kill(pid, 0)\n"
        "        except ProcessLookupError:\n"
        "            break\n"
        "        time.sleep(0.1)\n"
        "    else:\n"
        "        raise AssertionError('orphan still looks alive')"
    )
    done = run(tmp_path, body)
    assert done.returncode == 0, done.stdout
