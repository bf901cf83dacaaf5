"""Owner-only files for pupil data at rest, whatever the umask the process was started with.

Every entry point that touches pupil data calls ``protect_process()`` first: the ``ncc-transfer``
command (``cli.main``), the Dagster code location (``definitions``: the umask at import, so
``dagster dev``, the webserver's and daemon's code servers and every run worker get it; the folders
when the definitions load) and the prefetch worker processes (``prefetch``: ``restrict_umask`` as the pool's initializer).

* The umask becomes 0o077, so every file and folder the process creates afterwards (the DuckDB
  warehouse and its ``.wal``, Dagster's SQLite storage and captured compute logs, reports, extract
  state, archive) is 0o600 / 0o700. See umask(2): https://man7.org/linux/man-pages/man2/umask.2.html
  — a file is created with the mode asked for (0o666 for most libraries) minus the umask's bits.
* ``NCC_HOME`` and ``DAGSTER_HOME`` themselves are made 0o700 (they may have been created before,
  under a looser umask): nothing inside is then reachable by other users, even a file left 0o644 by
  an older version. Only those two folders are changed, only if this user owns them, never a
  symlink's target and never anything outside them.

The webserver and daemon processes do not import the definitions (their code servers do): run them
with ``UMask=0077`` in their systemd units (docs/operating.md).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def restrict_umask() -> int:
    """Set the process umask to 0o077; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def project_homes() -> list[Path]:
    """The folders the project owns: ``NCC_HOME`` and, if set, ``DAGSTER_HOME``."""
    from .config import dagster_home, ncc_home

    homes = [ncc_home()]
    return homes + [home for home in [dagster_home()] if home is not None]


def make_private(path: Path, mode: int) -> bool:
    """``chmod`` an existing file or folder this user owns to ``mode`` (never through a symlink).
    Returns whether it now has that mode."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        log.warning("%s is a symbolic link or not owned by this user: its permissions are left as they are", path)
        return False
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)
    return True


def tighten_homes() -> None:
    """Make ``NCC_HOME`` and ``DAGSTER_HOME`` 0o700 where they exist."""
    for home in project_homes():
        make_private(home, PRIVATE_DIR_MODE)


def protect_process() -> int:
    """The umask 0o077 and the project's homes 0o700; returns the previous umask."""
    previous = restrict_umask()
    tighten_homes()
    return previous
