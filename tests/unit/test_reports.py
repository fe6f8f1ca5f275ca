"""Reports: notebook paths and parameters, the archive's reading of a work area, the
reports section of the deployment file, the service in the hub's configuration, the CLI."""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
from pathlib import Path

import nbformat
import pytest
import yaml
from traitlets.config import Config

from hub import apply as hub_apply
from hub import cli
from hub.services.reports import archive
from hub.services.reports.archive import outcome_of, read_regular
from hub.services.reports.execute import SaidIn
from hub.messages import text
from hub.services.reports import notebooks
from hub.services.reports.notebooks import (
    NotebookProblem, check_notebook_parameters, check_parameters, declared_parameters, resolve,
)
from hub.services.reports.service import read_notebook
from hub.settings import ConfigError, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))
NOTEBOOKS = REPO / "tests" / "integration" / "reports_notebooks"
REPORT = REPO / "shared_notebooks" / "03-rapport-departement.ipynb"


# -- notebook paths ------------------------------------------------------------------
@pytest.fixture
def spaces(tmp_path):
    home, library, own, other = (tmp_path / n for n in ("home", "library", "own", "other"))
    for d in (home, library, own, other):
        d.mkdir()
        (d / "n.ipynb").write_text("{}")
    return home, library, {"univ-alpha": own}, other


def test_paths_resolve_like_in_the_lab(spaces):
    home, library, partners, _ = spaces
    assert resolve("n.ipynb", home, library, partners) == (home / "n.ipynb").resolve()
    assert resolve("bibliotheque/n.ipynb", home, library, partners) == (library / "n.ipynb").resolve()
    assert resolve("partenaire-univ-alpha/n.ipynb", home, library, partners) == (partners["univ-alpha"] / "n.ipynb").resolve()


@pytest.mark.parametrize("path, problem", [
    ("../other/n.ipynb", "bad_path"),
    ("/etc/n.ipynb", "bad_path"),
    ("n.py", "bad_path"),
    ("partenaire-chu-exemple-nord/n.ipynb", "not_found"),
    ("absent.ipynb", "not_found"),
])
def test_paths_outside_the_owner_spaces_are_refused(spaces, path, problem):
    home, library, partners, _ = spaces
    with pytest.raises(NotebookProblem) as refused:
        resolve(path, home, library, partners)
    assert refused.value.key == problem


def test_a_link_out_of_the_home_is_refused(spaces):
    home, library, partners, other = spaces
    (home / "lien.ipynb").symlink_to(other / "n.ipynb")
    with pytest.raises(NotebookProblem) as refused:
        resolve("lien.ipynb", home, library, partners)
    assert refused.value.key == "bad_path"


# -- reading a person's notebook: no link followed, no content in messages -------------
@pytest.fixture
def secret_file(tmp_path):
    """A root-only file holding a token (as the proxy's token file would)."""
    secret = tmp_path / "proxy-token"
    secret.write_text("PROXYTOKEN-" + secrets.token_hex(24) + "\n")
    os.chmod(secret, 0o600)
    return secret


def assert_no_byte_of(secret: Path, message: str) -> None:
    """No run of 6 characters of the secret's content appears in ``message``."""
    content = secret.read_text().strip()
    windows = {content[i:i + 6] for i in range(len(content) - 5)}
    assert not [w for w in windows if w in message], message


def refusal_text(problem: NotebookProblem, language: str = "fr") -> str:
    return text(language, "reports_" + problem.key, **problem.values)


def test_a_link_to_a_secret_given_as_the_notebook_is_refused_without_its_content(spaces, secret_file):
    home, library, partners, _ = spaces
    (home / "rapport.ipynb").symlink_to(secret_file)
    with pytest.raises(NotebookProblem) as refused:
        read_notebook("rapport.ipynb", home, library, partners)
    assert refused.value.key == "bad_path"
    assert_no_byte_of(secret_file, refusal_text(refused.value))


def test_a_link_swapped_in_after_the_check_is_refused_not_followed(spaces, secret_file, monkeypatch):
    """The race, made deterministic: the path check passes on a real notebook, then the
    notebook is replaced by a link to the secret before the service opens it."""
    home, library, partners, _ = spaces
    checked = resolve

    def check_then_swap(*args):
        target = checked(*args)
        (home / "n.ipynb").unlink()
        (home / "n.ipynb").symlink_to(secret_file)
        return target

    monkeypatch.setattr(notebooks, "resolve", check_then_swap)
    with pytest.raises(NotebookProblem) as refused:
        read_notebook("n.ipynb", home, library, partners)
    assert refused.value.key == "unreadable"
    assert refused.value.values == {"path": "n.ipynb"}
    for language in ("fr", "en"):
        assert_no_byte_of(secret_file, refusal_text(refused.value, language))


