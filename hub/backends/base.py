"""What every DataLab spawner shares: the user's partners, profiles and their form.

The spawn form lists only the profiles the user's partners are entitled to; the choice
is checked again on the server side (``apply_user_options``), so an API caller naming
another profile gets HTTP 403 with the reason, whatever the form showed. A member of a
partner holding health data gets 403 for a profile whose backend cannot confine the
network (:mod:`.confinement`); the labs of health-space members get
:func:`.confinement.lab_args`.
"""

from __future__ import annotations

from html import escape

from traitlets.config import Configurable
from sqlalchemy import inspect
from tornado import web
from traitlets import Any, default

from ..messages import text
from ..groups import partners_of
from ..partners import may_have_lab
from ..settings import Profile, Settings
from .confinement import health_spaces, lab_args, refusal
from .protocol import Person, backend_of

PROFILE_KEY = "profile"

#: What a lab process runs: jupyterhub-singleuser, then an immediate exit once the server
#: has stopped. jupyter-collaboration leaves non-daemon AnyIO worker threads behind; without
#: ``os._exit`` they keep a stopped lab's process alive until the spawner's SIGKILL, about
#: a minute later (measured: 57-60 s per stop after a notebook was opened).
LAB_PROGRAM = (
    "import os, sys\n"
    "from jupyterhub.singleuser import main\n"
    "status = main()\n"
    "sys.stdout.flush()\n"
    "sys.stderr.flush()\n"
    "os._exit(status if isinstance(status, int) else 0)\n"
)


def lab_command(python: str, prelude: str = "") -> list[str]:
    """The command starting a lab with the interpreter ``python`` (a path), after the
    Python statements ``prelude`` (our own code, never user input)."""
    return [python, "-c", prelude + LAB_PROGRAM]


class DataLabSpawnerMixin(Configurable):
    """Mixed into each backend's JupyterHub spawner class (listed before the backend's
    own spawner class, so its defaults win)."""

    datalab_settings = Any(help="The deployment's hub.settings.Settings").tag(config=True)

    @property
    def settings(self) -> Settings:
        return self.datalab_settings

    def _t(self, key: str, /, **values: object) -> str:
        return text(self.settings.hub.language, key, **values)

    @property
    def partner_ids(self) -> set[str]:
        """Ids of the partners the user belongs to (from their ``partner-*`` groups)."""
        return partners_of([g.name for g in self.user.groups])

    def profiles(self) -> list[Profile]:
        """The profiles offered to this user."""
        return self.settings.profiles_for(self.partner_ids)

    @default("options_form")
    def _default_options_form(self):
        return _options_form

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        """Form fields -> ``user_options``: ``{"profile": "<id>"}`` plus the fields the
        chosen profile's backend posted under it (the first profile offered when the form
        had no choice)."""
        options = {PROFILE_KEY: formdata.get(PROFILE_KEY, [""])[0]}
        profiles = self.profiles()
        chosen = options[PROFILE_KEY] or (profiles[0].id if profiles else "")
        for profile in profiles:
            if profile.id == chosen:
                options.update(backend_of(self.settings, profile).options_from_form(profile, formdata))
        return options

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return _apply_user_options

    selected_profile = Any(None, help="The Profile this server runs with")
    validated_options = Any(None, help="The backend's validated options of the next start")
    state_owner = Any(None, help="The spawner whose state is saved (a dispatcher), or None: self")

    @property
    def person(self) -> Person:
        """Whose code this server runs (see :mod:`hub.backends.protocol`)."""
        return Person.of(self.user.name, self.partner_ids)

    def apply_profile(self, profile: Profile) -> None:
        """Apply a validated profile's resources to this spawner (backends extend it)."""
        self.selected_profile = profile
        self.cpu_limit = profile.cpu
        self.mem_limit = profile.memory

    def profile_option_keys(self, profile: Profile) -> set[str]:
        """The ``user_options`` keys ``profile`` accepts besides ``profile`` (its
        backend's form fields)."""
        return backend_of(self.settings, profile).option_keys(self.settings, profile)

    def profile_fields_html(self, profile: Profile) -> str:
        """Extra form fields shown under ``profile`` on the spawn form (HTML, escaped)."""
        return backend_of(self.settings, profile).fields_html(self.settings, self.partner_ids, profile, self._t)

    def apply_profile_options(self, profile: Profile, options: dict) -> None:
        """Validate ``options`` (only keys of :meth:`profile_option_keys`) after
        :meth:`apply_profile` with the profile's backend; raise ``HTTPError`` 400 naming
        the refused field."""
        self.validated_options = backend_of(self.settings, profile).validate_options(
            self.settings, self.partner_ids, options, self._t
        )

    @property
    def health_confined(self) -> bool:
        """True when the user belongs to a partner or project holding health data."""
        return bool(health_spaces(self.settings, self.partner_ids, self.user.name))

    def get_args(self):
        """The backend's arguments, plus the health confinement's (:func:`lab_args`)."""
        return [*super().get_args(), *(lab_args() if self.health_confined else [])]

    def walltime_notice(self) -> dict | None:
        """The home page's notice of when the running lab will be ended (None: never)."""
        return None


