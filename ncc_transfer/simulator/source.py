"""One synthetic school as every simulated vendor sees it: the records of its landing folder, read by the
files route (raw text, as the school supplied it), plus what changed since (for incremental extraction).

Every vendor profile renders a ``SourceSchool`` into its own wire shape, so each route can be compared
record for record with the files route. Tests (and people building connectors) change a school through
``change_mark``, ``change_pupil`` and ``delete_pupil``: each bumps ``revision`` and stamps the record with
the change time, which the vendors' changed-since endpoints, changelogs and deletion lists read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from ..files_route import read_school_folder

# Every record starts as last changed at this moment (before any night the tests run).
EPOCH = datetime(2020, 1, 1)


@lru_cache(maxsize=1 << 16)  # a school's pupils and codes are asked for once per mark
def stable_id(prefix: str, *parts: str, digits: int = 15) -> str:
    """A deterministic vendor id for a record (so ids survive a simulator restart)."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return prefix + str(int(digest[:15], 16) % 10**digits).zfill(digits)


def text(value: Any) -> str | None:
    """A raw cell as text, NaN/None as None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value


@dataclass
class SourcePupil:
    key: str  # the simulator's own stable id for the pupil (vendors derive theirs from it)
    mis_id: int  # the MIS's internal person number (1..n)
    row: dict[str, str | None]  # canonical raw columns, as supplied
    updated: datetime = EPOCH
    revision: int = 0

    @property
    def upn(self) -> str | None:
        return self.row.get("upn")

    @property
    def is_leaver(self) -> bool:
        return bool(self.row.get("leaving_date"))


@dataclass
class SourceMark:
    key: str
    pupil_key: str | None  # None: a mark whose UPN matches no pupil record
    upn: str | None
    date: str | None
    session: str | None
    code: str | None
    updated: datetime = EPOCH
    revision: int = 0


@dataclass
class SourceExclusion:
    key: str
    pupil_key: str | None
    row: dict[str, str | None]
    updated: datetime = EPOCH
    revision: int = 0


@dataclass
class Deletion:
    kind: str  # "pupil" | "mark" | "exclusion"
    key: str
    at: datetime
    revision: int
    mis_id: int | None = None


@dataclass
class SourceSchool:
    laestab: str
    pupils: list[SourcePupil] = field(default_factory=list)
    marks: list[SourceMark] = field(default_factory=list)
    exclusions: list[SourceExclusion] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    revision: int = 0  # bumped by every change; vendors cache renderings per revision
    clock: datetime = EPOCH  # the time of the last change

    # ------------------------------------------------------------------------------------- lookups
    def pupil(self, upn: str) -> SourcePupil:
        for pupil in self.pupils:
            if pupil.upn == upn:
                return pupil
        raise KeyError(upn)

    def pupil_by_key(self) -> dict[str, SourcePupil]:
        return {p.key: p for p in self.pupils}

    def codes(self) -> list[str]:
        return sorted({m.code for m in self.marks if m.code})

    # ------------------------------------------------------------------------------------- changes
    def _tick(self, at: datetime | None) -> tuple[datetime, int]:
        self.revision += 1
        self.clock = at or max(datetime.now().replace(microsecond=0), self.clock + timedelta(seconds=1))
        return self.clock, self.revision

    def change_mark(self, upn: str, day: str, session: str, code: str, at: datetime | None = None) -> SourceMark:
        """Amend a register mark (or add one)."""
        when, revision = self._tick(at)
        for mark in self.marks:
            if mark.upn == upn and mark.date == day and mark.session == session:
                mark.code, mark.updated, mark.revision = code, when, revision
                return mark
        pupil = self.pupil(upn)
        mark = SourceMark(f"m{len(self.marks)}:{upn}:{day}:{session}", pupil.key, upn, day, session, code,
                          when, revision)
        self.marks.append(mark)
        return mark

    def change_pupil(self, upn: str, at: datetime | None = None, **values: str | None) -> SourcePupil:
        when, revision = self._tick(at)
        pupil = self.pupil(upn)
        pupil.row.update(values)
        pupil.updated, pupil.revision = when, revision
        return pupil

    def delete_pupil(self, upn: str, at: datetime | None = None) -> SourcePupil:
        """The MIS deletes the pupil record (e.g. entered in error), with its marks and exclusions."""
        when, revision = self._tick(at)
        pupil = self.pupil(upn)
        self.pupils.remove(pupil)
        self.deletions.append(Deletion("pupil", pupil.key, when, revision, pupil.mis_id))
        for mark in [m for m in self.marks if m.pupil_key == pupil.key]:
            self.marks.remove(mark)
            self.deletions.append(Deletion("mark", mark.key, when, revision))
        for exclusion in [e for e in self.exclusions if e.pupil_key == pupil.key]:
            self.exclusions.remove(exclusion)
            self.deletions.append(Deletion("exclusion", exclusion.key, when, revision))
        return pupil


def load_source(folder: Path, laestab: str) -> SourceSchool:
    """Read a landing folder with the files route and keep its records, as text, with stable keys."""
    raw = read_school_folder(Path(folder), laestab)
    school = SourceSchool(laestab=laestab)
    key_of_upn: dict[str, str] = {}
    for mis_id, row in enumerate(raw.tables["pupils"].to_dict("records"), start=1):
        values = {k: text(v) for k, v in row.items() if not k.startswith("_")}
        pupil = SourcePupil(f"p{mis_id}", mis_id, values)
        school.pupils.append(pupil)
        if pupil.upn is not None:
            key_of_upn.setdefault(pupil.upn, pupil.key)
    marks = raw.tables["attendance"]
    for n, (upn, day, session, code) in enumerate(marks[["upn", "date", "session", "code"]].itertuples(index=False)):
        upn, day, session, code = text(upn), text(day), text(session), text(code)
        school.marks.append(SourceMark(f"m{n}", key_of_upn.get(upn) if upn else None,
                                       upn, day, session, code))
    for n, row in enumerate(raw.tables["exclusions"].to_dict("records"), start=1):
        values = {k: text(v) for k, v in row.items() if not k.startswith("_")}
        upn = values.get("upn")
        school.exclusions.append(SourceExclusion(f"e{n}",
                                                 key_of_upn.get(upn) if upn else None, values))
    return school