def test_a_directory_swapped_for_a_link_after_the_check_is_refused(spaces, secret_file, monkeypatch):
    home, library, partners, _ = spaces
    (home / "etudes").mkdir()
    (home / "etudes" / "n.ipynb").write_text("{}")
    root_only = secret_file.parent / "root-only"
    root_only.mkdir(mode=0o700)
    (root_only / "n.ipynb").write_bytes(secret_file.read_bytes())
    checked = resolve

    def check_then_swap(*args):
        target = checked(*args)
        (home / "etudes").rename(home / "ancien")
        (home / "etudes").symlink_to(root_only)
        return target

    monkeypatch.setattr(notebooks, "resolve", check_then_swap)
    with pytest.raises(NotebookProblem) as refused:
        read_notebook("etudes/n.ipynb", home, library, partners)
    assert refused.value.key == "unreadable"
    assert_no_byte_of(secret_file, refusal_text(refused.value))


def test_a_notebook_read_for_a_person_is_its_content(spaces):
    home, library, partners, _ = spaces
    assert read_notebook("n.ipynb", home, library, partners) == b"{}"


def test_a_file_that_is_not_a_notebook_is_refused_without_quoting_it(secret_file):
    """The old message quoted the start of the file (nbformat's error)."""
    for given in ({}, {"department": "14"}):
        with pytest.raises(NotebookProblem) as refused:
            notebooks.inspect(secret_file.read_bytes(), "mes-etudes/rapport.ipynb", given)
        assert refused.value.key == "unreadable"
        message = refusal_text(refused.value)
        assert "« mes-etudes/rapport.ipynb »" in message
        assert_no_byte_of(secret_file, message)


def test_inspect_checks_the_parameters_and_gives_the_kernel_of_the_content():
    assert notebooks.inspect(REPORT.read_bytes(), "bibliotheque/r.ipynb", {"department": "14"}) == "python3"
    with pytest.raises(NotebookProblem) as refused:
        notebooks.inspect(REPORT.read_bytes(), "bibliotheque/r.ipynb", {"departement": "14"})
    assert refused.value.key == "unknown_parameter"


# -- parameters ------------------------------------------------------------------------
def test_parameters_and_their_types_come_from_the_tagged_cell():
    assert declared_parameters(REPORT) == {"department": "str", "report_date": "str"}
    assert declared_parameters(NOTEBOOKS / "parametres.ipynb") == {"code": "str", "libelle": "str", "seuil": "int"}


def test_annotated_parameters_keep_their_annotation(tmp_path):
    cell = nbformat.v4.new_code_cell("taux: float = 1\nnom = f'x'")
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "a.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}), path)
    assert declared_parameters(path) == {"taux": "float", "nom": None}


def test_untagged_parameters_cell_is_a_problem():
    with pytest.raises(NotebookProblem) as refused:
        declared_parameters(NOTEBOOKS / "sans-tag.ipynb")
    assert refused.value.key == "no_parameters_cell"


def test_notebook_without_a_tagged_cell_runs_without_parameters():
    check_notebook_parameters(NOTEBOOKS / "sans-tag.ipynb", {})


def test_notebook_without_a_tagged_cell_refuses_parameters_naming_the_notebook():
    with pytest.raises(NotebookProblem) as refused:
        check_notebook_parameters(NOTEBOOKS / "sans-tag.ipynb", {"department": "14"})
    assert refused.value.key == "no_parameters_cell"
    assert refused.value.values == {"path": "sans-tag.ipynb"}
    message = text("fr", "reports_no_parameters_cell", **refused.value.values)
    assert message.startswith("Le notebook « sans-tag.ipynb » n'a pas de cellule marquée « parameters »")
    assert "ne peut pas recevoir de paramètres" in message


def test_unreadable_notebook_is_refused_even_without_parameters(tmp_path):
    broken = tmp_path / "casse.ipynb"
    broken.write_text("{pas du json", encoding="utf-8")
    with pytest.raises(NotebookProblem) as refused:
        check_notebook_parameters(broken, {})
    assert refused.value.key == "unreadable"


@pytest.mark.parametrize("given", [
    {"code": "07"}, {"libelle": "Région"}, {"seuil": 3}, {}, {"code": "07", "seuil": 0},
])
def test_values_of_the_declared_type_are_accepted(given):
    check_parameters({"code": "str", "libelle": "str", "seuil": "int", "x": None}, given)


