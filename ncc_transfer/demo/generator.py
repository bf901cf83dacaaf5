"""Synthetic local authority for the demo, tests and benchmarks (formats: README, "Adding a school", and
docs/files_route.md; columns: ``ncc_transfer.canonical``).

``build_demo_la(home)`` writes a registry (``schools.yaml``), one landing folder per school holding a
files-route extract (CTF 25 with comma-separated marks, CTF 23 with one character per session, or the
three CSVs; every school also has ``exclusions.csv``), and ``demo_manifest.json`` describing what was
generated: the schools, the statutory scenarios planted for the views (ten-day runs, sickness, the
20-day G/N/O rule, pupils moving, CME candidates, exclusions), the ground truth the generator computes
from its own marks, and every deliberately injected data error.

Everything is deterministic in ``(seed, schools, as_of, pupils_scale)``. Marks are generated with
vectorised numpy per school (a Markov chain of absence spells walked day by day over all pupils at
once); memory is bounded by the largest school, so county scale (hundreds of schools) works too.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ncc_transfer.reference.upn import CHECK_ALPHABET, check_letter

from . import codes as K
from . import names as N
from .calendar import LACalendar, academic_year_for, la_calendar
from .writers import write_csv_extract, write_ctf, write_exclusions, write_manifest, write_registry

LA_CODE = "926"
LA_NAME = "Norfolk (demo)"
OTHER_LAS = (935, 873, 874, 882, 881, 202, 330, 886)  # Suffolk, Cambs, Peterborough, ... (UPNs issued elsewhere)

# Absence model per phase group: per-pupil propensity r = median * exp(sigma * z), plus a small
# group of severe absentees; `unauth` is the base share of absence spells that are unauthorised.
# Calibrated so that overall absence is ~5.5% primary, ~8.5% secondary, ~12% special and persistent
# absence ~13% / ~24% / ~32% (Norfolk 2024/25, DfE "Pupil attendance in schools"
# year to date, as in GitHub dfe-analytical-services/hackathon-2025-persistent-absence-explorer,
# data/attendance_data_dashboard/EES_ytd_data.csv).
PHASE_PARAMS = {
    "primary": {"median": 0.03, "sigma": 0.95, "severe": 0.006, "unauth": 0.13},
    "secondary": {"median": 0.042, "sigma": 1.05, "severe": 0.015, "unauth": 0.17},
    "special": {"median": 0.062, "sigma": 0.9, "severe": 0.015, "unauth": 0.13},
}
# Whole-day spell codes, their mean spell lengths (school days) and mixture weights.
SPELL_CODES = np.array([K.IDX[c] for c in ("I", "C", "M", "R", "O", "G")], dtype=np.uint8)
SPELL_LEN = np.array([1.8, 1.3, 1.0, 1.0, 1.6, 4.0])
AUTH_MIX = np.array([0.9, 0.05, 0.03, 0.02])
UNAUTH_MIX = np.array([0.75, 0.25])
WEEKDAY_FACTOR = np.array([1.1, 0.95, 0.88, 0.95, 1.15, 1.0, 1.0])

AM_CODE, PM_CODE = K.IDX["/"], K.IDX["\\"]
I_, O_, G_, N_, E_, KK, D_, X_ = (K.IDX[c] for c in ("I", "O", "G", "N", "E", "K", "D", "X"))


# --------------------------------------------------------------------------------------------- API
@dataclass
class DemoLA:
    """What `build_demo_la` wrote (the same content is in ``home/demo_manifest.json``)."""

    home: Path
    registry_path: Path
    manifest_path: Path
    as_of: date
    academic_year_start: date
    first_school_day: date
    last_mark_date: date
    schools: list[dict]
    injected_errors: list[dict]
    scenarios: dict[str, list[tuple[str, str]]]
    expected: dict
    stats: dict
    elapsed_seconds: float = 0.0

    @property
    def active_schools(self) -> list[dict]:
        return [s for s in self.schools if s["active"]]

    def error_upns(self) -> set[str]:
        return {e["upn"] for e in self.injected_errors if e["upn"]}


def build_demo_la(
    home: Path,
    *,
    seed: int = 2026,
    schools: int = 12,
    as_of: date | None = None,
    pupils_scale: float = 1.0,
    simulator_url: str | None = None,
) -> DemoLA:
    """Write a synthetic LA of `schools` active schools (plus one inactive) under `home`.

    With ``simulator_url`` (the built-in simulator's address), one active school per vendor route is
    registered on that route (served by the simulator from its landing folder); the rest use files."""
    started = time.perf_counter()
    home = Path(home)
    as_of = as_of or date.today()
    if schools < 1:
        raise ValueError("schools must be at least 1")
    cal, last_day = academic_year_for(as_of)
    ctx = _Ctx(
        seed=seed,
        as_of=as_of,
        cal=cal,
        last_day=last_day,
        code_set="2024" if cal.year >= 2024 else "2006",
        home=home,
        extract_time=datetime.combine(as_of - timedelta(days=1), datetime.min.time()).replace(hour=18),
        scale=pupils_scale,
    )
    plan_rng = np.random.default_rng([seed, 0])
    plans = _plan_schools(ctx, plan_rng, schools, pupils_scale)
    ctx.plans = plans
    _plan_scenarios(ctx, plan_rng)
    _plan_errors(ctx)

    (home / "landing").mkdir(parents=True, exist_ok=True)
    for plan in plans:
        _build_school(ctx, plan)

    _finish_ground_truth(ctx)
    routes: dict[str, tuple[str, dict]] = {}
    if simulator_url:
        from .routes import assign_routes, demo_settings, vendor_routes, write_secrets

        demo_secrets: dict[str, str] = {}
        for laestab, route in assign_routes([p.laestab for p in plans if p.active], vendor_routes()).items():
            settings, values = demo_settings(route, laestab, simulator_url)
            routes[laestab] = (route, settings)
            demo_secrets.update(values)
        write_secrets(home, demo_secrets)
    for plan in plans:
        plan.mis = routes.get(plan.laestab, ("files", {}))[0]
    registry_path = write_registry(home, plans, ctx, routes)
    demo = DemoLA(
        home=home,
        registry_path=registry_path,
        manifest_path=home / "demo_manifest.json",
        as_of=as_of,
        academic_year_start=cal.academic_year_start,
        first_school_day=min((p.days.sd_date(0) for p in plans if p.days.n_sd), default=cal.term_start),
        last_mark_date=last_day,
        schools=[p.summary() for p in plans],
        injected_errors=sorted(ctx.errors, key=lambda e: (e["laestab"], e["dataset"], e["kind"], e["upn"] or "")),
        scenarios={k: sorted(set(v)) for k, v in sorted(ctx.scenarios.items())},
        expected=ctx.expected,
        stats=ctx.stats_summary(),
    )
    write_manifest(demo, ctx)
    demo.elapsed_seconds = time.perf_counter() - started
    return demo


# ------------------------------------------------------------------------------------ structures
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


class _UpnAllocator:
    """Hands out unique, valid UPNs: serials counted per (LA, issuing estab, year of issue)."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}

    def allocate(self, la: np.ndarray, estab: np.ndarray, yy: np.ndarray) -> np.ndarray:
        la, estab, yy = (np.asarray(a, dtype=np.int64) for a in (la, estab, yy))
        n = la.shape[0]
        serial = np.zeros(n, dtype=np.int64)
        key = la * 1_000_000 + estab * 100 + yy
        order = np.argsort(key, kind="stable")
        uniq, first, counts = np.unique(key[order], return_index=True, return_counts=True)
        for u, s, c in zip(uniq.tolist(), first.tolist(), counts.tolist()):
            base = self.next.get(u, 1)
            if base + c > 1000:  # a full year of serials: move on to the next issue year (rare)
                raise RuntimeError("UPN serials exhausted for one issuer and year")
            serial[order[s : s + c]] = base + np.arange(c)
            self.next[u] = base + c
        return upn_strings(la, estab, yy, serial)

    def temporary(self, la: int, estab: int, yy: int, rng: np.random.Generator) -> str:
        key = -(la * 1_000_000 + estab * 100 + yy)
        serial = self.next.get(key, 1)
        self.next[key] = serial + 1
        body = f"{la:03d}{estab:04d}{yy % 100:02d}{serial % 100:02d}{CHECK_ALPHABET[int(rng.integers(0, 23))]}"
        return check_letter(body) + body


def upn_strings(la: np.ndarray, estab: np.ndarray, yy: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Vectorised `make_upn` (same check letter; verified against it in the tests)."""
    body = (
        np.asarray(la, dtype=np.int64) * 10**9
        + np.asarray(estab, dtype=np.int64) * 10**5
        + (np.asarray(yy, dtype=np.int64) % 100) * 10**3
        + np.asarray(serial, dtype=np.int64)
    )
    digits = (body[:, None] // (10 ** np.arange(11, -1, -1, dtype=np.int64))) % 10
    total = (digits * np.arange(2, 14)).sum(axis=1) % 23
    letters = np.array(list(CHECK_ALPHABET))[total]
    return np.char.add(letters, np.char.zfill(body.astype(str), 12)).astype(object)


# ------------------------------------------------------------------------------------- planning
def _school_days(ctx: _Ctx, inset: tuple[date, ...]) -> _Days:
    start, end = ctx.cal.term_start, ctx.last_day
    n_days = (end - start).days + 1
    school = ctx.cal.school_days(start, end, inset)
    return _Days(
        start=start,
        n_days=n_days,
        school=school,
        term_wd=ctx.cal.term_weekdays(start, end),
        weekday=(start.weekday() + np.arange(n_days)) % 7,
        sd=np.flatnonzero(school),
    )


def _phase_counts(n: int) -> dict[str, int]:
    special = (round(0.04 * n) if n >= 50 else 1) if n >= 5 else 0
    all_through = (round(0.01 * n) if n >= 100 else 1) if n >= 8 else 0
    secondary = max(round(0.14 * n), 2 if n >= 6 else (1 if n >= 2 else 0))
    primary = n - special - all_through - secondary
    return {"primary": primary, "secondary": secondary, "all-through": all_through, "special": special}


YEARS = {
    "primary": tuple(range(0, 7)),
    "secondary": tuple(range(7, 12)),
    "all-through": tuple(range(0, 12)),
    "special": tuple(range(0, 12)),
}
SIZE = {  # (mean, sd, low, high) at pupils_scale 1
    "primary": (200.0, 90.0, 60, 400),
    "secondary": (900.0, 170.0, 600, 1200),
    "all-through": (900.0, 130.0, 700, 1150),
    "special": (105.0, 30.0, 60, 180),
}
FORMAT_CYCLE = ("ctf25", "csv", "ctf25", "ctf23")


def _plan_schools(ctx: _Ctx, rng: np.random.Generator, n: int, scale: float) -> list[SchoolPlan]:
    counts = _phase_counts(n)
    phases = [p for p, c in counts.items() for _ in range(c)]
    phases = [phases[i] for i in rng.permutation(len(phases))] + ["primary"]  # + the inactive school
    total = len(phases)
    estab_pools = {
        "primary": rng.permutation(np.arange(2000, 3990)),
        "secondary": rng.permutation(np.arange(4000, 4800)),
        "all-through": rng.permutation(np.arange(4800, 4990)),
        "special": rng.permutation(np.arange(7000, 7190)),
    }
    urns = rng.choice(np.arange(120000, 150999), size=total, replace=False)
    towns = [N.TOWNS[i] for i in rng.permutation(len(N.TOWNS))]
    used_names: set[str] = set()
    used_contacts: set[str] = set()
    taken: dict[str, int] = {p: 0 for p in estab_pools}
    plans: list[SchoolPlan] = []
    for i, phase in enumerate(phases):
        active = i < n
        estab = int(estab_pools[phase][taken[phase]])
        taken[phase] += 1
        patterns = {
            "primary": N.PRIMARY_PATTERNS,
            "secondary": N.SECONDARY_PATTERNS,
            "all-through": N.ALL_THROUGH_PATTERNS,
            "special": N.SPECIAL_PATTERNS,
        }[phase]
        offset = int(rng.integers(0, len(patterns)))
        name = town = district = ""
        for attempt in range(len(towns) * len(patterns)):
            town, district = towns[(i + attempt // len(patterns)) % len(towns)]
            name = patterns[(offset + attempt) % len(patterns)].format(town=town)
            if name not in used_names:
                break
        else:  # pragma: no cover - only with thousands of schools
            name = f"{name} {i}"
        used_names.add(name)
        base = re.sub(r"[^a-z]", "", town.lower()) + {"primary": "primary", "secondary": "high",
                                                      "all-through": "academy", "special": "school"}[phase]
        slug, k = base, 1
        while slug in used_contacts:
            k += 1
            slug = f"{base}{k}"
        used_contacts.add(slug)
        mean, sd, low, high = SIZE[phase]
        if phase == "primary":
            size = float(np.clip(np.exp(rng.normal(np.log(mean), 0.5)), low, high))
        else:
            size = float(np.clip(rng.normal(mean, sd), low, high))
        if not active:
            size = 70.0
        size = max(12, int(round(size * scale)))
        fmt = FORMAT_CYCLE[i % len(FORMAT_CYCLE)] if active else "csv"
        if n == 1:
            fmt = "ctf25"
        ctf_version = None
        supplier = None
        if fmt == "ctf25":
            ctf_version = 25 if ctx.cal.year >= 2025 else (24 if ctx.cal.year == 2024 else 23)
            supplier = N.MODERN_SUPPLIERS[int(rng.integers(0, len(N.MODERN_SUPPLIERS)))]
        elif fmt == "ctf23":
            ctf_version = 23
            supplier = N.LEGACY_SUPPLIERS[int(rng.integers(0, len(N.LEGACY_SUPPLIERS)))]
        inset = ctx.cal.inset_days(int(rng.integers(1, 3)))
        plan = SchoolPlan(
            index=i,
            laestab=f"{LA_CODE}{estab:04d}",
            estab=estab,
            urn=f"{int(urns[i]):06d}",
            name=name,
            town=town,
            district=district,
            phase=phase,
            fmt=fmt,
            ctf_version=ctf_version,
            supplier=supplier,
            address_style="bs7666" if rng.random() < 0.5 else "lines",
            active=active,
            size=size,
            years=YEARS[phase],
            inset=inset,
            contact=f"data.manager@{slug}.norfolk.sch.uk",
            reception_staggered=phase in ("primary", "all-through") and bool(rng.random() < 0.5),
        )
        plan.days = _school_days(ctx, inset)
        plans.append(plan)
    return plans


class _Picker:
    """Spreads scenarios over schools: rotates through a pool, preferring some formats."""

    def __init__(self, plans: list[SchoolPlan]) -> None:
        self.active = [p for p in plans if p.active]
        self.turn: dict[str, int] = {}

    def pool(self, phases: tuple[str, ...]) -> list[SchoolPlan]:
        pool = [p for p in self.active if p.phase in phases]
        return pool or self.active

    def pick(self, phases: tuple[str, ...], prefer: tuple[str, ...] = (), avoid: tuple[str, ...] = ()) -> SchoolPlan:
        pool = self.pool(phases)
        key = ",".join(phases)
        start = self.turn.get(key, 0)
        ordered = pool[start % len(pool) :] + pool[: start % len(pool)]
        choice = next((p for p in ordered if p.fmt in prefer), None) if prefer else None
        if choice is None:
            choice = next((p for p in ordered if p.fmt not in avoid), ordered[0])
        self.turn[key] = pool.index(choice) + 1
        return choice


PRIM = ("primary", "all-through")
SEC = ("secondary", "all-through")


def _plan_scenarios(ctx: _Ctx, rng: np.random.Generator) -> None:
    picker = _Picker(ctx.plans)
    single = ("ctf23",)

    def task(name: str, phases: tuple[str, ...], prefer: tuple[str, ...] = (), avoid: tuple[str, ...] = ()) -> SchoolPlan:
        plan = picker.pick(phases, prefer, avoid)
        plan.tasks.append(name)
        return plan

    task("ten_day_ongoing", SEC, ("ctf25",))
    task("gno_20", SEC, ("csv",))
    task("ten_day_across_half_term", PRIM, ("ctf23",))
    task("ten_day_exact", PRIM, ("csv",))
    task("nine_day_near_miss", PRIM, ("ctf25",))
    task("sickness_15", PRIM, ("ctf25",))
    task("rate_exactly_10", PRIM)
    task("rate_just_below_10", PRIM)
    task("rate_exactly_50", SEC)
    task("part_time_timetable", SEC, avoid=single)
    task("la_provision", SEC, avoid=single)
    task("permanent_exclusion", SEC, ("ctf25",))
    task("back_to_back_suspensions", SEC)
    task("back_to_back_suspensions_pm", SEC)
    task("lunchtime_exclusion", PRIM)
    task("lunchtime_exclusion", SEC)
    task("cme_candidate", PRIM, ("csv",))
    task("cme_candidate", SEC, ("ctf23", "ctf25"))
    task("performance_leave", PRIM + SEC, avoid=single)
    task("interview_leave", SEC, avoid=single)
    task("mobile_child", PRIM)
    task("no_mark", PRIM)

    # Pupils on two rolls: movers (left one demo school, joined another) and a dual registration.
    la_days = ctx.cal.school_days(ctx.cal.term_start, ctx.last_day, ctx.cal.inset_days(2))
    la_sd = np.flatnonzero(la_days)
    prim = [p for p in picker.active if p.phase == "primary"]
    sec = [p for p in picker.active if p.phase in SEC]
    pairs: list[tuple[SchoolPlan, SchoolPlan, int]] = []
    for k in range(2):
        if len(prim) >= 2 * k + 2:
            pairs.append((prim[2 * k], prim[2 * k + 1], int(rng.integers(1, 7))))
        elif len(prim) >= 2:
            pairs.append((prim[-1], prim[0], int(rng.integers(1, 7))))
    if len(sec) >= 2:
        pairs.append((sec[0], sec[1], int(rng.integers(8, 10))))
    if la_sd.shape[0] >= 20 and pairs:
        for k, (a, b, year) in enumerate(pairs):
            j_leave = int(la_sd.shape[0] * (0.35 + 0.12 * k))
            leave = ctx.cal.term_start + timedelta(days=int(la_sd[j_leave]))
            j_join = min(j_leave + 4 + 2 * k, la_sd.shape[0] - 3)
            join = ctx.cal.term_start + timedelta(days=int(la_sd[j_join]))
            core = _shared_core(ctx, rng, a, year)
            a.shared.append({"core": core, "entry": None, "leaving": leave, "reason": "Transferred to another school",
                             "status": "C", "scenario": "moved_between_schools", "history": []})
            b.shared.append({"core": core, "entry": join, "leaving": None, "reason": None, "status": "C",
                             "scenario": "moved_between_schools",
                             "history": [{"lea": LA_CODE, "estab": f"{a.estab:04d}", "name": a.name, "leaving": leave}]})
            ctx.expected.setdefault("moved_between_schools", []).append(
                {"upn": core["upn"], "from_laestab": a.laestab, "left": leave.isoformat(), "to_laestab": b.laestab,
                 "joined": join.isoformat()}
            )
    else:
        ctx.skipped.append("moved_between_schools")
    special = [p for p in picker.active if p.phase == "special"]
    main = sec[0] if sec else (prim[0] if prim else None)
    sub = special[0] if special else next((p for p in picker.active if p is not main), None)
    if main is not None and sub is not None:
        years = sorted(set(main.years) & set(sub.years) & set(range(1, 12)))
        if years:
            core = _shared_core(ctx, rng, main, years[len(years) // 2])
            main.shared.append({"core": core, "entry": None, "leaving": None, "reason": None, "status": "M",
                                "scenario": "dual_registration", "dual_days": (1, 3), "history": []})
            sub.shared.append({"core": core, "entry": None, "leaving": None, "reason": None, "status": "S",
                               "scenario": "dual_registration", "dual_days": (0, 2, 4), "history": []})
    else:
        ctx.skipped.append("dual_registration")


def _shared_core(ctx: _Ctx, rng: np.random.Generator, plan: SchoolPlan, year: int) -> dict:
    demo = _demographics(ctx, rng, plan, np.array([year]))
    upn = ctx.upns.allocate(np.array([LA_CODE]).astype(int), np.array([int(rng.integers(2000, 3990))]),
                            np.array([ctx.cal.year - year]))[0]
    return {k: v[0] for k, v in demo.items()} | {"upn": upn, "nc_year": year}


ERROR_KINDS: list[tuple[str, str, str]] = [  # (kind, dataset, field)
    ("dob_not_a_date", "pupils", "dob"),
    ("dob_implausible_for_nc_year", "pupils", "dob"),
    ("dob_in_future", "pupils", "dob"),
    ("postcode_missing", "pupils", "postcode"),
    ("postcode_malformed", "pupils", "postcode"),
    ("name_whitespace", "pupils", "surname"),
    ("name_bad_character", "pupils", "surname"),
    ("upn_wrong_check_letter", "pupils", "upn"),
    ("upn_malformed", "pupils", "upn"),
    ("sex_invalid", "pupils", "sex"),
    ("sex_missing", "pupils", "sex"),
    ("enrol_status_unknown", "pupils", "enrol_status"),
    ("attendance_code_unknown", "attendance", "code"),
    ("marks_before_entry", "attendance", "date"),
    ("attendance_unknown_pupil", "attendance", "upn"),
    ("exclusion_category_unknown", "exclusions", "category"),
    ("suspension_no_sessions", "exclusions", "sessions"),
    ("exclusion_end_before_start", "exclusions", "end_date"),
]
CSV_ONLY_KINDS = {"attendance_unknown_pupil"}


def _plan_errors(ctx: _Ctx) -> None:
    """A few of each error kind, spread over three schools (one per format); the rest stay clean."""
    active = [p for p in ctx.plans if p.active]
    chosen: list[SchoolPlan] = []
    for fmt in ("ctf25", "ctf23", "csv"):
        candidates = [p for p in active if p.fmt == fmt]
        if candidates:
            chosen.append(candidates[min(1, len(candidates) - 1)])
    if not chosen:
        return
    csv_schools = [p for p in chosen if p.fmt == "csv"]
    for k, (kind, _, _) in enumerate(ERROR_KINDS):
        if kind in CSV_ONLY_KINDS:
            hosts = (csv_schools * 2)[:2]
        elif kind == "attendance_code_unknown":
            hosts = chosen
        else:
            hosts = [chosen[k % len(chosen)], chosen[(k + 1) % len(chosen)]]
        for host in hosts:
            host.error_kinds.append(kind)


# ------------------------------------------------------------------------------------- pupils
@lru_cache(maxsize=64)
def _term_start(year: int) -> date:
    return la_calendar(year).term_start


def _nc_text(year: int) -> str:
    return "R" if year == 0 else str(year)


def _demographics(ctx: _Ctx, rng: np.random.Generator, plan: SchoolPlan, nc: np.ndarray) -> dict[str, np.ndarray]:
    """Names, sex, DOB and address for pupils of NC years `nc` at `plan` (vectorised)."""
    n = nc.shape[0]
    year = ctx.cal.year
    female = rng.random(n) < 0.49
    fem, male = np.array(N.FEMALE_FORENAMES, dtype=object), np.array(N.MALE_FORENAMES, dtype=object)
    surnames = np.array(list(dict.fromkeys(N.SURNAMES)), dtype=object)
    forename = np.where(female, fem[rng.integers(0, len(fem), n)], male[rng.integers(0, len(male), n)])
    middle_a = np.where(female, fem[rng.integers(0, len(fem), n)], male[rng.integers(0, len(male), n)])
    middle_b = np.where(female, fem[rng.integers(0, len(fem), n)], male[rng.integers(0, len(male), n)])
    u = rng.random(n)
    middle = np.where(u < 0.55, middle_a, np.where(u < 0.62, middle_a + " " + middle_b, ""))
    middle = np.where(middle == forename, "", middle)
    surname = surnames[rng.integers(0, len(surnames), n)]
    preferred_forename = np.array(
        [N.PREFERRED_FORENAMES.get(f, "") if r < 0.5 else "" for f, r in zip(forename.tolist(), rng.random(n).tolist())],
        dtype=object,
    )
    preferred_surname = np.where(rng.random(n) < 0.03, surnames[rng.integers(0, len(surnames), n)], "")
    preferred_surname = np.where(preferred_surname == surname, "", preferred_surname)
    # DOB: NC year y means age y + 4 on 31 August at the start of the academic year.
    start = np.array([np.datetime64(f"{year - 5 - int(y):04d}-09-01") for y in range(12)])[nc]
    span = np.where((((year - 4 - nc) % 4) == 0), 366, 365)
    dob = start + np.floor(rng.random(n) * span).astype("timedelta64[D]")
    # Address: mostly the school's own town.
    town_idx = rng.integers(0, len(N.TOWNS), n)
    home_town = rng.random(n) < 0.75
    towns = np.array([t for t, _ in N.TOWNS], dtype=object)
    districts = np.array([d for _, d in N.TOWNS], dtype=object)
    town = np.where(home_town, plan.town, towns[town_idx])
    district = np.where(home_town, plan.district, districts[town_idx])
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
    inward = (
        rng.integers(0, 10, n).astype(str).astype(object)
        + letters[rng.integers(0, len(letters), n)]
        + letters[rng.integers(0, len(letters), n)]
    )
    postcode = district + " " + inward
    named = rng.random(n) < 0.1
    house_names = np.array(N.HOUSE_NAMES, dtype=object)
    paon = np.where(named, house_names[rng.integers(0, len(house_names), n)], rng.integers(1, 160, n).astype(str).astype(object))
    streets = np.array(N.STREETS, dtype=object)
    street = streets[rng.integers(0, len(streets), n)]
    line1 = np.where(named, paon + ", " + street, paon + " " + street)
    return {
        "surname": surname,
        "forename": forename,
        "middle_names": middle,
        "preferred_surname": preferred_surname,
        "preferred_forename": preferred_forename,
        "sex": np.where(female, "F", "M").astype(object),
        "dob": dob,
        "paon": paon,
        "street": street,
        "address_line1": line1,
        "town": town,
        "postcode": postcode,
    }


def _roster(ctx: _Ctx, plan: SchoolPlan, rng: np.random.Generator) -> pd.DataFrame:
    days = plan.days
    year = ctx.cal.year
    weights = np.ones(len(plan.years))
    if plan.phase in ("primary", "all-through", "special"):
        weights[0] = 0.85  # falling reception rolls
    weights *= rng.uniform(0.85, 1.15, len(plan.years))
    per_year = rng.multinomial(plan.size, weights / weights.sum())
    nc = np.repeat(np.array(plan.years), per_year)
    n = nc.shape[0]
    demo = _demographics(ctx, rng, plan, nc)

    # UPNs: primary-phase pupils mostly issued by this school in their reception year; secondary
    # pupils by a (fictional) feeder primary; some by other LAs.
    first_year = plan.years[0]
    own = (nc <= 6) & (plan.phase != "secondary") & (rng.random(n) < 0.85)
    other_la = rng.random(n) < 0.08
    la = np.where(other_la, np.array(OTHER_LAS)[rng.integers(0, len(OTHER_LAS), n)], int(LA_CODE))
    estab = np.where(own & ~other_la, plan.estab, rng.integers(2000, 3990, n))
    upn = ctx.upns.allocate(la, estab, year - nc)
    former = np.full(n, "", dtype=object)
    for i in np.flatnonzero(rng.random(n) < 0.015):
        former[i] = ctx.upns.temporary(int(la[i]), int(estab[i]), int(year - nc[i]), rng)

    # Entry dates: the September the pupil started here; 10% joined in-year in an earlier year.
    entry_year = year - np.maximum(nc - first_year, 0)
    entry = np.array([np.datetime64(_term_start(int(y))) for y in range(year - 12, year + 1)])[entry_year - (year - 12)]
    t64 = np.datetime64(days.start)
    late = (nc > first_year) & (rng.random(n) < 0.1)
    span = (t64 - 30 - entry).astype(int)
    shifted = entry + np.floor(rng.random(n) * np.maximum(span, 1)).astype("timedelta64[D]")
    wd = (shifted.astype(int) + 3) % 7
    shifted = shifted + np.where(wd >= 5, 7 - wd, 0).astype("timedelta64[D]")
    entry = np.where(late & (span > 10), shifted, entry)
    leaving = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    reason = np.full(n, "", dtype=object)
    if days.n_sd >= 12:
        joiner = rng.random(n) < (0.02 if plan.phase != "secondary" else 0.015)
        j = rng.integers(5, days.n_sd - 2, n)
        entry = np.where(joiner, np.datetime64(days.start) + days.sd[j].astype("timedelta64[D]"), entry)
        leaver = (rng.random(n) < 0.005) & ~joiner
        j = rng.integers(8, days.n_sd - 1, n)
        leaving = np.where(leaver, np.datetime64(days.start) + days.sd[j].astype("timedelta64[D]"), leaving)
        known = np.array(N.LEAVING_REASONS_KNOWN, dtype=object)
        reason = np.where(leaver, known[rng.integers(0, len(known), n)], "")

    frame = pd.DataFrame(
        {
            "upn": upn,
            "former_upn": former,
            **{k: demo[k] for k in ("surname", "forename", "middle_names", "preferred_surname", "preferred_forename")},
            "dob": demo["dob"],
            "sex": demo["sex"],
            "nc": nc,
            "enrol_status": "C",
            "entry": entry.astype("datetime64[D]"),
            "leaving": leaving,
            "leaving_reason": reason,
            **{k: demo[k] for k in ("paon", "street", "address_line1", "town", "postcode")},
            "shared": "",
        }
    )
    extra = []
    for s in plan.shared:
        core = s["core"]
        row = {k: core[k] for k in ("upn", "surname", "forename", "middle_names", "preferred_surname",
                                    "preferred_forename", "sex", "paon", "street", "address_line1", "town", "postcode")}
        row.update(
            former_upn="",
            dob=np.datetime64(core["dob"], "D"),
            nc=core["nc_year"],
            enrol_status=s["status"],
            entry=np.datetime64(s["entry"] or _term_start(year - max(core["nc_year"] - plan.years[0], 0)), "D"),
            leaving=np.datetime64(s["leaving"], "D") if s["leaving"] else np.datetime64("NaT", "D"),
            leaving_reason=s["reason"] or "",
            shared=s["scenario"],
        )
        extra.append(row)
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    frame["history"] = [[] for _ in range(n)] + [s["history"] for s in plan.shared]
    key = frame["surname"].str.casefold() + "\x00" + frame["forename"].str.casefold() + "\x00" + frame["upn"]
    frame = frame.iloc[np.argsort(key.to_numpy(dtype=str), kind="stable")].reset_index(drop=True)
    frame["group"] = np.where(plan.phase == "special", "special", np.where(frame["nc"] <= 6, "primary", "secondary"))
    return frame


# ------------------------------------------------------------------------------------- marks
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


def _build_school(ctx: _Ctx, plan: SchoolPlan) -> None:
    rng = np.random.default_rng([ctx.seed, 1000 + plan.index])
    roster = _roster(ctx, plan, rng)
    days = plan.days
    n = len(roster)
    t64 = np.datetime64(days.start)
    entries = roster["entry"].to_numpy(dtype="datetime64[D]")
    leavings = roster["leaving"].to_numpy(dtype="datetime64[D]")
    w_start = np.maximum((entries - t64).astype(np.int64), 0)
    w_end = np.where(np.isnat(leavings), days.n_days - 1, np.minimum((leavings - t64).astype(np.int64), days.n_days - 1))
    W = np.empty((n, days.n_sd, 2), dtype=np.uint8)
    W[:, :, 0] = AM_CODE
    W[:, :, 1] = PM_CODE
    s = _School(ctx, plan, rng, roster, W, w_start.astype(np.int64), w_end.astype(np.int64), np.zeros(n, dtype=bool))
    s.used[(roster["shared"] != "").to_numpy()] = True
    if days.n_sd:
        _absence(s)
        _events(s)
        _scenarios(s)
        _random_exclusions(s)
        _break_unintended_runs(s)
    s.W = code_lut(ctx, plan)[s.W]
    roster["dob_text"] = pd.to_datetime(roster["dob"]).dt.strftime("%Y-%m-%d").astype(object)
    _inject_errors(s)
    _ground_truth(s)
    _write(s)
    plan.pupils = n


def code_lut(ctx: _Ctx, plan: SchoolPlan) -> np.ndarray:
    lut = K.code_set_lut(ctx.code_set)
    if plan.fmt == "ctf23" or (plan.fmt == "ctf25" and (plan.ctf_version or 0) < 24):
        lut = K.single_char_lut()[lut]
    return lut


def _absence(s: _School) -> None:
    """Whole-day absence spells (a per-pupil Markov chain), then half-days and lateness."""
    rng, roster, days = s.rng, s.roster, s.days
    n, n_sd = s.W.shape[0], s.n_sd
    groups = roster["group"].to_numpy()
    median = np.array([PHASE_PARAMS[g]["median"] for g in groups])
    sigma = np.array([PHASE_PARAMS[g]["sigma"] for g in groups])
    severe = rng.random(n) < np.array([PHASE_PARAMS[g]["severe"] for g in groups])
    r = np.clip(median * np.exp(sigma * rng.standard_normal(n)), 0.0, 0.42)
    r = np.where(severe, rng.uniform(0.5, 0.85, n), r)
    u = np.array([PHASE_PARAMS[g]["unauth"] for g in groups]) + 0.15 * (r > 0.12) + 0.08 * rng.standard_normal(n)
    u = np.clip(u, 0.02, 0.85)
    mix = np.column_stack([(1 - u)[:, None] * AUTH_MIX[None, :], u[:, None] * UNAUTH_MIX[None, :]])
    need = r / ((1 - r) * 0.45)
    length = np.maximum(SPELL_LEN[None, :], need[:, None])
    start_p = r / ((1 - r) * (mix * length).sum(axis=1))
    exit_p = 1.0 / length
    weekday = days.weekday[days.sd]
    month = np.array([days.sd_date(j).month for j in range(n_sd)])
    season = np.where(np.isin(month, (12, 1, 2)), 1.15, np.where(month == 9, 0.8, 1.0))
    factor = WEEKDAY_FACTOR[weekday] * season
    cum = np.cumsum(mix, axis=1)
    U = rng.random((n, n_sd), dtype=np.float32)
    V = rng.random((n, n_sd), dtype=np.float32)
    state = np.zeros(n, dtype=np.int64)  # 0 present, k > 0 spell code k - 1
    out = np.zeros((n, n_sd), dtype=np.int64)
    rows = np.arange(n)
    for j in range(n_sd):
        absent = state > 0
        keep = absent & (U[:, j] >= exit_p[rows, np.maximum(state - 1, 0)])
        start = ~absent & (U[:, j] < start_p * factor[j])
        pick = (V[:, j][:, None] > cum).sum(axis=1) + 1
        state = np.where(keep, state, np.where(start, np.minimum(pick, 6), 0))
        out[:, j] = state
    absent = out > 0
    code = SPELL_CODES[np.maximum(out - 1, 0)]
    W = s.W
    W[:, :, 0] = np.where(absent, code, W[:, :, 0])
    W[:, :, 1] = np.where(absent, code, W[:, :, 1])
    # Half days: some illness days are one session; medical appointments are one session.
    half = absent & (code == I_) & (rng.random((n, n_sd)) < 0.12)
    pm_back = rng.random((n, n_sd)) < 0.5
    W[:, :, 1] = np.where(half & pm_back, PM_CODE, W[:, :, 1])
    W[:, :, 0] = np.where(half & ~pm_back, AM_CODE, W[:, :, 0])
    present_am = W[:, :, 0] == AM_CODE
    present_pm = W[:, :, 1] == PM_CODE
    late = np.clip(0.012 * np.exp(0.8 * rng.standard_normal(n)), 0, 0.2)
    roll = rng.random((n, n_sd, 3), dtype=np.float32)
    W[:, :, 0] = np.where(present_am & (roll[:, :, 0] < late[:, None]), K.IDX["L"], W[:, :, 0])
    W[:, :, 0] = np.where(present_am & (roll[:, :, 1] < late[:, None] * 0.2), K.IDX["U"], W[:, :, 0])
    W[:, :, 0] = np.where(present_am & (roll[:, :, 2] < 0.002), K.IDX["M"], W[:, :, 0])
    W[:, :, 1] = np.where(present_pm & (roll[:, :, 2] > 0.997), K.IDX["M"], W[:, :, 1])


def _events(s: _School) -> None:
    """Whole-school and year-group events: reception staggered start, trips, sport, work experience."""
    rng, roster, plan, days = s.rng, s.roster, s.plan, s.days
    n_sd, W = s.n_sd, s.W
    nc = roster["nc"].to_numpy()
    ctx = s.ctx
    if plan.reception_staggered and (nc == 0).any():
        rec = np.flatnonzero(nc == 0)
        first = s.first_sd()
        for j in range(min(5, n_sd)):
            rows = rec[(first[rec] <= j) & (W[rec, j, 1] == PM_CODE)]
            W[rows, j, 1] = X_
        for row in rec[:1]:
            ctx.add("reception_not_required", plan.laestab, s.upn(int(row)))
    if n_sd >= 8:
        for _ in range(2 + len(roster) // 300):
            y = plan.years[int(rng.integers(0, len(plan.years)))]
            j = int(rng.integers(2, n_sd - 3))
            rows = np.flatnonzero((nc == y) & (W[:, j, 0] == AM_CODE) & (W[:, j, 1] == PM_CODE))
            W[rows, j] = K.IDX["V"]
    sec = np.flatnonzero(nc >= 7)
    if sec.shape[0] and n_sd >= 8:
        for _ in range(2 + sec.shape[0] // 400):
            j = int(rng.integers(1, n_sd - 1))
            rows = rng.choice(sec, size=min(12, sec.shape[0]), replace=False)
            rows = rows[W[rows, j, 1] == PM_CODE]
            W[rows, j, 1] = K.IDX["P"]
        row = s.take(tuple(range(9, 12)))
        if row is not None:
            fridays = [j for j in range(n_sd) if days.weekday[days.sd[j]] == 4][-6:]
            for j in fridays:
                W[row, j] = K.IDX["B"]
            ctx.add("off_site_activity", plan.laestab, s.upn(row))
        year = ctx.cal.year + 1
        for lo, hi, y, code, share in (
            (date(year, 7, 1), date(year, 7, 9), 10, "W", 0.7),
            (date(year, 5, 11), date(year, 6, 19), 11, "S", 0.2),
        ):
            js = [j for j in range(n_sd) if lo <= days.sd_date(j) <= hi]
            rows = np.flatnonzero(nc == y)
            if not js or not rows.shape[0]:
                continue
            chosen = rows[rng.random(rows.shape[0]) < share]
            for j in js:
                if code == "S":
                    chosen_j = rows[rng.random(rows.shape[0]) < share]
                else:
                    chosen_j = chosen
                ok = chosen_j[(W[chosen_j, j, 0] == AM_CODE) | (W[chosen_j, j, 0] == K.IDX["L"])]
                W[ok, j] = K.IDX[code]
    # Reasons not yet established for the most recent absences.
    for j in range(max(0, n_sd - 2), n_sd):
        for half in (0, 1):
            cells = np.isin(W[:, j, half], (I_, O_)) & (rng.random(W.shape[0]) < 0.5)
            W[cells, j, half] = N_


def _scenario_row(s: _School, name: str, years: tuple[int, ...] = tuple(range(1, 12))) -> int | None:
    row = s.take(years)
    if row is None:
        s.ctx.skipped.append(f"{name}@{s.plan.laestab}")
    return row


def _scenarios(s: _School) -> None:
    ctx, plan, days, n_sd, W, rng = s.ctx, s.plan, s.days, s.n_sd, s.W, s.rng
    school_years = tuple(y for y in plan.years if y >= 1)
    sec_years = tuple(y for y in plan.years if y >= 7) or school_years

    def run(name: str, row: int, first: int, length: int, codes: list[int], scenario: str | None = None) -> None:
        last = first + length - 1
        for k, j in enumerate(range(first, last + 1)):
            W[row, j] = codes[k % len(codes)] if len(codes) < length else codes[k]
        s.present(row, first - 1)
        s.present(row, last + 1)
        s.protected.append((row, max(first - 1, 0), min(last + 1, n_sd - 1)))
        ctx.add(scenario or name, plan.laestab, s.upn(row))

    for name in plan.tasks:
        if name == "ten_day_ongoing" and n_sd >= 14:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                run(name, row, n_sd - 12, 12, [O_] * 7 + [N_] * 5)
        elif name == "gno_20" and n_sd >= 24:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                run(name, row, n_sd - 22, 22, [G_] * 10 + [O_] * 8 + [N_] * 4)
        elif name == "ten_day_across_half_term":
            target = None
            for hol in reversed(ctx.cal.holidays):
                j_after = days.sd_index_on_or_after(hol.end + timedelta(days=1))
                if hol.end < ctx.last_day and j_after >= 7 and n_sd - j_after >= 7 and "half-term" in hol.name:
                    target = j_after
                    break
            if target is None:
                ctx.skipped.append(f"{name}@{plan.laestab}")
                continue
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, target - 5, 11, [O_, O_, G_, G_, G_, G_, G_, O_, O_, O_, O_])
        elif name == "ten_day_exact" and n_sd >= 14:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 10, n_sd // 3 - 5), 10, [O_])
        elif name == "nine_day_near_miss" and n_sd >= 13:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 9, n_sd // 2 - 4), 9, [O_])
        elif name == "sickness_15" and n_sd >= 18:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 15, n_sd // 4 - 7), 15, [I_])
        elif name.startswith("rate_") and n_sd >= 10:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                _exact_rate(s, row, name)
        elif name == "part_time_timetable" and n_sd >= 5:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                first = max(0, n_sd - 20)
                W[row, first:, 0] = AM_CODE
                W[row, first:, 1] = K.IDX["C2"]
                s.protected.append((row, first, n_sd - 1))
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "la_provision" and n_sd >= 5:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                js = [j for j in range(max(0, n_sd - 30), n_sd) if days.weekday[days.sd[j]] in (0, 1, 2)]
                W[row, js] = KK
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "performance_leave" and n_sd >= 5:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                december = [j for j in range(n_sd) if days.sd_date(j).month == 12][:2] or [n_sd // 2]
                W[row, december] = K.IDX["C1"]
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "interview_leave" and n_sd >= 5:
            for _ in range(3):
                row = _scenario_row(s, name, (11,) if 11 in plan.years else sec_years)
                if row is not None:
                    W[row, int(rng.integers(0, n_sd)), 0] = K.IDX["J1"]
                    ctx.add(name, plan.laestab, s.upn(row))
        elif name == "mobile_child" and n_sd >= 10:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                first = int(rng.integers(1, n_sd - 6))
                s.set_days(row, first, first + 4, K.IDX["T"])
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "no_mark":
            rows = s.pool(plan.years, plain=False)[:8]
            W[rows, n_sd - 1, 1] = K.IDX["-"]
            s.used[rows] = True
            for row in rows:
                ctx.add(name, plan.laestab, s.upn(int(row)))
        elif name == "cme_candidate" and n_sd >= 30:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                back = 12 if "cme_candidates" not in ctx.scenarios else 25
                j_leave = n_sd - back
                s.roster.at[row, "leaving"] = np.datetime64(days.sd_date(j_leave), "D")
                s.roster.at[row, "leaving_reason"] = N.LEAVING_REASON_UNKNOWN if back == 12 else "Moved out of area"
                s.w_end[row] = days.sd[j_leave]
                s.set_days(row, j_leave - 3, j_leave, O_)
                s.present(row, j_leave - 4)
                ctx.add("cme_candidates", plan.laestab, s.upn(row))
        elif name == "permanent_exclusion" and n_sd >= 12:
            row = _scenario_row(s, name, tuple(y for y in (9, 10, 8) if y in plan.years) or sec_years)
            if row is not None:
                j0 = n_sd - 20 if n_sd >= 26 else n_sd // 2
                s.set_days(row, j0, min(j0 + 4, n_sd - 1), E_)
                if j0 + 5 < n_sd:
                    s.set_days(row, j0 + 5, n_sd - 1, KK)
                s.protected.append((row, j0, n_sd - 1))
                s.exclusions.append(_exclusion_row(s.upn(row), "PERM", "PA", days.sd_date(j0), "AM", "", ""))
                ctx.add("permanent_exclusion", plan.laestab, s.upn(row))
                ctx.expected["exclusion_periods_over_5_days"].append(
                    {"laestab": plan.laestab, "upn": s.upn(row), "category": "PERM", "start_date": days.sd_date(j0).isoformat(),
                     "sixth_day": days.sd_date(j0 + 5).isoformat() if j0 + 5 < n_sd else None, "responsible": "local_authority"}
                )
        elif name.startswith("back_to_back_suspensions") and n_sd >= 12:
            pm = name.endswith("_pm")
            want = 1 if pm else 2  # Tuesday (PM start) or Wednesday: the pair spans a weekend
            cands = [j for j in range(max(1, n_sd // 2 - 10), n_sd - 6) if days.weekday[days.sd[j]] == want]
            row = _scenario_row(s, name, sec_years)
            if row is None or not cands:
                continue
            j0 = cands[0]
            first = s.cover(j0, pm, 5 if pm else 6)
            second = s.cover(j0 + 3, False, 6)
            for j, half in first + second:
                W[row, j, half] = E_
            if pm:
                W[row, j0, 0] = AM_CODE
            s.present(row, j0 - 1)
            s.present(row, j0 + 6)
            s.protected.append((row, j0 - 1, j0 + 6))
            for cells, start_pm, reason in ((first, pm, "PD"), (second, False, "VA")):
                s.exclusions.append(_exclusion_row(
                    s.upn(row), "SUSP", reason, days.sd_date(cells[0][0]), "PM" if start_pm else "AM",
                    str(len(cells)), days.sd_date(cells[-1][0]).isoformat()))
            ctx.add("back_to_back_suspensions", plan.laestab, s.upn(row))
            ctx.expected["exclusion_periods_over_5_days"].append(
                {"laestab": plan.laestab, "upn": s.upn(row), "category": "SUSP", "start_date": days.sd_date(j0).isoformat(),
                 "school_days": 6, "sixth_day": days.sd_date(j0 + 5).isoformat(), "responsible": "school"}
            )
        elif name == "lunchtime_exclusion" and n_sd >= 3:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                j = int(rng.integers(0, n_sd))
                s.exclusions.append(_exclusion_row(s.upn(row), "LNCH", "PD", days.sd_date(j), "", "1", days.sd_date(j).isoformat()))
                ctx.add(name, plan.laestab, s.upn(row))
        else:
            ctx.skipped.append(f"{name}@{plan.laestab}")

    # Pupils on two rolls.
    for row in np.flatnonzero((s.roster["shared"] != "").to_numpy()):
        row = int(row)
        tag = s.roster.at[row, "shared"]
        ctx.add(tag, plan.laestab, s.upn(row))
        spec = next(x for x in plan.shared if x["core"]["upn"] == s.upn(row))
        if tag == "dual_registration":
            js = [j for j in range(n_sd) if days.weekday[days.sd[j]] in spec["dual_days"]]
            W[row, js] = D_
        elif tag == "moved_between_schools" and spec["leaving"] is not None:
            j_leave = days.sd_index_on_or_after(spec["leaving"])
            s.set_days(row, max(j_leave - 2, 0), min(j_leave, n_sd - 1), AM_CODE, PM_CODE)


def _clear_start(days: _Days, length: int, around: int) -> int:
    """A start (school-day index) near `around` for a run of `length` school days that, with one school
    day either side, has no holiday or closure inside (so each scenario tests one thing)."""
    gap = np.diff(days.sd) > 3
    for start in sorted(range(1, days.n_sd - length), key=lambda j: (abs(j - around), j)):
        if not gap[start - 1 : start + length].any():
            return start
    return min(max(1, around), days.n_sd - length - 1)


def _exact_rate(s: _School, row: int, name: str) -> None:
    """Marks giving an absence rate of exactly 10%, one session under 10%, or exactly 50%."""
    days, W = s.days, s.W
    n_sd = s.n_sd
    k = 0
    if name != "rate_exactly_50":
        k = next(k for k in range(5) if (n_sd - k) % 5 == 0)
        if k:
            s.roster.at[row, "entry"] = np.datetime64(days.sd_date(k), "D")
            s.w_start[row] = days.sd[k]
    m = n_sd - k
    possible = 2 * m
    W[row, k:, 0] = AM_CODE
    W[row, k:, 1] = PM_CODE
    if name == "rate_exactly_50":
        absent = possible // 2
    else:
        absent = possible // 10 - (1 if name == "rate_just_below_10" else 0)
    whole, half = divmod(absent, 2)
    if name == "rate_exactly_50":
        js = list(range(k, n_sd, 2))[:whole]
        spare = [j for j in range(k + 1, n_sd, 2)]
    else:
        js = sorted({k + int(i * m / max(whole, 1)) for i in range(whole)})
        spare = [j for j in range(k, n_sd) if j not in set(js)]
    codes = [I_, I_, O_, I_, K.IDX["M"], I_, G_]
    for i, j in enumerate(js):
        W[row, j] = codes[i % len(codes)]
    if half:
        W[row, spare[len(spare) // 2], 0] = I_
    s.protected.append((row, 0, n_sd - 1))
    s.ctx.add(name, s.plan.laestab, s.upn(row))
    s.ctx.expected["rates"].append(
        {"laestab": s.plan.laestab, "upn": s.upn(row), "scenario": name, "possible_sessions": possible,
         "absence_sessions": absent, "absence_rate": absent / possible}
    )


def _exclusion_row(upn: str, category: str, reason: str, start: date, session: str, sessions: str, end: str,
                   reason_2: str = "", reason_3: str = "") -> dict:
    return {"upn": upn, "category": category, "reason": reason, "reason_2": reason_2, "reason_3": reason_3,
            "start_date": start.isoformat(), "start_session": session, "sessions": sessions, "end_date": end}


SUSP_SESSIONS = (np.array([1, 2, 3, 4, 5, 6]), np.array([0.1, 0.45, 0.07, 0.2, 0.05, 0.13]))
REASONS = (np.array([r for r, _ in N.SUSPENSION_REASONS]), np.array([w for _, w in N.SUSPENSION_REASONS], dtype=float))


def _random_exclusions(s: _School) -> None:
    """Suspensions: ~1-3% of secondary-age pupils, a few primary; E marks on the excluded sessions."""
    rng, roster, days, W, n_sd = s.rng, s.roster, s.days, s.W, s.n_sd
    if n_sd < 6:
        return
    groups = roster["group"].to_numpy()
    share = {"primary": 0.003, "secondary": rng.uniform(0.012, 0.028), "special": 0.02}
    pool = s.pool(tuple(range(1, 12)), plain=False)
    pool = pool[(roster["enrol_status"].to_numpy()[pool] == "C")]
    chosen = pool[rng.random(pool.shape[0]) < np.array([share[g] for g in groups[pool]])]
    first_sd, last_sd = s.first_sd(), s.last_sd()
    weights = REASONS[1] / REASONS[1].sum()
    for row in chosen.tolist():
        lo, hi = int(first_sd[row]), int(last_sd[row]) - 3
        if hi - lo < 3:
            continue
        count = 1 + int(rng.random() < 0.22) + int(rng.random() < 0.05)
        starts = np.sort(rng.choice(np.arange(lo, hi + 1), size=min(count, hi - lo + 1), replace=False))
        starts = [int(j) for k, j in enumerate(starts) if k == 0 or j - starts[k - 1] >= 8]
        s.used[row] = True
        for j in starts:
            sessions = int(rng.choice(SUSP_SESSIONS[0], p=SUSP_SESSIONS[1]))
            pm = sessions % 2 == 1 and rng.random() < 0.5
            cells = s.cover(j, pm, sessions)
            for dj, half in cells:
                W[row, dj, half] = E_
            reason = str(rng.choice(REASONS[0], p=weights))
            reason_2 = str(rng.choice(REASONS[0], p=weights)) if rng.random() < 0.15 else ""
            if reason_2 == reason:
                reason_2 = ""
            s.exclusions.append(_exclusion_row(s.upn(row), "SUSP", reason, days.sd_date(j), "PM" if pm else "AM",
                                               str(len(cells)), days.sd_date(cells[-1][0]).isoformat(), reason_2))
            s.ctx.add("suspended", s.plan.laestab, s.upn(row))


# ------------------------------------------------------------------------------ runs and truth
def _day_classes(s: _School, cat_lut: np.ndarray) -> tuple[np.ndarray, ...]:
    cat = cat_lut[s.W]
    possible = np.isin(cat, K.POSSIBLE_CATEGORIES) & s.inwin()[:, :, None]
    unauth = possible & (cat == K.UNAUTHORISED)
    day_possible = possible.any(axis=2)
    day_unauth = day_possible & ~(possible & ~unauth).any(axis=2)
    day_sick = day_possible & ~(possible & (s.W != I_)).any(axis=2)
    gno = np.isin(s.W, [G_, N_, O_])
    day_gno = day_possible & ~(possible & ~gno).any(axis=2)
    return day_possible, day_unauth, day_sick, day_gno


def _runs(day_possible: np.ndarray, flag: np.ndarray, minimum: int) -> list[tuple[int, int, int]]:
    """Runs of `flag` over the days with a possible session: (first sd, last sd, school days)."""
    js = np.flatnonzero(day_possible)
    f = flag[js].astype(np.int8)
    edges = np.diff(np.concatenate([[0], f, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(js[a]), int(js[b - 1]), int(b - a)) for a, b in zip(starts, ends) if b - a >= minimum]


def _break_unintended_runs(s: _School) -> None:
    """Random spells must not create statutory runs: only the planted scenario pupils have them."""
    cat_lut = K.category_lut("2024")
    for flag_index, minimum, spacing, fill in ((1, 10, 6, (I_, I_)), (2, 15, 10, (AM_CODE, PM_CODE))):
        classes = _day_classes(s, cat_lut)
        day_possible, flag = classes[0], classes[flag_index]
        for row in np.flatnonzero(flag.sum(axis=1) >= minimum).tolist():
            for first, last, length in _runs(day_possible[row], flag[row], minimum):
                if any(r == row and a <= last and b >= first for r, a, b in s.protected):
                    continue
                js = np.flatnonzero(day_possible[row, first : last + 1] & flag[row, first : last + 1]) + first
                for k in range(spacing - 1, length, spacing):
                    s.W[row, js[k]] = fill


def _ground_truth(s: _School) -> None:
    ctx, plan, days, roster = s.ctx, s.plan, s.days, s.roster
    cat_lut = K.category_lut(ctx.code_set)
    n = len(roster)
    stats: dict = {}
    if days.n_sd:
        cat = cat_lut[s.W]
        inwin = s.inwin()[:, :, None]
        counts = {c: ((cat == c) & inwin).sum(axis=(1, 2)) for c in K.POSSIBLE_CATEGORIES}
    else:
        counts = {c: np.zeros(n, dtype=np.int64) for c in K.POSSIBLE_CATEGORIES}
    possible = sum(counts.values())
    absent = counts[K.AUTHORISED] + counts[K.UNAUTHORISED]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(possible > 0, absent / np.maximum(possible, 1), 0.0)
    has = possible > 0
    groups = roster["group"].to_numpy()

    def block(mask: np.ndarray) -> dict:
        return {
            "enrolments": int(mask.sum()),
            "enrolments_with_possible": int((mask & has).sum()),
            "possible_sessions": int(possible[mask].sum()),
            "present_sessions": int(counts[K.PRESENT][mask].sum()),
            "aea_sessions": int(counts[K.AEA][mask].sum()),
            "authorised_sessions": int(counts[K.AUTHORISED][mask].sum()),
            "unauthorised_sessions": int(counts[K.UNAUTHORISED][mask].sum()),
            "persistent_absentees": int((mask & has & (rate >= 0.1)).sum()),
            "severe_absentees": int((mask & has & (rate >= 0.5)).sum()),
        }

    stats = block(np.ones(n, dtype=bool))
    stats["session_marks"] = int(sum(2 * (min(e, days.n_days - 1) - b + 1) for b, e in zip(s.w_start, s.w_end) if e >= b))
    stats["pupils"] = n
    stats["exclusions"] = len(s.exclusions)
    _add_rates(stats)
    stats["by_phase_group"] = {g: block(groups == g) for g in sorted(set(groups.tolist()))}
    plan.stats = stats

    upns = roster["upn"].to_numpy(dtype=object)
    if plan.active and days.n_sd:
        day_possible, day_unauth, day_sick, day_gno = _day_classes(s, cat_lut)
        last_school_day = days.n_sd - 1
        for key, flag, minimum in (("ten_day_absence", day_unauth, 10), ("sickness_15_days", day_sick, 15),
                                   ("gno_20_days", day_gno, 20)):
            for row in np.flatnonzero(flag.sum(axis=1) >= minimum).tolist():
                upn = upns[row]
                for first, last, length in _runs(day_possible[row], flag[row], minimum):
                    ctx.expected[key].append({
                        "laestab": plan.laestab, "upn": upn, "first_day": days.sd_date(first).isoformat(),
                        "last_day": days.sd_date(last).isoformat(), "school_days": length,
                        "ongoing": last == last_school_day,
                    })
    # Joiners and leavers this year (all of them), and enrolments for the CME ground truth.
    if not plan.active:
        return
    t_first = np.datetime64(days.sd_date(0) if days.n_sd else days.start, "D")
    entries = roster["entry"].to_numpy(dtype="datetime64[D]")
    leavings = roster["leaving"].to_numpy(dtype="datetime64[D]")
    shared = (roster["shared"] != "").to_numpy()
    for row in np.flatnonzero(entries > t_first).tolist():
        ctx.add("mid_year_joiners", plan.laestab, upns[row])
    for row in np.flatnonzero(~np.isnat(leavings) | shared).tolist():
        leaving = None if np.isnat(leavings[row]) else leavings[row].astype(date)
        if leaving is not None:
            ctx.add("leavers", plan.laestab, upns[row])
        ctx.enrolments.append({
            "upn": upns[row], "laestab": plan.laestab, "entry": entries[row].astype(date), "leaving": leaving,
            "reason": roster.at[row, "leaving_reason"] or None,
        })


def _finish_ground_truth(ctx: _Ctx) -> None:
    """CME candidates by the base rule (left a roll, on no other roll in the LA: docs/cme.md, "Who is a
    candidate", 1-2) over the active schools' enrolments."""
    cme = []
    for e in ctx.enrolments:
        if e["leaving"] is None or e["leaving"] >= ctx.as_of:
            continue
        elsewhere = any(
            o["upn"] == e["upn"] and o["laestab"] != e["laestab"] and o["entry"] <= ctx.as_of
            and (o["leaving"] is None or o["leaving"] >= ctx.as_of)
            for o in ctx.enrolments
        )
        if not elsewhere:
            cme.append({"laestab": e["laestab"], "upn": e["upn"], "leaving_date": e["leaving"].isoformat(),
                        "days_since_leaving": (ctx.as_of - e["leaving"]).days, "reason": e["reason"]})
    ctx.expected["cme_candidates_by_rule"] = sorted(cme, key=lambda c: (c["laestab"], c["upn"]))
    for key in ("ten_day_absence", "sickness_15_days", "gno_20_days", "exclusion_periods_over_5_days", "rates"):
        ctx.expected[key].sort(key=lambda r: (r["laestab"], r["upn"], r.get("first_day", r.get("start_date", ""))))
    ctx.expected["skipped_scenarios"] = sorted(set(ctx.skipped))


# ------------------------------------------------------------------------------------- errors
def _inject_errors(s: _School) -> None:
    ctx, plan, roster, days = s.ctx, s.plan, s.roster, s.days
    rng = np.random.default_rng([ctx.seed, 5000 + plan.index])
    if not plan.active:
        return
    for kind in plan.error_kinds:
        dataset, fld = next((d, f) for k, d, f in ERROR_KINDS if k == kind)
        row = s.take(tuple(y for y in plan.years if y >= 1) or plan.years)
        if row is None:
            ctx.skipped.append(f"error:{kind}@{plan.laestab}")
            continue
        upn = s.upn(row)
        value: str | None = None
        if kind == "dob_not_a_date":
            value = f"{pd.Timestamp(roster.at[row, 'dob']).year}-02-30" if rng.random() < 0.5 else f"{pd.Timestamp(roster.at[row, 'dob']).year}-04-31"
        elif kind == "dob_implausible_for_nc_year":
            value = (pd.Timestamp(roster.at[row, "dob"]) - pd.DateOffset(years=4)).date().isoformat()
        elif kind == "dob_in_future":
            value = (ctx.as_of + timedelta(days=int(rng.integers(30, 400)))).isoformat()
        elif kind == "postcode_missing":
            value = ""
        elif kind == "postcode_malformed":
            value = "NR25 66Z" if rng.random() < 0.5 else "NRX 4AB"
        elif kind == "name_whitespace":
            surname = roster.at[row, "surname"]
            value = [f" {surname}", f"{surname} ", surname.replace(" ", "  ") if " " in surname else f"{surname[:2]}  {surname[2:]}"][int(rng.integers(0, 3))]
        elif kind == "name_bad_character":
            surname = roster.at[row, "surname"]
            value = (surname[:2] + "@" + surname[3:]) if len(surname) >= 4 else surname + "#"
        elif kind == "upn_wrong_check_letter":
            value = CHECK_ALPHABET[(CHECK_ALPHABET.index(upn[0]) + 1 + int(rng.integers(0, 21))) % 23] + upn[1:]
        elif kind == "upn_malformed":
            value = upn[1:] if rng.random() < 0.5 else upn[:6] + "O" + upn[7:]
        elif kind == "sex_invalid":
            value = "X"
        elif kind == "sex_missing":
            value = ""
        elif kind == "enrol_status_unknown":
            value = "Q" if rng.random() < 0.5 else "Z"
        if dataset == "pupils":
            roster.at[row, "dob_text" if fld == "dob" else fld] = value
            if kind.startswith("upn_"):
                _retag_exclusions(s, upn, value)
                upn = value
        elif kind == "attendance_code_unknown" and days.n_sd:
            value = "7" if plan.fmt == "ctf23" or ctx.code_set != "2024" else "H"
            cand = np.flatnonzero((s.W[row, :, 0] == AM_CODE) & (np.arange(days.n_sd) >= s.first_sd()[row]))
            if cand.shape[0]:
                s.W[row, int(cand[int(rng.integers(0, cand.shape[0]))]), 0] = K.IDX[value]
        elif kind == "marks_before_entry" and days.n_sd >= 12:
            j_entry = days.n_sd // 2
            roster.at[row, "entry"] = np.datetime64(days.sd_date(j_entry), "D")
            s.w_start[row] = days.sd[j_entry - 5]
            value = days.sd_date(j_entry - 5).isoformat()
        elif kind == "attendance_unknown_pupil" and days.n_sd:
            s.used[row] = False  # not this pupil: a UPN that is on no roll
            upn = str(ctx.upns.allocate(np.array([int(LA_CODE)]), np.array([plan.estab]), np.array([ctx.cal.year - 3]))[0])
            for j in range(max(0, days.n_sd - 5), days.n_sd):
                when = days.sd_date(j).isoformat()
                s.ghost_rows += [(upn, when, "AM", "/"), (upn, when, "PM", "\\")]
            value = upn
        elif kind == "exclusion_category_unknown":
            value = "TEMP" if rng.random() < 0.5 else "EXCL"
            j = int(rng.integers(0, max(days.n_sd, 1)))
            s.exclusions.append(_exclusion_row(upn, value, "PD", days.sd_date(j) if days.n_sd else days.start, "AM", "2",
                                               (days.sd_date(j) if days.n_sd else days.start).isoformat()))
        elif kind == "suspension_no_sessions":
            j = int(rng.integers(0, max(days.n_sd, 1)))
            when = days.sd_date(j) if days.n_sd else days.start
            s.exclusions.append(_exclusion_row(upn, "SUSP", "VA", when, "AM", "", when.isoformat()))
        elif kind == "exclusion_end_before_start":
            j = int(rng.integers(0, max(days.n_sd, 1)))
            when = days.sd_date(j) if days.n_sd else days.start
            value = (when - timedelta(days=3)).isoformat()
            s.exclusions.append(_exclusion_row(upn, "SUSP", "PD", when, "AM", "4", value))
        else:
            ctx.skipped.append(f"error:{kind}@{plan.laestab}")
            continue
        ctx.errors.append({"laestab": plan.laestab, "dataset": dataset, "upn": upn or None, "field": fld, "kind": kind,
                           "value": value})


def _retag_exclusions(s: _School, old: str, new: str) -> None:
    for e in s.exclusions:
        if e["upn"] == old:
            e["upn"] = new


# ------------------------------------------------------------------------------------- output
def _write(s: _School) -> None:
    ctx, plan, days = s.ctx, s.plan, s.days
    folder = ctx.home / plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    n = len(s.roster)
    # Full session matrix over calendar days: '#' on non-school days on roll, NONE off roll.
    S = np.full((n, days.n_days, 2), K.NONE, dtype=np.uint8)
    day = np.arange(days.n_days)[None, :]
    on_roll = (day >= s.w_start[:, None]) & (day <= s.w_end[:, None])
    S[on_roll] = K.IDX["#"]
    if days.n_sd:
        sd_on = on_roll[:, days.sd]
        block = S[:, days.sd, :]
        block[sd_on] = s.W[sd_on]
        S[:, days.sd, :] = block
    mtime = ctx.extract_time.replace(minute=(plan.index * 7) % 60).replace(tzinfo=timezone.utc).timestamp()
    written: list[Path] = []
    if plan.fmt == "csv":
        written += write_csv_extract(folder, s.roster, S, s.w_start, s.w_end, days, s.ghost_rows)
    else:
        written.append(write_ctf(folder, plan, s.roster, S, s.w_start, s.w_end, days, ctx))
    written.append(write_exclusions(folder, s.exclusions))
    for path in written:
        os.utime(path, (mtime, mtime))
