"""The gallery's pictures without a hub: the first image output of a notebook (PNG, SVG
sanitized, an Output widget's, none), what the store keeps of it, and the service's
execution at publication (as the author, through the runner)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

from PIL import Image as PillowImage

from hub.services.dashboards.preview import MARGIN, MAX_SIZE, first_image, sanitized_svg
from hub.services.dashboards.runners import FilesError
from hub.services.dashboards.service import DashboardService
from hub.services.dashboards.store import Store
from hub.settings import load

REPO = Path(__file__).resolve().parents[2]
SVG = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="40" height="20" onload="alert(1)">'
    '<style>@import url(http://attacker.invalid/x.css); rect { fill: red }</style>'
    '<style>*{stroke-linejoin: round}</style>'
    '<script>alert(2)</script>'
    '<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(3)</script></body></foreignObject>'
    '<a href="javascript:alert(4)"><text>lien</text></a>'
    '<g id="courbe"><rect width="40" height="20" fill="#f80" onclick="alert(5)" '
    'style="fill: url(http://attacker.invalid/p)"/>'
    '<path d="M0 0L40 20" stroke="url(#degrade)"/></g>'
    '<use xlink:href="#courbe"/><use xlink:href="http://attacker.invalid/s.svg#x"/>'
    '<image xlink:href="http://attacker.invalid/i.png"/>'
    '</svg>'
)


def png_bytes(width: int, height: int, color: str = "orange") -> bytes:
    out = io.BytesIO()
    PillowImage.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def executed(*outputs, widgets: dict | None = None) -> dict:
    """An executed notebook: one code cell per output, and the widgets' state."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x", "outputs": [output]}
        for output in outputs
    ]}
    if widgets is not None:
        nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {
            "version_major": 2, "version_minor": 0, "state": widgets}}
    return nb


def display(data: dict) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": data}


def test_the_first_png_output_is_kept_encoded_again_and_reduced():
    nb = executed(
        {"output_type": "stream", "name": "stdout", "text": "texte"},
        display({"image/png": b64(b"\x89PNG\r\n\x1a\nnot a picture")}),  # skipped: does not decode
        display({"image/png": [b64(png_bytes(2000, 1000))[:40], b64(png_bytes(2000, 1000))[40:]]}),
        display({"image/png": b64(png_bytes(10, 10, "blue"))}),
    )
    image = first_image(nb)
    assert image.content_type == "image/png"
    with PillowImage.open(io.BytesIO(image.data)) as kept:
        assert kept.format == "PNG"
        assert kept.size == (MAX_SIZE[0], MAX_SIZE[0] // 2)
        assert kept.getpixel((5, 5))[:3] == (255, 165, 0)  # the orange one, not the later blue one


def test_a_pngs_plain_margin_is_cut_around_the_drawing():
    figure = PillowImage.new("RGB", (400, 300), "white")
    figure.paste((0, 0, 0), (100, 50, 200, 250))  # a 100 x 200 drawing
    out = io.BytesIO()
    figure.save(out, "PNG")
    image = first_image(executed(display({"image/png": b64(out.getvalue())})))
    with PillowImage.open(io.BytesIO(image.data)) as kept:
        assert kept.size == (100 + 2 * MARGIN, 200 + 2 * MARGIN)
        assert kept.getpixel((MARGIN, MARGIN))[:3] == (0, 0, 0)
        assert kept.getpixel((0, 0))[:3] == (255, 255, 255)


def test_an_svg_output_keeps_its_drawing_and_loses_what_could_run_or_load():
    image = first_image(executed(display({"image/svg+xml": SVG, "text/plain": "<Figure>"})))
    assert image.content_type == "image/svg+xml"
    svg = image.data.decode("utf-8")
    for gone in ("script", "alert", "onload", "onclick", "foreignObject", "attacker.invalid", "@import",
                 "javascript", "DOCTYPE"):
        assert gone not in svg, gone
    assert '<rect width="40" height="20" fill="#f80"' in svg
    assert 'stroke="url(#degrade)"' in svg and 'xlink:href="#courbe"' in svg
    assert "stroke-linejoin: round" in svg


def test_an_svg_with_entities_or_that_is_no_svg_is_no_picture():
    laughs = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
              '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>')
    assert sanitized_svg(laughs) is None
    assert sanitized_svg("<html><script>alert(1)</script></html>") is None
    assert sanitized_svg("pas du XML") is None
    assert first_image(executed(display({"image/svg+xml": laughs}))) is None


