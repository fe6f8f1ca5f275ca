"""The ``docker`` backend's execution policy: a person's code runs in a container of the
lab image (their lab, their dashboards, their report runs), each built from
:func:`execution`:

- as uid 1000 (``jovyan``) with no capabilities, no privilege gain, an init process
  (:func:`confined_host_config`), limited to its profile's CPU and memory, no swap
  beyond it (:func:`profile_limits`);
- the person's home: the volume ``<prefix>home-<user>`` at ``/home/jovyan``, kept when
  containers are removed; the library's root, read-only, at ``/srv/datalab/library``;
  each of their partner and project spaces at ``/home/jovyan/partenaire-<id>`` and
  ``/home/jovyan/projet-<id>`` (:func:`lab_mounts`); other spaces are not mounted at all;
- on the deployment's internal network (``docker.network``) only.

``<user>`` and ``<server>`` are :func:`hub.names.safe_name` escapes (see :func:`names`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ... import storage
from ...names import safe_name
from ...settings import Profile, Settings, memory_bytes
from ..protocol import ExecutionSpec, Person

HOME = "/home/jovyan"
LAB_PYTHON = "/opt/datalab/bin/python"  # the lab image's environment (images/lab/Dockerfile)
LIBRARY_ROOT = "/srv/datalab/library"  # <data_dir>/library, read-only
LIBRARY_CURRENT = f"{LIBRARY_ROOT}/current"
LAB_UID, LAB_GID = 1000, 100
IMAGE_NAME = "datalab-lab"
BUILD_COMMAND = "make image"
LABEL = "org.datalab"

USER_PART, SERVER_PART, HOSTNAME_USER_PART = 40, 20, 32
def _part(name: str, max_length: int) -> str:
    """:func:`safe_name` of ``name`` that never contains ``--`` nor ends with ``-``.

    Only a cut right after an escape's ``-`` can give ``--``; cutting one character
    earlier avoids it. So ``--`` can separate a user part from a server part unambiguously.
    """
    part = safe_name(name, max_length)
    if "--" in part:
        part = safe_name(name, max_length - 1)
    return part


def names(prefix: str, user: str, server: str = "") -> dict[str, str]:
    """Docker names of a user's server: ``{"container", "hostname", "volume"}``.

    ``container``: ``<prefix><user>[--<server>]`` (at most 78 characters), ``hostname``:
    ``lab-<user>[--<server>]`` (at most 58, a valid DNS label), ``volume`` (the user's
    home, shared by their servers): ``<prefix>home-<user>``. Distinct (user, server) pairs
    give distinct names. Raises ``ValueError`` for an empty user name.
    """
    user_part = _part(user, USER_PART)
    suffix = f"--{_part(server, SERVER_PART)}" if server else ""
    return {
        "container": f"{prefix}{user_part}{suffix}",
        "hostname": f"lab-{_part(user, HOSTNAME_USER_PART)}{suffix}",
        "volume": f"{prefix}home-{user_part}",
    }


def prepare_shared_space(space: Path) -> Path:
    """Create a partner or project space for labs in containers: owned by the lab user
    (uid 1000), mode 2770. Only containers of its members mount it. Returns ``space``."""
    space.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(space, LAB_UID, LAB_GID)
    os.chmod(space, 0o2770)
    return space


def lab_mounts(settings: Settings, username: str, partner_ids: set[str]) -> dict[str, dict[str, str]]:
    """The mounts of a container of ``username``, member of ``partner_ids`` (and of
    their projects), as docker-py ``volumes``: ``{source: {"bind", "mode"}}``. The home
    volume, the library read-only, each partner space read-write, each project space
    (read-only once the project has ended). Creates the shared spaces when missing."""
    layout = storage.Layout(settings.data_dir)
    volumes = {
        names(settings.docker.name_prefix, username)["volume"]: {"bind": HOME, "mode": "rw"},
        str(layout.library_root): {"bind": LIBRARY_ROOT, "mode": "ro"},


    }
    for p in sorted(partner_ids):
        space = prepare_shared_space(layout.partner_space(p))
        volumes[str(space)] = {"bind": f"{HOME}/{storage.PARTNER_LINK_PREFIX}{p}", "mode": "rw"}
    for project in settings.projects_of(username):
        space = prepare_shared_space(layout.project_space(project.id))
        volumes[str(space)] = {
            "bind": f"{HOME}/{storage.PROJECT_LINK_PREFIX}{project.id}",
            "mode": "ro" if project.ended() else "rw",
        }
    return volumes


def confined_host_config() -> dict:
    """docker-py host options every lab container gets: no capabilities, no privilege
    gain, an init process, never restarted."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,
        "restart_policy": {"Name": "no"},
    }


def profile_limits(profile: Profile) -> dict[str, int]:
    """docker-py host options limiting a container to ``profile``: ``mem_limit`` and
    ``memswap_limit`` (bytes: no swap beyond the memory), ``nano_cpus`` (1e9 per core)."""
    memory = memory_bytes(profile.memory)
    return {"mem_limit": memory, "memswap_limit": memory, "nano_cpus": int(profile.cpu * 1e9)}


def lab_env(partner_ids: set[str], profile: Profile | None) -> dict[str, str]:
    """The DataLab variables of a lab container: the library on ``PYTHONPATH`` and in
    ``DATALAB_LIBRARY``, ``DATALAB_PARTNERS`` (comma-separated ids), ``DATALAB_PROFILE``."""
    env = {"PYTHONPATH": LIBRARY_CURRENT, "DATALAB_LIBRARY": LIBRARY_CURRENT,
           "DATALAB_PARTNERS": ",".join(sorted(partner_ids))}
    if profile is not None:
        env["DATALAB_PROFILE"] = profile.id
    return env


def home_volume_labels(prefix: str, user: str) -> dict[str, str]:
    """Labels of a user's home volume (found and removed by prefix)."""
    return {f"{LABEL}.prefix": prefix, f"{LABEL}.user": safe_name(user)}


def execution(settings: Settings, person: Person, profile: Profile | None) -> ExecutionSpec:
    """How ``person``'s code runs with ``profile``: as :data:`LAB_UID`, in :data:`HOME`
    (their home volume), with :func:`lab_mounts`, :func:`profile_limits` (docker-py host
    options, none without a profile), the DataLab environment and the labs' network."""
    return ExecutionSpec(
        account=f"{LAB_UID}:{LAB_GID}",
        home=HOME,
        mounts=lab_mounts(settings, person.name, set(person.partner_ids)),
        limits=profile_limits(profile) if profile is not None else {},
        env={"HOME": HOME, **lab_env(set(person.partner_ids), profile)},
        network=settings.docker.network,
    )


def home_volume(client, settings: Settings, user: str):
    """Create (or find) ``user``'s home volume on the engine ``client``; returns it."""
    prefix = settings.docker.name_prefix
    return client.volumes.create(names(prefix, user)["volume"], labels=home_volume_labels(prefix, user))


def container_options(spec: ExecutionSpec, *, user: str, labels: dict[str, str], network: bool) -> dict:
    """docker-py ``containers.create``/``run`` options of a container run with ``spec``
    for hub user ``user``: its account, home as working directory, mounts, limits,
    confinement, labels (plus the person's), and the spec's network (``network``) or
    none at all."""
    return {
        "user": spec.account,
        "working_dir": spec.home,
        "volumes": spec.mounts,
        "labels": {f"{LABEL}.user": safe_name(user), **labels},
        **({"network": spec.network} if network else {"network_mode": "none"}),
        **confined_host_config(),
        **spec.limits,
    }
