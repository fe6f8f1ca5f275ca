"""Deployments for unit tests: ``datalab.example.yaml`` with its data directory in a test's
temporary directory."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from hub.settings import Settings, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def example_in(tmp_path: Path, **changes) -> dict:
    """The example deployment's data, its data directory under ``tmp_path``, its library
    from ``shared_notebooks``, with ``changes`` (top-level keys) applied."""
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    data.update(changes)
    return data


def settings_in(tmp_path: Path, base_dir: Path = REPO, **changes) -> Settings:
    """:func:`example_in` parsed, relative paths from ``base_dir``."""
    return parse(example_in(tmp_path, **changes), base_dir)
