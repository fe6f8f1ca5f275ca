"""The deployment file's building blocks: the base model, the error, the value types
shared by sections (slugs, user names, sizes, time zones) and their checks."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


#: Partner and profile ids: short lower-case slugs. 24 characters at most so that the
#: Unix group ``partner-<id>`` fits Linux's 32-character limit.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")]


#: Hub user names declared in the file (demo users): the form JupyterHub normalises to.
UserName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._@-]{0,63}$")]


class ConfigError(Exception):
    """The deployment file cannot be used; ``str(error)`` lists every problem found."""


class Model(BaseModel):
    """Base of every section: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: Memory sizes: an integer with an optional K, M, G suffix (powers of 1024), e.g. ``4G``.
MemorySize = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,6}[KMG]?$")]


def memory_bytes(size: str) -> int:
    """``"4G"`` -> 4294967296: a :data:`MemorySize` in bytes (K, M, G are powers of 1024)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    if size[-1] in units:
        return int(size[:-1]) * units[size[-1]]
    return int(size)


def check_time_zone(name: str) -> str:
    """``name`` when it is an IANA time zone (``Europe/Paris``); ``ValueError`` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None
    return name


#: An IANA time zone name (``Europe/Paris``), checked against the system's database.
TimeZone = Annotated[str, AfterValidator(check_time_zone)]


#: Disk sizes for quotas: an integer with an optional K, M, G or T suffix (powers of 1024).
DiskSize = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}[KMGT]?$")]


def disk_bytes(size: str) -> int:
    """``"10G"`` -> 10737418240: a :data:`DiskSize` in bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if size[-1] in units:
        return int(size[:-1]) * units[size[-1]]
    return int(size)


def require_unique(values: list[str], what: str) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)


def location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part:  # pydantic names the union member it tried: not a key
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
