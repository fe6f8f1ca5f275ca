"""Secrets generated once, then kept: cookie secret, proxy token, demo password."""

import os
import secrets
from pathlib import Path


def kept_secret(path: Path, nbytes: int = 32, *, hex: bool = False) -> str:
    """The secret stored in ``path``; created (``nbytes`` random bytes as URL-safe text,
    or as hexadecimal with ``hex``; file mode 0600, parent 0700) when missing, never
    regenerated. Raises ``OSError``."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(nbytes) if hex else secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    return value
