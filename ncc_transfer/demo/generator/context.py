"""The generator's shared state: one school's calendar days (``_Days``), its plan (``SchoolPlan``), the
LA-wide context (``_Ctx``: scenarios, ground truth, errors, statistics) and the working state while
one school is generated (``_School``: roster and session-mark matrix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ..calendar import LACalendar
from .params import AM_CODE, FORMAT_CYCLE, PM_CODE
from .upns import _UpnAllocator


@dataclass
class _Days:
    """The calendar days of one school from the LA term start to the last day with marks."""

    start: date
    n_days: int
    school: np.ndarray  # bool per calendar day: pupils expected
    term_wd: np.ndarray  # bool per calendar day: weekday in term (CSV rows; INSET/bank holiday '#')
    weekday: np.ndarray
    sd: np.ndarray  # calendar-day index of each school day

    @property
    def n_sd(self) -> int:
        return int(self.sd.shape[0])

    def day_date(self, d: int) -> date:
        return self.start + timedelta(days=int(d))

    def sd_date(self, j: int) -> date:
        return self.day_date(self.sd[j])

    def day_of(self, when: date) -> int:
        return (when - self.start).days

    def sd_index_on_or_after(self, when: date) -> int:
        return int(np.searchsorted(self.sd, self.day_of(when)))


@dataclass
class SchoolPlan:
    index: int
    laestab: str
    estab: int
    urn: str
    name: str
    town: str
    district: str
    phase: str  # primary | secondary | all-through | special
    fmt: str  # ctf25 | ctf23 | csv
    ctf_version: int | None
    supplier: str | None
    address_style: str  # bs7666 | lines
    active: bool
    size: int
    years: tuple[int, ...]
    inset: tuple[date, ...]
    contact: str
    reception_staggered: bool
    days: _Days = None  # type: ignore[assignment]
    tasks: list[str] = field(default_factory=list)
    shared: list[dict] = field(default_factory=list)
    error_kinds: list[str] = field(default_factory=list)
    mis: str = "files"  # the route the registry puts the school on (its data is always its landing folder)
    pupils: int = 0
    stats: dict = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return f"landing/{self.laestab}"

    def summary(self) -> dict:
        return {
            "laestab": self.laestab,
            "urn": self.urn,
            "name": self.name,
            "phase": self.phase,
            "nc_years": [_nc_text(y) for y in self.years],
            "format": self.fmt,
            "mis": self.mis,
            "ctf_version": self.ctf_version,
            "supplier": self.supplier,
            "address_style": self.address_style if self.fmt != "csv" else None,
            "active": self.active,
            "pupils": self.pupils,
            "path": self.folder,
            "inset_days": [d.isoformat() for d in self.inset],
            "first_school_day": self.days.sd_date(0).isoformat() if self.days.n_sd else None,
            "has_errors": bool(self.error_kinds),
        }


@dataclass
class _Ctx:
    seed: int
    as_of: date
    cal: LACalendar
    last_day: date
    code_set: str
    home: Path
    extract_time: datetime
    scale: float = 1.0
    formats: tuple[str, ...] = FORMAT_CYCLE  # the active schools' formats, in turn (ctf25 | ctf23 | csv)
    plans: list[SchoolPlan] = field(default_factory=list)
    upns: "_UpnAllocator" = None  # type: ignore[assignment]
    scenarios: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    enrolments: list[dict] = field(default_factory=list)  # leavers and shared pupils (CME ground truth)

    def __post_init__(self) -> None:
        self.upns = _UpnAllocator()
        for key in ("ten_day_absence", "sickness_15_days", "gno_20_days", "exclusion_periods_over_5_days", "rates"):
            self.expected[key] = []

    def add(self, scenario: str, laestab: str, upn: str) -> None:
        self.scenarios.setdefault(scenario, []).append((laestab, upn))

    def stats_summary(self) -> dict:
        out: dict = {"schools": {}, "by_phase_group": {}, "totals": {}}
        totals: dict[str, int] = {}
        for plan in self.plans:
            out["schools"][plan.laestab] = plan.stats
            if not plan.active:
                continue
            for key, value in plan.stats.items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
            for group, g in plan.stats.get("by_phase_group", {}).items():
                agg = out["by_phase_group"].setdefault(group, {})
                for key, value in g.items():
                    agg[key] = agg.get(key, 0) + value
        for agg in [totals, *out["by_phase_group"].values()]:
            _add_rates(agg)
        out["totals"] = totals
        out["note"] = (
            "Counts over every enrolment and every mark as written to the active schools' files "
            "(all ages and enrolment statuses; injected errors included; unknown codes and '-' count as no mark). "
            "absence_rate = (authorised + unauthorised) / possible; persistent >= 10%, severe >= 50% per enrolment "
            "with at least one possible session."
        )
        return out


def _add_rates(agg: dict) -> None:
    possible = agg.get("possible_sessions", 0)
    absent = agg.get("authorised_sessions", 0) + agg.get("unauthorised_sessions", 0)
    agg["absence_rate"] = round(absent / possible, 4) if possible else None
    counted = agg.get("enrolments_with_possible", 0)
    agg["persistent_absence_rate"] = round(agg.get("persistent_absentees", 0) / counted, 4) if counted else None
    agg["severe_absence_rate"] = round(agg.get("severe_absentees", 0) / counted, 4) if counted else None


def _nc_text(year: int) -> str:
    return "R" if year == 0 else str(year)


@dataclass
class _School:
    """Working state while one school is generated."""

    ctx: _Ctx
    plan: SchoolPlan
    rng: np.random.Generator
    roster: pd.DataFrame
    W: np.ndarray  # (pupils, school days, 2) code indices
    w_start: np.ndarray  # first calendar-day index on roll
    w_end: np.ndarray  # last calendar-day index on roll
    used: np.ndarray  # bool per pupil: reserved by a scenario, exclusion or error
    protected: list[tuple[int, int, int]] = field(default_factory=list)  # (row, first sd, last sd)
    exclusions: list[dict] = field(default_factory=list)
    ghost_rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def days(self) -> _Days:
        return self.plan.days

    @property
    def n_sd(self) -> int:
        return self.plan.days.n_sd

    def upn(self, row: int) -> str:
        return str(self.roster.at[row, "upn"])

    def first_sd(self) -> np.ndarray:
        return np.searchsorted(self.days.sd, self.w_start)

    def last_sd(self) -> np.ndarray:
        return np.searchsorted(self.days.sd, self.w_end, side="right") - 1

    def inwin(self) -> np.ndarray:
        j = np.arange(self.n_sd)[None, :]
        return (j >= self.first_sd()[:, None]) & (j <= self.last_sd()[:, None])

    def pool(self, years: tuple[int, ...] = tuple(range(1, 12)), plain: bool = True) -> np.ndarray:
        r = self.roster
        mask = ~self.used & r["nc"].isin(years).to_numpy() & (r["shared"] == "").to_numpy()
        if plain:
            mask &= (r["entry"].to_numpy(dtype="datetime64[D]") <= np.datetime64(self.days.start, "D"))
            mask &= r["leaving"].isna().to_numpy()
            mask &= (r["enrol_status"] == "C").to_numpy()
        return np.flatnonzero(mask)

    def take(self, years: tuple[int, ...] = tuple(range(1, 12)), plain: bool = True) -> int | None:
        pool = self.pool(years, plain)
        if pool.shape[0] == 0:
            return None
        row = int(pool[int(self.rng.integers(0, pool.shape[0]))])
        self.used[row] = True
        return row

    def set_days(self, row: int, first: int, last: int, am: int, pm: int | None = None) -> None:
        self.W[row, first : last + 1, 0] = am
        self.W[row, first : last + 1, 1] = am if pm is None else pm

    def present(self, row: int, j: int) -> None:
        if 0 <= j < self.n_sd:
            self.W[row, j] = (AM_CODE, PM_CODE)

    def cover(self, j: int, pm: bool, sessions: int) -> list[tuple[int, int]]:
        f = 2 * j + int(pm)
        return [(k // 2, k % 2) for k in range(f, min(f + sessions, 2 * self.n_sd))]
