"""Health-data spaces are confined: the labs, dashboards and report runs of a member of a
partner holding health data (:attr:`hub.settings.Partner.holds_health_data`) or of a
project holding health data (:attr:`hub.settings.Project.health_data`) have no network
route beyond what the hub needs. Each backend says whether it can enforce that
(:meth:`~hub.backends.protocol.ExecutionBackend.confines_network`); a backend that cannot
runs nothing for such a person.

Their labs also hand no file in bulk to the browser (:mod:`hub.lab_confinement`, loaded
by :func:`lab_args`): the airlock is the way out.
"""

from __future__ import annotations

from ..messages import text
from ..settings import Backend, Settings
from .protocol import backend

#: The lab-side rules of health-confined labs (a Jupyter Server service and contents manager).
LAB_MODULE = "hub.lab_confinement"


def health_partners(settings: Settings, partner_ids: set[str] | frozenset[str]) -> list[str]:
    """The ids, among ``partner_ids``, of partners holding health data."""
    return [p.id for p in settings.partners if p.holds_health_data and p.id in partner_ids]


def health_spaces(settings: Settings, partner_ids: set[str] | frozenset[str], user: str) -> list[str]:
    """The ids of the partners, among ``partner_ids``, and of the projects of hub user
    ``user`` that hold health data."""
    projects = [p.id for p in settings.projects_of(user) if p.health_data]
    return health_partners(settings, partner_ids) + projects


def refusal(settings: Settings, kind: Backend, partner_ids: set[str] | frozenset[str], *, user: str) -> str | None:
    """Why hub user ``user``, member of ``partner_ids``, cannot run code on backend
    ``kind`` (a message in the deployment's language), or None when they can: neither
    their partners nor their projects hold health data, or the backend confines the
    network."""
    held = health_spaces(settings, partner_ids, user)
    if not held or backend(kind).confines_network(settings):
        return None
    where = settings.slurm.name if kind is Backend.slurm else kind.value
    return text(settings.hub.language, "health_unconfined", partners=", ".join(held),
                backend=where, contact=settings.hub.contact)


def lab_args() -> list[str]:
    """Arguments of a health-confined lab: :data:`LAB_MODULE`'s routes ahead of the
    default ones and its contents manager. A lab that cannot import it does not start."""
    return [
        f"--ServerApp.extra_services={LAB_MODULE}",
        f"--ServerApp.contents_manager_class={LAB_MODULE}.ConfinedContentsManager",
    ]
