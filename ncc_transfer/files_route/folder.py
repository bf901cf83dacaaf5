"""One school's landing folder → raw pupils, attendance and exclusions frames.

Files considered, directly inside the folder and nowhere else: ``*.xml`` (Common Transfer Files) and
``pupils.csv``, ``attendance.csv``, ``exclusions.csv`` (names case-insensitive). Hidden files (a leading
dot, e.g. editor lock files or macOS ``._`` files), subfolders, devices and any other names are ignored.
A symbolic link among the considered names, or anything resolving outside the folder, fails the run.

Which CTF can be the school's roll (the kinds and their sources are in :mod:`.ctf_kinds`): only a *full*
CTF from this school that is a whole-school export (no DestSchool, DestSchool = this school, or this
school's LA without a school number). The others are set aside, never merged, and the school's report
says what was done with each and why (``RawExtract.set_aside``): a partial CTF (MTC, GIAP, a results
file), a CTF addressed to another school or an unknown destination (leavers), and a CTF from another
school addressed to this one (joiners). A set-aside file never removes a pupil, a mark or an enrolment:
the MIS export stays the authority. A CTF from another school addressed to neither fails the school:
it is in the wrong folder.

Academic year (``SourceSchool/AcademicYear``, the start year; the night's year is the academic year of
``as_of``, starting 1 September as in :func:`ncc_transfer.rules.calendar.academic_year_start`). A roll
CTF is refused when another roll CTF in the folder is for a later academic year, or when it is two or
more years behind the night's year. One year behind with nothing newer is used, with a warning that the
MIS has not moved to the new year (in early September a school may still send last year's export). A
later year than the night's is accepted: MIS exports move AcademicYear on 1 August. When the refused
CTF was the only source of pupils, the school fails naming the file, the element and the problem.
Without a night (``as_of`` None: the simulator, the demo checks) only the folder's CTFs are compared.

Newest: by the CTF Header ``DateTime`` (when it was made), not the file's modification time, which
changes when a file is copied. A CTF without a usable DateTime is dated by its modification time, with
a warning when it competes with another file. A CSV has no header, so its modification time is
compared with the CTF's DateTime, both as naive local times (the MIS writes DateTime in the school's
local time; this assumes the server's clock runs on the same local time, UK time); a CSV copied in later than the CTF's
export therefore counts as newer, which is the safer mistake (the CSV is the dedicated extract). Per
dataset the newest file wins; on a tie the CSV wins. A CTF that holds no ``Attendance`` container at all
does not supply attendance: an older ``attendance.csv`` is then used rather than replacing the school's
attendance with nothing, and without one attendance is left out of ``sources``.
Set-aside CTFs are parsed once to count their pupils; of the roll CTFs only the one used is parsed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from ..canonical import TABLES, empty_raw
from ..rules.calendar import academic_year_start
from .csv_extracts import read_extract_csv
from .ctf import CtfContent, count_pupils, read_ctf
from .ctf_kinds import (INCOMING, OUTGOING, PARTIAL, ROLL, WRONG_FOLDER, CtfHeader, ctf_kind, destination_text,
                        read_ctf_header)
from ..extract import ExtractFileError, RawExtract

CSV_NAMES = {f"{table}.csv": table for table in TABLES}
CTF_TABLES = ("pupils", "attendance")


@dataclass(frozen=True)
class _Candidate:
    name: str
    path: Path
    mtime_ns: int

    @property
    def mtime(self) -> datetime:
        """The modification time as naive local time (comparable with a CTF Header DateTime)."""
        return datetime.fromtimestamp(self.mtime_ns / 1e9)


@dataclass(frozen=True)
class _Ctf:
    file: _Candidate
    header: CtfHeader | None
    kind: str

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def dated_by_header(self) -> bool:
        return self.header is not None and self.header.created is not None

    @property
    def created(self) -> datetime:
        """Header DateTime, or the file's modification time when the Header has none."""
        return self.header.created if self.dated_by_header else self.file.mtime

    @property
    def year(self) -> int | None:
        return self.header.academic_year if self.header is not None else None


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


