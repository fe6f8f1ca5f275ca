"""The library's charts: the data attribution is written under the axes, never over a label."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LIBRARY = Path(__file__).resolve().parents[2] / "shared_notebooks"
sys.path.insert(0, str(LIBRARY))
import normandie  # noqa: E402


def test_the_attribution_of_a_report_chart_does_not_overlap_the_x_axis_label():
    reports = normandie.load_reports()
    history = reports[(reports["department_code"] == "14") & (reports["date"] <= "2020-03-27")]
    series = history.set_index("date")[["hospitalised", "deaths"]].astype("float")
    ax = series.plot(marker="o", figsize=(8, 4))
    ax.set_xlabel("Date du point de situation")
    normandie.credit(ax.figure)
    ax.figure.canvas.draw()  # the labels take their places at drawing, as in the report
    renderer = ax.figure.canvas.get_renderer()
    attribution = next(t for t in ax.figure.texts if t.get_text() == normandie.ATTRIBUTION)
    credit_box = attribution.get_window_extent(renderer)
    assert not credit_box.overlaps(ax.xaxis.label.get_window_extent(renderer))
    for tick in ax.get_xticklabels():
        assert not credit_box.overlaps(tick.get_window_extent(renderer))
    plt.close(ax.figure)


def test_the_library_notebooks_write_their_attribution_through_credit():
    for name in ("01-exploration-covid19.ipynb", "03-rapport-departement.ipynb"):
        text = (LIBRARY / name).read_text(encoding="utf-8")
        assert "normandie.credit(ax.figure)" in text
        assert "figure.text(0.01" not in text
