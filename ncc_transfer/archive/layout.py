"""Where the archive lives and how its files are written: owner-only folders (0700) and files (0600),
``archive/<partition key>/<YYYY-MM-DD>/<name>.enc``, names checked before they become paths."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from .keys import ArchiveError

ARCHIVE_FOLDER = "archive"
MANIFEST_NAME = "manifest.json"
SUFFIX = ".enc"

_LAESTAB = re.compile(r"^\d{7}$")
_PARTITION_KEY = re.compile(r"^\d{7}-[a-z_]+$")


def archive_root(home: Path) -> Path:
    return Path(home) / ARCHIVE_FOLDER


def school_folder(home: Path, school_key: str) -> Path:
    """The archive folder of one partition (``<laestab>-<mis>``)."""
    if not isinstance(school_key, str) or not _PARTITION_KEY.match(school_key):
        raise ArchiveError("the raw archive is kept per partition key: expected <7-digit LAESTAB>-<route>")
    return archive_root(home) / school_key


def night_folder(home: Path, school_key: str, night: date) -> Path:
    return school_folder(home, school_key) / night.isoformat()


def check_laestab(laestab: str) -> None:
    if not isinstance(laestab, str) or not _LAESTAB.match(laestab):
        raise ArchiveError("the raw archive is kept per LAESTAB: expected 7 digits")


def check_name(name: str, laestab: str, night: date) -> None:
    """Refuse a file name that is not a plain name of a file (or is the manifest's)."""
    problem = None
    if not name or name in (".", ".."):
        problem = "has no usable name"
    elif "/" in name or "\\" in name or "\x00" in name:
        problem = "names a path, not a file"
    elif ".." in name:
        problem = "contains '..'"
    elif name.startswith("."):
        problem = "starts with a dot"
    elif name == MANIFEST_NAME:
        problem = "uses the manifest's reserved name"
    if problem:
        shown = name if name and "/" not in name and "\\" not in name and len(name) <= 120 else "(refused name)"
        raise ArchiveError(f"archive file {shown!s} for {laestab} on {night.isoformat()} {problem}: refused")


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path: Path, data: bytes) -> None:
    """Write a new owner-only file (never through a link, never over an existing file) and sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
