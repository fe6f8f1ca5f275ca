"""The airlock on a real hub, through its REST API and the ``datalab airlock`` command:
analyste2 (chu-exemple-nord, health data) cannot get a file out of the partner's space
without the approval of a second member, the partner's data steward."""

from __future__ import annotations

import hashlib

import pytest

from hub import audit, cli
from tests.airlockhub import CHU, STEWARD

pytestmark = pytest.mark.integration

CONTENT = b"departement,hospitalisations\n14,12\n27,9\n"


def events(hub, action: str, request_id: int) -> list[dict]:
    """The audit events ``action`` of one request (the hub is shared with the browser test)."""
    return [e for e in audit.read(hub.data_dir / audit.DIRECTORY)
            if e["action"] == action and (e.get("detail") or {}).get("request") == request_id]


def token_of(client, scopes: list[str] | None = None) -> str:
    body = {"note": "airlock test", **({"scopes": scopes} if scopes is not None else {})}
    r = client.api("POST", f"/users/{client.username}/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def datalab(hub, token: str, *argv: str) -> int:
    return cli.main(["--url", hub.url, "--token", token, "airlock", *argv])


def test_analyste2_needs_a_second_members_approval_to_get_a_file_out(airlock_hub, tmp_path, capsys):
    hub = airlock_hub
    hub.partner_file("resultats/hospitalisations.csv", CONTENT)
    analyst, steward, colleague = hub.client("analyste2"), hub.client(STEWARD), hub.client("infirmier2")

    made = analyst.api("POST", "/airlock/requests",
                       json={"path": f"partenaire-{CHU}/resultats/hospitalisations.csv", "reason": "rapport ARS"})
    assert made.status_code == 201, made.text
    request = made.json()
    assert request["status"] == "pending" and request["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    rid = request["id"]

    # without a decision nothing leaves: no download, no export
    assert analyst.api("GET", f"/airlock/requests/{rid}/file").status_code == 404
    exported = hub.data_dir / "exports" / "partners" / CHU / f"{rid}-hospitalisations.csv"
    assert not exported.exists()

    # the requester cannot approve their own request, a member who is no steward neither
    own = analyst.api("POST", f"/airlock/requests/{rid}/approve", json={})
    assert own.status_code == 403
    assert own.json()["message"] == "Refusé : personne n'approuve ni ne refuse sa propre demande d'export."
    other = colleague.api("POST", f"/airlock/requests/{rid}/approve", json={})
    assert other.status_code == 403 and "référent des données" in other.json()["message"]
    refused = events(hub, "airlock.approve", rid)
    assert [(e["actor"], e["result"], e["detail"]["refusal"]) for e in refused] == [
        ("analyste2", "refused", "self"), ("infirmier2", "refused", "not_steward")]

    # the steward sees it awaiting a decision; a token narrowed to requests cannot decide
    listed = steward.api("GET", "/airlock/requests").json()
    assert [r["id"] for r in listed["to_decide"]] == [rid]
    narrow = token_of(steward, ["custom:datalab-airlock:request"])
    assert datalab(hub, narrow, "approve", str(rid)) == 1
    assert "HTTP 403" in capsys.readouterr().err

    # the steward approves with the command line and a token from the token page
    assert datalab(hub, token_of(steward), "approve", str(rid)) == 0
    assert f"request {rid}: approved, exported as {rid}-hospitalisations.csv" in capsys.readouterr().out
    assert exported.read_bytes() == CONTENT

    # the requester downloads it; the command checks its hash
    target = tmp_path / "sortie.csv"
    assert datalab(hub, token_of(analyst), "download", str(rid), "--output", str(target)) == 0
    assert target.read_bytes() == CONTENT

    export, = events(hub, "airlock.export", rid)
    assert (export["actor"], export["partner"], export["detail"]["request"]) == (STEWARD, [CHU], rid)
    assert export["detail"]["sha256"] == request["sha256"] and export["detail"]["file"] == "hospitalisations.csv"
    assert [e["result"] for e in events(hub, "airlock.request", rid)] == ["success"]
    assert [(e["actor"], e["result"]) for e in events(hub, "airlock.download", rid)] == [
        ("analyste2", "refused"), ("analyste2", "success")]
    checksum = exported.with_name(exported.name + ".sha256").read_text()
    assert checksum == f"{request['sha256']}  {exported.name}\n"