@pytest.mark.parametrize("given, problem", [
    ({"code": 7}, "wrong_type"),
    ({"seuil": "3"}, "wrong_type"),
    ({"seuil": True}, "wrong_type"),
    ({"departement": "76"}, "unknown_parameter"),
])
def test_other_values_are_refused(given, problem):
    with pytest.raises(NotebookProblem) as refused:
        check_parameters({"code": "str", "seuil": "int"}, given)
    assert refused.value.key == problem


def test_float_accepts_integers_and_unknown_types_anything():
    check_parameters({"taux": "float", "x": None}, {"taux": 2, "x": [1, "a"]})


# -- archive ---------------------------------------------------------------------------
def test_a_log_keeps_no_server_path_but_keeps_urls_and_dates():
    log = (
        "Input Notebook:  /srv/datalab/var/reports/work/12/input.ipynb\n"
        '  File "/opt/datalab/.venv/lib/python3.11/site-packages/papermill/execute.py", line 131\n'
        "cwd=/home/jupyter-analyste1 see http://127.0.0.1:8000/hub/home on 2020/03/27\n"
    )
    assert archive.without_server_paths(log) == (
        "Input Notebook:  …/input.ipynb\n"
        '  File "…/execute.py", line 131\n'
        "cwd=…/jupyter-analyste1 see http://127.0.0.1:8000/hub/home on 2020/03/27\n"
    )


def write_outputs(area: Path, status="succeeded", html=True) -> None:
    (area / "notebook.ipynb").write_text("{}")
    if html:
        (area / "report.html").write_text("<html></html>")
    (area / "result.json").write_text(json.dumps({"status": status, "error": None if status == "succeeded" else "boom"}))


def test_a_complete_run_succeeds(tmp_path):
    write_outputs(tmp_path)
    outcome = outcome_of(tmp_path, 0)
    assert outcome.status == "succeeded" and set(outcome.files) == {"notebook.ipynb", "report.html"}


def test_a_failed_run_keeps_its_notebook_and_never_its_html(tmp_path):
    write_outputs(tmp_path, status="failed")
    outcome = outcome_of(tmp_path, 1)
    assert outcome.status == "failed" and outcome.error == "boom"
    assert set(outcome.files) == {"notebook.ipynb"}


def test_a_run_without_its_html_is_not_a_report(tmp_path):
    write_outputs(tmp_path, html=False)
    assert outcome_of(tmp_path, 0).status == "failed"


def test_a_killed_run_reports_the_given_error(tmp_path):
    outcome = outcome_of(tmp_path, None, "délai dépassé")
    assert outcome.status == "failed" and outcome.error == "délai dépassé" and outcome.files == {}


