"""The hub-managed services: scheduled reports and dashboards."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, JsonValue, StringConstraints, ValidationError, field_validator

from .base import MemorySize, Model, Slug, TimeZone, UserName, location, require_unique
from .people import Audience


class MisfirePolicy(str, Enum):
    """What happens to a scheduled run whose time passed while the reports service was
    down: ``run-once`` runs it once at restart (several missed times make one run),
    ``skip`` drops it and waits for the next time."""

    run_once = "run-once"
    skip = "skip"


#: A notebook parameter name: a Python identifier.
ParameterName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


#: A kernelspec name, as ``jupyter kernelspec list`` shows it.
KernelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def check_cron(expression: str) -> str:
    """``expression`` when it is a 5-field cron expression (minute hour day month
    day-of-week); ``ValueError`` naming the problem otherwise."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as e:
        raise ValueError(f"invalid cron expression {expression!r}: {e}") from None
    return expression


class ReportSchedule(Model):
    """A scheduled papermill report, as its owner describes it (REST API, CLI).

    ``notebook``: path as seen from the owner's lab (``bibliotheque/...`` for the library,
    ``partenaire-<id>/...`` for a partner space, else the owner's home).
    ``parameters``: JSON values for the notebook's ``parameters`` cell.
    ``cron``: 5 fields, read in ``time_zone``. ``profile``: a lab profile offered to the
    owner. ``kernel``: kernelspec name. ``audience``: who sees the outputs (default: the
    owner's partners). ``retention``: runs kept. Unset keys take the ``reports`` defaults.
    """

    id: Slug
    title: Annotated[str, StringConstraints(max_length=120)] = ""
    notebook: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    parameters: dict[ParameterName, JsonValue] = {}
    cron: str
    time_zone: TimeZone | None = None
    profile: Slug | None = None
    kernel: KernelName | None = None
    audience: Audience | None = None
    retention: Annotated[int, Field(ge=1, le=10000)] | None = None
    misfire: MisfirePolicy | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)


class DemoSchedule(ReportSchedule):
    """A schedule the deployment file declares for ``owner`` (a hub user name); created or
    updated when the reports service starts."""

    owner: UserName


class Reports(Model):
    """The reports service: scheduled papermill runs and their archive.

    ``time_zone``: default of schedules; ``cell_timeout``: seconds a cell may run;
    ``run_timeout``: seconds a whole run may take (kernel start, cells, HTML); ``retention``:
    runs kept per schedule; ``misfire``: default :class:`MisfirePolicy`; ``skip_after``:
    seconds late after which a run counts as missed under ``skip``; ``max_parallel``: runs
    at once on each backend that runs on this host (local, docker; each run takes a
    kernel and about one core), unset: the host's cores, fewer when ``run_memory`` per run
    does not fit in its memory (Slurm runs are not bounded here: its queue decides);
    ``kernel``: kernelspec used when the notebook names none; ``port``: the service's
    port on 127.0.0.1 (default: the hub's port + 4); ``schedules``: schedules created at
    start.
    """

    enabled: bool = True
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    time_zone: TimeZone = "Europe/Paris"
    cell_timeout: Annotated[int, Field(ge=1, le=86400)] = 600
    run_timeout: Annotated[int, Field(ge=10, le=7 * 86400)] = 3600
    retention: Annotated[int, Field(ge=1, le=10000)] = 30
    misfire: MisfirePolicy = MisfirePolicy.run_once
    skip_after: Annotated[int, Field(ge=1, le=86400)] = 60
    max_parallel: Annotated[int, Field(ge=1, le=256)] | None = None
    run_memory: MemorySize = "1G"
    kernel: KernelName = "python3"
    schedules: list[DemoSchedule] = []
    @field_validator("schedules")
    @classmethod
    def _unique_schedules(cls, schedules: list[DemoSchedule]) -> list[DemoSchedule]:
        require_unique([s.id for s in schedules], "schedule id")
        return schedules


