"""The snapshot page a viewer of an identity-free dashboard sees first
(:mod:`hub.services.dashboards.snapshot_page`): what an executed notebook shows, with
nothing of the author's markup, scripts or tracebacks kept as written."""

from __future__ import annotations

import base64
import io

from PIL import Image as PillowImage

from hub.services.dashboards.snapshot_page import render

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"
ERROR_TEXT = "Ce tableau de bord a rencontré une erreur."


def png_b64(width: int = 30, height: int = 20) -> str:
    out = io.BytesIO()
    PillowImage.new("RGB", (width, height), "#c00").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def notebook(*cells, models: dict | None = None) -> dict:
    metadata = {"widgets": {STATE: {"state": models, "version_major": 2, "version_minor": 0}}} if models else {}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": list(cells)}


def code(*outputs) -> dict:
    return {"cell_type": "code", "source": "draw()", "outputs": list(outputs)}


def display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def test_markdown_is_rendered_with_the_authors_html_escaped():
    source = "# Carte\n\nTexte **gras** <script>alert(1)</script>\n\n<iframe src=x></iframe>"
    body = render(notebook({"cell_type": "markdown", "source": source},
                           code({"output_type": "stream", "name": "stdout", "text": "ok"})), ERROR_TEXT)
    assert "<h1>Carte</h1>" in body and "<strong>gras</strong>" in body
    assert "<script>" not in body and "&lt;script&gt;" in body and "<iframe" not in body


def test_html_outputs_show_their_text_and_sources_are_not_shown():
    body = render(notebook(code(display({"text/html": "<img src=x onerror=alert(1)>", "text/plain": "<Tableau>"}))),
                  ERROR_TEXT)
    assert "onerror" not in body and "&lt;Tableau&gt;" in body and "draw()" not in body


def test_a_picture_is_encoded_again_at_its_own_size_in_an_output_area():
    body = render(notebook(code(display({"image/png": png_b64(900, 700), "text/plain": "<Figure>"}))), ERROR_TEXT)
    assert body.count('class="jp-OutputArea-output"><img alt="" src="data:image/png;base64,') == 1
    data = body.split("base64,", 1)[1].split('"', 1)[0]
    with PillowImage.open(io.BytesIO(base64.b64decode(data))) as image:
        assert image.size == (900, 700)


def test_a_broken_picture_falls_back_to_its_text():
    body = render(notebook(code(display({"image/png": "bm90IGEgcG5n", "text/plain": "<Figure>"}))), ERROR_TEXT)
    assert "<img" not in body and "&lt;Figure&gt;" in body


def test_an_error_shows_the_deployments_message_never_the_traceback():
    body = render(notebook(code({"output_type": "error", "ename": "KeyError", "evalue": "secret",
                                 "traceback": ["/home/analyste1/secret.py line 3"]})), ERROR_TEXT)
    assert ERROR_TEXT in body and "secret" not in body and "KeyError" not in body


def test_widgets_show_as_they_stood_an_interact_box_with_its_controls_and_map():
    models = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_indicator", "IPY_MODEL_date", "IPY_MODEL_out"]}},
        "indicator": {"model_name": "DropdownModel", "state": {
            "description": "Indicateur", "_options_labels": ["Personnes hospitalisées", "Décès"], "index": 0}},
        "date": {"model_name": "SelectionSliderModel", "state": {
            "description": "Date", "_options_labels": ["2020-03-26", "2020-03-27"], "index": 1}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [display({"image/png": png_b64()})]}},
    }
    body = render(notebook(code(display({VIEW: {"model_id": "box", "version_major": 2}}))), ERROR_TEXT)
    assert body is None  # without the widgets' state nothing is drawn
    body = render(notebook(code(display({VIEW: {"model_id": "box", "version_major": 2}})), models=models), ERROR_TEXT)
    assert '<span class="label">Indicateur</span> <span class="value">Personnes hospitalisées</span>' in body
    assert '<span class="value">2020-03-27</span>' in body
    assert body.index("Indicateur") < body.index("Date") < body.index("<img")


def test_a_box_holding_itself_ends_and_unknown_references_are_left_out():
    models = {
        "loop": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_loop", "IPY_MODEL_out", "javascript:x"]}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [{"output_type": "stream", "name": "stdout", "text": "fin"}]}},
    }
    body = render(notebook(code(display({VIEW: {"model_id": "loop"}})), models=models), ERROR_TEXT)
    assert "fin" in body and "javascript" not in body


def test_an_svg_keeps_no_script():
    svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><rect width="4" height="2"/></svg>'
    body = render(notebook(code(display({"image/svg+xml": svg}))), ERROR_TEXT)
    encoded = body.split("data:image/svg+xml;base64,", 1)[1].split('"', 1)[0]
    kept = base64.b64decode(encoded).decode("utf-8")
    assert "rect" in kept and "alert" not in kept


def test_a_notebook_showing_nothing_or_malformed_has_no_page():
    assert render(notebook({"cell_type": "markdown", "source": "# Titre"}), ERROR_TEXT) is None
    for junk in ([], {"cells": "x"}, {"cells": [1, {"cell_type": "code", "outputs": "x"}]},
                 notebook(code(display({"image/png": 12})))):
        assert render(junk, ERROR_TEXT) is None, junk
