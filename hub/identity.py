"""OpenID Connect claims -> a DataLab identity: hub username, partners, roles, groups.

Pure functions, no I/O: the authenticator (:mod:`hub.oidc`) hands the claims it received
from the identity provider (the userinfo document, a ``dict`` parsed from JSON) and the
deployment's rules; it gets an :class:`Identity` or a :class:`Refusal` naming why.

Username rule (documented in ``datalab.example.yaml``): the value of the username claim
must be a string. ASCII letters are lower-cased; when the result matches
``^[a-z0-9][a-z0-9._@-]{0,63}$`` (and does not end like a derived name, below) it is the
hub name. A claim that is such a name but for accented Latin letters or its length (more
than 64 characters, at most :data:`MAX_CLAIM_LENGTH`) gets a *derived* name:
``<readable prefix>-<12 hex digits>``, the prefix being the claim without its accents
(at most 40 characters of ``[a-z0-9._@-]``), the digits those of the SHA-256 of the
provider's stable identifier ``sub`` (:func:`derived_name`). The name is stable (the same
account always gives the same name) and two provider accounts never share one: derived
names differ by their ``sub``, a plain claim can never look like a derived name, and the
authenticator refuses a login whose ``sub`` differs from the one recorded for the hub
user of that name (a provider that reuses a username for a new account). Anything else
(spaces, look-alike letters from other scripts, full-width forms, control characters) is
refused. The person's display name (:func:`display_name`) is what pages show.

Membership rule: the membership claim is found by a dotted path (``groups``,
``resource_access.datalab.roles``). Its value may be a list of strings or one string
(split on ``separator`` when the deployment gives one); each value is compared *exactly*
(no case folding, no Unicode normalisation) with the partners' and roles'
``claim_values``, so a Keycloak full path ``/datalab/univ-alpha`` matches only that path.
A verified e-mail address whose domain is exactly one of a partner's ``email_domains``
(ASCII only, compared lower-cased) also makes its owner a member.

Roles: ``admin`` and ``decision-maker`` when a claim value is listed for them;
``analyst`` when a value is listed for it, or when no other role was found.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from .groups import partner_group, role_group
from .settings import Role, Settings

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
#: What a derived name ends with: ``-`` and 12 hex digits of the hashed ``sub``.
DERIVED_SUFFIX = re.compile(r".*-[0-9a-f]{12}")
#: A username claim longer than this is malformed (refused, never derived).
MAX_CLAIM_LENGTH = 256
#: Characters of a derived name's readable prefix.
PREFIX_LENGTH = 40
#: A display name is cut to this many characters.
MAX_DISPLAY_NAME = 120
#: At most this many membership values, of at most this many characters each: a claim
#: beyond these limits is malformed (it would be refused rather than truncated).
MAX_VALUES = 1000
MAX_VALUE_LENGTH = 256
MAX_EMAIL_LENGTH = 254
MAX_PATH_DEPTH = 8


class Refusal(Exception):
    """The claims do not make a DataLab member.

    ``reason`` is one of :data:`REASONS` (a key of the message catalogue, prefixed with
    ``refused_``); ``detail`` is an English explanation for the hub log (claim path and
    what was wrong, never a token).
    """

    def __init__(self, reason: str, detail: str):
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


#: ``bad_username``: the username claim is missing or not a safe name;
#: ``claim_missing``: the membership claim is absent and no e-mail rule applied;
#: ``bad_claim``: a claim has the wrong type or size;
#: ``no_partner``: the claims are well-formed but name no DataLab partner;
#: ``account_conflict``: the hub user of that name belongs to another provider account
#: (another ``sub``).
REASONS = ("bad_username", "claim_missing", "bad_claim", "no_partner", "account_conflict")


@dataclass(frozen=True)
class Rules:
    """What :func:`resolve` reads from the deployment file.

    ``partner_values``/``partner_domains``: partner id -> its claim values / e-mail
    domains; ``role_values``: role -> its claim values. ``membership_claim`` and
    ``username_claim`` are dotted claim paths; ``separator`` splits a single-string
    membership claim (None: a string is one value).
    """

    username_claim: str
    membership_claim: str
    separator: str | None = None
    email_claim: str = "email"
    require_verified_email: bool = True
    partner_values: dict[str, frozenset[str]] = field(default_factory=dict)
    partner_domains: dict[str, frozenset[str]] = field(default_factory=dict)
    role_values: dict[Role, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, username_claim: str, membership_claim: str,
        separator: str | None = None, email_claim: str = "email",
        require_verified_email: bool = True,
    ) -> Rules:
        """The rules of a deployment's ``partners`` and ``roles`` with the given claims."""
        return cls(
            username_claim=username_claim,
            membership_claim=membership_claim,
            separator=separator,
            email_claim=email_claim,
            require_verified_email=require_verified_email,
            partner_values={p.id: frozenset(p.members.claim_values) for p in settings.partners},
            partner_domains={p.id: frozenset(p.members.email_domains) for p in settings.partners},
            role_values={
                Role.analyst: frozenset(settings.roles.analyst.claim_values),
                Role.decision_maker: frozenset(settings.roles.decision_maker.claim_values),
                Role.admin: frozenset(settings.roles.admin.claim_values),
            },
        )


