"""Where the hub writes the events issue 17 added (hub/audit_hooks.py, hub/oidc.py): the
true actor of a server's start and stop, the provider's group changes, offboarding,
and the events listed on a person's "who opened my lab" page."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from types import SimpleNamespace

import pytest

from hub import audit, audit_hooks
from hub.oidc import DataLabOIDCAuthenticator


@pytest.fixture
def trail(tmp_path, monkeypatch):
    """The module writer, in ``tmp_path``; returns a function giving the lines written."""
    monkeypatch.setattr(audit, "_writer", None)
    writer = audit.configure(tmp_path, "hub")
    yield lambda: [json.loads(line) for line in writer.path.read_text(encoding="utf-8").splitlines()]
    writer.close()


def person(name: str, *groups: str):
    return SimpleNamespace(name=name, kind="user", groups=[SimpleNamespace(name=g) for g in groups])


def handler_of(who) -> SimpleNamespace:
    return SimpleNamespace(current_user=who, request=SimpleNamespace(remote_ip="127.0.0.1"))


class FakeSpawner:
    def __init__(self, owner, handler=None):
        self.user, self.name, self.handler = owner, "", handler

    async def start(self):
        return ("127.0.0.1", 8888)

    async def stop(self, now=False):
        return None


Spawner = audit_hooks.audited_spawner(FakeSpawner)


def test_a_start_names_whoever_asked_for_it(trail):
    owner = person("analyste1", "partner-univ-alpha")
    asyncio.run(Spawner(owner, handler_of(person("coordinateur", "role-admin"))).start())
    asyncio.run(Spawner(owner, handler_of(owner)).start())
    asyncio.run(Spawner(owner).start())
    assert [(e["action"], e["actor"], e["target"], e["partner"]) for e in trail()] == [
        ("server.start", "coordinateur", "analyste1/", ["univ-alpha"]),
        ("server.start", "analyste1", "analyste1/", ["univ-alpha"]),
        ("server.start", "analyste1", "analyste1/", ["univ-alpha"]),
    ]


def test_a_stop_asked_through_the_hub_names_the_request_actor_even_in_its_own_task(trail):
    """JupyterHub's stop_single_user stops the server in a task of its own: the culler's
    (a service's) and an admin's requests are still the stop's actors, not the owner."""
    owner = person("analyste1", "partner-univ-alpha")

    async def stop_single_user(handler, user, server_name=""):
        await asyncio.ensure_future(Spawner(user).stop())

    wrapped = audit_hooks.stop_with_actor(stop_single_user)
    culler = SimpleNamespace(name="idle-culler", kind="service")
    asyncio.run(wrapped(handler_of(culler), owner))
    asyncio.run(wrapped(handler_of(person("coordinateur")), owner))
    asyncio.run(wrapped(handler_of(owner), owner))
    asyncio.run(Spawner(owner).stop())  # no request: the hub's own stop (shutdown, clean-up)
    assert [(e["action"], e["actor"]) for e in trail()] == [
        ("server.stop", "service:idle-culler"), ("server.stop", "coordinateur"),
        ("server.stop", "analyste1"), ("server.stop", "hub"),
    ]


def test_an_enclosing_actor_wins_and_does_not_leak(trail):
    owner = person("analyste1")

    async def stop_single_user(handler, user, server_name=""):
        await Spawner(user).stop()

    async def offboarding():
        with audit.acting_as(audit.OFFBOARDING):
            await audit_hooks.stop_with_actor(stop_single_user)(handler_of(owner), owner)
        return audit.acting()

    assert asyncio.run(offboarding()) is None
    assert [e["actor"] for e in trail()] == ["hub:offboarding"]


def test_the_stop_wrapper_is_installed_once(monkeypatch):
    from jupyterhub.handlers.base import BaseHandler

    original = getattr(BaseHandler.stop_single_user, "__wrapped__", BaseHandler.stop_single_user)
    monkeypatch.setattr(BaseHandler, "stop_single_user", original)  # as JupyterHub defines it
    c = SimpleNamespace(JupyterHub=SimpleNamespace(get=lambda key, default=None: default))
    audit_hooks.apply(c, None, None)
    once = BaseHandler.stop_single_user
    audit_hooks.apply(c, None, None)
    assert once is BaseHandler.stop_single_user and once.__wrapped__ is original


class FakeAuthenticator:
    manage_groups = True

    def __init__(self, model):
        self.model = model

    async def get_authenticated_user(self, handler, data):
        return self.model

    async def refresh_user(self, user, handler=None, **kwargs):
        return self.model


Authenticator = audit_hooks.audited_authenticator(FakeAuthenticator)


def test_group_changes_from_the_provider_are_audited_at_login_and_refresh(trail):
    known = person("analyste1", "partner-univ-alpha", "role-analyst")
    handler = handler_of(None)
    handler.find_user = lambda name: known
    model = {"name": "analyste1", "groups": ["partner-chu-exemple-nord", "role-analyst"]}
    asyncio.run(Authenticator(model).get_authenticated_user(handler, {}))
    asyncio.run(Authenticator(model).refresh_user(known, handler))
    same = {"name": "analyste1", "groups": ["partner-univ-alpha", "role-analyst"]}
    asyncio.run(Authenticator(same).get_authenticated_user(handler, {}))
    groups = [e for e in trail() if e["action"] == "identity.groups"]
    assert len(groups) == 2
    for line in groups:
        assert (line["actor"], line["target"], line["partner"]) == (
            "identity-provider", "user:analyste1", ["chu-exemple-nord", "univ-alpha"])
        assert line["detail"] == {"added": "partner-chu-exemple-nord", "removed": "partner-univ-alpha"}


def test_offboarding_is_audited_and_stops_servers_as_offboarding(trail):
    seen = []

    class User:
        name = "analyste2"
        groups = [SimpleNamespace(name="partner-chu-exemple-nord")]
        api_tokens = [object(), object()]
        db = SimpleNamespace(delete=lambda token: None, commit=lambda: None)
        spawners = {"": SimpleNamespace(active=True, pending=None)}

        def sync_groups(self, names):
            self.groups = []

        async def stop(self, name):
            seen.append(audit.acting())

    authenticator = SimpleNamespace(log=logging.getLogger("test"))
    asyncio.run(DataLabOIDCAuthenticator.offboard(authenticator, User(), None, leave_groups=True))
    assert seen == ["hub:offboarding"]
    (line,) = trail()
    assert (line["action"], line["actor"], line["target"], line["partner"]) == (
        "identity.offboard", "hub:offboarding", "user:analyste2", ["chu-exemple-nord"])
    assert line["detail"] == {"revoked": 2, "groups_left": "partner-chu-exemple-nord"}


def test_the_access_page_lists_what_others_did_to_ones_labs_newest_first():
    t = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)

    def event(minute, action, actor, target):
        return {"timestamp": (t + dt.timedelta(minutes=minute)).isoformat(), "action": action,
                "actor": actor, "target": target}

    events = [
        event(0, "server.start", "analyste1", "analyste1/"),
        event(1, "server.access", "analyste2", "analyste1/"),
        event(2, "server.access", "analyste2", "analyste2/"),
        event(3, "share.grant", "analyste1", "analyste1/"),
        event(4, "server.stop", "service:idle-culler", "analyste1/gpu"),
        event(5, "admin.token.create", "coordinateur", "user:analyste1"),
        event(6, "identity.groups", "identity-provider", "user:analyste1"),
        event(7, "login", "analyste1", "user:analyste1"),
        event(8, "dashboard.view", "analyste2", "dashboard:analyste1"),
    ]
    found = audit.acted_on_by_others(events, "analyste1")
    assert [(e["action"], e["actor"]) for e in found] == [
        ("admin.token.create", "coordinateur"), ("server.stop", "service:idle-culler"),
        ("server.access", "analyste2")]
    assert len(audit.acted_on_by_others(events * 100, "analyste1", limit=5)) == 5
