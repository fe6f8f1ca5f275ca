"""Loading code shared by the library's notebooks: Normandy COVID-19 reports and maps.

Sources (Licence Ouverte / Etalab 2.0), see ``data/README.md``:
- ARS Normandie daily situation reports, 2020-02-28 to 2020-03-27 (via opencovid19-fr);
- department boundaries, IGN Admin Express COG 2018 (via france-geojson), EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

DATA = Path(__file__).resolve().parent / "data"
REPORTS = DATA / "sante" / "ars-normandie-covid19-2020"
DEPARTMENTS_GEOJSON = DATA / "geo" / "departements-normandie.geojson"

#: INSEE code -> name of the five Normandy departments.
DEPARTMENTS = {
    "14": "Calvados",
    "27": "Eure",
    "50": "Manche",
    "61": "Orne",
    "76": "Seine-Maritime",
}

#: Tidy column -> field of the ARS reports; every indicator counts people.
INDICATORS = {
    "confirmed_cases": "casConfirmes",
    "hospitalised": "hospitalises",
    "intensive_care": "reanimation",
    "deaths": "deces",
    "recovered": "gueris",
}

#: French labels of the indicators, for charts and dashboards.
LABELS = {
    "confirmed_cases": "Cas confirmés",
    "hospitalised": "Personnes hospitalisées",
    "intensive_care": "En réanimation",
    "deaths": "Décès",
    "recovered": "Retours à domicile",
}

ATTRIBUTION = (
    "Données : ARS Normandie, via opencovid19-fr ; limites : IGN / INSEE. Licence Ouverte."
)

#: The height of a figure kept under its axes for the attribution (a fraction of it)
CREDIT_HEIGHT = 0.06


def credit(figure) -> None:
    """Write the data's attribution at the bottom of ``figure``, in a band of its own
    under the axes and their labels (never over the x-axis label)."""
    figure.text(0.01, 0.01, ATTRIBUTION, fontsize=7, color="grey")
    figure.tight_layout(rect=(0, CREDIT_HEIGHT, 1, 1))


def _reports() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(REPORTS.glob("*.yaml"))]


def _counts(block: dict) -> dict:
    # A field absent from a report was not published that day: NA, never 0.
    return {column: block.get(field) for column, field in INDICATORS.items()}


def load_reports() -> pd.DataFrame:
    """One row per report date and department the report mentions.

    Columns: ``date`` (datetime64), ``department_code`` (str, INSEE: "14"...),
    ``department_name`` (str) and the :data:`INDICATORS` as nullable integers
    (``Int64``; ``<NA>`` where the report did not publish the figure).
    """
    rows = []
    for report in _reports():
        for dep in report.get("donneesDepartementales") or []:
            code = str(dep["code"]).removeprefix("DEP-")
            rows.append(
                {
                    "date": pd.Timestamp(str(report["date"])),
                    "department_code": code,
                    "department_name": DEPARTMENTS.get(code, dep.get("nom")),
                    **_counts(dep),
                }
            )
    table = pd.DataFrame(rows)
    for column in INDICATORS:
        table[column] = table[column].astype("Int64")
    return table.sort_values(["date", "department_code"], ignore_index=True)


def load_regional() -> pd.DataFrame:
    """The region-wide figures: one row per report date, ``date`` and the
    :data:`INDICATORS` as nullable integers (``Int64``)."""
    rows = [
        {"date": pd.Timestamp(str(r["date"])), **_counts(r.get("donneesRegionales") or {})}
        for r in _reports()
    ]
    table = pd.DataFrame(rows)
    for column in INDICATORS:
        table[column] = table[column].astype("Int64")
    return table.sort_values("date", ignore_index=True)


def load_departments():
    """The five departments as a GeoDataFrame (EPSG:4326): ``department_code``,
    ``department_name``, ``geometry``. Needs geopandas."""
    import geopandas

    shapes = geopandas.read_file(DEPARTMENTS_GEOJSON)
    shapes = shapes.rename(columns={"code": "department_code", "nom": "department_name"})
    return shapes[["department_code", "department_name", "geometry"]]


def department_on(table: pd.DataFrame, date: str | pd.Timestamp) -> pd.DataFrame:
    """The rows of ``table`` (from :func:`load_reports`) for one report date, one per
    department mentioned that day. Raises ``KeyError`` when there is no report that day."""
    day = table[table["date"] == pd.Timestamp(date)]
    if day.empty:
        raise KeyError(f"no ARS report dated {pd.Timestamp(date).date()}")
    return day
