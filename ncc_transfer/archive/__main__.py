"""``python -m ncc_transfer.archive``: print a new key for NCC_ARCHIVE_KEY."""

from .keys import generate_key

print(generate_key())
