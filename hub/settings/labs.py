"""Where labs run: profiles, the spawner and backends, storage, the Docker engine, the
library and real-time collaboration."""

from __future__ import annotations

from enum import Enum
from ipaddress import IPv4Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from .base import MemorySize, Model, Slug


class Profile(Model):
    """A kind of lab a user may start, offered to the listed partners.

    ``cpu`` is in cores (a fraction allowed), ``memory`` a :data:`MemorySize`; the local
    backend cannot enforce them and passes them to the lab as ``CPU_LIMIT``/``MEM_LIMIT``.
    ``backend``: where this profile's labs run; None means ``spawner.backend``. A ``slurm``
    profile takes its resources from the spawn form, within the partner's
    :class:`AustralEntitlement`, and is offered only to entitled partners.
    """

    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: str = ""
    partners: Literal["all"] | list[Slug] = "all"
    cpu: Annotated[float, Field(gt=0, le=256)] = 1.0
    memory: MemorySize = "2G"
    backend: Backend | None = None

    def offered_to(self, partner_ids: set[str]) -> bool:
        """True when one of ``partner_ids`` is entitled to this profile."""
        return self.partners == "all" or bool(partner_ids & set(self.partners))


class Backend(str, Enum):
    """Where labs run."""

    local = "local"
    docker = "docker"
    slurm = "slurm"


class Spawner(Model):
    """How labs are started. ``start_timeout`` and ``http_timeout`` are in seconds.
    ``account_prefix``: local backend, the Unix account of user ``u`` is
    ``<prefix><escaped u>`` (two hubs on one machine need different prefixes).
    ``concurrent_spawn_limit``: starts in progress at once (JupyterHub's; beyond it a
    start is refused with "too many users starting", to be retried); the default, 100,
    keeps every admitted docker start within ``start_timeout`` on the 2-core docker host
    measured in docs/benchmarks.md (0.78 CPU-s per start, 2.2 x the CPU floor at 20 at
    once: 100 starts take about 86 s)."""

    backend: Backend = Backend.local
    account_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,9}-$")] = "jupyter-"
    default_url: str = "/lab"
    start_timeout: Annotated[int, Field(ge=10, le=3600)] = 120
    http_timeout: Annotated[int, Field(ge=5, le=3600)] = 60
    concurrent_spawn_limit: Annotated[int, Field(ge=1, le=10000)] = 100


class Storage(Model):
    """Where the deployment keeps its files.

    ``data_dir`` holds the hub database and secrets (``hub/``), user homes (``homes/``),
    partner spaces (``partners/``), project spaces (``projects/``) and the library
    versions users see (``library/current`` -> ``library/versions/<commit>``).
    ``library_source`` is the notebook library's git repository: a folder inside a git
    working tree (the library is that folder, published from the commit named by
    ``library.ref``), or a git URL (``https://``, ``ssh://``, ``file://``, ``user@host:path``).
    """

    data_dir: Path = Path("var")
    library_source: str = "shared_notebooks"


#: Names of Docker objects the deployment creates: a Docker-valid name, 2-64 characters.
DockerObjectName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,62}[a-z0-9]$")]


class Docker(Model):
    """The ``docker`` backend: each lab is a container of the lab image.

    ``image``: the lab image; null means ``datalab-lab:<project version>``, built by
    ``make image``. ``network``: the ``--internal`` Docker network labs join, created by
    the hub with ``subnet`` (IPv4 CIDR, at least 16 addresses); the hub's API listens on
    the network's gateway address (the subnet's first host address, on this machine) so
    that labs reach it. ``name_prefix``: start of every container and volume name (two
    hubs sharing one Docker engine need different prefixes). ``api_threads``: Docker API
    calls made at once (1-64).
    """

    image: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")] | None = None
    network: DockerObjectName = "datalab-labs"
    subnet: IPv4Network = IPv4Network("172.31.240.0/24")
    name_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,14}-$")] = "datalab-"
    api_threads: Annotated[int, Field(ge=1, le=64)] = 8

    @field_validator("subnet")
    @classmethod
    def _room_for_labs(cls, subnet: IPv4Network) -> IPv4Network:
        if subnet.prefixlen > 28:
            raise ValueError(f"{subnet} holds too few addresses; use a /28 or larger")
        return subnet

    @property
    def gateway(self) -> str:
        """The subnet's first host address: the host's side of the network."""
        return str(next(self.subnet.hosts()))


#: Git refs the library may follow: a branch, tag or commit, never an option.
GitRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$")]


class Library(Model):
    """How the notebook library is versioned (its source is ``storage.library_source``).

    ``ref``: the branch, tag or commit published; ``subdirectory``: for a git URL, the
    library's folder inside that repository (default: its root); ``follow_minutes``: when
    above 0, the hub publishes the tip of ``ref`` every that many minutes;
    ``keep_versions``: how many published versions stay on disk (the current one included),
    so that a reader of an older one is not cut off mid-read.
    """

    ref: GitRef = "HEAD"
    subdirectory: Annotated[
        str, StringConstraints(pattern=r"^([A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*)?$")
    ] = ""
    follow_minutes: Annotated[int, Field(ge=0, le=10080)] = 0
    keep_versions: Annotated[int, Field(ge=1, le=100)] = 3


class Collaboration(Model):
    """Real-time collaboration in the lab (jupyter-collaboration): people who open the
    same server (its owner and those it is shared with) edit documents together, each
    seeing the others' cursors and changes."""

    enabled: bool = False
