"""The slurm backend's pure parts: request grammar and limits, cluster logins, the batch
script, the deployment file's Austral section, the choice of spawner class."""

from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.apply import spawner_class
from hub.backends import dispatch
from hub.backends.protocol import ExecutionSpec, Person
from hub.backends.local import lab as local
from hub.backends.slurm import lab as slurm, policy
from hub.messages import text
from hub.settings import AustralEntitlement, ConfigError, parse

REPO = Path(__file__).resolve().parents[3]


def t(key, **values):
    return text("fr", key, **values)


def example() -> dict:
    return yaml.safe_load((REPO / "datalab.example.yaml").read_text(encoding="utf-8"))


ALPHA = AustralEntitlement(
    partner="univ-alpha", account="univ-alpha", partitions=["debug", "court"], qos=["normal", "long"],
    max_cores=8, max_memory="16G", max_gpus=2, max_walltime="12:00",
    default_cores=2, default_memory="4G", default_walltime="2:00",
)
ATLAS = AustralEntitlement(partner="labo-atlas", account="labo-atlas", partitions=["gpu"], max_gpus=0)


# -- the request ----------------------------------------------------------------------

def test_missing_fields_take_the_entitlements_defaults():
    assert policy.validate_request({}, [ALPHA], t) == policy.SlurmRequest(
        account="univ-alpha", partition="debug", qos="normal", cores=2, memory_mib=4096, gpus=0, walltime=120)


def test_values_are_normalised():
    request = policy.validate_request(
        {"partition": "court", "qos": "long", "cores": 8, "memory": "1536M", "gpus": "2", "walltime": "12:00"},
        [ALPHA], t)
    assert request.directives() == [
        "--account=univ-alpha", "--partition=court", "--nodes=1", "--ntasks=1", "--cpus-per-task=8",
        "--mem=1536M", "--time=12:00:00", "--qos=long", "--gres=gpu:2",
    ]


def test_the_account_chooses_the_entitlement_and_its_limits():
    request = policy.validate_request({"account": "labo-atlas"}, [ALPHA, ATLAS], t)
    assert (request.account, request.partition, request.qos) == ("labo-atlas", "gpu", "")
    with pytest.raises(policy.SlurmError) as refused:
        policy.validate_request({"account": "labo-atlas", "partition": "debug"}, [ALPHA, ATLAS], t)
    assert "valeur parmi : gpu" in refused.value.jupyterhub_message


@pytest.mark.parametrize(
    "field, value",
    [
        ("memory", "4G\n#SBATCH --mem=64G"), ("memory", "4G\n"), ("memory", " 4G"), ("memory", "4g"),
        ("memory", "4T"), ("memory", "17G"), ("memory", "127M"), ("memory", "$(reboot)"),
        ("memory", "0G"), ("memory", "04G"), ("memory", "4.5G"), ("memory", ["4G"]), ("memory", "9" * 200),
        ("cores", "9"), ("cores", "0"), ("cores", "-1"), ("cores", "2;id"), ("cores", "²"), ("cores", 2.0),
        ("cores", False), ("cores", {"a": 1}),
        ("gpus", "3"), ("gpus", "1`id`"),
        ("walltime", "12:01"), ("walltime", "0:00"), ("walltime", "1:60"), ("walltime", "2-00:00"),
        ("walltime", "120"), ("walltime", "1:00:00"), ("walltime", "1:00\n#SBATCH --time=99:00:00"),
        ("partition", "debug\n#SBATCH --partition=all"), ("partition", "debug court"), ("partition", "gpu"),
        ("partition", "DEBUG"), ("account", "univ-alpha;id"), ("account", "labo-atlas"),
        ("qos", "normal|id"), ("qos", "high"),
    ],
)
def test_each_refusal_names_the_field(field, value):
    with pytest.raises(policy.SlurmError) as refused:
        policy.validate_request({field: value}, [ALPHA], t)
    assert refused.value.status_code == 400
    assert f"({field}) refusé" in refused.value.jupyterhub_message


def test_refusals_give_the_allowed_range():
    messages = {}
    for field, value in {"memory": "64G", "cores": "99", "walltime": "99:00", "gpus": "9"}.items():
        with pytest.raises(policy.SlurmError) as refused:
            policy.validate_request({field: value}, [ALPHA], t)
        messages[field] = refused.value.jupyterhub_message
    assert messages["memory"].endswith("de 128M à 16G.")
    assert messages["cores"].endswith("de 1 à 8.")
    assert messages["walltime"].endswith("de 0:01 à 12:00.")
    assert messages["gpus"].endswith("de 0 à 2.")


def test_no_qos_is_requested_when_the_entitlement_has_none():
    assert policy.validate_request({"qos": ""}, [ATLAS], t).qos == ""
    with pytest.raises(policy.SlurmError):
        policy.validate_request({"qos": "normal"}, [ATLAS], t)


# -- cluster logins -------------------------------------------------------------------

def login_settings(**rule):
    config = example()
    config["slurm"]["login"] = rule
    return parse(config, REPO)


