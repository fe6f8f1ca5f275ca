"""The ``docker`` backend's report runner: each run in a fresh container of the lab image.

The container is the owner's lab without its server: the lab image run with the
backend's policy (:func:`hub.backends.docker.policy.execution`: uid 1000, no
capabilities, the owner's home volume, their partner and project spaces and the library
(read-only) at the same places, the profile's CPU and memory limits, no swap beyond the
memory). It has no network at all (``network_mode: none``:
papermill and the kernel talk over the container's own loopback). Its own directory,
the run's work area, is mounted at :data:`RUN_DIR`: the notebook copy, the spec, the
kernel's working directory ``work/`` and the outputs. The hub's ``hub`` package is
mounted read-only at :data:`CODE_DIR` for ``python -m hub.services.reports.execute``.

The container is removed once the run has ended and its log has been kept; it does not
depend on the service's process: a service started after a stop or a crash follows it
to its end (:meth:`DockerRunner.resume`, the run's handle is the container's name). A run killed
for memory (the container's ``State.OOMKilled``) fails with a message naming the
profile's limit; the partial notebook is kept as for any failed run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import docker
import requests

import hub
from hub.backends.docker.lab import engine, image_of, module_command
from hub.backends.docker.policy import LAB_GID, LAB_UID, LABEL, container_options, execution, home_volume, names
from hub.backends.protocol import Person
from hub.messages import text
from hub.settings import ConfigError, Settings

from hub.services.reports.archive import RunOutcome, outcome_of
from hub.services.reports.execute import HTML
from hub.services.reports.runners import BASE_ENV, RunRequest, run_spec, stage_notebook, time_left

log = logging.getLogger("datalab.reports")

#: Where the run's work area is mounted in the container.
RUN_DIR = "/srv/rapport"
#: Where the hub's code is mounted (``CODE_DIR/hub``), read-only.
CODE_DIR = "/opt/datalab-hub"
#: Seconds the engine may take for one API call other than waiting for the run.
API_TIMEOUT = 60
#: Seconds of one wait for the run's end (the wait is asked again until the timeout).
WAIT_SLICE = 2.0


def container_name(settings: Settings, owner: str, run_id: int) -> str:
    """``<owner's lab container name>.rapport-<run id>``: ``.`` never occurs in a lab's
    name (:func:`hub.backends.docker.policy.names`), so a run's container never takes a lab's."""
    return f"{names(settings.docker.name_prefix, owner)['container']}.rapport-{run_id}"


class DockerRunner:
    """Runs on the deployment's Docker engine (see the module docstring)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        """The engine's client; ``ConfigError`` when the engine does not answer."""
        if self._client is None:
            self._client = engine()
        return self._client

    async def run(self, request: RunRequest) -> RunOutcome:
        loop = asyncio.get_running_loop()
        try:
            container = await loop.run_in_executor(None, self._create, request)
        except (ConfigError, OSError) as e:
            return RunOutcome("failed", str(e))
        except docker.errors.DockerException as e:
            return RunOutcome("failed", self._refused(request, e))
        request.started({"container": container.name})
        try:
            await loop.run_in_executor(None, container.start)
            outcome = await self._follow(container, request, request.run_timeout)
        except docker.errors.DockerException as e:
            outcome = outcome_of(request.work_area, None, self._refused(request, e))
        await loop.run_in_executor(None, self._remove, container)
        return outcome

    async def resume(self, request: RunRequest, handle: dict) -> RunOutcome | None:
        """Follow the run's container (named by ``handle``) when the engine still has
        it, running or ended: its exit status, log and memory kill are read as for a run
        of this service; a container never started is removed (None)."""
        loop = asyncio.get_running_loop()
        try:
            container = await loop.run_in_executor(None, self.client.containers.get, handle["container"])
        except docker.errors.NotFound:
            return None
        except (ConfigError, docker.errors.DockerException) as e:
            return outcome_of(request.work_area, None, self._refused(request, e))
        outcome = None
        try:
            if container.status != "created":
                outcome = await self._follow(container, request, time_left(request, handle))
        except docker.errors.DockerException as e:
            outcome = outcome_of(request.work_area, None, self._refused(request, e))
        await loop.run_in_executor(None, self._remove, container)
        return outcome

    def _refused(self, request: RunRequest, error: docker.errors.DockerException) -> str:
        reason = getattr(error, "explanation", None) or str(error)
        return text(request.language, "reports_container_failed", reason=reason)

    def _create(self, request: RunRequest):
        """Prepare the work area (owned by the lab user) and the home volume; create the
        container (not started). docker-py errors, ``ConfigError``, ``OSError``."""
        work_area = request.work_area
        for sub in ("work", "runtime"):
            (work_area / sub).mkdir()
        stage_notebook(request, work_area / "input.ipynb")
        spec = run_spec(request, f"{RUN_DIR}/input.ipynb", RUN_DIR)
        (work_area / "spec.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
        if os.geteuid() == 0:
            for path in (work_area, work_area / "work", work_area / "runtime",
                         work_area / "input.ipynb", work_area / "spec.json"):
                os.chown(path, LAB_UID, LAB_GID)
        settings = self.settings
        execution_spec = execution(settings, Person.of(request.owner, request.partner_ids), request.profile)
        home_volume(self.client, settings, request.owner)
        mounts = {
            **execution_spec.mounts,
            str(work_area): {"bind": RUN_DIR, "mode": "rw"},
            str(Path(hub.__file__).parent): {"bind": f"{CODE_DIR}/hub", "mode": "ro"},
        }
        env = {
            **BASE_ENV,
            **execution_spec.env,
            "JUPYTER_RUNTIME_DIR": f"{RUN_DIR}/runtime",
            "IPYTHONDIR": f"{RUN_DIR}/runtime/ipython",
        }
        env["PYTHONPATH"] = f"{CODE_DIR}:{env['PYTHONPATH']}"
        name = container_name(settings, request.owner, request.run_id)
        self._remove_named(name)
        return self.client.containers.create(
            image_of(settings),
            module_command("hub.services.reports.execute", f"{RUN_DIR}/spec.json"),
            name=name,
            hostname=f"rapport-{request.run_id}",
            environment=env,
            **{
                **container_options(replace(execution_spec, mounts=mounts), user=request.owner, network=False, labels={
                    f"{LABEL}.prefix": settings.docker.name_prefix,
                    f"{LABEL}.report-run": str(request.run_id),
                    f"{LABEL}.profile": request.profile.id,
                }),
                "working_dir": f"{RUN_DIR}/work",
            },
        )

    async def _follow(self, container, request: RunRequest, timeout: float) -> RunOutcome:
        """Wait for the started container's end (``timeout`` seconds at most, then kill
        it), keep its log, and read the outcome. The container is not removed here: when
        the service stops meanwhile (this task cancelled), the run goes on."""
        loop = asyncio.get_running_loop()
        status = await self._wait(container, timeout)
        return await loop.run_in_executor(None, self._ended, container, request, status)

    async def _wait(self, container, timeout: float) -> dict | None:
        """The container's exit status once it has ended; None when it was still running
        after ``timeout`` seconds (it is then killed). The engine is asked in slices of
        :data:`WAIT_SLICE` seconds, so that a stopping service's thread ends soon."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            asked = time.monotonic()
            try:
                return await loop.run_in_executor(None, functools.partial(
                    container.wait, timeout=max(1.0, min(WAIT_SLICE, left))))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                if time.monotonic() - asked < 1.0:  # the engine did not answer at all
                    await asyncio.sleep(1.0)
        await loop.run_in_executor(None, self._kill, container)
        return None

    @staticmethod
    def _kill(container) -> None:
        container.kill()
        container.wait(timeout=API_TIMEOUT)

    def _ended(self, container, request: RunRequest, status: dict | None) -> RunOutcome:
        """Keep the log of the ended container and read the run's outcome (``status``:
        its exit status, None when it was killed at its timeout)."""
        with open(request.log_path, "ab") as log_file:
            log_file.write(container.logs(stdout=True, stderr=True))
        container.reload()
        state = container.attrs["State"]
        if status is None:
            message = text(request.language, "reports_run_timeout", seconds=request.run_timeout)
            return outcome_of(request.work_area, None, message)
        outcome = outcome_of(request.work_area, status.get("StatusCode", state.get("ExitCode")))
        if state.get("OOMKilled"):
            oom = text(request.language, "reports_oom", memory=request.profile.memory)
            outcome = RunOutcome("failed", f"{oom} {outcome.error or ''}".strip(), outcome.files)
            outcome.files.pop(HTML, None)
        return outcome

    def _remove(self, container) -> None:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as e:
            log.warning("report container %s not removed: %s", container.name, e)

    def _remove_named(self, name: str) -> None:
        """Remove a container left by an earlier service process under this run's name."""
        try:
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def home(self, owner: str) -> Path | None:
        """Where the owner's home volume is on this machine (created when missing, as
        their first lab or run would); None when the engine does not answer."""
        try:
            volume = home_volume(self.client, self.settings, owner)
        except (ConfigError, docker.errors.DockerException):
            return None
        return Path(volume.attrs["Mountpoint"])
