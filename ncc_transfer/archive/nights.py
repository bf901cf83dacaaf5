"""Which nights a school has in the archive, and removing one. Needs no key."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from .layout import MANIFEST_NAME, SUFFIX, school_folder


def archived_nights(home: Path, school_key: str) -> list[date]:
    """Nights with a complete archive for the partition (oldest first)."""
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
