"""Writing a school's night: its raw files (files route) or payloads (vendor routes), encrypted, with an
encrypted manifest, staged in a hidden folder and renamed into place, so a night is whole or absent."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from .crypto import encrypt
from .keys import KEY_ENV, ArchiveError, ArchiveKeys, key_id, keys_from_env
from .layout import (
    MANIFEST_NAME,
    SUFFIX,
    archive_root,
    check_laestab,
    check_name,
    fsync_dir,
    make_private_dir,
    school_folder,
    write_private,
)

log = logging.getLogger(__name__)

_warned_no_key = False


def archive_files(home: Path, school_key: str, laestab: str, night: date, files: list[Path],
                  route: str = "files") -> Path | None:
    """Archive the raw files of a school's night (bytes and modification times); returns the night's folder.

    Re-archiving the same night replaces it as a whole. Returns None, with a warning logged once per
    process, when no ``NCC_ARCHIVE_KEY`` is configured. Only regular files are archived (a symbolic
    link is refused); names must be plain file names.
    """
    keys = _keys_for_writing()
    if keys is None:
        return None
    entries: list[tuple[str, bytes, int]] = []
    for path in files:
        path = Path(path)
        check_name(path.name, laestab, night)
        data, mtime_ns = _read_regular_file(path, laestab, night)
        entries.append((path.name, data, mtime_ns))
    return _write_night(home, keys, school_key, laestab, night, entries, route)


def files_to_archive(folder: Path, used: list[str], max_bytes: int) -> tuple[list[Path], list[str]]:
    """(the files of ``folder`` to archive, names refused for size): only the files the extract was
    read from (``used``, file names), each a regular file (not a link) of at most ``max_bytes``.

    A file left in the folder but not used tonight (an older CTF, a second pupils file) is not kept:
    the archive is for replaying what was loaded, and such a file, possibly over the size limit,
    would otherwise be copied and encrypted again every night. A replay therefore reads the same
    files and tables, without tonight's "not used" warnings.
    """
    chosen, too_big = [], []
    for name in sorted(set(used)):
        path = Path(folder) / name
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_size > max_bytes:
            too_big.append(name)
            continue
        chosen.append(path)
    return chosen, too_big


def archive_payloads(home: Path, school_key: str, laestab: str, night: date, payloads: dict[str, bytes],
                     route: str) -> Path | None:
    """Archive raw vendor payloads (name -> bytes) of a school's night, like ``archive_files``.

    The payloads are given the archiving time as their modification time.
    """
    keys = _keys_for_writing()
    if keys is None:
        return None
    now_ns = int(datetime.now(timezone.utc).timestamp() * 1_000_000_000)
    entries = []
    for name, data in payloads.items():
        check_name(name, laestab, night)
        entries.append((name, bytes(data), now_ns))
    return _write_night(home, keys, school_key, laestab, night, entries, route)


def _keys_for_writing() -> ArchiveKeys | None:
    global _warned_no_key
    keys = keys_from_env()
    if keys.current is None:
        if not _warned_no_key:
            log.warning("raw archive is off: %s is not set, so nights cannot be replayed from the archive", KEY_ENV)
            _warned_no_key = True
        return None
    return keys


def _read_regular_file(path: Path, laestab: str, night: date) -> tuple[bytes, int]:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason = "is a symbolic link" if path.is_symlink() else f"cannot be read ({exc.__class__.__name__})"
        raise ArchiveError(f"archive file {path.name} for {laestab} on {night.isoformat()} {reason}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArchiveError(f"archive file {path.name} for {laestab} on {night.isoformat()} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read()
        return data, info.st_mtime_ns
    finally:
        os.close(fd)


def _write_night(home: Path, keys: ArchiveKeys, school_key: str, laestab: str, night: date,
                 entries: list[tuple[str, bytes, int]], route: str) -> Path:
    check_laestab(laestab)
    names = [name for name, _, _ in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ArchiveError(f"archive file {duplicates[0]} for {laestab} on {night.isoformat()} is given twice")
    key = keys.current
    assert key is not None
    school_dir = school_folder(home, school_key)
    for folder in (archive_root(home), school_dir):
        make_private_dir(folder)
    final = school_dir / night.isoformat()
    staging = Path(tempfile.mkdtemp(prefix=f".{night.isoformat()}.new-", dir=school_dir))  # 0700
    try:
        manifest_files = []
        for name, data, mtime_ns in entries:
            write_private(staging / (name + SUFFIX), encrypt(key, data, school_key, laestab, night, name))
            manifest_files.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                   "mtime_ns": mtime_ns})
        manifest = {
            "version": 1, "school_key": school_key, "laestab": laestab, "night": night.isoformat(), "route": route,
            "archived_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "key_id": key_id(key),
            "files": manifest_files,
        }
        payload = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        write_private(staging / (MANIFEST_NAME + SUFFIX),
                      encrypt(key, payload, school_key, laestab, night, MANIFEST_NAME, kind="manifest"))
        fsync_dir(staging)
        retired = None
        if final.exists():
            retired = school_dir / f".{night.isoformat()}.old-{secrets.token_hex(4)}"
            os.rename(final, retired)
        os.rename(staging, final)
        fsync_dir(school_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    log.info("%s: archived %d raw file(s) for %s", school_key, len(entries), night.isoformat())
    return final
