"""One school's roster: pupils per NC year, names, sex, dates of birth, addresses, UPNs, entry and
leaving dates, plus the pupils it shares with another demo school.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from .. import names as N
from ..calendar import la_calendar
from .context import SchoolPlan, _Ctx
from .params import LA_CODE, OTHER_LAS


@lru_cache(maxsize=64)
def _term_start(year: int) -> date:
    return la_calendar(year).term_start


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
