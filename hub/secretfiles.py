"""Secrets generated once, then kept: cookie secret, proxy token, demo password.

A kept secret file must be private to the hub's user: one that group or others may read
or write stops the hub (:func:`check_private`), whatever it holds."""

import os
import secrets
import stat
from pathlib import Path

from .settings.base import ConfigError

#: The permission bits a secret file must not have: read or write for group or others.
OPEN_BITS = 0o066


class InsecureSecretFile(ConfigError):
    """A secret file group or others may read or write; ``str(error)`` names the file,
    its mode and the mode expected (never its content)."""


def check_private(path: Path) -> None:
    """Raise :class:`InsecureSecretFile` when the existing file ``path`` may be read or
    written by its group or others (the mode expected: 0600, or 0400)."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & OPEN_BITS:
        raise InsecureSecretFile(
            f"secret file {path} is readable or writable by group or others (mode {mode:04o}); "
            f"expected mode 0600 (owner only): run `chmod 600 {path}` and check who could have read it"
        )


def kept_secret(path: Path, nbytes: int = 32, *, hex: bool = False) -> str:
    """The secret stored in ``path``; created (``nbytes`` random bytes as URL-safe text,
    or as hexadecimal with ``hex``; file mode 0600, parent 0700) when missing, never
    regenerated. Raises ``OSError``, and :class:`InsecureSecretFile` when the existing
    file is open to group or others (see :func:`check_private`)."""
    if path.exists():
        check_private(path)
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(nbytes) if hex else secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    return value
