"""The ``local`` backend's labs: LocalProcessSpawner running each lab as the person's Unix
account, with :func:`~hub.backends.local.policy.execution`. A lab imports the hub's
lab-side modules (:mod:`hub.lab_activity`, :mod:`hub.lab_confinement`) from the hub's
own code, whichever copy the environment has installed."""

from __future__ import annotations

import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import List, Unicode, default

from ..base import DataLabSpawnerMixin, lab_command
from ..protocol import ExecutionSpec
from .policy import execution, preexec_fn, prepare
from .processes import end, family


class LocalSpawner(DataLabSpawnerMixin, LocalProcessSpawner):
    """LocalProcessSpawner running each lab as the user's own Unix account."""

    @default("cmd")
    def _default_cmd(self):
        code_root = str(Path(__file__).resolve().parents[3])  # the directory holding hub/
        return lab_command(sys.executable, prelude=f"import sys\nsys.path.insert(0, {code_root!r})\n")

    extra_lab_args = List(
        Unicode(), help="Arguments added to every local lab's command line (after Spawner.args)"
    ).tag(config=True)

    @property
    def execution_spec(self) -> ExecutionSpec:
        return execution(self.settings, self.person, self.selected_profile)

    def get_args(self):
        return [*super().get_args(), *self.extra_lab_args]

    async def start(self):
        self.notebook_dir = str(prepare(self.settings, self.person))
        return await super().start()

    async def stop(self, now=False):
        """SIGTERM at once (on SIGINT a lab's Jupyter server asks for a confirmation
        nobody gives, and the stop would wait out ``interrupt_timeout``), then end what
        the lab started and left running (:mod:`.processes`)."""
        started = family(self.pid) if self.pid else []
        await super().stop(now=True)
        await end(started)

    def user_env(self, env):
        env.update(self.execution_spec.env)
        return env

    def make_preexec_fn(self, name):
        return preexec_fn(self.execution_spec)
