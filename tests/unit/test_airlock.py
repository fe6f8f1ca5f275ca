"""The airlock (hub.airlock): who may request and decide an export out of a health space,
and what is exported. Attacks try to break a rule and assert the refusal and its audit
line."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sqlite3

import pytest

from hub import audit, cli
from hub.airlock import files
from hub.airlock.core import Airlock, Person, Refused
from hub.airlock.store import APPROVING, PENDING, Store
from hub.settings import ConfigError, parse

from .deployment import REPO, example_in

CHU, SUD = "chu-exemple-nord", "chu-exemple-sud"
SECRET = "contenu-confidentiel-hors-espace"


def deployment(tmp_path, **changes) -> dict:
    """The example with a second member of each CHU, each partner's data steward, and a
    health project with its steward."""
    data = example_in(tmp_path, **changes)
    data["auth"]["demo_users"] += [
        {"name": "referente2", "partner": CHU},
        {"name": "infirmier2", "partner": CHU},
        {"name": "referent-sud", "partner": SUD},
    ]
    for partner in data["partners"]:
        if partner["id"] == CHU:
            partner["data_stewards"] = ["referente2"]
        if partner["id"] == SUD:
            partner["data_stewards"] = ["referent-sud"]
    data["projects"].append({"id": "cohorte", "title": "Cohorte", "members": ["analyste2", "referente2"],
                             "health_data": True, "data_stewards": ["referente2"]})
    return data


def member(name: str, partner: str = CHU, *more: str, source: str = "127.0.0.1") -> Person:
    return Person(name, frozenset({f"partner-{partner}", "role-analyst", *more}), source)


ANALYSTE2 = member("analyste2", CHU, "project-cohorte")
REFERENTE2 = member("referente2", CHU, "project-cohorte")
INFIRMIER2 = member("infirmier2")
REFERENT_SUD = member("referent-sud", SUD)


@pytest.fixture
def trail(tmp_path, monkeypatch):
    """The audit writer in the deployment's data directory; returns the events written."""
    monkeypatch.setattr(audit, "_writer", None)
    writer = audit.configure(tmp_path / "data", "hub")
    yield lambda: [json.loads(line) for line in writer.path.read_text(encoding="utf-8").splitlines()]
    writer.close()


@pytest.fixture
def airlock(tmp_path, trail):
    lock = Airlock(parse(deployment(tmp_path), REPO))
    yield lock
    lock.close()


@pytest.fixture
def space(airlock):
    """The CHU's shared space, with a result file and, outside it, a secret file."""
    root = airlock.layout.partner_space(CHU)
    root.mkdir(parents=True)
    (root / "resultats").mkdir()
    (root / "resultats" / "tableau.csv").write_text("departement,cas\n14,12\n")
    (airlock.settings.data_dir / "hors-espace.txt").write_text(SECRET)
    return root


def last(events: list[dict], action: str) -> dict:
    return [e for e in events if e["action"] == action][-1]


def requested(airlock) -> int:
    return airlock.request(ANALYSTE2, f"partenaire-{CHU}/resultats/tableau.csv", "tableau agrégé pour le rapport").id


# -- the deployment file ---------------------------------------------------------------
def problems(data) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data, REPO)
    return str(caught.value)


def test_stewards_are_declared_per_partner_and_project(tmp_path):
    settings = parse(deployment(tmp_path), REPO)
    assert settings.partner(CHU).data_stewards == ["referente2"]
    assert settings.projects[-1].data_stewards == ["referente2"]


def test_a_steward_of_a_partner_without_health_data_is_refused_naming_the_key(tmp_path):
    data = deployment(tmp_path)
    data["partners"][0]["data_stewards"] = ["analyste1"]
    assert "partners[0].data_stewards: only a partner holding health data" in problems(data)


def test_a_steward_must_be_a_demo_user_of_the_partner(tmp_path):
    data = deployment(tmp_path)
    chu = next(i for i, p in enumerate(data["partners"]) if p["id"] == CHU)
    data["partners"][chu]["data_stewards"] = ["referente2", "analyste1"]
    assert (f"partners[{chu}].data_stewards[1]: 'analyste1' is not a demo user of partner '{CHU}'; "
            "its demo users: analyste2, infirmier2, referente2") in problems(data)


