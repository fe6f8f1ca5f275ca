"""Health-confined labs hand no file in bulk to the browser (hub/lab_confinement.py):
attacks on the contents manager's rules (a real one, on a temporary directory), the
refused routes, and which labs get the rules on each backend (the routes at work on a
real hub: tests/integration/test_lab_confinement.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from types import SimpleNamespace

import pytest
from tornado import web

from hub import lab_confinement
from hub.backends import confinement
from hub.backends.docker import lab as docker_lab
from hub.backends.local import lab as local_lab
from hub.backends.slurm import lab as slurm_lab
from hub.lab_confinement import CONTENT_REFUSED, TEXT_CAP, ConfinedContentsManager, content_allowed
from hub.storage import Layout

from .deployment import settings_in

SECRET = "patient,diagnostic\nDUPONT Jeanne,C50.9\n"
NOTEBOOK = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Analyse", "id": "a1"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# -- the rule ---------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "type_", "format_", "size"), [
    ("donnees/patients.csv", None, None, 40),           # a data file, as text
    ("donnees/patients.csv", "file", "text", 40),
    ("donnees/patients.parquet", None, None, 40),
    ("donnees/base.sqlite", "file", None, 40),
    ("export.zip", None, None, 40),
    ("figure.png", None, None, 40),
    ("analyse.py", "file", "base64", 40),               # base64, whatever the file
    ("analyse.ipynb", None, "base64", 40),
    ("patients.txt", None, None, TEXT_CAP + 1),         # a data file renamed .txt, beyond the cap
    ("analyse.ipynb", "file", "text", TEXT_CAP + 1),    # a notebook's raw text is capped too
    ("patients.csv", "notebook", None, 40),             # a data file opened "as a notebook"
    ("patients.txt", "notebook", None, 40),
    ("sans-suffixe", None, None, 40),
    ("analyse.py", None, None, None),                   # size unknown
])
def test_refused_contents(path, type_, format_, size):
    assert not content_allowed(path, type=type_, format=format_, size=size)


@pytest.mark.parametrize(("path", "type_", "format_", "size"), [
    ("analyse.ipynb", None, None, 50 * TEXT_CAP),       # notebooks opened as such, any size
    ("analyse.ipynb", "notebook", "text", 50 * TEXT_CAP),
    ("analyse.py", None, None, 40),
    ("modele.R", "file", "text", TEXT_CAP),             # suffixes in any case
    ("notes.md", None, None, 40),
    ("requete.sql", None, "text", 40),
    ("config.yaml", None, None, 40),
    ("patients.txt", None, None, TEXT_CAP),             # at most the cap, renamed or not
])
def test_allowed_contents(path, type_, format_, size):
    assert content_allowed(path, type=type_, format=format_, size=size)


# -- the contents manager ---------------------------------------------------------------

@pytest.fixture
def space(tmp_path):
    (tmp_path / "donnees").mkdir()
    (tmp_path / "donnees" / "patients.csv").write_text(SECRET, encoding="utf-8")
    (tmp_path / "analyse.py").write_text("import pandas as pd\n", encoding="utf-8")
    (tmp_path / "analyse.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    (tmp_path / "grand.txt").write_text(SECRET * (TEXT_CAP // len(SECRET) + 1), encoding="utf-8")
    (tmp_path / "binaire.txt").write_bytes(b"\xff\xfe" + SECRET.encode("utf-16-le"))
    (tmp_path / "faux.ipynb").write_text(SECRET, encoding="utf-8")
    return ConfinedContentsManager(root_dir=str(tmp_path))


def get(manager, path, **kwargs):
    return asyncio.run(manager.get(path, **kwargs))


def refused(manager, path, **kwargs) -> web.HTTPError:
    with pytest.raises(web.HTTPError) as caught:
        get(manager, path, **kwargs)
    message = caught.value.log_message
    assert "DUPONT" not in message and "patient" not in message  # no file content in a refusal
    return caught.value


@pytest.mark.parametrize(("path", "kwargs"), [
    ("donnees/patients.csv", {}),
    ("donnees/patients.csv", {"type": "file", "format": "text"}),
    ("donnees/patients.csv", {"type": "file", "format": "base64"}),
    ("donnees/patients.csv", {"type": "notebook"}),
    ("analyse.py", {"type": "file", "format": "base64"}),
    ("analyse.ipynb", {"format": "base64"}),
    ("grand.txt", {}),
    ("binaire.txt", {}),                                  # not text: the manager would send base64
])
def test_the_contents_manager_refuses_bulk_content(space, path, kwargs):
    error = refused(space, path, **kwargs)
    assert error.status_code == 403 and error.log_message == CONTENT_REFUSED


def test_a_data_file_renamed_as_a_notebook_is_refused_without_quoting_it(space):
    assert refused(space, "faux.ipynb").status_code == 400


def test_notebooks_small_sources_listings_and_metadata_are_served(space):
    assert get(space, "analyse.ipynb")["content"]["cells"][0]["source"] == "# Analyse"
    assert get(space, "analyse.py")["content"] == "import pandas as pd\n"
    listing = get(space, "donnees")
    assert [m["name"] for m in listing["content"]] == ["patients.csv"]
    metadata = get(space, "donnees/patients.csv", content=False)
    assert metadata["content"] is None and metadata["size"] == len(SECRET)


def test_saving_uploading_and_renaming_into_the_space_still_work(space, tmp_path):
    upload = {"type": "file", "format": "base64", "content": base64.b64encode(b"a,b\n1,2\n").decode()}
    asyncio.run(space.save(upload, "donnees/nouveau.csv"))
    asyncio.run(space.save({"type": "notebook", "content": NOTEBOOK}, "copie.ipynb"))
    asyncio.run(space.rename("donnees/nouveau.csv", "donnees/renomme.txt"))
    assert (tmp_path / "donnees" / "renomme.txt").read_bytes() == b"a,b\n1,2\n"
    assert get(space, "copie.ipynb")["type"] == "notebook"


# -- the refused routes -----------------------------------------------------------------

@pytest.mark.parametrize(("url", "refusal"), [
    ("/files/donnees/patients.csv", lab_confinement.DownloadRefused),
    ("/files/analyse.ipynb", lab_confinement.DownloadRefused),
    ("/nbconvert/html/analyse.ipynb", lab_confinement.ExportRefused),
    ("/nbconvert/script", lab_confinement.ExportRefused),
])
def test_download_and_export_routes_are_refused(url, refusal):
    matched = [handler for pattern, handler in lab_confinement.default_handlers if re.fullmatch(pattern, url)]
    assert matched == [refusal]
    assert "/hub/export" in refusal.message


# -- which labs get the rules -----------------------------------------------------------

def user(name: str, *groups: str):
    return SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])


ANALYST = user("analyste1", "partner-univ-alpha")
HEALTH = user("analyste2", "partner-chu-exemple-nord")


def test_only_health_members_labs_get_the_rules_on_every_backend(tmp_path):
    settings = settings_in(tmp_path)
    rules = confinement.lab_args()
    assert rules == ["--ServerApp.extra_services=hub.lab_confinement",
                     "--ServerApp.contents_manager_class=hub.lab_confinement.ConfinedContentsManager"]
    for spawner_class in (local_lab.LocalSpawner, docker_lab.DataLabDockerSpawner, slurm_lab.SlurmSpawner):
        confined = spawner_class(datalab_settings=settings, user=HEALTH).get_args()
        assert confined[-2:] == rules, spawner_class
        assert not set(rules) & set(spawner_class(datalab_settings=settings, user=ANALYST).get_args())


def test_a_health_projects_members_lab_gets_the_rules(tmp_path):
    settings = settings_in(tmp_path)
    projects = [p.model_copy(update={"health_data": True}) for p in settings.projects if "analyste1" in p.members]
    assert projects
    settings = settings.model_copy(update={"projects": projects})
    assert local_lab.LocalSpawner(datalab_settings=settings, user=ANALYST).get_args()[-2:] == confinement.lab_args()


def test_labs_find_the_module_the_hub_runs(tmp_path):
    settings = settings_in(tmp_path)
    Layout(settings.data_dir).create()
    local = local_lab.LocalSpawner(datalab_settings=settings, user=HEALTH)
    code_root = lab_confinement.__file__.rsplit("/hub/", 1)[0]
    assert f"sys.path.insert(0, {code_root!r})" in local.cmd[-1]

    docker = docker_lab.DataLabDockerSpawner(datalab_settings=settings, user=HEALTH)
    docker.prepare_execution()
    assert docker.volumes[lab_confinement.__file__] == {
        "bind": "/opt/datalab-hub/hub/lab_confinement.py", "mode": "ro"}
    assert "sys.path.insert(0, '/opt/datalab-hub')" in docker.cmd[-1]
