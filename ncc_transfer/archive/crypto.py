"""One archive file's encryption: AES-256-GCM with a clear header and associated data that binds it
to its school, night and name."""

from __future__ import annotations

import json
import os
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .keys import KEY_ID_LENGTH, OLD_KEYS_ENV, ArchiveError, ArchiveKeys, key_id

MAGIC = b"NCCARCH1"
NONCE_LENGTH = 12
HEADER_LENGTH = len(MAGIC) + KEY_ID_LENGTH + NONCE_LENGTH
_AAD_PREFIX = b"ncc-transfer raw archive v1\x00"


def aad(header: bytes, kind: str, school_key: str, laestab: str, night: date, name: str) -> bytes:
    """The associated data: the header, what the file is, and whose night it belongs to."""
    bound = json.dumps([kind, school_key, laestab, night.isoformat(), name], ensure_ascii=True)
    return _AAD_PREFIX + header + b"\x00" + bound.encode("ascii")


def encrypt(key: bytes, data: bytes, school_key: str, laestab: str, night: date, name: str,
            kind: str = "file") -> bytes:
    header = MAGIC + key_id(key).encode("ascii") + os.urandom(NONCE_LENGTH)
    nonce = header[-NONCE_LENGTH:]
    return header + AESGCM(key).encrypt(nonce, data, aad(header, kind, school_key, laestab, night, name))


def decrypt(keys: ArchiveKeys, blob: bytes, school_key: str, laestab: str, night: date, name: str,
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
                                   aad(header, kind, school_key, laestab, night, name))
    except InvalidTag:
        raise ArchiveError(f"{where} failed authentication (tampered, or encrypted with another key)") from None
