"""Several backends in one hub: each server runs on the backend of its profile.

JupyterHub creates one spawner object per server before anyone chooses a profile, so
:class:`ProfileSpawner` is the object JupyterHub talks to: it offers the profiles and
their forms (:class:`~hub.backends.base.DataLabSpawnerMixin`), validates the choice, and
at each start creates the spawner of the chosen profile's backend (its *child*), to which
it hands start, poll, stop and progress. Its saved state names the child's backend and
holds the child's state, so a hub that restarts rebuilds the right child.
"""

from __future__ import annotations

import asyncio

from jupyterhub.spawner import Spawner
from traitlets import Any, observe

from ..settings import Backend
from .base import DataLabSpawnerMixin
from .protocol import backend


def backend_class(kind: Backend) -> type[Spawner]:
    """The spawner class of backend ``kind``."""
    return backend(kind).spawner_class()


#: The Spawner traits JupyterHub sets when it creates a spawner, passed on to the child.
_INHERITED = (
    "user", "orm_spawner", "hub", "authenticator", "config", "proxy_spec",
    "oauth_client_id", "cookie_options", "cookie_host_prefix_enabled",
    "trusted_alt_names", "public_url", "public_hub_url", "_deprecated_db_session",
)


class ProfileSpawner(DataLabSpawnerMixin, Spawner):
    """Dispatches each start to the spawner of the chosen profile's backend."""

    child = Any(None, help="The backend spawner of the current (or last) start")

    def _new_child(self, kind: Backend) -> Spawner:
        kwargs = {name: getattr(self, name) for name in _INHERITED}
        child = backend_class(kind)(**kwargs)
        child.datalab_backend = kind
        child.state_owner = self
        return child

    @property
    def backend(self) -> Backend | None:
        return self.child.datalab_backend if self.child is not None else None

    async def start(self):
        profile = self.selected_profile or self.profiles()[0]
        child = self._new_child(self.settings.backend_of(profile))
        child.api_token = self.api_token
        child.user_options = self.user_options
        child.apply_profile(profile)
        child.validated_options = self.validated_options
        self.child = child
        ip, port = await child.start()
        self.ip, self.port = ip, port
        return ip, port

    @observe("port")
    def _pass_port(self, change):
        """batchspawner's API sets ``port`` on the spawner JupyterHub knows: this one."""
        if self.child is not None and self.child.port != change["new"]:
            self.child.port = change["new"]

    async def poll(self):
        if self.child is None:
            return 0
        return await self.child.poll()

    async def stop(self, now=False):
        if self.child is not None:
            await self.child.stop(now=now)

    async def progress(self):
        for _ in range(100):
            if self.child is not None:
                break
            await asyncio.sleep(0.1)
        else:
            return
        async for event in self.child.progress():
            yield event

    def get_state(self):
        state = super().get_state()
        if self.child is not None:
            state["backend"] = self.child.datalab_backend.value
            state["child"] = self.child.get_state()
        return state

    def load_state(self, state):
        super().load_state(state)
        if state.get("backend") in {b.value for b in Backend}:
            self.child = self._new_child(Backend(state["backend"]))
            self.child.load_state(state.get("child", {}))

    def clear_state(self):
        super().clear_state()
        if self.child is not None:
            self.child.clear_state()

    # -- what the hub pages show ------------------------------------------------------
    def walltime_notice(self) -> dict | None:
        return self.child.walltime_notice() if self.child is not None else None