@dataclass(frozen=True)
class Identity:
    """Who a person is on the hub: ``username``, partner ids, DataLab roles, the
    provider's stable identifier ``sub`` (None when the claims have none) and the
    ``display_name`` pages show."""

    username: str
    partners: frozenset[str]
    roles: frozenset[Role]
    sub: str | None = None
    display_name: str = ""

    @property
    def groups(self) -> list[str]:
        """The hub groups of this person, sorted: ``partner-<id>`` and ``role-<role>``."""
        return sorted(
            [partner_group(p) for p in self.partners] + [role_group(r) for r in self.roles]
        )


_MISSING = object()


def claim_at(claims: dict, path: str) -> object:
    """The value at dotted ``path`` in ``claims``, or :data:`_MISSING` when a key is
    absent or null. Raises :class:`Refusal` (``bad_claim``) when a step is not an object
    or the path is deeper than :data:`MAX_PATH_DEPTH`."""
    keys = path.split(".")
    if len(keys) > MAX_PATH_DEPTH:
        raise Refusal("bad_claim", f"claim path {path!r} is too deep")
    value: object = claims
    for i, key in enumerate(keys):
        if not isinstance(value, dict):
            where = ".".join(keys[:i]) or "(claims)"
            raise Refusal("bad_claim", f"claim {where!r} is a {type(value).__name__}, not an object")
        value = value.get(key, _MISSING)
        if value is None or value is _MISSING:
            return _MISSING
    return value


def normalise_username(value: object, claim: str = "username", sub: object = None) -> str:
    """The hub username from the username claim's ``value`` (rule in the module doc);
    ``sub`` (the provider's stable identifier) is needed only for a derived name.
    Raises :class:`Refusal` (``bad_username``)."""
    if not isinstance(value, str):
        raise Refusal("bad_username", f"claim {claim!r} is a {type(value).__name__}, not a string")
    if value.isascii():
        name = value.lower()
        if USERNAME.fullmatch(name) and not DERIVED_SUFFIX.fullmatch(name):
            return name
    if not _derivable(value):
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise Refusal("bad_username", f"claim {claim!r} value {shown!r} is not a safe name")
    if not isinstance(sub, str) or not sub:
        raise Refusal("bad_username", f"claim {claim!r} needs a derived name but claim 'sub' is missing")
    return derived_name(value, sub)


def _derivable(value: str) -> bool:
    """True when ``value`` is a safe name but for accented Latin letters and its length:
    letters (Latin, accented or not), digits and ``._@-``, starting with a letter or a
    digit, at most :data:`MAX_CLAIM_LENGTH` characters."""
    value = unicodedata.normalize("NFC", value)
    if not 0 < len(value) <= MAX_CLAIM_LENGTH or not _latin_or_digit(value[0]):
        return False
    return all(c in "._@-" or _latin_or_digit(c) or unicodedata.category(c) == "Mn" for c in value)


def _latin_or_digit(c: str) -> bool:
    if c.isascii():
        return c.isalnum()
    return unicodedata.category(c).startswith("L") and unicodedata.name(c, "").startswith("LATIN ")


