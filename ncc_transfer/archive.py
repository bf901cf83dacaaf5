"""The raw archive: each night's raw extract per school, encrypted at rest, kept briefly for replay.

When a mapping or rule is fixed, a night can be loaded again from what the school sent that night,
without calling the vendor (or asking the school) again.

Layout, under ``$NCC_HOME/archive`` (folders 0700, files 0600)::

    <partition key>/<YYYY-MM-DD>/<original file name>.enc  one per raw file or vendor extract file
    <partition key>/<YYYY-MM-DD>/manifest.json.enc         names, sizes, SHA-256, mtimes, route, school_key

The folder is the partition key (``<laestab>-<mis>``), so one school on two routes keeps two archives.

Encryption: AES-256-GCM (``cryptography``'s ``AESGCM``), a fresh random 96-bit nonce per file. Each
file starts with a clear header ``NCCARCH1`` + key id (8 hex characters: the start of the SHA-256 of
the key, so the right key is picked on rotation; it reveals nothing usable about the key) + nonce.
The associated data binds the header, the school key, the LAESTAB, the night and the file name, so
a file copied into another school's or night's folder, or renamed, fails authentication.

Keys, by environment variable only (never in the registry, a log or an exception):

* ``NCC_ARCHIVE_KEY``: the current key, URL-safe base64 of 32 random bytes
  (``python -m ncc_transfer.archive`` prints a new one). Unset: archiving is off (a warning is
  logged once) and replay is impossible.
* ``NCC_ARCHIVE_OLD_KEYS``: comma-separated previous keys, used only to decrypt. To rotate: put the
  current key in ``NCC_ARCHIVE_OLD_KEYS``, set a new ``NCC_ARCHIVE_KEY``; new nights use the new key;
  drop the old key once the archive retention period has passed (every night under it is purged).

Errors (``ArchiveError``) name the school, the night and the file, never contents or keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_ENV = "NCC_ARCHIVE_KEY"
OLD_KEYS_ENV = "NCC_ARCHIVE_OLD_KEYS"
ARCHIVE_FOLDER = "archive"
MANIFEST_NAME = "manifest.json"
SUFFIX = ".enc"

MAGIC = b"NCCARCH1"
KEY_ID_LENGTH = 8
NONCE_LENGTH = 12
HEADER_LENGTH = len(MAGIC) + KEY_ID_LENGTH + NONCE_LENGTH
_AAD_PREFIX = b"ncc-transfer raw archive v1\x00"
_LAESTAB = re.compile(r"^\d{7}$")
_PARTITION_KEY = re.compile(r"^\d{7}-[a-z_]+$")

_warned_no_key = False


class ArchiveError(Exception):
    """The archive cannot be written or read. The message names school, night and file only."""


@dataclass(frozen=True)
class ArchiveKeys:
    """The current key (encrypts and decrypts) and older keys (decrypt only), by key id."""

    current: bytes | None
    by_id: dict[str, bytes]

    @property
    def current_id(self) -> str | None:
        return key_id(self.current) if self.current else None


def generate_key() -> str:
    """A new key for ``NCC_ARCHIVE_KEY``: URL-safe base64 of 32 random bytes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def key_id(key: bytes) -> str:
    """First 8 hex characters of the key's SHA-256: names the key in file headers and the manifest."""
    return hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH]


def _decode_key(text: str, variable: str, position: int | None = None) -> bytes:
    where = variable if position is None else f"{variable} (key {position})"
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ArchiveError(f"{where} is not URL-safe base64: generate one with "
                           f"`python -m ncc_transfer.archive`") from None
    if len(key) != 32:
        raise ArchiveError(f"{where} must decode to 32 bytes (it decodes to {len(key)}): generate one with "
                           f"`python -m ncc_transfer.archive`")
    return key


