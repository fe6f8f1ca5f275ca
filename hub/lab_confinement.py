"""What the lab of a member of a health space (:mod:`hub.backends.confinement`) does not
hand to the browser: files in bulk. The airlock (``/hub/export``) is the reviewed way out.

Loaded in health-confined labs only (:func:`hub.backends.confinement.lab_args`), with two
settings of Jupyter Server, both fatal when this module cannot be imported, so a
confined lab never starts without its rules:

- ``ServerApp.extra_services``: the routes below are served before the default ones;
  ``/files/...`` (the file browser's "Download", "Open in a new tab", ``/view/``) and
  ``/nbconvert/...`` ("Export notebook as...") answer 403;
- ``ServerApp.contents_manager_class``: :class:`ConfinedContentsManager`, whose ``get``
  (the contents API, real-time collaboration, nbconvert) returns the content of a
  notebook (``.ipynb``, opened as a notebook) or of a small source or text file
  (:data:`EDITABLE`, at most :data:`TEXT_CAP` bytes, as text), and refuses any other
  content, ``format=base64`` included. Data files are listed, not served: the kernel
  reads them. Renaming a data file to ``.txt`` opens at most :data:`TEXT_CAP` bytes of it
  per request, which is what the editor shows anyway.

Listing, saving, creating, renaming, copying, deleting and uploading into the space are
unchanged. Messages name the rule and the "Exports" page, never the file's content.
This module imports only Jupyter Server and Tornado: docker labs get this one file from
the hub (:mod:`hub.backends.docker.lab`).
"""

from __future__ import annotations

import posixpath

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web

#: Suffixes (lower case) of the files whose content the lab serves as text.
EDITABLE = frozenset({
    ".py", ".r", ".jl", ".md", ".txt", ".sql", ".sh", ".yaml", ".yml", ".toml", ".ini",
    ".cfg", ".ipynb",
})
#: Largest file (bytes) whose content the lab serves, notebooks opened as such aside.
TEXT_CAP = 1024 * 1024

EXPORT_PAGE = "/hub/export"
DOWNLOAD_REFUSED = (
    "Téléchargement refusé : cet espace contient des données de santé, aucun fichier n'en "
    f"sort par le navigateur. Demandez un export sur la page « Exports » du hub ({EXPORT_PAGE})."
)
EXPORT_REFUSED = (
    "Export refusé : cet espace contient des données de santé, un notebook n'en sort pas "
    f"converti. Demandez un export sur la page « Exports » du hub ({EXPORT_PAGE})."
)
CONTENT_REFUSED = (
    "Ouverture refusée : dans un espace de données de santé, le lab n'ouvre que les "
    "notebooks et les fichiers de code ou de texte (au plus 1 Mio). Lisez les données "
    f"depuis un notebook ; pour sortir un fichier, demandez un export ({EXPORT_PAGE})."
)
UNREADABLE = "Fichier illisible dans ce format."


def content_allowed(path: str, *, type: str | None, format: str | None, size: int | None) -> bool:
    """Whether a confined lab hands the content of the file ``path`` (``size`` bytes) to
    the browser when asked for ``type`` (None, ``file``, ``notebook``) and ``format``
    (None, ``text``, ``base64``). Directories are not files: their listing is allowed."""
    suffix = posixpath.splitext(path)[1].lower()
    if format == "base64" or suffix not in EDITABLE:
        return False
    if suffix == ".ipynb" and type in (None, "notebook"):
        return True
    return type != "notebook" and size is not None and size <= TEXT_CAP


class ConfinedContentsManager(AsyncLargeFileManager):
    """Jupyter Server's default contents manager, serving content by
    :func:`content_allowed` only."""

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        if not content:
            return await super().get(path, content=False, type=type, format=format, require_hash=require_hash)
        found = await super().get(path, content=False, type=type, require_hash=False)
        if found["type"] != "directory" and not content_allowed(
            path, type=type, format=format, size=found.get("size")
        ):
            raise web.HTTPError(403, CONTENT_REFUSED)
        try:
            model = await super().get(path, content=True, type=type, format=format, require_hash=require_hash)
        except web.HTTPError as error:
            # nbformat's and the decoder's messages may quote the file
            raise web.HTTPError(error.status_code, UNREADABLE) from None
        if model["type"] == "file" and (model["format"] != "text" or len(model["content"]) > TEXT_CAP):
            raise web.HTTPError(403, CONTENT_REFUSED)
        return model


class _Refused(JupyterHandler):
    """403 with :attr:`message` for every method."""

    message = ""

    async def prepare(self):
        await super().prepare()
        raise web.HTTPError(403, self.message)


class DownloadRefused(_Refused):
    message = DOWNLOAD_REFUSED


class ExportRefused(_Refused):
    message = EXPORT_REFUSED


#: Read by ``ServerApp.extra_services`` (served before the default routes).
default_handlers = [
    (r"/files/.*", DownloadRefused),
    (r"/nbconvert/.*", ExportRefused),
]
