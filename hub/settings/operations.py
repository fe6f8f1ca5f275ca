"""Operations: culling idle labs, disk usage and quotas, the audit trail."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import DiskSize, Model, Slug


#: Durations in seconds for culling: from 10 seconds (tests) to 30 days.
CullSeconds = Annotated[int, Field(ge=10, le=30 * 86400)]


class CullOverride(Model):
    """A profile's own culling policy; a key left out keeps the ``culling`` default.
    ``max_age``: 0 means no maximum."""

    idle_timeout: CullSeconds | None = None
    max_age: Annotated[int, Field(ge=0, le=365 * 86400)] | None = None


class Culling(Model):
    """Idle labs stopped by jupyterhub-idle-culler, a hub-managed service (see
    :mod:`hub.culling`). Durations in seconds.

    ``idle_timeout``: a lab without activity that long is stopped; ``max_age``: a lab
    running that long is stopped even when active (0: no maximum); ``profiles``: profile
    id -> :class:`CullOverride`; ``named_servers``: named servers are culled too;
    ``spare_busy_kernels``: a kernel executing code counts as activity (local labs);
    ``every``: seconds between two checks; ``activity_interval``: how often labs and the
    proxy report activity to the hub (the culler's resolution).
    """

    enabled: bool = True
    idle_timeout: CullSeconds = 3600
    max_age: Annotated[int, Field(ge=0, le=365 * 86400)] = 0
    profiles: dict[Slug, CullOverride] = {}
    named_servers: bool = True
    spare_busy_kernels: bool = True
    every: Annotated[int, Field(ge=5, le=86400)] = 60
    activity_interval: Annotated[int, Field(ge=5, le=3600)] = 300


class PartnerQuotas(Model):
    """One partner's soft quotas: its members' homes and its shared space."""

    home: DiskSize | None = None
    partner_space: DiskSize | None = None


class Quotas(Model):
    """Soft quotas (a warning above them, nothing refused): ``home`` for each home,
    ``partner_space`` and ``project_space`` for each shared space, ``partners``: partner
    id -> :class:`PartnerQuotas` overriding the first two. None: no quota. A person in
    several partners gets the largest home quota among them."""

    home: DiskSize | None = "10G"
    partner_space: DiskSize | None = "100G"
    project_space: DiskSize | None = "50G"
    partners: dict[Slug, PartnerQuotas] = {}


class DiskUsage(Model):
    """Disk usage shown on the hub page ``/hub/espace`` (see :mod:`hub.diskusage`).

    ``cache_seconds``: a measure is reused that long; ``max_entries``: a scan stops
    after that many files and directories (the page then says "at least");
    ``quotas``: the :class:`Quotas`.
    """

    enabled: bool = True
    cache_seconds: Annotated[int, Field(ge=0, le=86400)] = 600
    max_entries: Annotated[int, Field(ge=100, le=100_000_000)] = 1_000_000
    quotas: Quotas = Quotas()


class AuditSettings(Model):
    """The audit trail (:mod:`hub.audit`): JSON lines under ``<data_dir>/audit/``, one
    file per process, rotated at midnight UTC. ``retention_days``: rotated files kept."""

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
