"""Which school hosts which statutory scenario (spread over the schools, preferring some formats), and
the pupils planted on two rolls (movers between demo schools and a dual registration).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from .context import SchoolPlan, _Ctx
from .params import LA_CODE, PRIM, SEC
from .roster import _demographics


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
