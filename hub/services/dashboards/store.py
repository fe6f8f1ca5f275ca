"""Published dashboards: their metadata and notebook snapshots, on disk.

Layout (see :mod:`hub.storage`): ``<data_dir>/dashboards/<id>/dashboard.json`` and one
directory per version, ``v<n>/notebook.ipynb``. Publishing snapshots the notebook with its
outputs cleared (a viewer never sees the author's stale outputs) and keeps the first image
output as the gallery preview (``v<n>/preview.png``, or a sanitized ``v<n>/preview.svg``;
see :mod:`.preview`). When the notebook holds none, the service executes the snapshot
as its author and keeps the executed notebook's first image, or ``v<n>/preview.none``
when there is none. That execution also gives the version's snapshot page
(``v<n>/snapshot.html``, see :mod:`.snapshot_page`; ``v<n>/snapshot.none`` when it has
nothing to show), which viewers of an identity-free dashboard see first, and the
modules its kernel had imported (``v<n>/kernel-modules.json``), which the dashboard's
kernel template imports before forking kernels. Unpublishing keeps the files but removes the dashboard from every
listing and URL; its author may publish it again.

The dashboards service is the only writer (the CLI and the REST API go through it), so
the store keeps the metadata in memory and writes each change atomically.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import nbformat
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from ...messages import text
from ...settings import Audience, DashboardId, Slug, UserName
from .preview import Image, first_image

NOTEBOOK = "notebook.ipynb"
#: A version's preview file per image type, and the file saying none could be made.
PREVIEWS = {"image/png": "preview.png", "image/svg+xml": "preview.svg"}
NO_PREVIEW = "preview.none"
#: A version's snapshot page, and the file saying it has none.
SNAPSHOT_PAGE = "snapshot.html"
NO_SNAPSHOT_PAGE = "snapshot.none"
#: Beside a version's notebook: the modules its execution at publish had imported
#: (:mod:`.kernel_template` imports them before forking kernels).
KERNEL_MODULES = "kernel-modules.json"
METADATA = "dashboard.json"
DashboardIdCheck = TypeAdapter(DashboardId)
#: The kernel every dashboard runs with (the lab environment's Python).
KERNEL_NAME = "python3"
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


class Said:
    """An error whose text is the catalogue's ``dash_err_<key>`` filled with ``values``:
    ``str(error)`` in English (logs), :meth:`say` in the person's language."""

    def __init__(self, key: str, **values: object):
        self.key, self.values = key, values
        super().__init__(text("en", f"dash_err_{key}", **values))

    def say(self, language: str) -> str:
        return text(language, f"dash_err_{self.key}", **self.values)


class PublishError(Said, ValueError):
    """A publish request cannot be honoured (bad input: the service answers 400)."""


class PublishForbidden(Said, PermissionError):
    """A publish request this person may not make (the service answers 403)."""


class Version(BaseModel):
    """One published snapshot: its number (1, 2...), when (ISO 8601, UTC) and by whom."""

    model_config = ConfigDict(extra="forbid")

    number: int
    published_at: str
    by: str


class Dashboard(BaseModel):
    """A dashboard's metadata. ``partner``: the author's partner shown in the gallery;
    ``profile``: the lab profile it runs in; ``version``: the live version number."""

    model_config = ConfigDict(extra="forbid")

    id: DashboardId
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    author: UserName
    partner: Slug
    audience: Audience
    profile: Slug
    identity_free: bool = False
    published: bool = True
    version: int = 0
    versions: list[Version] = Field(default_factory=list)
    excerpt: str = ""