def test_logins_come_from_claim_then_table_then_pattern():
    settings = login_settings(claim="oauth_user.austral_login", table={"analyste1": "ana1"}, pattern="dl-{name}")
    state = {"oauth_user": {"austral_login": "from-claim"}}
    assert policy.cluster_login(settings, "analyste1", state) == "from-claim"
    assert policy.cluster_login(settings, "analyste1", None) == "ana1"
    assert policy.cluster_login(settings, "analyste1", {"oauth_user": {"austral_login": "Bad Login"}}) == "ana1"
    assert policy.cluster_login(settings, "zoé.o'brien@chu.fr", None) == "dl-zo-c3-a9-2eo-27brien-4a525654"  # 32 max


def test_pattern_logins_are_posix_names_of_at_most_32_characters():
    settings = login_settings(pattern="austral-{name}")
    for name in ["a" * 200, "ÉLODIE", "x@y", "o'neil", "1user"]:
        login = policy.cluster_login(settings, name, None)
        assert re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", login), login


def test_a_user_no_rule_maps_has_no_login():
    settings = login_settings(table={"analyste1": "ana1"})
    assert policy.cluster_login(settings, "analyste2", {"oauth_user": {}}) is None


def person_settings(rule: dict):
    settings = login_settings(**rule)
    return settings, Person.of("analyste1", {"univ-alpha"})


@pytest.mark.parametrize("rule, state", [
    ({"claim": "oauth_user.austral_login"}, {"oauth_user": {"austral_login": "root"}}),
    ({"claim": "oauth_user.austral_login"}, {"oauth_user": {"austral_login": "slurm"}}),
    ({"claim": "oauth_user.austral_login"}, {"oauth_user": {"austral_login": "daemon"}}),
    ({"claim": "oauth_user.austral_login"}, {"oauth_user": {"austral_login": "nobody"}}),
    ({"table": {"analyste1": "root"}}, None),
    ({"table": {"analyste1": "www-data"}}, None),
])
def test_a_cluster_login_is_never_root_or_a_system_account(rule, state):
    """A claim (or a table) naming root or a service account is refused with a French
    message, whatever that account's home: no job runs as it."""
    settings, person = person_settings(rule)
    login = policy.cluster_login(settings, "analyste1", state)
    assert policy.system_login(login)
    with pytest.raises(policy.SlurmError) as refused:
        policy.execution(settings, person, None, t, auth_state=state)
    assert refused.value.status_code == 403
    assert f"« {login} » est un compte système" in refused.value.jupyterhub_message
    assert "Contactez" in refused.value.jupyterhub_message


def test_an_account_below_uid_1000_of_the_submit_host_is_a_system_account(monkeypatch):
    """Not in the deny-list, but uid 999 on the submit host: refused too."""
    accounts = {"sauvegarde": 999, "ana1": 1000}

    def getpwnam(name):
        if name in accounts:
            return pwd.struct_passwd((name, "x", accounts[name], accounts[name], "", f"/home/{name}", "/bin/sh"))
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    assert policy.system_login("sauvegarde")
    assert not policy.system_login("ana1")
    assert not policy.system_login("unknown-here")  # unknown on this host: login_home refuses it
    settings, person = person_settings({"table": {"analyste1": "sauvegarde"}})
    with pytest.raises(policy.SlurmError) as refused:
        policy.execution(settings, person, None, t)
    assert "numéro inférieur à 1000" in refused.value.jupyterhub_message
    settings, person = person_settings({"table": {"analyste1": "ana1"}})
    assert policy.execution(settings, person, None, t).account == "ana1"


def test_the_report_runner_gives_no_home_to_a_system_login():
    from hub.backends.slurm.report import SlurmRunner

    settings, _ = person_settings({"table": {"analyste1": "root"}})
    assert SlurmRunner(settings).home("analyste1") is None


@pytest.mark.parametrize("pattern", ["{name}; id", "$(id){name}", "dl-{name}-{name}", "dl", "DL-{name}"])
def test_login_patterns_are_checked_at_load(pattern):
    with pytest.raises(ConfigError, match="slurm.login.pattern"):
        login_settings(pattern=pattern)


# -- the batch script -----------------------------------------------------------------

def script() -> str:
    request = policy.validate_request({}, [ALPHA], t)
    spec = ExecutionSpec(account="ana1", home="/home/ana1", mounts={},
                         limits={"request": request, "directives": request.directives()},
                         env={"DATALAB_LIBRARY": "/srv/datalab/library"})
    return slurm.batch_script(
        name=slurm.job_name("Zoé O'Brien\n#SBATCH --mem=1T"), spec=spec, venv=Path("/opt/lab env"),
        setup="module load datalab/2026",
        command=["apptainer", "exec", "/img/lab.sif", "batchspawner-singleuser", "jupyterhub-singleuser"],
    )


def test_batch_script_directives_hold_only_validated_values():
    directives = [line for line in script().splitlines() if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=datalab--5ao-c3-a9-20-4f-27-42rien-a-23-1279c32f",
        "#SBATCH --account=univ-alpha", "#SBATCH --partition=debug", "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=4096M",
        "#SBATCH --time=2:00:00", "#SBATCH --qos=normal",
        "#SBATCH --chdir=/home/ana1", "#SBATCH --output=/home/ana1/datalab-austral-%j.log",
        "#SBATCH --export=ALL",
    ]


