"""The admin password Handover makes when the config names none: made once, kept in data_dir.

A new password on every restart locked the owner out of the pages they had bookmarked; it is
made on the first start, written to `<data_dir>/admin-password` (mode 0600, in a 0700 folder)
and read back on every start after. The login page says where it is.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from services.common.config import Settings

FILE_NAME = "admin-password"


def made_password(data_dir: Path) -> str:
    """Return the password kept in data_dir, making and keeping one the first time."""
    path = data_dir / FILE_NAME
    try:
        kept = path.read_text("utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # an older copy, written before the mode was set
        return kept
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.unlink(missing_ok=True)  # empty: make it anew with the right mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return password


def password_file(settings: Settings) -> Path | None:
    """Return where the made password is kept, or None when the config chose the password."""
    if settings.web.admin_password or settings.web.admin_password_env:
        return None
    path = settings.data_path(FILE_NAME)
    return path if path.is_file() else None
