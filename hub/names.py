"""Names derived from a person: the one escaping function every backend uses.

A hub user name may hold e-mail characters, accents, upper case, apostrophes and be long.
Unix accounts, Docker objects, Slurm job names and URL paths accept far less, so every
name derived from a user (or server) name goes through :func:`safe_name`.
"""

import hashlib
import string

import escapism

_SAFE = frozenset(string.ascii_lowercase + string.digits)
_ESCAPE = "-"


def safe_name(name: str, max_length: int = 63) -> str:
    """Escape ``name`` into ``[a-z0-9-]``, at most ``max_length`` characters.

    Characters outside ``[a-z0-9]`` become ``-xx`` (their UTF-8 bytes in lower-case hex,
    escapism's scheme), so distinct names give distinct results. A result longer than
    ``max_length`` is cut and ends with ``-`` and 8 hex digits of the SHA-256 of ``name``,
    which keeps it distinct with overwhelming probability.

    Raises ``ValueError`` for an empty name or a ``max_length`` below 16.
    """
    if not name:
        raise ValueError("cannot derive a name from an empty string")
    if max_length < 16:
        raise ValueError("max_length must leave room for the hash suffix (16 or more)")
    escaped = escapism.escape(name, safe=_SAFE, escape_char=_ESCAPE).lower()
    if len(escaped) <= max_length:
        return escaped
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{escaped[: max_length - 9]}-{digest}"


def system_account(username: str, prefix: str = "jupyter-") -> str:
    """The Unix account of a hub user for the local backend: ``<prefix><escaped>``,
    32 characters at most (Linux's limit for user names). ``prefix`` is at most 11
    characters, so at least 21 remain for the escaped name."""
    return prefix + safe_name(username, max_length=32 - len(prefix))


def own_id(requested: str, owner: str, max_length: int, attempt: int = 0) -> str:
    """The id ``owner`` gets when ``requested`` belongs to another person.

    Ids of dashboards and schedules are global, and answering "taken" would tell whoever
    asks that a dashboard or schedule hidden from them exists. Instead the requester gets
    an id of their own derived from the one they asked for: ``<requested>-<6 hex>``, the
    hex digits from ``owner``, ``requested`` and ``attempt``, so publishing again under
    ``requested`` reaches the same id (``attempt`` moves on when that id is someone
    else's too). The result keeps ``[a-z0-9-]``, ends with a hex digit and is at most
    ``max_length`` (16 or more) characters."""
    if max_length < 16:
        raise ValueError("max_length must leave room for the suffix (16 or more)")
    digest = hashlib.sha256(f"{owner}\0{requested}\0{attempt}".encode("utf-8")).hexdigest()[:6]
    return f"{requested[: max_length - 7].rstrip('-')}-{digest}"
