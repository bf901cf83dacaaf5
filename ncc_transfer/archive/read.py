"""Reading a school's archived night: its manifest, and restoring its files exactly as they were."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path

from .crypto import decrypt
from .keys import KEY_ENV, ArchiveError, ArchiveKeys, keys_from_env
from .layout import MANIFEST_NAME, SUFFIX, check_name, make_private_dir, night_folder, write_private


def read_manifest(home: Path, laestab: str, school_key: str, night: date) -> dict:
    """The night's decrypted manifest (file names, sizes, SHA-256, mtimes, route, school_key)."""
    keys = _keys_for_reading(laestab, night)
    return _manifest(home, keys, laestab, school_key, night)


def restore(home: Path, laestab: str, school_key: str, night: date, dest: Path) -> list[Path]:
    """Decrypt a night into ``dest`` (missing or empty), with the original names and modification times.

    Every file is checked against the manifest (size and SHA-256); on any failure nothing is left
    in ``dest``. Returns the restored files in the manifest's order.
    """
    keys = _keys_for_reading(laestab, night)
    manifest = _manifest(home, keys, laestab, school_key, night)
    folder = night_folder(home, school_key, night)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise ArchiveError(f"cannot restore {laestab} on {night.isoformat()}: {dest} is not empty")
    make_private_dir(dest)
    restored: list[Path] = []
    try:
        for entry in manifest["files"]:
            name = entry["name"]
            check_name(name, laestab, night)
            where = f"archive file {name} for {laestab} on {night.isoformat()}"
            source = folder / (name + SUFFIX)
            if not source.is_file():
                raise ArchiveError(f"{where} is missing")
            data = decrypt(keys, source.read_bytes(), school_key, laestab, night, name)
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ArchiveError(f"{where} does not match its manifest (size or SHA-256)")
            target = dest / name
            write_private(target, data)
            restored.append(target)
            os.utime(target, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    except BaseException:
        for path in restored:
            path.unlink(missing_ok=True)
        raise
    return restored


def _keys_for_reading(laestab: str, night: date) -> ArchiveKeys:
    keys = keys_from_env()
    if not keys.by_id:
        raise ArchiveError(f"cannot read the raw archive for {laestab} on {night.isoformat()}: the archive is off "
                           f"({KEY_ENV} is not set); set it to the key the night was archived with")
    return keys


def _manifest(home: Path, keys: ArchiveKeys, laestab: str, school_key: str, night: date) -> dict:
    folder = night_folder(home, school_key, night)
    path = folder / (MANIFEST_NAME + SUFFIX)
    if not path.is_file():
        raise ArchiveError(f"no raw archive for {laestab} on {night.isoformat()} (nothing archived that night, "
                           f"or already purged)")
    plain = decrypt(keys, path.read_bytes(), school_key, laestab, night, MANIFEST_NAME, kind="manifest")
    manifest = json.loads(plain)
    if (manifest.get("school_key"), manifest.get("laestab"), manifest.get("night")) != \
            (school_key, laestab, night.isoformat()):  # cannot happen unless the key was misused
        raise ArchiveError(f"archive file {MANIFEST_NAME} for {laestab} on {night.isoformat()} describes another night")
    return manifest
