"""Unit tests' shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


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
