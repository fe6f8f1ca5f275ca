"""Health spaces confined (publish and share refused beyond the partner or project),
audiences stored under the former rule migrated, admins without tokens nor group writes."""

from __future__ import annotations

import json

import pytest
from jupyterhub.scopes import expand_scopes

from hub import confinement, partners
from hub.services.dashboards.service import DashboardService
from hub.services.dashboards.store import METADATA, Store
from hub.services.reports.db import ScheduleRow, prepare
from hub.services.reports.service import Caller, Refused, ReportsService
from hub.settings import Audience, ReportSchedule

from .deployment import EXAMPLE, settings_in

HEALTH_RULE = "Règle des données de santé"
ANALYSTE2 = {"name": "analyste2", "groups": ["partner-chu-exemple-nord", "role-analyst", "project-sante-territoires"]}
ANALYSTE1 = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst", "project-sante-territoires"]}


def nb() -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": "print(1)"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_health_partners_by_type_or_by_key(tmp_path):
    data = json.loads(json.dumps(EXAMPLE["partners"]))
    for p in data:
        if p["id"] == "univ-beta":
            p["health_data"] = True
        if p["id"] == "chu-exemple-sud":
            p["health_data"] = False
    settings = settings_in(tmp_path, partners=data)
    held = {p.id for p in settings.partners if p.holds_health_data}
    assert {"chu-exemple-nord", "centre-cancer-ex", "univ-beta"} <= held
    assert "chu-exemple-sud" not in held and "univ-alpha" not in held


# -- publishing --------------------------------------------------------------------------

@pytest.mark.parametrize("audience", [
    {"all": True},
    {"partners": ["univ-alpha"]},
    {"partners": ["chu-exemple-nord", "univ-alpha"]},
    {"roles": ["decision-maker"]},
    {"any_of": [{"partners": ["chu-exemple-nord"]}, {"partners": ["region-exemple"]}]},
])
def test_a_health_member_cannot_publish_a_dashboard_beyond_their_partner(tmp_path, audience):
    """Attack: analyste2 (CHU Exemple Nord) publishes to all, to another partner..."""
    svc = DashboardService(settings_in(tmp_path), Store(tmp_path / "d"), None, None, "/services/dashboards/")
    with pytest.raises(confinement.HealthConfinementError) as refused:
        svc.publish(ANALYSTE2, nb(), {"title": "Fuite", "audience": audience})
    assert HEALTH_RULE in str(refused.value) and "CHU Exemple Nord" in str(refused.value)
    assert isinstance(refused.value, PermissionError)  # the API answers 403
    assert svc.store.owner("fuite") is None


def test_a_health_member_publishes_within_their_partner_and_by_default(tmp_path):
    svc = DashboardService(settings_in(tmp_path), Store(tmp_path / "d"), None, None, "/services/dashboards/")
    default, _ = svc.publish(ANALYSTE2, nb(), {"title": "Interne"})
    assert default.audience == Audience(partners=["chu-exemple-nord"])
    narrowed, _ = svc.publish(ANALYSTE2, nb(), {"title": "Décideurs", "audience": {
        "partners": ["chu-exemple-nord"], "roles": ["decision-maker"]}})
    assert not narrowed.audience.admits({"partner-region-exemple", "role-decision-maker"})


def test_the_default_audience_is_the_authors_partner(tmp_path):
    svc = DashboardService(settings_in(tmp_path), Store(tmp_path / "d"), None, None, "/services/dashboards/")
    d, _ = svc.publish(ANALYSTE1, nb(), {"title": "Ma carte"})
    assert d.audience == Audience(partners=["univ-alpha"])
    assert not svc.may_view({"name": "decideur1", "groups": ["partner-region-exemple", "role-decision-maker"]}, d)


def test_a_health_project_member_publishes_nothing_beyond_it(tmp_path):
    projects = [{"id": "sante-territoires", "title": "Santé et territoires",
                 "members": ["analyste1", "analyste2"], "health_data": True}]
    svc = DashboardService(settings_in(tmp_path, projects=projects), Store(tmp_path / "d"), None, None, "/s/")
    with pytest.raises(confinement.HealthConfinementError, match=HEALTH_RULE):
        svc.publish(ANALYSTE1, nb(), {"title": "Carte", "audience": {"partners": ["univ-alpha"]}})


def test_a_health_member_cannot_schedule_a_report_beyond_their_partner(tmp_path):
    service = ReportsService(settings_in(tmp_path), None, None)
    owner = Caller("analyste2", set(ANALYSTE2["groups"]))
    with pytest.raises(Refused) as refused:
        service.complete(owner, ReportSchedule(id="fuite", notebook="bibliotheque/x.ipynb", cron="0 7 * * *",
                                               audience={"all": True}, profile="standard"))
    assert refused.value.status == 403 and HEALTH_RULE in refused.value.message


# -- sharing -------------------------------------------------------------------------------

def test_a_health_member_shares_only_within_their_partner(tmp_path):
    settings = settings_in(tmp_path)
    mine = ANALYSTE2["groups"]
    confinement.check_share(settings, mine, user_groups={"partner-chu-exemple-nord", "role-analyst"})
    confinement.check_share(settings, mine, group="partner-chu-exemple-nord")
    for attempt in ({"user_groups": set(ANALYSTE1["groups"])}, {"group": "project-sante-territoires"},
                    {"group": "partner-univ-alpha"}, {"code": True}):
        with pytest.raises(confinement.HealthConfinementError, match=HEALTH_RULE):
            confinement.check_share(settings, mine, **attempt)
    # members of no health space are not concerned
    confinement.check_share(settings, ANALYSTE1["groups"], code=True)


