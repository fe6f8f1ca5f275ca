"""Unit tests' shared fixtures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hub.backends import netfilter


@pytest.fixture
def tmp_path(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's ``tmp_path``, made traversable by other accounts (pytest creates it and
    its parents 0700): as root, labs and runs execute as per-user accounts that must
    reach the data directory, and the hub checks that they can."""
    root = tmp_path_factory.getbasetemp().parent
    for directory in (tmp_path, *tmp_path.parents):
        directory.chmod(0o755)
        if directory == root:
            break
    return tmp_path


@pytest.fixture(autouse=True)
def host_firewall_untouched(monkeypatch) -> list[list[str]]:
    """Unit tests never change this machine's firewall: as root, start-up would install
    the local backend's health-data chain (hub.backends.local.firewall) and nothing in a
    unit run would remove it. Every iptables command goes through ``netfilter._run``;
    here it only records its argument list (the list returned) and succeeds."""
    calls: list[list[str]] = []

    def record(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(netfilter, "_run", record)
    return calls
