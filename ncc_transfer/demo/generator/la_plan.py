"""The LA plan: how many schools of each phase, and for each school its number, name, size, NC years,
file format, supplier, INSET days and calendar days. Draws come from the plan generator
(``default_rng([seed, 0])``), which the scenario plan then continues.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np

from .. import names as N
from .context import SchoolPlan, _Ctx, _Days
from .params import FORMAT_CYCLE, LA_CODE, SIZE, YEARS


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
        fmt = ctx.formats[i % len(ctx.formats)] if active else "csv"
        if n == 1 and ctx.formats == FORMAT_CYCLE:
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