def _newest_ctf(ctfs: list[_Ctf]) -> _Ctf | None:
    return max(ctfs, key=lambda c: (c.created, c.file.mtime_ns, c.name)) if ctfs else None


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _years(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"


def _pupils_text(ctf: _Ctf) -> str:
    count = count_pupils(ctf.file.path, ctf.name)
    if count is None:
        return "pupils not counted: the file is not well-formed"
    return f"{count} pupil" + ("" if count == 1 else "s")


def _set_aside_note(ctf: _Ctf) -> str:
    """What was done with a CTF that is not a roll, and why, in words a school can act on."""
    header = ctf.header
    facts = f"{_pupils_text(ctf)}, created {_when(ctf.created)}"
    kept = "so it was not used for the school's roll; nothing was removed."
    if ctf.kind == PARTIAL:
        return (f"{ctf.name}: a partial CTF (DocumentQualifier '{header.qualifier}', {facts}) carries only some "
                f"pupils and some of their details, {kept} Keep sending the full export from your MIS.")
    if ctf.kind == OUTGOING:
        return (f"{ctf.name}: a CTF for pupils leaving, addressed to {destination_text(header)} ({facts}), holds "
                f"only those pupils, {kept} Send it through School to School (S2S); keep sending the full "
                f"export from your MIS here.")
    return (f"{ctf.name}: a CTF from {_source_text(header)} addressed to this school ({facts}) is for importing "
            f"into your MIS, {kept} Once imported, those pupils reach us in your next full export.")


def _source_text(header: CtfHeader) -> str:
    source = header.source or ""
    return f"school {source}" if source.isdigit() else f"SourceSchool {header.source_lea}/{header.source_estab}"


def _classify(candidate: _Candidate, laestab: str) -> _Ctf:
    header = read_ctf_header(candidate.path, candidate.name)
    return _Ctf(candidate, header, ctf_kind(header, laestab))


def _refuse_by_year(rolls: list[_Ctf], night_year: int | None) -> tuple[list[_Ctf], dict[str, str]]:
    """(roll CTFs kept, refused file name -> the problem) by SourceSchool/AcademicYear (module docstring)."""
    latest = max((c for c in rolls if c.year is not None), key=lambda c: (c.year, c.created), default=None)
    kept: list[_Ctf] = []
    refused: dict[str, str] = {}
    for ctf in rolls:
        if ctf.year is not None and latest is not None and ctf.year < latest.year:
            refused[ctf.name] = (f"a full CTF for academic year {_years(ctf.year)}, but {latest.name} is for "
                                 f"{_years(latest.year)}: the earlier year's export is not used")
        elif ctf.year is not None and night_year is not None and ctf.year <= night_year - 2:
            refused[ctf.name] = (f"a full CTF for academic year {_years(ctf.year)}, two or more years before "
                                 f"tonight's academic year {_years(night_year)}: export it again from your MIS "
                                 f"for the current academic year")
        else:
            kept.append(ctf)
    return kept, refused


def _undated_warnings(ctfs: list[_Ctf], competing: bool) -> list[str]:
    if not competing:
        return []
    return [f"{c.name}: the CTF Header has no usable DateTime (when the file was made), so its file time "
            f"({_when(c.file.mtime)}) was used to decide which file is newest" for c in ctfs if not c.dated_by_header]


def read_school_folder(folder: Path, laestab: str, as_of: date | None = None, urn: str | None = None) -> RawExtract:
    """Read one school's landing folder into raw frames (see the module docstring for the rules).

    ``urn``: the school's URN from the registry, if it gives one, checked against a CSV's ``urn`` column
    (``laestab`` is checked against a CSV's ``laestab`` and ``school_key`` columns, and a CTF's SourceSchool).

    ``as_of``: the night being loaded, for the academic-year check against the night and a CTF's FSM flags
    (``ctf.read_ctf``). None (a reader
    outside a night: the simulator, the demo checks) compares the folder's CTFs with each other only."""
    folder = Path(folder)
    night_year = academic_year_start(as_of).year if as_of is not None else None
    candidates, csvs = _scan(folder)
    warnings: list[str] = []
    ctfs = sorted((_classify(c, laestab) for c in candidates), key=lambda c: c.name)

    misplaced = next((c for c in ctfs if c.kind == WRONG_FOLDER), None)
    if misplaced is not None:
        raise ExtractFileError(misplaced.name, "element /CTfile/Header/SourceSchool",
                               f"this CTF is from school {misplaced.header.source}, not this school's folder "
                               f"({laestab}), and is not addressed to it: move it to the right school's folder")
    set_aside = [_set_aside_note(c) for c in ctfs if c.kind in (PARTIAL, OUTGOING, INCOMING)]
    rolls, refused = _refuse_by_year([c for c in ctfs if c.kind == ROLL], night_year)
    for name, problem in refused.items():
        set_aside.append(f"{name}: {problem}; nothing was removed.")

    ctf = _newest_ctf(rolls)
    for other in sorted(rolls, key=lambda c: c.name):
        if other is not ctf:
            warnings.append(f"{other.name}: an older CTF than {ctf.name}; not used")
    if ctf is not None and night_year is not None and ctf.year == night_year - 1:
        warnings.append(f"{ctf.name}: a CTF for academic year {_years(ctf.year)}, the year before tonight's "
                        f"({_years(night_year)}); it was used, but your MIS may not have moved to the new "
                        f"academic year yet")
    csv_files: dict[str, _Candidate] = {}
    for table, table_candidates in csvs.items():
        newest = _newest(table_candidates)
        csv_files[table] = newest
        for other in sorted(c.name for c in table_candidates if c.name != newest.name):
            warnings.append(f"{other}: another file named like {newest.name}; the newest, {newest.name}, is used")
    competing = len(rolls) > 1 or (ctf is not None and any(t in csv_files for t in CTF_TABLES))
    warnings.extend(_undated_warnings(rolls, competing))

    def ctf_wins(table: str) -> bool:
        if ctf is None:
            return False
        rival = csv_files.get(table)
        return rival is None or ctf.created > rival.mtime

    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    content: CtfContent | None = None
    if any(ctf_wins(t) for t in CTF_TABLES):
        content = read_ctf(ctf.file.path, laestab, ctf.name, as_of=as_of)
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
        frame, csv_warnings = read_extract_csv(candidate.path, table, laestab, urn)
        tables[table], sources[table] = frame, candidate.name
        warnings.extend(csv_warnings)

    if "pupils" not in tables:
        raise _no_pupils(folder, refused, len(set_aside) - len(refused))
    for table in TABLES:
        tables.setdefault(table, empty_raw(table))
    return RawExtract(tables={t: tables[t] for t in TABLES}, sources=sources, warnings=warnings,
                      set_aside=set_aside)


def _no_pupils(folder: Path, refused: dict[str, str], set_aside: int) -> ExtractFileError:
    """The error when nothing supplies pupils: the refused roll CTF if there was one, else the folder."""
    if refused:
        name, problem = sorted(refused.items())[0]
        return ExtractFileError(name, "element /CTfile/Header/SourceSchool/AcademicYear",
                                f"{problem}. Nothing else in the folder supplies pupils")
    problem = "no pupil data: expected a CTF (*.xml) or pupils.csv"
    if set_aside:
        problem += (f"; {set_aside} CTF" + (" was" if set_aside == 1 else "s were") + " set aside because "
                    "none is a full export of this school's roll: send the full export from your MIS")
    return ExtractFileError(folder.name, None, problem)
