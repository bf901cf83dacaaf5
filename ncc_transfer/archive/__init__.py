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

The modules: ``keys`` (the keys from the environment), ``crypto`` (one file's encryption),
``layout`` (folders, names, owner-only writes), ``write`` (archiving a night), ``read`` (its manifest,
restoring it) and ``nights`` (listing and removing nights).
"""

from .crypto import HEADER_LENGTH, MAGIC, NONCE_LENGTH
from .keys import (
    KEY_ENV,
    KEY_ID_LENGTH,
    OLD_KEYS_ENV,
    ArchiveError,
    ArchiveKeys,
    archive_enabled,
    generate_key,
    key_id,
    keys_from_env,
)
from .layout import ARCHIVE_FOLDER, MANIFEST_NAME, SUFFIX, archive_root, night_folder, school_folder
from .nights import archived_nights, remove_night
from .read import read_manifest, restore
from .write import archive_files, archive_payloads, files_to_archive

__all__ = [
    "ARCHIVE_FOLDER", "HEADER_LENGTH", "KEY_ENV", "KEY_ID_LENGTH", "MAGIC", "MANIFEST_NAME", "NONCE_LENGTH",
    "OLD_KEYS_ENV", "SUFFIX", "ArchiveError", "ArchiveKeys", "archive_enabled", "archive_files",
    "archive_payloads", "archive_root", "archived_nights", "files_to_archive", "generate_key", "key_id",
    "keys_from_env", "night_folder", "read_manifest", "remove_night", "restore", "school_folder",
]
