"""``build_demo_la``: plan the LA, its scenarios and errors, generate each school, finish the ground
truth, then write the registry and the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from ..calendar import academic_year_for, term_dates_csv
from ..writers import write_manifest, write_registry
from .context import _Ctx
from .errors import _plan_errors
from .la_plan import _plan_schools
from .scenario_plan import _plan_scenarios
from .school import _build_school
from .truth import _finish_ground_truth


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
    formats: tuple[str, ...] | None = None,
) -> DemoLA:
    """Write a synthetic LA of `schools` active schools (plus one inactive) under `home`.

    ``formats`` are the active schools' file formats, taken in turn (default CTF 25, CSV, CTF 25,
    CTF 23); ``("ctf25",)`` makes every active school deliver a CTF, as the benchmark's independent
    baseline reads only CTFs.

    With ``simulator_url`` (the built-in simulator's address), one active school per vendor route is
    registered on that route (served by the simulator from its landing folder); the rest use files."""
    started = time.perf_counter()
    home = Path(home)
    as_of = as_of or date.today()
    if schools < 1:
        raise ValueError("schools must be at least 1")
    unknown = sorted(set(formats or ()) - {"ctf25", "ctf23", "csv"})
    if unknown:
        raise ValueError(f"unknown school file format(s) {', '.join(unknown)}: expected ctf25, ctf23 or csv")
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
        **({"formats": tuple(formats)} if formats else {}),
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
        from ..routes import assign_routes, demo_settings, vendor_routes, write_secrets

        demo_secrets: dict[str, str] = {}
        for laestab, route in assign_routes([p.laestab for p in plans if p.active], vendor_routes()).items():
            settings, values = demo_settings(route, laestab, simulator_url)
            routes[laestab] = (route, settings)
            demo_secrets.update(values)
        write_secrets(home, demo_secrets)
    for plan in plans:
        plan.mis = routes.get(plan.laestab, ("files", {}))[0]
    registry_path = write_registry(home, plans, ctx, routes)
    # The LA's term dates, this academic year and the next, as an LA officer would give them.
    (home / "term_dates.csv").write_text(term_dates_csv([cal.year, cal.year + 1]), encoding="utf-8")
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
