"""What the dispatcher and the services know of a backend.

A backend is a package ``hub.backends.<name>`` (``<name>``: a value of
:class:`hub.settings.Backend`, which is its one line of registration) whose ``BACKEND``
object is an :class:`ExecutionBackend`. Each backend owns one policy function,
``hub.backends.<name>.policy.execution``, turning a person and a profile into the
:class:`ExecutionSpec` that its lab, its dashboards and its report runs all use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Callable

from ..settings import Backend, Profile, Settings

#: ``t(key, **values)``: a message in the deployment's language.
Texts = Callable[..., str]


@dataclass(frozen=True)
class Person:
    """Whose code runs: the hub user ``name``, member of ``partner_ids`` (from their hub
    groups)."""

    name: str
    partner_ids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, name: str, partner_ids: set[str] | frozenset[str]) -> Person:
        return cls(name, frozenset(partner_ids))


@dataclass(frozen=True)
class ExecutionSpec:
    """How a person's code runs on one backend: as ``account`` (Unix account,
    ``uid:gid`` in a container, cluster login), in ``home`` (as the code sees it), with
    ``mounts`` (``{source: {"bind", "mode"}}``; the local backend's are links in the home),
    ``limits`` (in the backend's own terms), the DataLab environment variables ``env``
    and ``network`` (None: the backend's default)."""

    account: str
    home: str
    mounts: dict[str, dict[str, str]]
    limits: dict[str, object]
    env: dict[str, str]
    network: str | None = None


class ExecutionBackend:
    """The face of a backend: its spawner class, its runners, what it can do, and its
    spawn-form fields (none unless a backend overrides them)."""

    #: What the backend can do: run reports (its package has a report runner), serve
    #: dashboards (a dashboard runner).
    runs_reports = True
    serves_dashboards = False

    def spawner_class(self) -> type:
        """The JupyterHub spawner class of its labs."""
        raise NotImplementedError

    def report_runner(self, settings: Settings):
        """A new :class:`hub.services.reports.runners.Runner` of report runs."""
        raise NotImplementedError

    def dashboard_runner(self, settings: Settings, kernelspec_dir):
        """A new :class:`hub.services.dashboards.runners.Runner` (when
        :attr:`serves_dashboards`)."""
        raise NotImplementedError

    def prepare_host(self, settings: Settings) -> dict[str, str]:
        """Make what this backend needs on the hub's machine before the hub serves
        (idempotent; called by :func:`hub.startup.prepare`); returns facts for
        :meth:`configure`. ``ConfigError`` when it cannot."""
        return {}

    def confines_network(self, settings: Settings) -> bool:
        """True when this backend gives a person's code no network route beyond what the
        hub needs (required for health data, see :mod:`hub.backends.confinement`)."""
        return False

    def configure(self, c, settings: Settings, facts: dict[str, str]) -> None:
        """Set this backend's JupyterHub configuration on ``c`` (after the hub's own),
        from ``settings`` and the ``facts`` of :meth:`prepare_host`."""

    def option_keys(self, settings: Settings, profile: Profile) -> set[str]:
        """The ``user_options`` keys ``profile`` accepts besides ``profile``."""
        return set()

    def fields_html(self, settings: Settings, partner_ids: set[str], profile: Profile, t: Texts) -> str:
        """Form fields shown under ``profile`` on the spawn form (escaped HTML)."""
        return ""

    def options_from_form(self, profile: Profile, formdata: dict[str, list[str]]) -> dict[str, str]:
        """The fields of ``profile`` in a posted spawn form, as ``user_options``."""
        return {}

    def validate_options(self, settings: Settings, partner_ids: set[str], options: dict, t: Texts) -> object:
        """The validated ``options`` (keys of :meth:`option_keys`) for a member of
        ``partner_ids``; ``HTTPError`` 400 naming the refused field."""
        return None


def backend(kind: Backend) -> ExecutionBackend:
    """The registered backend ``kind`` (its package is imported at first use)."""
    return import_module(f"{__package__}.{kind.value}").BACKEND


def backend_of(settings: Settings, profile: Profile) -> ExecutionBackend:
    """The backend ``profile`` runs on."""
    return backend(settings.backend_of(profile))


def report_backends() -> list[Backend]:
    """The backends that run reports."""
    return [kind for kind in Backend if backend(kind).runs_reports]


def dashboard_backends() -> list[Backend]:
    """The backends that serve dashboards."""
    return [kind for kind in Backend if backend(kind).serves_dashboards]