def _refuse_without_lab(spawner: DataLabSpawnerMixin) -> None:
    """HTTP 403 when the person's roles include no lab, whoever asks (an admin too)."""
    if not may_have_lab(g.name for g in spawner.user.groups):
        raise web.HTTPError(403, spawner._t("role_no_lab", user=spawner.user.name))


def _options_form(spawner: DataLabSpawnerMixin) -> str:
    """The spawn form; the spawn page answers 403 for a person whose roles include no lab
    (rendering the form is the page's first step, before any start)."""
    _refuse_without_lab(spawner)
    profiles = spawner.profiles()
    fields = {p.id: spawner.profile_fields_html(p) for p in profiles}
    if len(profiles) == 0 or (len(profiles) == 1 and not fields[profiles[0].id]):
        return ""
    rows = []
    for i, p in enumerate(profiles):
        checked = " checked" if i == 0 else ""
        resources = spawner._t("spawn_resources", cpu=f"{p.cpu:g}", memory=p.memory)
        if fields[p.id]:
            resources = ""
        rows.append(
            f'<label class="datalab-profile"><input type="radio" name="{PROFILE_KEY}" '
            f'value="{escape(p.id)}"{checked}> <strong>{escape(p.name)}</strong> '
            f"<span>{escape(resources)}</span><br><small>{escape(p.description)}</small></label>"
            + fields[p.id]
        )
    return "\n".join(rows)


def _apply_user_options(spawner: DataLabSpawnerMixin, options: dict) -> None:
    """Validate ``options`` against the user's entitlements; raise ``HTTPError`` 400/403.

    JupyterHub stores the options of a start request before this check and reuses them
    when a later request sends none: a refused request must not become that default.
    """
    try:
        _check_user_options(spawner, options)
    except web.HTTPError:
        spawner.orm_spawner.user_options = {}
        inspect(spawner.orm_spawner).session.commit()
        raise


def _check_user_options(spawner: DataLabSpawnerMixin, options: dict) -> None:
    _refuse_without_lab(spawner)
    extra = set().union(*(spawner.profile_option_keys(p) for p in spawner.settings.profiles))
    unknown = set(options) - {PROFILE_KEY} - extra
    if unknown:
        raise web.HTTPError(
            400,
            spawner._t("bad_option", option=sorted(unknown)[0], allowed=", ".join(sorted({PROFILE_KEY} | extra))),
        )
    allowed = spawner.profiles()
    if not spawner.partner_ids:
        raise web.HTTPError(403, spawner._t("no_partner", contact=spawner.settings.hub.contact))
    if not allowed:
        raise web.HTTPError(403, spawner._t("no_profile", contact=spawner.settings.hub.contact))
    wanted = str(options.get(PROFILE_KEY) or allowed[0].id)[:64]
    allowed_ids = ", ".join(p.id for p in allowed)
    for p in allowed:
        if p.id == wanted:
            accepted = {PROFILE_KEY} | spawner.profile_option_keys(p)
            unknown = set(options) - accepted
            if unknown:
                raise web.HTTPError(
                    400,
                    spawner._t("bad_option", option=sorted(unknown)[0], allowed=", ".join(sorted(accepted))),
                )
            refused = refusal(spawner.settings, spawner.settings.backend_of(p), spawner.partner_ids,
                              user=spawner.user.name)
            if refused:
                raise web.HTTPError(403, refused)
            spawner.apply_profile(p)
            spawner.apply_profile_options(p, {k: v for k, v in options.items() if k != PROFILE_KEY})
            return
    if any(p.id == wanted for p in spawner.settings.profiles):
        raise web.HTTPError(403, spawner._t("profile_forbidden", profile=wanted, allowed=allowed_ids))
    raise web.HTTPError(400, spawner._t("profile_unknown", profile=wanted, allowed=allowed_ids))
