"""Runners: where a report run executes, with the owner's identity and data access.

Every runner executes :mod:`hub.services.reports.execute` for one :class:`RunRequest`
in an environment of its backend and returns a :class:`RunOutcome`; the service does the
rest (queueing, archive, retention). Each run goes to the runner of its profile's
backend (:class:`BackendRunners`): ``hub.backends.local.report`` (a subprocess as the
owner's Unix account), ``hub.backends.docker.report`` (a container of the lab image with
the owner's volumes), ``hub.backends.slurm.report`` (a batch job under the owner's
cluster login and partner account).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol

from hub.backends.confinement import refusal
from hub.backends.protocol import backend as registered
from hub.settings import Backend, Profile, Settings

from .archive import MAX_FILE, RunOutcome, read_beneath

log = logging.getLogger("datalab.reports")

#: Environment variables a run inherits from nowhere: it gets only these and the
#: person's own (never the hub's or the service's tokens).
BASE_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1"}


@dataclass
class RunRequest:
    """One run to execute.

    ``owner``/``partner_ids``: whose identity and data the run uses; ``notebook``: the
    resolved input file; ``work_area``: a fresh directory the runner gives the owner
    (outputs land there, the kernel's working directory is ``work_area/work``);
    ``log_path``: where the run's output goes; ``profile``: resources; timeouts in
    seconds; ``language``: of the messages the run writes; ``started``: called by the
    runner, once the run is launched, with what a later service needs to follow it (its
    *handle*: a JSON-able dict naming the process, container or job).
    """

    run_id: int
    owner: str
    partner_ids: set[str]
    notebook: Path
    parameters: dict
    kernel: str
    profile: Profile
    work_area: Path
    log_path: Path
    cell_timeout: int
    run_timeout: int
    language: str = "fr"
    title: str = ""
    started: Callable[[dict], None] = lambda handle: None


def run_spec(request: RunRequest, notebook: str, output_dir: str) -> dict:
    """The spec :mod:`~hub.services.reports.execute` reads, for ``request`` with paths as
    the run sees them: ``notebook``, ``output_dir`` (the kernel's working directory is
    ``<output_dir>/work``)."""
    return {
        "notebook": notebook,
        "output_dir": output_dir,
        "work_dir": f"{output_dir}/work",
        "parameters": request.parameters,
        "kernel": request.kernel,
        "cell_timeout": request.cell_timeout,
        "language": request.language,
        "title": request.title,
    }


def time_left(request: RunRequest, handle: dict) -> float:
    """Seconds left of ``request.run_timeout`` for the run ``handle`` names (it records
    when the run was launched)."""
    return max(0.0, request.run_timeout - (time.time() - handle["at"]))


def stage_notebook(request: RunRequest, target: Path) -> None:
    """Copy the run's notebook (its resolved path, read through no symbolic link:
    :func:`~hub.services.reports.archive.read_beneath`) to ``target``. ``OSError`` when
    it is not a regular file of at most
    :data:`~hub.services.reports.archive.MAX_FILE` bytes."""
    data = read_beneath(request.notebook, MAX_FILE)
    if data is None:
        raise OSError(f"{request.notebook}: not a regular file reached without links, or too large")
    target.write_bytes(data)


class Runner(Protocol):
    """A backend's way of executing runs. ``run`` must bound the run by
    ``request.run_timeout``, announce its handle (``request.started``) once launched,
    leave nothing running when it returns, leave the outputs in ``request.work_area`` and
    must not raise for a failure of the run itself (return a failed
    :class:`~hub.services.reports.archive.RunOutcome`)."""

    async def run(self, request: RunRequest) -> RunOutcome: ...

    async def resume(self, request: RunRequest, handle: dict) -> RunOutcome | None:
        """Follow the run ``handle`` names, launched by an earlier service process, as
        ``run`` would from there (``request.run_timeout`` is the time it has left); None
        when nothing of it runs any more and nothing tells how it ended."""

    def home(self, owner: str) -> Path | None:
        """Where ``owner``'s lab home is on this machine (notebook paths that name
        neither the library nor a partner space are in it), None when it has none."""


class BackendRunners:
    """Runs each request on the backend of its profile
    (:meth:`~hub.settings.Settings.backend_of`) with that backend's report runner
    (``hub.backends.<name>.report``), each created at its first run."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.runners: dict[Backend, Runner] = {}

    def runner(self, backend: Backend) -> Runner:
        if backend not in self.runners:
            self.runners[backend] = registered(backend).report_runner(self.settings)
        return self.runners[backend]

    async def run(self, request: RunRequest) -> RunOutcome:
        """The run on its profile's backend; a failed outcome, without running, when the
        owner holds health data that backend cannot confine (:mod:`hub.backends.confinement`)."""
        backend = self.settings.backend_of(request.profile)
        refused = refusal(self.settings, backend, request.partner_ids, user=request.owner)
        if refused:
            return RunOutcome("failed", refused)
        announce = request.started
        return await self.runner(backend).run(replace(
            request, started=lambda handle: announce({"backend": backend.value, "at": time.time(), **handle})))

    async def resume(self, request: RunRequest, handle: dict) -> RunOutcome | None:
        """Follow a run of an earlier service process on the backend its ``handle``
        names (:meth:`Runner.resume`)."""
        return await self.runner(Backend(handle["backend"])).resume(request, handle)

    def home(self, owner: str, profile: Profile | None = None) -> Path | None:
        """``owner``'s lab home for ``profile`` (None: ``spawner.backend``)."""
        backend = self.settings.backend_of(profile) if profile else self.settings.spawner.backend
        return self.runner(backend).home(owner)


def runner_for(settings: Settings) -> BackendRunners:
    """The runner of a deployment: each run goes to its profile's backend."""
    return BackendRunners(settings)