#: Dashboard ids: like partner slugs, up to 40 characters (they appear in URLs and paths).
DashboardId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]


class DashboardSeed(Model):
    """A dashboard the deployment publishes itself at each start (a new version when the
    notebook changed): ``notebook`` (path, relative to the deployment file), its ``author``
    (a hub user: the dashboard runs with their identity), ``audience`` (see
    :class:`Audience`: ``all``, ``partners``, ``roles``, ``any_of``; default: the
    author's partner), ``identity_free`` (its output depends on nobody's identity:
    kernels may be pre-executed)."""

    id: DashboardId
    notebook: Path
    author: UserName
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    audience: Audience | None = None
    profile: Slug | None = None
    identity_free: bool = False

    @field_validator("audience", mode="before")
    @classmethod
    def _audience(cls, value: object) -> object:
        if value is None or isinstance(value, Audience):
            return value
        try:
            return Audience.model_validate(value)
        except ValidationError as e:
            raise ValueError(
                "; ".join(
                    (f"{location(err['loc'])}: " if err["loc"] else "")
                    + err["msg"].removeprefix("Value error, ")
                    for err in e.errors()
                )
            ) from None


class Dashboards(Model):
    """The dashboards service (Voilà): capacity and culling. Durations in seconds.

    ``max_kernels_per_dashboard`` / ``max_kernels_total``: kernels serving viewers (one
    per page view, from its admission until its websocket closes) plus the pre-executed
    ones (``preheat_kernels`` per identity-free dashboard); past either cap a new viewer
    gets the "busy" page (HTTP 503, ``Retry-After: retry_after``).
    ``max_kernels_per_person``: page views one person holds at once, all dashboards
    together. ``view_timeout``: a page view whose websocket has not come that long after
    its page was served gives its kernel and its place back. ``kernel_idle_timeout``: a kernel with no activity for
    that long is shut down. ``idle_timeout``: a dashboard not viewed for that long stops
    its Voilà process (it starts again at the next view); identity-free dashboards keep
    theirs running (started with the service), so their first paint skips that start.
    ``preheat_kernels``: kernels Voilà keeps pre-executed for each identity-free dashboard,
    counted in the caps (each holds its memory whether viewed or not); 0 by default.
    ``start_timeout``: how long a dashboard's Voilà process may take to answer.
    ``kernel_template``: kernels are forked from a process per dashboard server that
    imported the notebook's libraries once (and, for an identity-free dashboard, its own
    modules), sharing their memory, instead of starting cold (false: the previous design).
    ``snapshot_pages``: a viewer of an identity-free dashboard first gets the page the
    published version drew when executed at publish (its pictures and texts), while
    their own kernel draws the live page beside it, which replaces it once drawn (false:
    the viewer waits for the live page). ``live_page_loads``: how many of those live pages
    may load at once (from the snapshot page's request until the live page's websocket
    opens, 20 s at most each); the others wait their turn, their snapshot shown, so that
    a crowd arriving together sees the snapshot at once instead of every page loading
    Voilà's scripts and kernel together.
    """

    enabled: bool = True
    max_kernels_per_dashboard: Annotated[int, Field(ge=1, le=1000)] = 10
    max_kernels_total: Annotated[int, Field(ge=1, le=10000)] = 40
    max_kernels_per_person: Annotated[int, Field(ge=1, le=1000)] = 5
    view_timeout: Annotated[int, Field(ge=1, le=3600)] = 30
    kernel_idle_timeout: Annotated[int, Field(ge=10, le=86400)] = 900
    idle_timeout: Annotated[int, Field(ge=10, le=604800)] = 3600
    preheat_kernels: Annotated[int, Field(ge=0, le=10)] = 0
    start_timeout: Annotated[int, Field(ge=5, le=600)] = 60
    kernel_template: bool = True
    snapshot_pages: bool = True
    live_page_loads: Annotated[int, Field(ge=1, le=1000)] = 4
    retry_after: Annotated[int, Field(ge=1, le=3600)] = 30
    publish: list[DashboardSeed] = []