def test_a_health_project_member_shares_only_within_the_project(tmp_path):
    projects = [{"id": "sante-territoires", "title": "Santé et territoires",
                 "members": ["analyste1", "analyste2"], "health_data": True}]
    settings = settings_in(tmp_path, projects=projects)
    mine = ANALYSTE1["groups"]  # univ-alpha holds no health data; the project does
    confinement.check_share(settings, mine, user_groups={"partner-chu-exemple-nord", "project-sante-territoires"})
    confinement.check_share(settings, mine, group="project-sante-territoires")
    for attempt in ({"user_groups": {"partner-univ-alpha", "role-analyst"}}, {"group": "partner-univ-alpha"},
                    {"code": True}):
        with pytest.raises(confinement.HealthConfinementError, match=HEALTH_RULE):
            confinement.check_share(settings, mine, **attempt)


# -- the former audiences, migrated at the services' start -----------------------------------

FORMER = {"all": False, "partners": ["chu-exemple-nord"], "roles": ["decision-maker"]}


def test_a_stored_former_dashboard_keeps_its_audience_through_the_migration(tmp_path):
    (tmp_path / "ancien").mkdir()
    stored = {"id": "ancien", "title": "Ancien", "author": "analyste2", "partner": "chu-exemple-nord",
              "audience": FORMER, "profile": "standard", "version": 1,
              "versions": [{"number": 1, "published_at": "2026-01-01T00:00:00+00:00", "by": "analyste2"}]}
    (tmp_path / "ancien" / METADATA).write_text(json.dumps(stored), encoding="utf-8")
    store = Store(tmp_path)
    assert store.migrated == ["ancien"]
    audience = store.get("ancien").audience
    assert audience.admits({"partner-region-exemple", "role-decision-maker"})  # as before: OR
    assert audience.admits({"partner-chu-exemple-nord", "role-analyst"})
    assert not audience.admits({"partner-univ-alpha", "role-analyst"})
    saved = (tmp_path / "ancien" / METADATA).read_bytes()
    again = Store(tmp_path)  # the next start: nothing left to migrate, nothing rewritten
    assert again.migrated == [] and (tmp_path / "ancien" / METADATA).read_bytes() == saved
    assert again.get("ancien") == store.get("ancien")


def test_a_new_mixed_dashboard_audience_is_not_migrated(tmp_path):
    svc = DashboardService(settings_in(tmp_path), Store(tmp_path / "d"), None, None, "/s/")
    svc.publish(ANALYSTE2, nb(), {"title": "Décideurs", "audience": {
        "partners": ["chu-exemple-nord"], "roles": ["decision-maker"]}})
    reloaded = Store(tmp_path / "d")
    assert reloaded.migrated == []
    assert not reloaded.get("decideurs").audience.admits({"partner-region-exemple", "role-decision-maker"})


def test_a_stored_former_schedule_keeps_its_audience_through_the_migration(tmp_path):
    service = ReportsService(settings_in(tmp_path), None, None)
    service.layout.create()
    prepare(service.settings, service.engine)
    spec = {"id": "ancien", "title": "", "notebook": "bibliotheque/r.ipynb", "parameters": {}, "cron": "0 7 * * *",
            "time_zone": "Europe/Paris", "profile": "standard", "kernel": "python3", "audience": FORMER,
            "retention": 30, "misfire": "run-once"}
    new = ReportSchedule(id="nouveau", notebook="r.ipynb", cron="0 7 * * *",
                         audience={"partners": ["chu-exemple-nord"], "roles": ["decision-maker"]})
    with service.db() as db:
        db.add(ScheduleRow(id="ancien", owner="analyste2", spec_json=json.dumps(spec), origin="api"))
        db.add(ScheduleRow(id="nouveau", owner="analyste2", spec_json=new.model_dump_json(), origin="api"))
        db.commit()
    service.migrate_audiences()
    rows = {row.id: row for row in service.schedules()}
    migrated = rows["ancien"].spec.audience
    assert migrated.admits({"partner-region-exemple", "role-decision-maker"})
    assert migrated.admits({"partner-chu-exemple-nord", "role-analyst"})
    assert not migrated.admits({"partner-univ-alpha", "role-analyst"})
    assert rows["nouveau"].spec_json == new.model_dump_json()  # written under the current rule: kept
    service.migrate_audiences()
    assert {row.id: row.spec_json for row in service.schedules()} == {i: r.spec_json for i, r in rows.items()}


# -- least-privilege admins ------------------------------------------------------------------

def test_admins_cannot_read_tokens_nor_write_groups():
    (admin,) = [r for r in partners.load_roles() if r["name"] == "datalab-admin"]
    scopes = expand_scopes(admin["scopes"])
    assert "admin:auth_state" not in scopes and "admin:users" not in scopes
    assert not {"groups", "admin:groups", "delete:groups"} & scopes
    assert {"read:groups", "list:users", "admin:servers"} <= scopes
