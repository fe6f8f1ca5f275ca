"""The Slurm transports' pure parts: the deployment file's choice, the JWT key's
protection, the tokens, the REST job description made from the hub's batch scripts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
import yaml
from traitlets.config import Config

from hub.backends.protocol import ExecutionSpec
from hub.backends.slurm import BACKEND, lab, policy
from hub.backends.slurm.transport import (CliTransport, JobInfo, RestTransport, job_description, jwt_key,
                                          queue_position, token, transport_of)
from hub.messages import text
from hub.settings import AustralEntitlement, ConfigError, parse

REPO = Path(__file__).resolve().parents[3]
KEY = b"k" * 32


def example() -> dict:
    return yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


def key_file(tmp_path: Path, mode: int = 0o600, content: bytes = KEY) -> Path:
    path = tmp_path / "jwt_hs256.key"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def rest_settings(tmp_path: Path, **rest):
    config = example()
    config["slurm"]["transport"] = "rest"
    config["slurm"]["rest"] = {"url": "https://slurmrestd.austral.example:6820", "jwt_key_file": "jwt_hs256.key",
                               **rest}
    return parse(config, tmp_path)


def test_the_deployment_file_chooses_the_transport(tmp_path):
    assert isinstance(transport_of(parse(example(), REPO)), CliTransport)
    key_file(tmp_path)
    rest = transport_of(rest_settings(tmp_path))
    assert isinstance(rest, RestTransport)
    assert rest.base == "https://slurmrestd.austral.example:6820/slurm/v0.0.38"
    assert rest.key_path == tmp_path / "jwt_hs256.key"


@pytest.mark.parametrize("change, message", [
    ({"transport": "ssh"}, "slurm.transport"),
    ({"transport": "rest"}, "slurm.transport: rest needs slurm.rest"),
    ({"transport": "rest", "rest": {"url": "https://x:6820/; rm -rf /", "jwt_key_file": "k"}}, "slurm.rest.url"),
    ({"transport": "rest", "rest": {"url": "https://x:6820"}}, "slurm.rest.jwt_key_file"),
])
def test_transport_errors_name_the_key(change, message):
    config = example()
    config["slurm"].update(change)
    with pytest.raises(ConfigError) as error:
        parse(config, REPO)
    assert message in str(error.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_others_may_read_or_write_is_refused_without_showing_it(tmp_path, mode):
    path = key_file(tmp_path, mode, b"secret-key-content-0123456789abcdef")
    with pytest.raises(ConfigError) as error:
        jwt_key(path)
    assert f"mode {mode:04o}" in str(error.value)
    assert "secret-key-content" not in str(error.value)


def test_a_key_behind_a_symbolic_link_or_empty_is_refused(tmp_path):
    target = key_file(tmp_path)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="cannot read"):
        jwt_key(link)
    with pytest.raises(ConfigError, match="is empty"):
        jwt_key(key_file(tmp_path, content=b"\n"))
    assert jwt_key(key_file(tmp_path, 0o400)) == KEY


def test_a_hub_with_an_exposed_key_does_not_start(tmp_path):
    key_file(tmp_path, 0o644)
    with pytest.raises(ConfigError, match="slurm.rest.jwt_key_file"):
        BACKEND.configure(Config(), rest_settings(tmp_path), {})


def test_tokens_name_the_login_and_expire(tmp_path):
    signed = token(KEY, "austral-ana1", 300, now=1_000_000)
    claims = jwt.decode(signed, KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sun": "austral-ana1", "iat": 1_000_000, "exp": 1_000_300}
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(signed, KEY, algorithms=["HS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token(b"x" * 32, "austral-ana1", 300), KEY, algorithms=["HS256"])


def test_the_lab_script_becomes_the_rest_job_description():
    entitlement = AustralEntitlement(partner="univ-alpha", account="univ-alpha", partitions=["debug"],
                                     qos=["normal"], max_gpus=1)
    request = policy.validate_request({"cores": 2, "memory": "3G", "walltime": "1:30", "gpus": 1}, [entitlement],
                                      lambda key, **v: text("fr", key, **v))
    spec = ExecutionSpec(account="ana1", home="/home/ana1", mounts={},
                         limits={"request": request, "directives": request.directives()},
                         env={"DATALAB_LIBRARY": "/srv/library"})
    script = lab.batch_script(name=lab.job_name("analyste1"), spec=spec, venv=None, setup="", command=["lab"])
    job = job_description(script, {"JUPYTERHUB_API_TOKEN": "t", "PATH": "/opt/bin"})
    assert job == {
        "environment": {"PATH": "/opt/bin", "JUPYTERHUB_API_TOKEN": "t"},
        "name": "datalab-analyste1", "account": "univ-alpha", "partition": "debug", "minimum_nodes": 1,
        "tasks": 1, "cpus_per_task": 2, "memory_per_node": 3072, "time_limit": 90, "qos": "normal",
        "tres_per_node": "gres:gpu:1", "current_working_directory": "/home/ana1",
        "standard_output": "/home/ana1/datalab-austral-%j.log",
    }
    assert job_description("#!/bin/bash\nsleep 1\n", {})["environment"]["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_an_unknown_script_option_is_refused_not_dropped():
    with pytest.raises(ValueError, match="--mail-user"):
        job_description("#!/bin/bash\n#SBATCH --mail-user=x@example.org\n", {})


def test_squeue_lines_parse_into_job_info():
    assert JobInfo.parse("PENDING|Priority|2026-12-06T10:00:00|n/a|2026-12-06T10:20:00") == JobInfo(
        "PENDING", "Priority", "2026-12-06T10:00:00", "n/a", "2026-12-06T10:20:00")
    assert JobInfo.parse("garbage") is None



def test_the_queue_position_counts_by_priority_then_submission():
    pending = [("41", 1000), ("40", 1000), ("43", 5000), ("39", 10)]
    assert queue_position("43", pending) == (1, 4)
    assert queue_position("40", pending) == (2, 4)
    assert queue_position("41", pending) == (3, 4)
    assert queue_position("39", pending) == (4, 4)
    assert queue_position("44", pending) is None


@pytest.mark.parametrize("language, expected", [
    ("fr", "Job 42 en attente sur Austral. Raison Slurm : Priority (des jobs plus prioritaires passent avant). "
           "Début prévu : 2026-12-06 10:00:00. Position dans la file de la partition debug : 3 sur 7."),
    ("en", "Job 42 pending on Austral. Slurm reason: Priority (jobs of higher priority go first). "
           "Expected start: 2026-12-06 10:00:00. Position in the queue of partition debug: 3 of 7."),
])
def test_the_pending_message_gives_reason_start_and_queue_position(language, expected):
    config = example()
    config["hub"]["language"] = language
    spawner = lab.SlurmSpawner(datalab_settings=parse(config, REPO), user=SimpleNamespace(name="analyste1"))
    spawner.job_id = "42"
    spawner.request = policy.SlurmRequest(account="univ-alpha", partition="debug", qos="", cores=1,
                                          memory_mib=1024, gpus=0, walltime=30)
    info = JobInfo("PENDING", "Priority", "2026-12-06T10:00:00", "", "N/A")
    assert spawner.pending_message(info, (3, 7)) == expected
    assert spawner.pending_message(info).endswith("10:00:00.")


@pytest.mark.parametrize("address, api", [("10.214.0.2", "http://10.214.0.2:8001"), ("fd00::2", "http://[fd00::2]:8001")])
def test_the_hub_api_alone_answers_where_the_nodes_reach_it(address, api):
    """Labs on the nodes are told the address; the hub itself stays on 127.0.0.1 and
    answers only its API there (hub.apigate)."""
    config = example()
    config["slurm"]["hub_address"] = address
    c = Config()
    c.JupyterHub.hub_bind_url = "http://127.0.0.1:8001"
    BACKEND.configure(c, parse(config, REPO), {})
    assert c.SlurmSpawner.hub_connect_url == api
    assert c.ApiGate.addresses == [api.split("://")[1]]
    assert c.JupyterHub.hub_bind_url == "http://127.0.0.1:8001"
    assert "hub_connect_url" not in c.JupyterHub


def test_the_hub_address_must_be_an_ip_address():
    config = example()
    config["slurm"]["hub_address"] = "hub.example; rm -rf /"
    with pytest.raises(ConfigError, match="slurm.hub_address"):
        parse(config, REPO)
