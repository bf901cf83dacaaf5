"""Reading one school's extract: through its route (a files-route school's uploads waited for, briefly),
or from the encrypted raw archive of an earlier night (a replay); and archiving tonight's extract.

Nothing here logs or raises with pupil data: messages name files, lines and columns only."""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import date
from pathlib import Path

from .canonical import RAW_COLUMNS, TABLES
from .config import secret, setting
from .extract import ExtractFileError, RawExtract, RouteNotAvailable
from .files_route import read_school_folder
from .outcome import SchoolOutcome
from .registry import School
from .warehouse import is_disk_full

IN_PROGRESS_SUFFIXES = (".part", ".partial", ".filepart", ".crdownload", ".uploading")


def extract_raw(school: School, home: Path, replay: date | None = None, as_of: date | None = None,
                full_refresh: bool = False) -> RawExtract:
    """Fetch the school's raw extract through its route, or (``replay``) from that night's archive.

    ``as_of`` bounds what an MIS connector fetches (attendance up to that date; default today);
    ``full_refresh`` makes a vendor route that can list changes fetch everything tonight."""
    if replay is not None:
        return _replay(school, home, replay)
    if school.mis == "files":
        folder = school.landing_folder(home)
        _wait_for_uploads(folder)
        return read_school_folder(folder, school.laestab, as_of=as_of, urn=school.urn)
    from .connectors.incremental import StateStore
    from .connectors.routes import connector_for

    try:
        connector = connector_for(school.mis)
    except (KeyError, ModuleNotFoundError):
        raise RouteNotAvailable(f"no connector for the {school.mis!r} route in this version") from None
    state = StateStore(home / "state", force_full=full_refresh)
    raw = connector.fetch(school, as_of=as_of or date.today(), state=state)
    raw.fetch = getattr(connector, "last_fetch", None) or {"kind": "full"}
    return raw


def part_wait_seconds() -> float:
    """NCC_PART_WAIT_SECONDS: how long a school's upload still being written is waited for (default 60)."""
    return float(setting("NCC_PART_WAIT_SECONDS"))


def _in_progress(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*") if p.name.lower().endswith(IN_PROGRESS_SUFFIXES))


def _wait_for_uploads(folder: Path) -> None:
    """An upload still being written (``pupils.csv.part``) is a temporary fault, but a bounded one:
    it is waited for once, briefly (``part_wait_seconds``), then only this school fails tonight, with
    a message saying so, and is not retried (it must not hold the whole night in step retries)."""
    if not _in_progress(folder):
        return
    wait = part_wait_seconds()
    time.sleep(wait)
    left = _in_progress(folder)
    if left:
        raise ExtractFileError(left[0], None, f"still being written after a {wait:g} s wait (an upload that has "
                                              f"not finished, or was left behind by one that failed); the school's "
                                              f"files were not read tonight")


def _replay(school: School, home: Path, night: date) -> RawExtract:
    """The school's extract as archived on ``night``, read exactly as it was read then."""
    from .archive import ArchiveError, restore

    with tempfile.TemporaryDirectory(prefix="ncc-replay-") as scratch:
        try:
            restore(home, school.laestab, school.key, night, Path(scratch))
        except ArchiveError as exc:
            raise ReplayNotPossible(str(exc)) from None
        return read_school_folder(Path(scratch), school.laestab, as_of=night, urn=school.urn)


class ReplayNotPossible(Exception):
    """The archive has no readable extract for that school and night."""


def archive_extract(school: School, home: Path, night: date, raw: RawExtract, outcome: SchoolOutcome,
                    logs: list[tuple[int, str]]) -> None:
    """Keep tonight's raw extract, encrypted, for replay (off when NCC_ARCHIVE_KEY is unset).

    The files route keeps the files the extract was read from, as the school sent them (not the other
    files in the folder: ``archive.files_to_archive``); a vendor route keeps the extract it mapped
    from the vendor's answers as the files route's three CSVs, so a replay reads it the same way."""
    if not secret("NCC_ARCHIVE_KEY"):
        return
    from .archive import ArchiveError, archive_files, archive_payloads, files_to_archive

    if school.mis != "files":
        try:
            outcome.archived = archive_payloads(home, school.key, school.laestab, night, _csv_payloads(raw),
                                                route=school.mis) is not None
        except (ArchiveError, OSError) as exc:
            logs.append((logging.ERROR, f"{school.key}: raw archive failed ({_why(exc)}); the load goes on"))
        return

    from .files_route.safe_xml import max_file_bytes

    # Only the files tonight's extract was read from, within the size limit (never a refused or unused one).
    files, too_big = files_to_archive(school.landing_folder(home), list(raw.sources.values()), max_file_bytes())
    for name in too_big:  # grew past the limit after it was read: not archived
        logs.append((logging.WARNING, f"{school.key}: {name} is over the size limit (NCC_MAX_FILE_MB); not archived"))
    try:
        outcome.archived = archive_files(home, school.key, school.laestab, night, files, route=school.mis) is not None
    except (ArchiveError, OSError) as exc:
        logs.append((logging.ERROR, f"{school.key}: raw archive failed ({_why(exc)}); the load goes on"))


def _why(exc: Exception) -> str:
    """The exception's type, or 'disk full: <the file it names>' (never its contents)."""
    return f"disk full: {getattr(exc, 'filename', None) or 'under NCC_HOME'}" if is_disk_full(exc) \
        else type(exc).__name__


def _csv_payloads(raw: RawExtract) -> dict[str, bytes]:
    """A vendor route's raw tables as the files route's CSV extracts (text as mapped, empty = missing)."""
    payloads = {}
    for table in TABLES:
        frame = raw.tables[table][RAW_COLUMNS[table]]
        payloads[f"{table}.csv"] = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return payloads
