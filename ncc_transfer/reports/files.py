"""Writing report files that may hold pupil data: owner-only permissions, atomic replacement.

Directories are 0o700 and files 0o600 whatever the process umask. A file is written to a temporary
name in the same folder (created 0o600 from the start, so it is never readable by others, not even
briefly) and moved into place, so a reader never sees half a report and a symlink planted at the
target path is replaced, not followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
LAESTAB_PATTERN = re.compile(r"^\d{7}$")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents, 0o700) and make it 0o700. A symlink is refused."""
    path = Path(path)
    if path.is_symlink():
        raise ValueError(f"{path} is a symbolic link; reports are only written to real folders")
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def school_dir(reports_root: Path, laestab: str) -> Path:
    """``reports_root/<laestab>``; ``laestab`` must be 7 digits (it names a folder)."""
    if not isinstance(laestab, str) or not LAESTAB_PATTERN.match(laestab):
        raise ValueError(f"laestab must be 7 digits, got {laestab!r}")
    root = Path(reports_root)
    if not root.exists():
        private_dir(root)
    return private_dir(root / laestab)


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0o600."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    return path
