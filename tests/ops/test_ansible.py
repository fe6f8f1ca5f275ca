"""The Ansible deployment (``ansible/``) applied for real to disposable targets.

One target is deployed by site.yml alone; the tests then check, in order: HTTPS with the
certificate generated on the target (HTTP redirected, HSTS, a kernel over a websocket),
PostgreSQL as the hub database, the proxy at the version the tests run (package-lock.json),
a second run that changes nothing, a lab that stays up and reachable while the hub
restarts, and a backup taken there restored onto a second, fresh target (users, groups, an
API token, a report schedule, a file in a home with its owner's uid). The fresh target is
deployed by site.yml alone too, in the background from the start: the module's longest
wait, a first apply, is waited for once instead of twice. The backup is one archive
encrypted with age to a key made by the test: it holds nothing readable without the key,
and a restore without the key, with another key or from an altered archive is refused and
changes nothing. Durations are written to tests/artifacts/ansible-measures.json (the first
apply's is the first target's, the fresh target's running beside it).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import subprocess
import time

import pytest
import requests
import yaml

from tests.clock import QUIET_CRON
from tests.hubclient import HubClient

from .conftest import ANSIBLE_DIR, ARTIFACTS, BIN, MUNGE_KEY, REPO, SLURM_CONF, Target

pytestmark = pytest.mark.integration

MEASURES: dict[str, float | int] = {}
HOME_FILE = "verification-restauration.txt"
HOME_TEXT = "Fichier écrit dans le lab avant la sauvegarde.\n"
SCHEDULE = "verif-restauration"  # a report schedule made before the backup
ARCHIVE = "datalab-backup.tar.age"  # backup.yml's one encrypted archive
# the proxy on the target, unpacked from the proxy bundle (scripts/build-proxy-bundle.sh)
TARGET_CHP = "/opt/datalab-proxy/node_modules/configurable-http-proxy/bin/configurable-http-proxy"


def record(key: str, value: float | int) -> None:
    MEASURES[key] = round(value, 1) if isinstance(value, float) else value
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "ansible-measures.json").write_text(json.dumps(MEASURES, indent=1))


def assert_ok(run, what: str) -> None:
    assert run.rc == 0 and run.recap.get("failed") == 0 and run.recap.get("unreachable") == 0, (
        f"{what} failed (recap {run.recap}):\n{run.output}"
    )


@pytest.fixture(scope="module")
def fresh_deployment(start_target, playbook):
    """Target B, the restore's destination, deployed by site.yml alone in the background
    while target A's tests run: a future of ``(target, run)``."""
    def deploy():
        target = start_target("b")
        return target, playbook("site.yml", target)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(deploy)


@pytest.fixture(scope="module")
def deployed(fresh_deployment, start_target, playbook, tmp_path_factory):
    """Target A after a first site.yml run (target B's runs meanwhile), with the
    certificate fetched from it."""
    target = start_target("a")
    run = playbook("site.yml", target)
    assert_ok(run, "the first site.yml run")
    record("first_apply_s", run.seconds)
    record("first_apply_changed", run.recap["changed"])
    cert = tmp_path_factory.mktemp("tls") / "a.crt"
    cert.write_text(target.read("/etc/datalab/tls/datalab.crt") + "\n")
    return target, cert