def test_a_project_steward_must_be_a_member_of_a_health_project(tmp_path):
    data = deployment(tmp_path)
    data["projects"][-1]["data_stewards"] = ["decideur1"]
    assert "projects[1].data_stewards[0]: 'decideur1' is not a member of project 'cohorte'" in problems(data)
    data["projects"][-1].update(health_data=False, data_stewards=["analyste2"])
    assert "projects[1].data_stewards: only a project holding health data" in problems(data)


def test_a_steward_is_a_hub_user_name(tmp_path):
    data = deployment(tmp_path)
    data["partners"][8]["data_stewards"] = ["Référente 2"]
    assert "partners[8].data_stewards[0]" in problems(data)


# -- the store -------------------------------------------------------------------------
def test_the_store_is_migrated_private_and_resumes_interrupted_approvals(tmp_path):
    path = tmp_path / "airlock" / "airlock.sqlite"
    store = Store(path)
    row = store.add(requester="a", space_kind="partner", space_id=CHU, path="p", name="n", reason="r",
                    size=1, sha256="0" * 64)
    assert store.transition(row.id, PENDING, APPROVING)
    assert not store.transition(row.id, PENDING, APPROVING)  # a second claim loses
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        assert db.execute("select version_num from airlock_alembic_version").fetchone() == ("0001",)
    again = Store(path)
    assert again.get(row.id).status == PENDING
    again.close()


