"""One school's landing folder → raw pupils, attendance and exclusions frames (design §3.2).

Files considered, directly inside the folder and nowhere else: ``*.xml`` (Common Transfer Files) and
``pupils.csv``, ``attendance.csv``, ``exclusions.csv`` (names case-insensitive). Hidden files (a leading
dot, e.g. editor lock files or macOS ``._`` files), subfolders, devices and any other names are ignored.
A symbolic link among the considered names, or anything resolving outside the folder, fails the run.

A CTF supplies pupils and attendance; the CSVs supply their own dataset. Per dataset the newest file
(modification time) wins; on a tie the CSV wins, as the dedicated extract. Among several CTFs only the
newest is a candidate. A CTF that holds no ``Attendance`` container at all does not supply attendance:
an older ``attendance.csv`` is then used rather than replacing the school's attendance with nothing,
and without one attendance is left out of ``sources`` (nobody supplied it).
Only files that are used are parsed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..canonical import TABLES, empty_raw
from .csv_extracts import read_extract_csv
from .ctf import CtfContent, read_ctf
from .errors import ExtractFileError

CSV_NAMES = {f"{table}.csv": table for table in TABLES}
CTF_TABLES = ("pupils", "attendance")


@dataclass
class RawExtract:
    tables: dict[str, pd.DataFrame]
    sources: dict[str, str]  # table -> file name used
    warnings: list[str] = field(default_factory=list)
    fetch: dict | None = None  # vendor routes: how the extract was fetched (full/incremental, counts)


@dataclass(frozen=True)
class _Candidate:
    name: str
    path: Path
    mtime_ns: int


def _scan(folder: Path) -> tuple[list[_Candidate], dict[str, list[_Candidate]]]:
    """(CTF candidates, CSV candidates by table), after the safety checks."""
    try:
        resolved_folder = folder.resolve(strict=True)
    except (FileNotFoundError, RuntimeError, OSError):
        raise ExtractFileError(str(folder), None, "the school's landing folder does not exist") from None
    if not resolved_folder.is_dir():
        raise ExtractFileError(str(folder), None, "the school's landing path is not a folder")
    ctfs: list[_Candidate] = []
    csvs: dict[str, list[_Candidate]] = {}
    try:
        entries = list(os.scandir(resolved_folder))
    except PermissionError:
        raise ExtractFileError(
            str(folder), None, "the school's landing folder cannot be read: permission denied"
        ) from None
    for entry in entries:
        name = entry.name
        lower = name.lower()
        if name.startswith("."):
            continue
        is_ctf = lower.endswith(".xml")
        table = CSV_NAMES.get(lower)
        if not is_ctf and table is None:
            continue
        if entry.is_symlink():
            raise ExtractFileError(
                name, None, "symbolic links are not allowed in a school's folder: copy the file in instead"
            )
        path = resolved_folder / name
        if path.resolve().parent != resolved_folder:
            raise ExtractFileError(name, None, "the file resolves outside the school's folder")
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            continue  # a subfolder or device named like a data file: not a file to read
        candidate = _Candidate(name=name, path=path, mtime_ns=info.st_mtime_ns)
        if is_ctf:
            ctfs.append(candidate)
        else:
            csvs.setdefault(table, []).append(candidate)
    return ctfs, csvs


def _newest(candidates: list[_Candidate]) -> _Candidate | None:
    return max(candidates, key=lambda c: (c.mtime_ns, c.name)) if candidates else None


def read_school_folder(folder: Path, laestab: str) -> RawExtract:
    """Read one school's landing folder into raw frames (see the module docstring for the rules)."""
    folder = Path(folder)
    ctfs, csvs = _scan(folder)
    warnings: list[str] = []

    ctf = _newest(ctfs)
    for other in sorted(c.name for c in ctfs if ctf is not None and c.name != ctf.name):
        warnings.append(f"{other}: an older CTF than {ctf.name}; not used")
    csv_files: dict[str, _Candidate] = {}
    for table, candidates in csvs.items():
        newest = _newest(candidates)
        csv_files[table] = newest
        for other in sorted(c.name for c in candidates if c.name != newest.name):
            warnings.append(f"{other}: another file named like {newest.name}; the newest, {newest.name}, is used")

    def ctf_wins(table: str) -> bool:
        if ctf is None:
            return False
        rival = csv_files.get(table)
        return rival is None or ctf.mtime_ns > rival.mtime_ns

    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    content: CtfContent | None = None
    if any(ctf_wins(t) for t in CTF_TABLES):
        content = read_ctf(ctf.path, laestab, ctf.name)
        if ctf_wins("pupils"):
            tables["pupils"], sources["pupils"] = content.pupils, ctf.name
        if ctf_wins("attendance"):
            if content.has_attendance:
                tables["attendance"], sources["attendance"] = content.attendance, ctf.name
            elif "attendance" in csv_files:
                warnings.append(
                    f"{ctf.name}: holds no attendance, so the older {csv_files['attendance'].name} is used"
                )
        for table in CTF_TABLES:
            if not ctf_wins(table) and table in csv_files:
                warnings.append(f"{ctf.name}: older than {csv_files[table].name}, which supplies {table}")
    elif ctf is not None:
        warnings.append(f"{ctf.name}: older than the CSV extracts, so not used")

    for table in TABLES:
        if table in sources or table not in csv_files:
            continue
        candidate = csv_files[table]
        frame, csv_warnings = read_extract_csv(candidate.path, table)
        tables[table], sources[table] = frame, candidate.name
        warnings.extend(csv_warnings)

    if "pupils" not in tables:
        raise ExtractFileError(folder.name, None, "no pupil data: expected a CTF (*.xml) or pupils.csv")
    for table in TABLES:
        tables.setdefault(table, empty_raw(table))
    return RawExtract(tables={t: tables[t] for t in TABLES}, sources=sources, warnings=warnings)
