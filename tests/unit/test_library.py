"""The library's loading code on the real ARS Normandie reports and IGN boundaries."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared_notebooks"))
import normandie  # noqa: E402


@pytest.fixture(scope="module")
def reports():
    return normandie.load_reports()


def test_tidy_columns_and_types(reports):
    assert list(reports.columns) == ["date", "department_code", "department_name", *normandie.INDICATORS]
    assert all(str(reports[c].dtype) == "Int64" for c in normandie.INDICATORS)


def test_seine_maritime_hospitalised_on_27_march(reports):
    row = reports[(reports.department_code == "76") & (reports.date == "2020-03-27")]
    assert row.department_name.item() == "Seine-Maritime"
    assert row.hospitalised.item() == 170 and row.deaths.item() == 16


def test_unpublished_figures_are_missing_not_zero(reports):
    early = reports[(reports.date == "2020-03-10") & (reports.department_code == "50")]
    assert early.confirmed_cases.item() == 6
    assert pd.isna(early.hospitalised.item())
    published_zero = reports[(reports.date == "2020-03-10") & (reports.department_code == "61")]
    assert published_zero.deaths.item() == 0


def test_every_row_is_one_of_the_five_departments(reports):
    assert set(reports.department_code) == set(normandie.DEPARTMENTS)
    assert not reports.duplicated(["date", "department_code"]).any()


def test_regional_table():
    regional = normandie.load_regional()
    last = regional[regional.date == "2020-03-27"]
    assert last.confirmed_cases.item() == 912 and last.intensive_care.item() == 91


def test_department_shapes():
    shapes = normandie.load_departments()
    assert sorted(shapes.department_code) == ["14", "27", "50", "61", "76"]
    assert shapes.crs.to_epsg() == 4326


def test_missing_report_date_raises(reports):
    with pytest.raises(KeyError, match="2020-03-01"):
        normandie.department_on(reports, "2020-03-01")