def derived_name(value: str, sub: str) -> str:
    """``<prefix>-<12 hex>``: ``value`` without accents, lower-cased, cut to
    :data:`PREFIX_LENGTH` characters of ``[a-z0-9._@-]`` (``u`` when nothing is left),
    then 12 hex digits of the SHA-256 of ``sub``. At most 53 characters, and a
    :data:`USERNAME`."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").lower()
    prefix = re.sub(r"[^a-z0-9._@-]", "", folded)[:PREFIX_LENGTH].rstrip("._@-")
    prefix = re.sub(r"^[^a-z0-9]+", "", prefix) or "u"
    digest = hashlib.sha256(("datalab-sub:" + sub).encode("utf-8")).hexdigest()[:12]
    return f"{prefix}-{digest}"


def display_name(claims: dict, fallback: str) -> str:
    """What pages show for the person: the ``name`` claim, else ``given_name`` with
    ``family_name`` (or ProConnect's ``usual_name``), else ``fallback`` (the username
    claim); control characters dropped, at most :data:`MAX_DISPLAY_NAME` characters."""
    def clean(value: object) -> str:
        if not isinstance(value, str):
            return ""
        kept = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
        return " ".join(kept.split())

    shown = clean(claims.get("name"))
    if not shown:
        family = clean(claims.get("family_name")) or clean(claims.get("usual_name"))
        shown = " ".join(p for p in (clean(claims.get("given_name")), family) if p)
    return (shown or clean(fallback))[:MAX_DISPLAY_NAME]


def membership_values(value: object, claim: str, separator: str | None = None) -> list[str]:
    """The membership claim's values as a list of strings: a list of strings as is, one
    string as a one-item list (or split on ``separator``). Raises :class:`Refusal`
    (``bad_claim``) for any other type, a non-string item, or a claim too large."""
    if isinstance(value, str):
        items = value.split(separator) if separator else [value]
        items = [i.strip() for i in items] if separator else items
    elif isinstance(value, list):
        items = value
    else:
        raise Refusal("bad_claim", f"claim {claim!r} is a {type(value).__name__}, not a list of strings")
    if len(items) > MAX_VALUES:
        raise Refusal("bad_claim", f"claim {claim!r} has {len(items)} values (at most {MAX_VALUES})")
    for item in items:
        if not isinstance(item, str):
            raise Refusal("bad_claim", f"claim {claim!r} holds a {type(item).__name__}, not a string")
        if len(item) > MAX_VALUE_LENGTH:
            raise Refusal("bad_claim", f"claim {claim!r} holds a value of {len(item)} characters")
    return [i for i in items if i]


def email_domain(claims: dict, email_claim: str = "email", require_verified: bool = True) -> str | None:
    """The lower-cased domain of the person's e-mail address, or None when there is no
    usable address (absent, unverified while ``require_verified``). Raises
    :class:`Refusal` (``bad_claim``) for a present but malformed address."""
    email = claim_at(claims, email_claim)
    if email is _MISSING:
        return None
    if not isinstance(email, str):
        raise Refusal("bad_claim", f"claim {email_claim!r} is a {type(email).__name__}, not a string")
    if require_verified and claims.get("email_verified") not in (True, "true"):
        return None
    if not email.isascii() or len(email) > MAX_EMAIL_LENGTH or email.count("@") != 1:
        raise Refusal("bad_claim", f"claim {email_claim!r} is not a plain ASCII e-mail address")
    local, domain = email.split("@")
    if not local or not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", domain):
        raise Refusal("bad_claim", f"claim {email_claim!r} has no valid domain")
    return domain.lower()


def resolve(claims: object, rules: Rules) -> Identity:
    """The :class:`Identity` the ``claims`` give under ``rules``.

    Raises :class:`Refusal`: ``bad_claim`` (claims not an object, a claim of the wrong
    type or size), ``bad_username``, ``claim_missing`` (no membership claim and no
    e-mail rule matched) or ``no_partner`` (no partner matched). Never returns an
    identity without a partner.
    """
    if not isinstance(claims, dict):
        raise Refusal("bad_claim", f"the claims are a {type(claims).__name__}, not an object")
    raw_name = claim_at(claims, rules.username_claim)
    if raw_name is _MISSING:
        raise Refusal("bad_username", f"claim {rules.username_claim!r} is missing")
    sub = claims.get("sub")
    sub = sub if isinstance(sub, str) and sub else None
    username = normalise_username(raw_name, rules.username_claim, sub)

    raw_members = claim_at(claims, rules.membership_claim)
    values = (
        set() if raw_members is _MISSING
        else set(membership_values(raw_members, rules.membership_claim, rules.separator))
    )
    partners = {pid for pid, wanted in rules.partner_values.items() if values & wanted}
    domain = email_domain(claims, rules.email_claim, rules.require_verified_email)
    if domain is not None:
        partners |= {pid for pid, domains in rules.partner_domains.items() if domain in domains}

    if not partners:
        if raw_members is _MISSING:
            raise Refusal("claim_missing", f"claim {rules.membership_claim!r} is missing and no e-mail domain matched")
        raise Refusal("no_partner", f"no value of claim {rules.membership_claim!r} names a partner")

    roles = {r for r in (Role.admin, Role.decision_maker) if values & rules.role_values.get(r, frozenset())}
    if not roles or values & rules.role_values.get(Role.analyst, frozenset()):
        roles.add(Role.analyst)
    return Identity(
        username=username, partners=frozenset(partners), roles=frozenset(roles), sub=sub,
        display_name=display_name(claims, raw_name),
    )