def slug_from_title(title: str) -> str:
    """``"Carte : la COVID-19 en Normandie"`` -> ``"carte-la-covid-19-en-normandie"``
    (a :data:`~hub.settings.DashboardId`, 40 characters at most). ``PublishError`` when
    nothing usable remains."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-")
    if not re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", slug):
        raise PublishError("no_id", title=title)
    return slug


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes, mode: int = 0o640) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def snapshot(notebook: dict) -> tuple[nbformat.NotebookNode, Image | None, str]:
    """Validate a notebook (nbformat 4 JSON as a dict) and return ``(clean, preview,
    excerpt)``: the notebook with outputs and execution counts cleared and the Python
    kernel, its first image output (:func:`.preview.first_image`) if any, and the first
    paragraph of its first Markdown cell (plain text, 300 characters at most).
    ``PublishError`` if invalid."""
    try:
        if notebook.get("nbformat") != 4:
            raise PublishError("nbformat")
        cells = notebook.get("cells")
        if isinstance(cells, list):  # stable cell ids, so that an unchanged notebook snapshots identically
            notebook = {**notebook, "nbformat_minor": max(5, notebook.get("nbformat_minor", 0)), "cells": [
                {"id": f"cell-{i}", **cell} if isinstance(cell, dict) else cell
                for i, cell in enumerate(cells)
            ]}
        nb = nbformat.reads(json.dumps(notebook), as_version=4)
        nbformat.validate(nb)
    except PublishError:
        raise
    except Exception:  # nbformat raises several kinds for malformed input
        raise PublishError("invalid_notebook") from None
    preview = first_image(nb)
    excerpt = ""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown" and not excerpt:
            paragraphs = [p for p in cell.source.split("\n\n") if not p.lstrip().startswith("#")]
            if paragraphs:
                excerpt = re.sub(r"[*_`#>\[\]]", "", " ".join(paragraphs[0].split()))[:300]
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python",
    }
    return nb, preview, excerpt


def read_published(root: Path, dashboard_id: str) -> Dashboard | None:
    """The published dashboard ``dashboard_id`` as stored under ``root`` at this moment,
    or None (unknown, unpublished, or not a valid id). For the hub's own dashboard page
    (:mod:`hub.dashboard_page`), which reads and never writes: a record still under the
    former audience rule is read as :class:`Store` rewrites it."""
    try:
        stored = json.loads((root / DashboardIdCheck.validate_python(dashboard_id) / METADATA).read_bytes())
        if Audience.is_former(stored.get("audience") or {}):
            stored["audience"] = Audience.from_or_semantics(stored["audience"]).model_dump(mode="json")
        dashboard = Dashboard.model_validate(stored)
    except (OSError, ValueError):
        return None
    return dashboard if dashboard.published else None


def snapshot_page(root: Path, dashboard: Dashboard) -> str | None:
    """The body of ``dashboard``'s live version's snapshot page under ``root``, or None
    (not made, or none)."""
    try:
        return (root / dashboard.id / f"v{dashboard.version}" / SNAPSHOT_PAGE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class Store:
    """The published dashboards under ``root`` (``Layout.dashboards``).

    Loading migrates audiences stored under the former rule (partners OR roles, see
    :meth:`hub.settings.Audience.from_or_semantics`) to an audience admitting the same
    people, and saves them: once, since a migrated record no longer looks former."""

    def __init__(self, root: Path):
        self.root = root
        self._all: dict[str, Dashboard] = {}
        self.migrated: list[str] = []
        root.mkdir(parents=True, exist_ok=True)
        for meta in sorted(root.glob(f"*/{METADATA}")):
            stored = json.loads(meta.read_text(encoding="utf-8"))
            former = Audience.is_former(stored.get("audience") or {})
            if former:
                stored["audience"] = Audience.from_or_semantics(stored["audience"]).model_dump(mode="json")
            dashboard = Dashboard.model_validate(stored)
            self._all[dashboard.id] = dashboard
            if former:
                self._save(dashboard)
                self.migrated.append(dashboard.id)

    def published(self) -> list[Dashboard]:
        """Every published dashboard, by title."""
        return sorted((d for d in self._all.values() if d.published), key=lambda d: d.title.lower())

    def get(self, dashboard_id: str) -> Dashboard | None:
        """The published dashboard with this id, or None (unknown or unpublished)."""
        dashboard = self._all.get(dashboard_id)
        return dashboard if dashboard is not None and dashboard.published else None

    def owner(self, dashboard_id: str) -> str | None:
        """The author of a dashboard id, published or not (ids are never reassigned)."""
        dashboard = self._all.get(dashboard_id)
        return dashboard.author if dashboard else None

    def directory(self, dashboard_id: str) -> Path:
        return self.root / dashboard_id

    def notebook_path(self, dashboard: Dashboard) -> Path:
        """The live version's snapshot."""
        return self.directory(dashboard.id) / f"v{dashboard.version}" / NOTEBOOK

    def preview(self, dashboard: Dashboard) -> tuple[Path, str] | None:
        """``(file, content type)`` of the live version's preview image, or None."""
        version = self.directory(dashboard.id) / f"v{dashboard.version}"
        for content_type, name in PREVIEWS.items():
            if (version / name).exists():
                return version / name, content_type
        return None

    def needs_preview(self, dashboard: Dashboard) -> bool:
        """True while the live version lacks its preview or its snapshot page, and the
        mark that none could be made."""
        version = self.directory(dashboard.id) / f"v{dashboard.version}"
        return ((self.preview(dashboard) is None and not (version / NO_PREVIEW).exists())
                or not ((version / SNAPSHOT_PAGE).exists() or (version / NO_SNAPSHOT_PAGE).exists()))

    def snapshot_page(self, dashboard: Dashboard) -> str | None:
        """The body of the live version's snapshot page, or None (not made, or none)."""
        return snapshot_page(self.root, dashboard)

    def save_kernel_modules(self, dashboard: Dashboard, modules: list[str]) -> None:
        """Keep the module names an execution of version ``dashboard.version`` imported."""
        version = self.directory(dashboard.id) / f"v{dashboard.version}"
        _write_atomic(version / KERNEL_MODULES, json.dumps(modules).encode("utf-8"))

    def save_snapshot_page(self, dashboard: Dashboard, body: str | None) -> None:
        """Keep ``body`` as version ``dashboard.version``'s snapshot page, or mark that
        it has none (None)."""
        version = self.directory(dashboard.id) / f"v{dashboard.version}"
        if body is None:
            _write_atomic(version / NO_SNAPSHOT_PAGE, b"")
        else:
            _write_atomic(version / SNAPSHOT_PAGE, body.encode("utf-8"))

    def save_preview(self, dashboard: Dashboard, image: Image | None) -> None:
        """Keep ``image`` as version ``dashboard.version``'s preview, or mark that none
        could be made (None)."""
        version = self.directory(dashboard.id) / f"v{dashboard.version}"
        if image is None:
            _write_atomic(version / NO_PREVIEW, b"")
        else:
            _write_atomic(version / PREVIEWS[image.content_type], image.data)

    def is_current(self, dashboard_id: str, notebook: dict) -> bool:
        """True when ``notebook`` would snapshot to the live version of a published
        dashboard (publishing it again would change nothing). ``PublishError`` if invalid."""
        dashboard = self.get(dashboard_id)
        if dashboard is None:
            return False
        clean = nbformat.writes(snapshot(notebook)[0]).encode("utf-8")
        return self.notebook_path(dashboard).read_bytes() == clean

    def publish(self, notebook: dict, *, by: str, **fields) -> Dashboard:
        """Publish ``notebook`` as a new version of dashboard ``fields["id"]`` (created when
        new). ``fields``: the :class:`Dashboard` fields (id, title, description, author,
        partner, audience, profile, identity_free). ``by``: who asked. Returns the updated
        metadata. ``PublishError`` for an invalid notebook or metadata; the caller checks
        who may publish under an existing id (see :meth:`owner`)."""
        encoded = json.dumps(notebook)
        if len(encoded) > MAX_NOTEBOOK_BYTES:
            raise PublishError("too_large", mib=MAX_NOTEBOOK_BYTES // 2**20)
        clean, preview, excerpt = snapshot(notebook)
        previous = self._all.get(fields["id"])
        number = (previous.version if previous else 0) + 1
        versions = (previous.versions if previous else []) + [
            Version(number=number, published_at=_now(), by=by)
        ]
        try:
            dashboard = Dashboard.model_validate(
                {**fields, "version": number, "versions": versions, "published": True,
                 "excerpt": excerpt}
            )
        except ValidationError as e:
            fields = ", ".join(sorted({str(error["loc"][0]) for error in e.errors() if error["loc"]})) or "-"
            raise PublishError("invalid_fields", fields=fields) from None
        directory = self.directory(dashboard.id)
        directory.mkdir(mode=0o750, exist_ok=True)
        version_dir = directory / f"v{number}"
        version_dir.mkdir(mode=0o750)
        _write_atomic(version_dir / NOTEBOOK, nbformat.writes(clean).encode("utf-8"))
        if preview is not None:
            _write_atomic(version_dir / PREVIEWS[preview.content_type], preview.data)
        self._save(dashboard)
        return dashboard

    def unpublish(self, dashboard_id: str) -> Dashboard | None:
        """Remove a dashboard from listings and URLs (files kept). Returns it, or None
        when it was not published."""
        dashboard = self.get(dashboard_id)
        if dashboard is None:
            return None
        dashboard = dashboard.model_copy(update={"published": False})
        self._save(dashboard)
        return dashboard

    def _save(self, dashboard: Dashboard) -> None:
        _write_atomic(
            self.directory(dashboard.id) / METADATA,
            dashboard.model_dump_json(indent=1).encode("utf-8"),
        )
        self._all[dashboard.id] = dashboard
