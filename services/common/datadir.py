"""The data directory is the owner's alone: 0700, and every file Handover keeps there 0600.

It holds the ledger (every contact and order that passed through), the outboxes, the mails and
the generated admin password. A 0644 file in a 0755 folder is readable by every account on the
machine, so the folder is closed when Handover starts and what is already in it is tightened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def protect(data_dir: str | Path) -> None:
    """Create the data directory 0700 and tighten what is in it (files 0600, folders 0700)."""
    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    uid = os.getuid()
    for path in [root, *root.rglob("*")]:
        try:
            st = path.lstat()
            if st.st_uid != uid or stat.S_ISLNK(st.st_mode):
                continue  # not ours (a mounted volume's parts) or a link: leave it
            wanted = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
            if stat.S_IMODE(st.st_mode) & ~wanted:
                path.chmod(stat.S_IMODE(st.st_mode) & wanted)
        except OSError:
            continue  # vanished meanwhile, or not ours to change


def open_private(path: Path, flags: int) -> int:
    """os.open with mode 0600 for a file Handover creates in the data directory."""
    return os.open(path, flags, FILE_MODE)