def test_links_planted_in_the_work_area_are_not_archived(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("hub secret")
    area = tmp_path / "area"
    area.mkdir()
    write_outputs(area)
    (area / "report.html").unlink()
    (area / "report.html").symlink_to(secret)
    assert read_regular(area / "report.html", 1024) is None
    outcome = outcome_of(area, 0)
    assert outcome.status == "failed" and "report.html" not in outcome.files


# -- deployment file -------------------------------------------------------------------
def settings_with(tmp_path, reports: dict):
    data = copy.deepcopy(EXAMPLE)
    data["storage"] = {"data_dir": str(tmp_path / "data"), "library_source": str(REPO / "shared_notebooks")}
    data["reports"] = reports
    return parse(data, REPO)


def test_example_schedules_the_five_departments_for_the_coordinator(tmp_path):
    settings = settings_with(tmp_path, EXAMPLE["reports"])
    schedules = settings.reports.schedules
    assert sorted(s.parameters["department"] for s in schedules) == ["14", "27", "50", "61", "76"]
    assert {s.owner for s in schedules} == {"coordinateur"}
    assert settings.reports.time_zone == "Europe/Paris"


@pytest.mark.parametrize("reports, message", [
    ({"time_zone": "Europe/Caen"}, "reports.time_zone: unknown time zone 'Europe/Caen'"),
    ({"misfire": "twice"}, "reports.misfire: Input should be 'run-once' or 'skip'"),
    ({"retention": 0}, "reports.retention: Input should be greater than or equal to 1"),
    ({"schedules": [{"id": "r1", "owner": "coordinateur", "notebook": "a.ipynb", "cron": "0 7 * *"}]},
     "reports.schedules[0].cron: invalid cron expression '0 7 * *'"),
    ({"schedules": [{"id": "r1", "owner": "personne", "notebook": "a.ipynb", "cron": "0 7 * * *"}]},
     "reports.schedules[0].owner: unknown user 'personne'"),
    ({"schedules": [{"id": "r1", "owner": "coordinateur", "notebook": "a.ipynb", "cron": "0 7 * * *",
                     "audience": {"partners": ["univ-zeta"]}}]},
     "reports.schedules[0].audience.partners[0]: unknown partner 'univ-zeta'"),
    ({"schedules": [{"id": "r1", "owner": "coordinateur", "notebook": "a.ipynb", "cron": "0 7 * * *",
                     "parameters": {"report_date": __import__("datetime").date(2020, 3, 27)}}]},
     "reports.schedules[0].parameters.report_date: input was not a valid JSON value"),
    ({"shedules": []}, "reports.shedules: unknown key; allowed here: enabled, port, time_zone"),
])
def test_reports_section_errors_name_the_key(tmp_path, reports, message):
    with pytest.raises(ConfigError) as error:
        settings_with(tmp_path, reports)
    assert message in str(error.value)


def test_the_service_and_its_least_privilege_roles_are_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_PORT", "18123")
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    monkeypatch.setenv("DATALAB_CONFIG", str(REPO / "datalab.example.yaml"))
    c = Config()
    hub_apply.configure(c, settings_with(tmp_path, EXAMPLE["reports"]))
    (service,) = [s for s in c.JupyterHub.services if s["name"] == "reports"]
    assert service["name"] == "reports" and service["url"] == "http://127.0.0.1:18127"
    assert service["oauth_no_confirm"] is True
    assert service["environment"]["DATALAB_CONFIG"] == str(REPO / "datalab.example.yaml")
    assert not any("TOKEN" in k for k in service["environment"])
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["datalab-reports-service"]["scopes"] == ["read:users:name", "read:users:groups"]
    assert roles["datalab-reports-service"]["services"] == ["reports"]
    assert roles["datalab-reports-user"]["scopes"] == ["access:services!service=reports"]


def test_disabled_reports_add_no_service(tmp_path, monkeypatch):
    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    c = Config()
    hub_apply.configure(c, settings_with(tmp_path, {"enabled": False}))
    assert "reports" not in {s["name"] for s in c.JupyterHub.get("services", [])}


# -- command line ----------------------------------------------------------------------
class FakeClient:
    def __init__(self):
        self.calls = []

    def call(self, method, path, body=None):
        self.calls.append((method, path, body))
        return {"id": body["id"], "next_run": "2026-12-01T07:00:00+01:00"}


def test_cli_create_sends_strings_as_written_and_json_values_typed(capsys):
    args = cli.build_parser().parse_args([
        "reports", "create", "rapport-07", "--notebook", "bibliotheque/r.ipynb", "--cron", "0 7 * * 1",
        "-p", "code", "07", "-p", "libelle", "Région", "-j", "seuil", "3", "--partner", "univ-alpha",
    ])
    client = FakeClient()
    args.handler(cli.Context(client=client), args)
    method, path, body = client.calls[0]
    assert (method, path) == ("POST", "/services/reports/api/schedules")
    assert body["parameters"] == {"code": "07", "libelle": "Région", "seuil": 3}
    assert body["audience"] == {"all": False, "partners": ["univ-alpha"], "roles": []}
    assert "rapport-07: next run 2026-12-01T07:00:00+01:00" in capsys.readouterr().out


def test_cli_needs_a_token(monkeypatch, capsys):
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    assert cli.main(["reports", "list"]) == 2
    assert "token" in capsys.readouterr().err


@pytest.mark.parametrize(("line", "french"), [
    ("Input Notebook:  /srv/work/12/input.ipynb", "Notebook d'entrée : /srv/work/12/input.ipynb"),
    ("Executing notebook with kernel: python3", "Exécution du notebook avec le noyau python3"),
    ("Executing Cell 3---------------------------------------", "Cellule 3 : début"),
    ("Ending Cell 3------------------------------------------", "Cellule 3 : fin"),
    ("Alternative text is missing on 1 image(s).", "Texte alternatif absent sur 1 image(s) du rapport."),
    ("Running the cell's own output", "Running the cell's own output"),
])
def test_a_run_log_says_papermills_lines_in_french(line, french):
    record = logging.LogRecord("papermill", logging.INFO, __file__, 1, "%s", (line,), None)
    assert SaidIn("fr").filter(record) and record.getMessage() == french
