"""A schedule's notebook: where it is, and which parameters it accepts.

Imported by the service (at schedule creation) and by the run itself (at run time, in
the owner's environment), so it needs nothing but papermill and the standard library.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path, PurePosixPath

PARAMETERS_TAG = "parameters"

#: Python types a parameter may declare (annotation or literal default) -> JSON types
#: accepted for it. ``float`` accepts integers; unknown types accept any JSON value.
_ACCEPTED = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


class NotebookProblem(ValueError):
    """The notebook cannot be scheduled with these parameters. ``key`` names the message
    in :mod:`hub.messages` (``reports_<key>``) and ``values`` fills it in."""

    def __init__(self, key: str, **values: object):
        super().__init__(f"{key}: {values}")
        self.key = key
        self.values = values


def resolve(path: str, home: Path | None, library: Path, partner_spaces: dict[str, Path]) -> Path:
    """The file a notebook path names, as seen from the owner's lab.

    ``path`` is relative: ``bibliotheque/<...>`` is in ``library``,
    ``partenaire-<id>/<...>`` in ``partner_spaces[id]`` (the owner's partners only), anything
    else in ``home`` (None: the owner has no home there, such paths are not found). Symbolic links are followed and the target must stay inside that
    root. Raises :class:`NotebookProblem` (``bad_path``, ``not_found``).
    """
    from hub.storage import LIBRARY_LINK, PARTNER_LINK_PREFIX

    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts or not path.endswith(".ipynb"):
        raise NotebookProblem("bad_path", path=path)
    first = parts[0]
    if first == LIBRARY_LINK and len(parts) > 1:
        root, rest = library, parts[1:]
    elif first.startswith(PARTNER_LINK_PREFIX) and len(parts) > 1:
        partner = first[len(PARTNER_LINK_PREFIX):]
        if partner not in partner_spaces:
            raise NotebookProblem("not_found", path=path)
        root, rest = partner_spaces[partner], parts[1:]
    elif home is None:
        raise NotebookProblem("not_found", path=path)
    else:
        root, rest = home, parts
    target = root.joinpath(*rest).resolve()
    if not target.is_relative_to(root.resolve()):
        raise NotebookProblem("bad_path", path=path)
    if not target.is_file():
        raise NotebookProblem("not_found", path=path)
    return target


def _read(notebook: Path, shown: str):
    """The notebook (nbformat 4); :class:`NotebookProblem` ``unreadable`` naming ``shown``
    (never the file's content)."""
    import nbformat

    try:
        return nbformat.read(notebook, as_version=4)
    except (OSError, ValueError):
        raise NotebookProblem("unreadable", path=shown) from None


def declared_parameters(notebook: Path, shown: str | None = None) -> dict[str, str | None]:
    """The parameters of the notebook's ``parameters``-tagged cell, as papermill inspects
    them: name -> declared Python type name (annotation, else the literal default's type;
    None when unknown). Raises :class:`NotebookProblem` (``unreadable``,
    ``no_parameters_cell``) naming ``shown`` (the path the person gave; default: the
    file's name); a message never quotes the file's content."""
    import papermill

    shown = shown or notebook.name
    nb = _read(notebook, shown)
    if not any(PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        raise NotebookProblem("no_parameters_cell", path=shown)
    declared = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        declared[name] = _declared_type(info["inferred_type_name"], info["default"])
    return declared


def _declared_type(annotation: str, default: str) -> str | None:
    if annotation and annotation != "None":
        return annotation
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return None if value is None else type(value).__name__


def check_parameters(declared: dict[str, str | None], given: dict[str, object]) -> None:
    """Refuse ``given`` values the notebook does not declare or whose JSON type does not
    match the declared type. Values are never converted: ``"07"`` stays the string
    ``"07"``. Raises :class:`NotebookProblem` (``unknown_parameter``, ``wrong_type``)."""
    for name, value in given.items():
        if name not in declared:
            raise NotebookProblem(
                "unknown_parameter", name=name, known=", ".join(declared) or "-"
            )
        accepted = _ACCEPTED.get(declared[name] or "")
        if accepted is None:
            continue
        if isinstance(value, bool) and bool not in accepted:
            accepted = ()
        if not isinstance(value, accepted):
            raise NotebookProblem(
                "wrong_type", name=name, expected=declared[name], value=repr(value)
            )


def check_notebook_parameters(notebook: Path, given: dict[str, object], shown: str | None = None) -> None:
    """Refuse ``given`` for ``notebook``: without parameters any readable notebook runs
    (its own values); with parameters it needs a ``parameters``-tagged cell declaring
    each of them with a matching type (papermill would otherwise insert them where the
    notebook does not read them). Raises :class:`NotebookProblem` (``unreadable``,
    ``no_parameters_cell``, ``unknown_parameter``, ``wrong_type``)."""
    if not given:
        _read(notebook, shown or notebook.name)
        return
    check_parameters(declared_parameters(notebook, shown), given)


def kernel_of(notebook: Path) -> str | None:
    """The kernelspec name the notebook's metadata names, or None."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return (nb.metadata.get("kernelspec") or {}).get("name")


def inspect(data: bytes, shown: str, given: dict[str, object]) -> str | None:
    """Check ``given`` against the notebook ``data`` (:func:`check_notebook_parameters`)
    and return the kernelspec name it names (:func:`kernel_of`), from a private copy
    (papermill reads files by path). Raises :class:`NotebookProblem` naming ``shown``."""
    with tempfile.TemporaryDirectory(prefix="datalab-notebook-") as private:
        copy = Path(private) / "notebook.ipynb"
        copy.write_bytes(data)
        check_notebook_parameters(copy, given, shown)
        return kernel_of(copy)