@pytest.fixture(scope="module")
def trusted(deployed):
    """requests and websocket-client trust the certificate fetched from target A."""
    _, cert = deployed
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "WEBSOCKET_CLIENT_CA_BUNDLE")}
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["WEBSOCKET_CLIENT_CA_BUNDLE"] = str(cert)
    yield str(cert)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def age_identity(path) -> str:
    """Make an age identity (private key) at ``path`` on the controller; its public key."""
    subprocess.run(["age-keygen", "--output", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def exists(target: Target, path: str) -> bool:
    return target.run("sh", "-c", f"if test -e {path}; then echo yes; else echo no; fi") == "yes"


def demo_client(target: Target, username: str) -> HubClient:
    password = target.read("/srv/datalab/hub/demo_password")
    client = HubClient(f"https://{target.ip}", username, password)
    assert client.login_response.status_code == 302, client.login_response.text[:300]
    return client


def test_ansible_lint_is_clean():
    done = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--nocolor"], cwd=ANSIBLE_DIR,
                          capture_output=True, text=True, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_hub_answers_over_https_with_the_generated_certificate(deployed, trusted):
    target, cert = deployed
    r = requests.get(f"https://{target.ip}/hub/api", verify=cert, timeout=10)
    assert r.status_code == 200 and "version" in r.json()
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    with pytest.raises(requests.exceptions.SSLError):  # the certificate is the target's own
        requests.get(f"https://{target.ip}/hub/api", verify="/etc/ssl/certs/ca-certificates.crt", timeout=10)
    plain = requests.get(f"http://{target.ip}/hub/login?next=%2Fhub%2F", allow_redirects=False, timeout=10)
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{target.ip}/hub/login?next=%2Fhub%2F"


def test_postgresql_is_the_hub_database(deployed):
    target, _ = deployed
    config = yaml.safe_load(target.read("/etc/datalab/datalab.yaml"))
    assert config["hub"]["db_url"].startswith("postgresql+psycopg2://datalab@127.0.0.1:5432/datalab")
    assert "passfile=" in config["hub"]["db_url"]
    users = target.run("runuser", "-u", "postgres", "--", "psql", "-d", "datalab", "-tAc",
                       "select name from users order by name")
    assert "analyste1" in users.split()
    assert target.run("find", "/srv/datalab/hub", "-name", "*.sqlite") == ""
    # the proxy runs apart from the hub, unprivileged
    assert target.run("systemctl", "is-active", "datalab-proxy") == "active"
    proxy_pid = target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-proxy")
    assert target.run("ps", "-o", "user=", "-p", proxy_pid) == "datalab"


def test_proxy_is_the_configurable_http_proxy_the_tests_run(deployed):
    target, _ = deployed
    tests = json.loads((REPO / "node_modules" / "configurable-http-proxy" / "package.json").read_text())["version"]
    locked = json.loads((REPO / "package-lock.json").read_text())["packages"]["node_modules/configurable-http-proxy"]
    assert tests == locked["version"], "node_modules differs from package-lock.json: run `make install`"
    proxy_pid = target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-proxy")
    assert target.run("ps", "-o", "args=", "-p", proxy_pid).startswith(f"/usr/bin/node {TARGET_CHP} --ip 127.0.0.1 ")
    assert target.run("/usr/bin/node", TARGET_CHP, "--version") == tests


def test_slurm_client_has_the_clusters_key_and_configuration(deployed):
    target, _ = deployed
    assert target.read("/etc/slurm/slurm.conf") + "\n" == SLURM_CONF
    assert target.run("stat", "-c", "%U %a", "/etc/munge/munge.key") == "munge 400"
    assert target.run("base64", "-w0", "/etc/munge/munge.key") == MUNGE_KEY
    decoded = target.run("sh", "-c", "munge -n | unmunge")  # munged runs with that key
    assert re.search(r"^STATUS:\s+Success \(0\)$", decoded, re.M), decoded


def test_second_run_changes_nothing(deployed, playbook):
    target, _ = deployed
    run = playbook("site.yml", target)
    assert_ok(run, "the second site.yml run")
    record("second_apply_s", run.seconds)
    record("second_apply_changed", run.recap["changed"])
    assert run.recap["changed"] == 0, run.output


def test_lab_stays_up_while_the_hub_restarts_and_through_an_upgrade_run(deployed, trusted, playbook):
    target, _ = deployed
    client = demo_client(target, "analyste1")
    r = client.start_server(timeout=180)
    assert r.status_code in (201, 202), r.text
    client.open_lab()
    put = client.lab_api("PUT", f"/contents/{HOME_FILE}",
                         json={"type": "file", "format": "text", "content": HOME_TEXT})
    assert put.status_code in (200, 201), put.text
    assert client.execute("print(6 * 7)").strip() == "42"  # a kernel over wss:// through nginx
    lab_pids = target.run("pgrep", "-u", "jupyter-analyste1", "-f", "jupyterhub.singleuser import")
    hub_pid = target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-hub")

    target.run("systemctl", "restart", "--no-block", "datalab-hub")
    during = client.lab_api("GET", "/status")  # served by the proxy while the hub restarts
    assert during.status_code == 200, during.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if requests.get(f"https://{target.ip}/hub/api", timeout=10).status_code == 200:
            new_pid = target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-hub")
            if new_pid not in ("0", hub_pid):
                break
        time.sleep(1)
    else:
        raise AssertionError("the hub did not come back within 120 s")
    assert target.run("pgrep", "-u", "jupyter-analyste1", "-f", "jupyterhub.singleuser import") == lab_pids
    after = client.lab_api("GET", f"/contents/{HOME_FILE}")
    assert after.status_code == 200 and after.json()["content"] == HOME_TEXT
    model = client.api("GET", "/users/analyste1").json()
    assert model["servers"][""]["ready"] is True

    # an upgrade run: a changed deployment file restarts the hub, the lab keeps running
    hub_pid = target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-hub")
    config = yaml.safe_load((ANSIBLE_DIR / "inventories" / "one-host" / "group_vars" / "all.yml").read_text())
    config["datalab_config"]["hub"]["contact"] = "l'équipe DataLab (mise à jour)"
    run = playbook("site.yml", target, datalab_config=config["datalab_config"])
    assert_ok(run, "the upgrade run")
    record("upgrade_apply_s", run.seconds)
    record("upgrade_apply_changed", run.recap["changed"])
    assert run.recap["changed"] >= 2  # the deployment file and the hub's restart
    assert target.run("systemctl", "show", "-p", "MainPID", "--value", "datalab-hub") != hub_pid
    assert target.run("pgrep", "-u", "jupyter-analyste1", "-f", "jupyterhub.singleuser import") == lab_pids
    assert client.lab_api("GET", "/status").status_code == 200
    assert client.api("GET", "/users/analyste1").json()["servers"][""]["ready"] is True


def test_backup_restores_onto_a_fresh_target(deployed, fresh_deployment, trusted, playbook, tmp_path_factory):
    source, _ = deployed
    analyst = demo_client(source, "analyste1")
    token = analyst.api("POST", "/users/analyste1/tokens", json={"note": "restore check"}).json()["token"]
    auth = {"Authorization": f"token {token}"}
    schedule = requests.post(f"https://{source.ip}/services/reports/api/schedules", headers=auth, timeout=30, json={
        "id": SCHEDULE, "notebook": "bibliotheque/03-rapport-departement.ipynb", "cron": QUIET_CRON,
        "parameters": {"department": "76", "report_date": "2020-03-27"},
    })
    assert schedule.status_code == 201, schedule.text
    uid = source.run("id", "-u", "jupyter-analyste1")

    keys = tmp_path_factory.mktemp("keys")
    recipient = age_identity(keys / "operator.key")
    age_identity(keys / "other.key")
    backup_dir = tmp_path_factory.mktemp("backup")
    run = playbook("backup.yml", source, datalab_backup_dir=str(backup_dir), datalab_backup_recipient=recipient)
    assert_ok(run, "backup.yml")
    record("backup_s", run.seconds)
    files = list((backup_dir / source.name).iterdir())
    assert [f.name for f in files] == [ARCHIVE]
    record("backup_bytes", files[0].stat().st_size)
    assert exists(source, "/var/backups/datalab") is False  # nothing unencrypted left on the host
    # unreadable without the key: an age file, no database dump, no secret, no file name in clear
    archive = files[0].read_bytes()
    assert archive.startswith(b"age-encryption.org/v1\n")
    cookie_secret = base64.b64decode(source.run("base64", "-w0", "/srv/datalab/hub/cookie_secret"))
    assert len(cookie_secret) >= 32
    for clear in (b"PGDMP", b"hub.pgdump", b"accounts.json", cookie_secret, HOME_TEXT.encode()):
        assert clear not in archive
    wrong = subprocess.run(["age", "--decrypt", "--identity", str(keys / "other.key"), str(files[0])],
                           capture_output=True)
    assert wrong.returncode != 0 and wrong.stdout == b""

    fresh, deployed_b = fresh_deployment.result(timeout=1500)
    assert_ok(deployed_b, "site.yml on the fresh target")
    restore = {"datalab_backup_dir": str(backup_dir), "datalab_backup_host": source.name}
    secret_b = fresh.run("sha256sum", "/srv/datalab/hub/cookie_secret")
    # no key, the wrong key, an altered archive: refused with a message, and nothing changes
    altered_dir = tmp_path_factory.mktemp("altered")
    (altered_dir / source.name).mkdir()
    altered = bytearray(archive)
    altered[len(altered) // 2] ^= 0x01
    (altered_dir / source.name / ARCHIVE).write_bytes(bytes(altered))
    refusals = [
        ({}, "datalab_backup_identity: give the path"),
        ({"datalab_backup_identity": str(keys / "other.key")}, "is not the key this backup was encrypted to"),
        ({"datalab_backup_identity": str(keys / "operator.key"), "datalab_backup_dir": str(altered_dir)},
         "cannot be decrypted: it was truncated or altered"),
    ]
    for extra, message in refusals:
        run = playbook("restore.yml", fresh, **{**restore, **extra})
        assert run.rc != 0 and message in run.output, run.output
        assert fresh.run("systemctl", "is-active", "datalab-hub") == "active"
        assert fresh.run("sha256sum", "/srv/datalab/hub/cookie_secret") == secret_b
        assert exists(fresh, "/var/backups/datalab-restore") is False
        assert fresh.run("id", "-u", "jupyter-analyste1", check=False) == ""
    run = playbook("restore.yml", fresh, **restore, datalab_backup_identity=str(keys / "operator.key"))
    assert_ok(run, "restore.yml")
    record("restore_s", run.seconds)

    cert_b = tmp_path_factory.mktemp("tls") / "b.crt"
    cert_b.write_text(fresh.read("/etc/datalab/tls/datalab.crt") + "\n")
    base = f"https://{fresh.ip}/hub/api"
    # the token made on A authenticates on B: the hub database came back
    me = requests.get(f"{base}/user", headers=auth, verify=str(cert_b), timeout=10)
    assert me.status_code == 200 and me.json()["name"] == "analyste1"
    schedules = requests.get(f"https://{fresh.ip}/services/reports/api/schedules", headers=auth,
                             verify=str(cert_b), timeout=30)
    assert schedules.status_code == 200 and SCHEDULE in [s["id"] for s in schedules.json()], schedules.text
    owners = fresh.run("runuser", "-u", "postgres", "--", "psql", "-d", "datalab", "-tAc",
                       "select u.name from users u join api_tokens t on t.user_id = u.id "
                       "where t.note = 'restore check'")
    assert owners.split() == ["analyste1"]
    # the account came back with its uid, and the home file with its owner
    assert fresh.run("id", "-u", "jupyter-analyste1") == uid
    home = f"/srv/datalab/homes/jupyter-analyste1/{HOME_FILE}"
    assert fresh.read(home) + "\n" == HOME_TEXT
    assert fresh.run("stat", "-c", "%u", home) == uid
