"""The archive's keys, from the environment only: ``NCC_ARCHIVE_KEY`` (encrypts and decrypts) and
``NCC_ARCHIVE_OLD_KEYS`` (comma-separated, decrypt only). A key never appears in a message."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from ..config import secret

KEY_ENV = "NCC_ARCHIVE_KEY"
OLD_KEYS_ENV = "NCC_ARCHIVE_OLD_KEYS"
KEY_ID_LENGTH = 8


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


def decode_key(text: str, variable: str, position: int | None = None) -> bytes:
    """The 32 bytes of a key as written in ``variable`` (the ``position``-th of a list)."""
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
    current_text = secret(KEY_ENV)
    current = decode_key(current_text, KEY_ENV) if current_text else None
    by_id: dict[str, bytes] = {}
    old_text = secret(OLD_KEYS_ENV)
    for position, part in enumerate((p for p in old_text.split(",") if p.strip()), start=1):
        old = decode_key(part, OLD_KEYS_ENV, position)
        by_id[key_id(old)] = old
    if current is not None:
        by_id[key_id(current)] = current
    return ArchiveKeys(current=current, by_id=by_id)


def archive_enabled() -> bool:
    """Whether nights are archived: ``NCC_ARCHIVE_KEY`` is set."""
    return bool(secret(KEY_ENV))