def test_batch_script_runs_the_lab_where_the_hub_can_reach_it():
    lines = script().splitlines()
    assert "export PATH='/opt/lab env/bin':\"$PATH\"" in lines
    assert "module load datalab/2026" in lines
    assert lines[-1] == ("srun --export=ALL --ntasks=1 --cpus-per-task=2 apptainer exec /img/lab.sif "
                         "batchspawner-singleuser jupyterhub-singleuser")
    assert 'export JUPYTERHUB_SERVICE_URL="http://${node_addr}:0${JUPYTERHUB_SERVICE_PREFIX}"' in lines


def test_batch_script_gives_the_lab_a_temporary_directory_of_its_own(tmp_path):
    """The node's /tmp is shared by every job: the lab's TMPDIR is the cluster's own for the
    job, else a mode-0700 directory in the home (run here with bash, TMPDIR unset and set)."""
    lines = script().splitlines()
    start = next(i for i, line in enumerate(lines) if "TMPDIR" in line)
    snippet = "\n".join(lines[start:start + 2]).replace("/home/ana1", str(tmp_path)) + '\necho "$TMPDIR"'
    env = {"PATH": os.environ["PATH"]}
    own = subprocess.run(["bash", "-euc", snippet], env=env, capture_output=True, text=True, check=True)
    assert own.stdout.strip() == f"{tmp_path}/.tmp"
    assert stat.S_IMODE(os.stat(tmp_path / ".tmp").st_mode) == 0o700
    site = subprocess.run(["bash", "-euc", snippet], env={**env, "TMPDIR": str(tmp_path / "job")},
                          capture_output=True, text=True, check=True)
    assert site.stdout.strip() == f"{tmp_path}/job"


def test_job_names_are_escaped():
    assert slurm.job_name("analyste1") == "datalab-analyste1"
    assert re.fullmatch(r"datalab-[a-z0-9-]{1,40}", slurm.job_name("$(rm -rf ~)\n" * 10))


# -- the deployment file --------------------------------------------------------------

def test_example_entitles_univ_alpha_to_austral_only():
    settings = parse(example(), REPO)
    assert [p.id for p in settings.profiles_for({"univ-alpha"})] == ["standard", "calcul", "austral"]
    assert [p.id for p in settings.profiles_for({"univ-beta"})] == ["standard", "calcul"]
    assert [p.id for p in settings.profiles_for({"chu-exemple-nord"})] == ["standard"]


def test_slurm_profile_partners_must_be_entitled():
    config = example()
    config["profiles"][2]["partners"] = ["univ-alpha", "univ-beta"]
    with pytest.raises(ConfigError, match=r"profiles\[2\].partners\[1\]: 'univ-beta' has no Austral entitlement"):
        parse(config, REPO)


def test_slurm_profiles_need_entitlements():
    config = example()
    config["slurm"]["entitlements"] = []
    with pytest.raises(ConfigError, match=r"profiles\[2\].backend: slurm profiles need slurm.entitlements"):
        parse(config, REPO)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"partner": "univ-zeta"}, "slurm.entitlements[0].partner: unknown partner 'univ-zeta'"),
        ({"default_cores": 3}, "default_cores 3 exceeds max_cores 2"),
        ({"default_walltime": "5:00"}, "default_walltime 5:00 must be between 0:01 and max_walltime 4:00"),
        ({"account": "univ alpha"}, "slurm.entitlements[0].account: 'univ alpha' does not match"),
        ({"max_walltime": "4h"}, "slurm.entitlements[0].max_walltime: '4h' does not match"),
        ({"partitions": []}, "slurm.entitlements[0].partitions"),
        ({"queue": "x"}, "slurm.entitlements[0].queue: unknown key"),
    ],
)
def test_entitlement_errors_name_the_key(change, message):
    config = example()
    config["slurm"]["entitlements"][0].update(change)
    with pytest.raises(ConfigError) as error:
        parse(config, REPO)
    assert message in str(error.value)


def test_one_backend_uses_its_spawner_and_several_use_the_dispatcher():
    config = example()
    assert spawner_class(parse(config, REPO)) is dispatch.ProfileSpawner
    local_only = {**config, "profiles": config["profiles"][:2]}
    assert spawner_class(parse(local_only, REPO)) is local.LocalSpawner
    slurm_only = {**config, "profiles": config["profiles"][2:]}
    assert spawner_class(parse(slurm_only, REPO)) is slurm.SlurmSpawner


def test_walltime_notice_warns_near_the_end():
    settings = parse(example(), REPO)
    assert slurm.walltime_notice(settings, 0) is None
    far = slurm.walltime_notice(settings, 10_000, now=10_000 - 3_700)
    assert "temps restant : 1 h 01 min" in far["text"] and not far["warning"]
    near = slurm.walltime_notice(settings, 10_000, now=10_000 - 15 * 60)
    assert near["warning"] and near["warning_text"].startswith("Votre lab s'arrête bientôt")