def keys_from_env() -> ArchiveKeys:
    """The configured keys. A malformed key raises ArchiveError (the message never shows the key)."""
    current_text = os.environ.get(KEY_ENV, "").strip()
    current = _decode_key(current_text, KEY_ENV) if current_text else None
    by_id: dict[str, bytes] = {}
    old_text = os.environ.get(OLD_KEYS_ENV, "")
    for position, part in enumerate((p for p in old_text.split(",") if p.strip()), start=1):
        old = _decode_key(part, OLD_KEYS_ENV, position)
        by_id[key_id(old)] = old
    if current is not None:
        by_id[key_id(current)] = current
    return ArchiveKeys(current=current, by_id=by_id)


def archive_enabled() -> bool:
    return bool(os.environ.get(KEY_ENV, "").strip())


def archive_root(home: Path) -> Path:
    return Path(home) / ARCHIVE_FOLDER


def school_folder(home: Path, school_key: str) -> Path:
    """The archive folder of one partition (``<laestab>-<mis>``)."""
    if not isinstance(school_key, str) or not _PARTITION_KEY.match(school_key):
        raise ArchiveError("the raw archive is kept per partition key: expected <7-digit LAESTAB>-<route>")
    return archive_root(home) / school_key


def night_folder(home: Path, school_key: str, night: date) -> Path:
    return school_folder(home, school_key) / night.isoformat()


