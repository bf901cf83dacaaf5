"""The files' part of a purge, under ``$NCC_HOME``: raw archive nights, vendor extract state, reports and
targeting packs.

Symbolic links are never followed: a folder or file that is a link is neither counted nor deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from .items import NO_SCHOOL, PartlyDeleted, PurgeItem
from .schedule import Cutoffs, RetentionConfig

_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A night being written or replaced (``archive``): ``.<YYYY-MM-DD>.new-<random>`` / ``.old-<random>``;
# one left behind by a crash holds the same raw data as the night, so it goes with it.
_ARCHIVE_LEFTOVER = re.compile(r"^\.(\d{4}-\d{2}-\d{2})\.(?:new|old)-[A-Za-z0-9_]+$")
_LATEST_NAME = re.compile(r"^latest\.(?:html|csv|png)$")


def archive_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Nights of the raw archive, ``archive/<partition key>/<YYYY-MM-DD>/``, dated before the cut-off
    (with any half-written or replaced copy of such a night left by a crash)."""
    by_school: Counter[str] = Counter()
    paths: list[Path] = []
    for school in _real_dirs(home / "archive"):
        for night in _real_dirs(Path(school.path)):
            leftover = _ARCHIVE_LEFTOVER.match(night.name)
            day = _date_name(leftover.group(1) if leftover else night.name)
            if day is not None and day < cut.archive:
                paths.append(Path(night.path))
                by_school[school.name] += 1
    return PurgeItem("archive", "nights", "folders", {"raw_archive_days": config.raw_archive_days},
                     f"nights before {cut.archive.isoformat()}", dict(by_school), targets=paths)


def state_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Vendor routes' extract state (``state/<partition>/``, the mirror incremental extraction keeps)
    not brought up to date since the cut-off: the school left its route or stopped being extracted."""
    paths: list[Path] = []
    for folder in _real_dirs(home / "state"):
        meta = Path(folder.path) / "meta.json"
        try:
            as_of = date.fromisoformat(json.loads(meta.read_text())["as_of"])
        except (OSError, ValueError, KeyError, TypeError):
            as_of = date.fromtimestamp(Path(folder.path).stat().st_mtime)  # unreadable: by its age
        if as_of < cut.state:
            paths.append(Path(folder.path))
    return PurgeItem("state", "extract state", "folders", {"extract_state_days": config.extract_state_days},
                     f"not refreshed since {cut.state.isoformat()}", {p.name: 1 for p in paths}, targets=paths)


def reports_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Dated reports by the date in their name; ``latest.*`` by when it was last written."""
    by_school: Counter[str] = Counter()
    paths: list[Path] = []
    for folder in _real_dirs(home / "reports"):
        with os.scandir(folder.path) as entries:
            for entry in entries:
                day = _report_date(folder.name, entry.name) or _latest_date(entry)
                if day is not None and day < cut.reports and entry.is_file(follow_symlinks=False):
                    paths.append(Path(entry.path))
                    by_school[_report_school(Path(entry.path))] += 1
    return PurgeItem("reports", "files", "files", {"reports_days": config.reports_days},
                     f"reports dated before {cut.reports.isoformat()} (latest.*: last written before it)",
                     dict(by_school), targets=sorted(paths))


def packs_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Targeting packs (``packs/<laestab or la>/<academic year>-<term>/``, docs/targeting_pack.md) by when
    they were last written: a term's folder whose newest file is older than the reports' cut-off goes
    whole. They hold the same kind of pupil data as the reports and can be made again."""
    by_school: Counter[str] = Counter()
    paths: list[Path] = []
    for folder in _real_dirs(home / "packs"):
        for term in _real_dirs(Path(folder.path)):
            with os.scandir(term.path) as entries:
                written = [e.stat(follow_symlinks=False).st_mtime for e in entries if e.is_file(follow_symlinks=False)]
            last = date.fromtimestamp(max(written)) if written else date.fromtimestamp(
                Path(term.path).stat(follow_symlinks=False).st_mtime)
            if last < cut.reports:
                paths.append(Path(term.path))
                by_school[NO_SCHOOL if folder.name == "la" else folder.name] += 1
    return PurgeItem("packs", "folders", "folders", {"reports_days": config.reports_days},
                     f"targeting packs last written before {cut.reports.isoformat()}", dict(by_school),
                     targets=sorted(paths))


def delete_paths(item: PurgeItem) -> PurgeItem:
    """Delete an archive, state or reports item; returns it with the counts actually deleted."""
    if item.store == "archive":
        return _remove_paths(item, folder=True, school=lambda p: p.parent.name)
    if item.store == "state":
        return _remove_paths(item, folder=True, school=lambda p: p.name)
    if item.store == "reports":
        return _remove_paths(item, folder=False, school=_report_school)
    if item.store == "packs":
        return _remove_paths(item, folder=True, school=lambda p: NO_SCHOOL if p.parent.name == "la" else p.parent.name)
    raise ValueError(f"not a store of files: {item.store!r}")


def _remove_paths(item: PurgeItem, *, folder: bool, school: Callable[[Path], str]) -> PurgeItem:
    """Delete the planned folders (a whole night) or files, re-checking each is still what was planned."""
    by_school: Counter[str] = Counter()
    try:
        for path in item.targets:
            if path.is_symlink():
                continue
            if folder and path.is_dir():
                shutil.rmtree(path)  # removes links inside without following them
            elif not folder and path.is_file():
                path.unlink()
            else:
                continue
            by_school[school(path)] += 1
    except OSError as exc:
        raise PartlyDeleted(replace(item, by_school=dict(by_school))) from exc
    return replace(item, by_school=dict(by_school))


def _real_dirs(folder: Path) -> list[os.DirEntry]:
    """Sub-folders of ``folder`` that are real folders (symlinks are never followed)."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)


def _date_name(text: str) -> date | None:
    if not _DATE_NAME.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _report_school(path: Path) -> str:
    """Whose report a file in ``reports/<folder>/`` is: the folder's school, or NO_SCHOOL for ``la``."""
    return NO_SCHOOL if path.parent.name == "la" else path.parent.name


def _report_date(folder: str, name: str) -> date | None:
    """The date of a dated report file in ``reports/<folder>/`` (None: not one, e.g. ``latest.html``)."""
    if folder == "la":
        match = re.fullmatch(r"la_overview_(\d{4}-\d{2}-\d{2})\.(?:html|png)", name)
    else:
        match = re.fullmatch(re.escape(folder) + r"_validation_(\d{4}-\d{2}-\d{2})\.(?:html|csv)", name)
    return _date_name(match.group(1)) if match else None


def _latest_date(entry: os.DirEntry) -> date | None:
    """The day a ``latest.*`` report was last written (None: not one). It is rewritten with each night's
    report, so one not written since the cut-off belongs to a school that is no longer loaded."""
    if not _LATEST_NAME.match(entry.name):
        return None
    return date.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime)