# -- requests --------------------------------------------------------------------------
def test_a_request_stages_a_copy_the_requester_cannot_write_and_records_its_hash(airlock, space, trail):
    row = airlock.request(ANALYSTE2, f"partenaire-{CHU}/resultats/tableau.csv", "  tableau agrégé  ")
    content = (space / "resultats" / "tableau.csv").read_bytes()
    staged = airlock.staging / str(row.id)
    assert staged.read_bytes() == content
    assert row.sha256 == hashlib.sha256(content).hexdigest() and row.size == len(content)
    assert row.reason == "tableau agrégé" and row.status == PENDING
    assert stat.S_IMODE(airlock.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(airlock.staging.stat().st_mode) == 0o700
    event = last(trail(), "airlock.request")
    assert event["actor"] == "analyste2" and event["partner"] == [CHU] and event["result"] == "success"
    assert event["target"] == f"airlock:{row.id}"
    assert event["detail"]["sha256"] == row.sha256  # a digest is kept, not masked
    assert event["detail"]["file"] == "tableau.csv"


def test_a_health_project_and_the_home_of_a_health_member_are_spaces(airlock, space):
    project = airlock.layout.project_space("cohorte")
    project.mkdir(parents=True)
    (project / "cohorte.csv").write_text("id\n1\n")
    row = airlock.request(ANALYSTE2, "projet-cohorte/cohorte.csv", "résultat du projet")
    assert (row.space_kind, row.space_id) == ("project", "cohorte")
    home = airlock.layout.home(airlock._account("analyste2"))
    home.mkdir(parents=True)
    (home / "note.txt").write_text("x")
    row = airlock.request(ANALYSTE2, "note.txt", "note de synthèse")
    assert (row.space_kind, row.space_id) == ("partner", CHU)


@pytest.mark.parametrize(("path", "key"), [
    (f"partenaire-{CHU}/../hors-espace.txt", "bad_path"),
    (f"partenaire-{CHU}/../../data/hors-espace.txt", "bad_path"),
    ("/etc/passwd", "bad_path"),
    (f"partenaire-{CHU}/./resultats/tableau.csv", "bad_path"),
    (f"partenaire-{CHU}//resultats/tableau.csv", "bad_path"),
    (f"partenaire-{CHU}/resultats/tab\nleau.csv", "bad_path"),
    (f"partenaire-{CHU}/absent.csv", "not_found"),
    (f"partenaire-{CHU}/resultats", "not_regular"),
    ("partenaire-univ-alpha/donnees.csv", "not_your_space"),
    (f"partenaire-{SUD}/donnees.csv", "not_your_space"),
])
def test_attack_paths_outside_the_space_are_refused_and_audited(airlock, space, trail, path, key):
    with pytest.raises(Refused) as caught:
        airlock.request(ANALYSTE2, path, "tentative")
    assert caught.value.key == key and caught.value.status in (400, 403)
    assert SECRET not in caught.value.message("fr")
    event = last(trail(), "airlock.request")
    assert (event["result"], event["detail"]["refusal"], event["actor"]) == ("refused", key, "analyste2")
    assert not list(airlock.staging.iterdir())


def test_attack_a_symlink_to_a_file_outside_the_space_is_refused(airlock, space, trail):
    (space / "lien.txt").symlink_to(airlock.settings.data_dir / "hors-espace.txt")
    with pytest.raises(Refused) as caught:
        airlock.request(ANALYSTE2, f"partenaire-{CHU}/lien.txt", "tentative")
    assert caught.value.key == "link" and caught.value.status == 400
    message = caught.value.message("fr")
    assert message.startswith("Refusé : le chemin passe par un lien symbolique") and SECRET not in message
    event = last(trail(), "airlock.request")
    assert (event["result"], event["detail"]["refusal"]) == ("refused", "link")


def test_attack_a_symlinked_directory_is_refused(airlock, space, trail):
    (space / "dossier").symlink_to(airlock.settings.data_dir, target_is_directory=True)
    with pytest.raises(Refused) as caught:
        airlock.request(ANALYSTE2, f"partenaire-{CHU}/dossier/hors-espace.txt", "tentative")
    assert caught.value.key == "link"
    assert last(trail(), "airlock.request")["detail"]["refusal"] == "link"


def test_attack_a_symlink_swapped_in_after_the_request_changes_nothing_exported(airlock, space, trail):
    original = (space / "resultats" / "tableau.csv").read_bytes()
    request_id = requested(airlock)
    swapped = space / "resultats" / "tableau.csv"
    swapped.unlink()
    swapped.symlink_to(airlock.settings.data_dir / "hors-espace.txt")
    row = airlock.approve(REFERENTE2, request_id)
    exported = airlock.exports / "partners" / CHU / row.exported
    assert exported.read_bytes() == original
    assert SECRET.encode() not in exported.read_bytes()
    export = last(trail(), "airlock.export")
    assert export["detail"]["sha256"] == hashlib.sha256(original).hexdigest()


def test_a_file_the_person_could_not_read_is_refused():
    reader = files.Reader(uid=1500, gids=frozenset({1500, 1600}))
    mine = os.stat_result((stat.S_IFREG | 0o600, 0, 0, 1, 1500, 1500, 0, 0, 0, 0))
    colleague_private = os.stat_result((stat.S_IFREG | 0o600, 0, 0, 1, 1501, 1600, 0, 0, 0, 0))
    group_readable = os.stat_result((stat.S_IFREG | 0o640, 0, 0, 1, 1501, 1600, 0, 0, 0, 0))
    assert reader.may_read(mine) and reader.may_read(group_readable)
    assert not reader.may_read(colleague_private)


def test_a_copy_past_the_size_limit_is_refused_and_leaves_nothing(tmp_path):
    (tmp_path / "gros.csv").write_bytes(b"x" * 2048)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(files.FileRefused) as caught:
        files.copy_fd(os.open(tmp_path / "gros.csv", os.O_RDONLY), staging, limit=1024)
    assert caught.value.key == "too_large"
    assert list(staging.iterdir()) == []


def test_a_reason_is_required_and_bounded(airlock, space, trail):
    for reason in ("", "  x ", "r" * 1001):
        with pytest.raises(Refused) as caught:
            airlock.request(ANALYSTE2, f"partenaire-{CHU}/resultats/tableau.csv", reason)
        assert caught.value.key == "reason"
    assert last(trail(), "airlock.request")["detail"]["refusal"] == "reason"


def test_a_non_health_space_needs_no_airlock(airlock, trail):
    analyst = member("analyste1", "univ-alpha")
    with pytest.raises(Refused) as caught:
        airlock.request(analyst, "notes.txt", "pas de données de santé")
    assert caught.value.key == "not_health"
    assert not airlock.may_request(analyst) and airlock.may_request(ANALYSTE2)


# -- decisions -------------------------------------------------------------------------
def test_a_steward_approves_and_the_approved_file_is_exported_with_its_hash(airlock, space, trail):
    request_id = requested(airlock)
    row = airlock.approve(REFERENTE2, request_id)
    directory = airlock.exports / "partners" / CHU
    exported = directory / f"{request_id}-tableau.csv"
    assert row.status == "approved" and row.decided_by == "referente2" and row.exported == exported.name
    assert hashlib.sha256(exported.read_bytes()).hexdigest() == row.sha256
    assert (directory / f"{exported.name}.sha256").read_text() == f"{row.sha256}  {exported.name}\n"
    assert stat.S_IMODE(exported.stat().st_mode) == 0o640
    assert stat.S_IMODE(directory.stat().st_mode) in (0o2750, 0o700)
    assert not (airlock.staging / str(request_id)).exists()
    events = trail()
    approve, export = last(events, "airlock.approve"), last(events, "airlock.export")
    assert (approve["actor"], approve["result"], approve["detail"]["owner"]) == ("referente2", "success", "analyste2")
    assert export["detail"]["export"] == f"exports/partners/{CHU}/{exported.name}"
    assert export["detail"]["sha256"] == row.sha256 and export["partner"] == [CHU]
    # the requester's history (datalab audit --person analyste2 --kind airlock) holds the decision
    history = audit.select(events, audit.Query(person="analyste2", action="airlock"))
    assert {e["action"] for e in history} == {"airlock.request", "airlock.approve", "airlock.export"}


def test_attack_self_approval_is_refused_and_audited(airlock, space, trail):
    request_id = airlock.request(REFERENTE2, f"partenaire-{CHU}/resultats/tableau.csv", "mon propre export").id
    with pytest.raises(Refused) as caught:
        airlock.approve(REFERENTE2, request_id)
    assert (caught.value.status, caught.value.key) == (403, "self")
    event = last(trail(), "airlock.approve")
    assert (event["actor"], event["result"], event["detail"]["refusal"]) == ("referente2", "refused", "self")
    with pytest.raises(Refused):
        airlock.refuse(REFERENTE2, request_id, "je me refuse")
    assert last(trail(), "airlock.refuse")["detail"]["refusal"] == "self"
    assert airlock.store.get(request_id).status == PENDING
    assert not (airlock.exports / "partners" / CHU).exists()


def test_attack_a_member_who_is_not_a_steward_cannot_decide(airlock, space, trail):
    request_id = requested(airlock)
    with pytest.raises(Refused) as caught:
        airlock.approve(INFIRMIER2, request_id)
    assert (caught.value.status, caught.value.key) == (403, "not_steward")
    event = last(trail(), "airlock.approve")
    assert (event["actor"], event["result"], event["detail"]["refusal"]) == ("infirmier2", "refused", "not_steward")
    assert airlock.store.get(request_id).status == PENDING


def test_attack_the_steward_of_another_partner_cannot_decide(airlock, space, trail):
    request_id = requested(airlock)
    with pytest.raises(Refused) as caught:
        airlock.approve(REFERENT_SUD, request_id)
    assert (caught.value.status, caught.value.key) == (404, "unknown")  # hidden, as if absent
    event = last(trail(), "airlock.approve")
    assert (event["actor"], event["result"], event["detail"]["refusal"]) == ("referent-sud", "refused", "not_steward")
    with pytest.raises(Refused) as seen:
        airlock.get(REFERENT_SUD, request_id)
    assert seen.value.status == 404


def test_attack_a_declared_steward_who_left_the_partner_cannot_decide(airlock, space, trail):
    request_id = requested(airlock)
    departed = Person("referente2", frozenset({"role-analyst"}))
    with pytest.raises(Refused) as caught:
        airlock.approve(departed, request_id)
    assert caught.value.status == 404
    assert last(trail(), "airlock.approve")["detail"]["refusal"] == "not_steward"


def test_attack_a_staged_copy_altered_before_approval_is_not_exported(airlock, space, trail):
    request_id = requested(airlock)
    staged = airlock.staging / str(request_id)
    staged.chmod(0o600)
    staged.write_text(SECRET)
    with pytest.raises(Refused) as caught:
        airlock.approve(REFERENTE2, request_id)
    assert (caught.value.status, caught.value.key) == (409, "hash_mismatch")
    assert SECRET not in caught.value.message("fr")
    event = last(trail(), "airlock.approve")
    assert (event["actor"], event["result"], event["detail"]["refusal"]) == ("referente2", "refused", "hash_mismatch")
    assert not [e for e in trail() if e["action"] == "airlock.export"]
    directory = airlock.exports / "partners" / CHU
    assert not directory.exists() or not list(directory.iterdir())
    assert airlock.store.get(request_id).status == PENDING


def test_attack_a_staged_copy_swapped_for_a_link_is_not_exported(airlock, space, trail):
    request_id = requested(airlock)
    staged = airlock.staging / str(request_id)
    staged.unlink()
    staged.symlink_to(space / "resultats" / "tableau.csv")
    with pytest.raises(Refused) as caught:
        airlock.approve(REFERENTE2, request_id)
    assert caught.value.key == "hash_mismatch"
    assert last(trail(), "airlock.approve")["detail"]["refusal"] == "hash_mismatch"


def test_a_refusal_needs_a_reason_drops_the_staged_copy_and_is_final(airlock, space, trail):
    request_id = requested(airlock)
    with pytest.raises(Refused) as caught:
        airlock.refuse(REFERENTE2, request_id, " ")
    assert caught.value.key == "reason"
    row = airlock.refuse(REFERENTE2, request_id, "données individuelles")
    assert (row.status, row.decided_by, row.decision_reason) == ("refused", "referente2", "données individuelles")
    assert not (airlock.staging / str(request_id)).exists()
    event = last(trail(), "airlock.refuse")
    assert (event["result"], event["detail"]["reason"]) == ("success", "données individuelles")
    with pytest.raises(Refused) as again:
        airlock.approve(REFERENTE2, request_id)
    assert (again.value.status, again.value.key) == (409, "not_pending")
    with pytest.raises(Refused) as download:
        airlock.exported_file(ANALYSTE2, request_id)
    assert download.value.key == "not_exported"
    assert last(trail(), "airlock.download")["result"] == "refused"


def test_lists_show_requests_to_their_requester_and_pending_ones_to_stewards(airlock, space):
    request_id = requested(airlock)
    assert [r.id for r in airlock.mine(ANALYSTE2)] == [request_id]
    assert [r.id for r in airlock.to_decide(REFERENTE2)] == [request_id]
    assert airlock.to_decide(INFIRMIER2) == [] and airlock.to_decide(REFERENT_SUD) == []
    assert airlock.to_decide(ANALYSTE2) == []
    airlock.approve(REFERENTE2, request_id)
    assert airlock.to_decide(REFERENTE2) == []
    assert [r.id for r in airlock.decided_in(REFERENTE2)] == [request_id]
    row, path = airlock.exported_file(ANALYSTE2, request_id)
    assert path.read_bytes() == (space / "resultats" / "tableau.csv").read_bytes()
    with pytest.raises(Refused):
        airlock.exported_file(INFIRMIER2, request_id)


def test_english_messages(airlock, space):
    with pytest.raises(Refused) as caught:
        airlock.request(ANALYSTE2, "../x", "tentative")
    assert caught.value.message("en").startswith("Path refused")


# -- the audit trail and the command line ---------------------------------------------
def test_only_a_digest_under_its_key_escapes_masking():
    digest = "a" * 64
    clean = audit.scrub({"detail": {"sha256": digest, "note": digest, "sha256x": digest}})
    assert clean["detail"] == {"sha256": digest, "note": audit.MASK, "sha256x": audit.MASK}
    assert audit.scrub({"detail": {"sha256": "token-" + "b1" * 20}})["detail"]["sha256"] != "token-" + "b1" * 20


class FakeClient:
    def __init__(self, answers: dict):
        self.calls, self.answers = [], answers

    def call(self, method, path, body=None):
        self.calls.append((method, path, body))
        return self.answers.get((method, path))

    def fetch(self, path):
        self.calls.append(("FETCH", path, None))
        return self.answers[("FETCH", path)]


MODEL = {"id": 3, "status": "approved", "requester": "analyste2", "space": f"partner:{CHU}",
         "path": "partenaire-x/t.csv", "sha256": hashlib.sha256(b"ok").hexdigest(), "decided_by": "referente2",
         "decision_reason": None, "exported": "3-t.csv"}


def run_cli(argv, client):
    args = cli.build_parser().parse_args(argv)
    return args.handler(cli.Context(client=client), args)


def test_cli_requests_approves_and_refuses_through_the_api(capsys):
    client = FakeClient({("POST", cli.AIRLOCK): {**MODEL, "status": "pending"},
                         ("POST", f"{cli.AIRLOCK}/3/approve"): MODEL,
                         ("POST", f"{cli.AIRLOCK}/3/refuse"): {**MODEL, "status": "refused"},
                         ("GET", cli.AIRLOCK): {"mine": [MODEL], "to_decide": []}})
    run_cli(["airlock", "request", "partenaire-x/t.csv", "--reason", "rapport"], client)
    run_cli(["airlock", "approve", "3"], client)
    run_cli(["airlock", "refuse", "3", "--reason", "non"], client)
    run_cli(["airlock", "list"], client)
    assert client.calls == [
        ("POST", cli.AIRLOCK, {"path": "partenaire-x/t.csv", "reason": "rapport"}),
        ("POST", f"{cli.AIRLOCK}/3/approve", {}),
        ("POST", f"{cli.AIRLOCK}/3/refuse", {"reason": "non"}),
        ("GET", cli.AIRLOCK, None),
    ]
    out = capsys.readouterr().out
    assert "request 3: pending" in out and "exported as 3-t.csv" in out and "3\tapproved\tanalyste2" in out


def test_cli_download_checks_the_hash(tmp_path, capsys):
    good = FakeClient({("GET", f"{cli.AIRLOCK}/3"): MODEL, ("FETCH", f"{cli.AIRLOCK}/3/file"): b"ok"})
    run_cli(["airlock", "download", "3", "--output", str(tmp_path / "t.csv")], good)
    assert (tmp_path / "t.csv").read_bytes() == b"ok"
    bad = FakeClient({("GET", f"{cli.AIRLOCK}/3"): MODEL, ("FETCH", f"{cli.AIRLOCK}/3/file"): b"altered"})
    with pytest.raises(cli.Failure, match="does not match its hash"):
        run_cli(["airlock", "download", "3", "--output", str(tmp_path / "u.csv")], bad)
    assert not (tmp_path / "u.csv").exists()


def test_the_hub_gets_the_page_the_api_and_the_scopes(tmp_path, monkeypatch):
    from traitlets.config import Config

    from hub import apply as hub_apply
    from hub.airlock import handlers

    monkeypatch.setenv("DATALAB_DEMO_PASSWORD", "un-mot-de-passe")
    c = Config()
    hub_apply.configure(c, parse(deployment(tmp_path), REPO))
    assert set(handlers.SCOPES) <= set(c.JupyterHub.custom_scopes)
    role = next(r for r in c.JupyterHub.load_roles if r["name"] == handlers.ROLE_NAME)
    assert set(role["scopes"]) == set(handlers.SCOPES)
    assert set(role["groups"]) == {"role-analyst", "role-decision-maker", "role-admin"}
    paths = {h[0] for h in c.JupyterHub.extra_handlers}
    assert {"/export", "/api/airlock/requests", r"/api/airlock/requests/(\d{1,12})/(approve|refuse)"} <= paths
    shown = c.JupyterHub.template_vars["airlock_nav"]
    user = lambda name, *groups: type("U", (), {"name": name, "groups": [type("G", (), {"name": g}) for g in groups]})
    assert shown(user("analyste2", f"partner-{CHU}")) and not shown(user("analyste1", "partner-univ-alpha"))
    assert not shown(None)