# --------------------------------------------------------------------------------------------- write

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
        _check_name(path.name, laestab, night)
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
        _check_name(name, laestab, night)
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
    _check_laestab(laestab)
    names = [name for name, _, _ in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ArchiveError(f"archive file {duplicates[0]} for {laestab} on {night.isoformat()} is given twice")
    key = keys.current
    assert key is not None
    school_dir = school_folder(home, school_key)
    for folder in (archive_root(home), school_dir):
        _make_private_dir(folder)
    final = school_dir / night.isoformat()
    staging = Path(tempfile.mkdtemp(prefix=f".{night.isoformat()}.new-", dir=school_dir))  # 0700
    try:
        manifest_files = []
        for name, data, mtime_ns in entries:
            _write_private(staging / (name + SUFFIX), _encrypt(key, data, school_key, laestab, night, name))
            manifest_files.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                   "mtime_ns": mtime_ns})
        manifest = {
            "version": 1, "school_key": school_key, "laestab": laestab, "night": night.isoformat(), "route": route,
            "archived_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "key_id": key_id(key),
            "files": manifest_files,
        }
        payload = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        _write_private(staging / (MANIFEST_NAME + SUFFIX),
                       _encrypt(key, payload, school_key, laestab, night, MANIFEST_NAME, kind="manifest"))
        _fsync_dir(staging)
        retired = None
        if final.exists():
            retired = school_dir / f".{night.isoformat()}.old-{secrets.token_hex(4)}"
            os.rename(final, retired)
        os.rename(staging, final)
        _fsync_dir(school_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    log.info("%s: archived %d raw file(s) for %s", school_key, len(entries), night.isoformat())
    return final


def _aad(header: bytes, kind: str, school_key: str, laestab: str, night: date, name: str) -> bytes:
    bound = json.dumps([kind, school_key, laestab, night.isoformat(), name], ensure_ascii=True)
    return _AAD_PREFIX + header + b"\x00" + bound.encode("ascii")


def _encrypt(key: bytes, data: bytes, school_key: str, laestab: str, night: date, name: str,
             kind: str = "file") -> bytes:
    header = MAGIC + key_id(key).encode("ascii") + os.urandom(NONCE_LENGTH)
    nonce = header[-NONCE_LENGTH:]
    return header + AESGCM(key).encrypt(nonce, data, _aad(header, kind, school_key, laestab, night, name))


def _decrypt(keys: ArchiveKeys, blob: bytes, school_key: str, laestab: str, night: date, name: str,
             kind: str = "file") -> bytes:
    where = f"archive file {name} for {laestab} on {night.isoformat()}"
    if len(blob) < HEADER_LENGTH + 16 or not blob.startswith(MAGIC):
        raise ArchiveError(f"{where} is not an archive file (damaged or truncated)")
    header = blob[:HEADER_LENGTH]
    file_key_id = header[len(MAGIC):len(MAGIC) + KEY_ID_LENGTH].decode("ascii", errors="replace")
    key = keys.by_id.get(file_key_id)
    if key is None:
        raise ArchiveError(f"{where} was encrypted with a key that is not configured (key id {file_key_id}): "
                           f"add that key to {OLD_KEYS_ENV}")
    try:
        return AESGCM(key).decrypt(header[-NONCE_LENGTH:], blob[HEADER_LENGTH:],
                                   _aad(header, kind, school_key, laestab, night, name))
    except InvalidTag:
        raise ArchiveError(f"{where} failed authentication (tampered, or encrypted with another key)") from None


# ---------------------------------------------------------------------------------------------- read

def read_manifest(home: Path, laestab: str, school_key: str, night: date) -> dict:
    """The night's decrypted manifest (file names, sizes, SHA-256, mtimes, route, school_key)."""
    keys = _keys_for_reading(laestab, night)
    return _manifest(home, keys, laestab, school_key, night)


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
    plain = _decrypt(keys, path.read_bytes(), school_key, laestab, night, MANIFEST_NAME, kind="manifest")
    manifest = json.loads(plain)
    if (manifest.get("school_key"), manifest.get("laestab"), manifest.get("night")) != \
            (school_key, laestab, night.isoformat()):  # cannot happen unless the key was misused
        raise ArchiveError(f"archive file {MANIFEST_NAME} for {laestab} on {night.isoformat()} describes another night")
    return manifest


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
    _make_private_dir(dest)
    restored: list[Path] = []
    try:
        for entry in manifest["files"]:
            name = entry["name"]
            _check_name(name, laestab, night)
            where = f"archive file {name} for {laestab} on {night.isoformat()}"
            source = folder / (name + SUFFIX)
            if not source.is_file():
                raise ArchiveError(f"{where} is missing")
            data = _decrypt(keys, source.read_bytes(), school_key, laestab, night, name)
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ArchiveError(f"{where} does not match its manifest (size or SHA-256)")
            target = dest / name
            _write_private(target, data)
            restored.append(target)
            os.utime(target, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    except BaseException:
        for path in restored:
            path.unlink(missing_ok=True)
        raise
    return restored


def archived_nights(home: Path, school_key: str) -> list[date]:
    """Nights with a complete archive for the partition (oldest first). Needs no key."""
    school_dir = school_folder(home, school_key)
    if not school_dir.is_dir():
        return []
    nights = []
    for entry in school_dir.iterdir():
        if entry.name.startswith(".") or not (entry / (MANIFEST_NAME + SUFFIX)).is_file():
            continue
        try:
            nights.append(date.fromisoformat(entry.name))
        except ValueError:
            continue
    return sorted(nights)


def remove_night(home: Path, school_key: str, night: date) -> bool:
    """Delete a partition's archived night (and any half-written copy of it); True when something was there."""
    school_dir = school_folder(home, school_key)
    found = False
    if school_dir.is_dir():
        for entry in school_dir.iterdir():
            if entry.name == night.isoformat() or entry.name.startswith(f".{night.isoformat()}."):
                shutil.rmtree(entry)
                found = True
    return found


# ------------------------------------------------------------------------------------------- helpers

def _check_laestab(laestab: str) -> None:
    if not isinstance(laestab, str) or not _LAESTAB.match(laestab):
        raise ArchiveError("the raw archive is kept per LAESTAB: expected 7 digits")


def _check_name(name: str, laestab: str, night: date) -> None:
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


def _make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
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


if __name__ == "__main__":  # python -m ncc_transfer.archive: print a new key for NCC_ARCHIVE_KEY
    print(generate_key())