def test_the_picture_of_an_interact_is_found_in_its_output_widget():
    widgets = {
        "a1": {"model_name": "VBoxModel", "model_module": "@jupyter-widgets/controls", "state": {}},
        "b2": {"model_name": "OutputModel", "model_module": "@jupyter-widgets/output", "state": {
            "outputs": [display({"image/png": b64(png_bytes(30, 20)), "text/plain": "<Figure>"})]}},
    }
    view = {"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "a1", "version_major": 2, "version_minor": 0}}}
    image = first_image(executed(view, widgets=widgets))
    assert image.content_type == "image/png"
    with PillowImage.open(io.BytesIO(image.data)) as kept:
        assert kept.size == (30, 20)


def test_a_notebook_without_picture_or_malformed_has_none():
    assert first_image(executed({"output_type": "stream", "name": "stdout", "text": "1"},
                                display({"text/html": "<img src=x onerror=alert(1)>"}))) is None
    for junk in ([], {"cells": "x"}, {"cells": [1, {"cell_type": "code", "outputs": "x"}]},
                 {"cells": [], "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": []}}},
                 executed(display({"image/png": 12}))):
        assert first_image(junk) is None, junk


FIELDS = dict(id="carte", title="Carte", author="analyste1", partner="univ-alpha",
              audience={"all": True}, profile="standard")


def test_the_store_keeps_the_picture_with_its_version(tmp_path):
    store = Store(tmp_path)
    with_svg = store.publish(executed(display({"image/svg+xml": SVG})), by="analyste1", **FIELDS)
    path, content_type = store.preview(with_svg)
    assert content_type == "image/svg+xml" and path.parent.name == "v1" and b"alert" not in path.read_bytes()
    assert store.needs_preview(with_svg)  # its snapshot page is still to make
    store.save_snapshot_page(with_svg, "<p>page</p>")
    assert not store.needs_preview(with_svg) and store.snapshot_page(with_svg) == "<p>page</p>"
    without = store.publish(executed({"output_type": "stream", "name": "stdout", "text": "1"}), by="analyste1", **FIELDS)
    assert store.preview(without) is None and store.needs_preview(without)
    store.save_preview(without, None)
    assert store.needs_preview(without)
    store.save_snapshot_page(without, None)
    assert store.preview(without) is None and store.snapshot_page(without) is None and not store.needs_preview(without)
    assert store.preview(with_svg)[1] == "image/svg+xml"  # version 1 keeps its own


class FakeHub:
    async def user(self, name: str) -> dict:
        return {"name": name, "groups": ["partner-univ-alpha", "role-analyst"]}


class FakeRunner:
    """Returns ``result`` (or raises it) as the executed notebook; records the calls."""

    def __init__(self, result):
        self.result = result
        self.calls: list[tuple] = []

    async def execute(self, author, partners, profile, notebook):
        self.calls.append((author, partners, profile.id, notebook.read_bytes()))
        if isinstance(self.result, Exception):
            raise self.result
        return json.dumps(self.result).encode()


def make_preview(tmp_path, result) -> tuple[Store, FakeRunner, object]:
    store = Store(tmp_path)
    runner = FakeRunner(result)
    service = DashboardService(load(REPO / "datalab.example.yaml"), store, runner, FakeHub(), "/s/")
    dashboard = store.publish(executed({"output_type": "stream", "name": "stdout", "text": "1"}),
                              by="analyste1", **FIELDS)
    asyncio.run(service.make_preview(dashboard))
    asyncio.run(service.make_preview(dashboard))  # made once per version
    return store, runner, dashboard


def test_a_notebook_without_stored_picture_is_executed_once_as_its_author(tmp_path):
    store, runner, dashboard = make_preview(tmp_path, executed(display({"image/png": b64(png_bytes(8, 6))})))
    assert len(runner.calls) == 1
    author, partners, profile, snapshot = runner.calls[0]
    assert (author, partners, profile) == ("analyste1", {"univ-alpha"}, "standard")
    assert snapshot == store.notebook_path(dashboard).read_bytes()
    assert store.preview(dashboard)[1] == "image/png"


def test_an_execution_that_fails_or_draws_nothing_leaves_no_picture_and_is_not_retried(tmp_path):
    for result in (FilesError("exit status 2"), executed({"output_type": "stream", "name": "stdout", "text": "1"})):
        store, runner, dashboard = make_preview(tmp_path / type(result).__name__, result)
        assert len(runner.calls) == 1
        assert store.preview(dashboard) is None and not store.needs_preview(dashboard)
