"""The termly targeting support pack's figures, for one school as of a date: pure pandas, no warehouse.

Source: DfE, *Working together to improve school attendance* (statutory from 19 August 2024): the local
authority holds a termly targeting support meeting with each school, using pupil-level data, to
identify pupils who are or are at risk of becoming persistently or severely absent,
https://www.gov.uk/government/publications/working-together-to-improve-school-attendance

Every rate uses the DfE method of ``rules.absence`` (not re-implemented here): the figures of a period
are ``absence_summary`` over the marks of that period (``window_summary``), and only its
``dfe_comparable`` rows count (ages 5-15 at 31 August, sole or main registration). Rates are fractions
(0.945, not 94.5). **Attendance rate** = 1 - (authorised + unauthorised) / possible sessions, the
complement of the DfE's overall absence rate. **PA** (persistent absence): 10 % or more of possible
sessions missed; **SA** (severe absence): 50 % or more (exactly 50 % is severe), as ``absence_summary``
compares them, in integers.

* ``school_rates``: the school's attendance, PA and SA rates this school year to date.
* ``weekly_series``: weeks commencing Monday from 1 September, **school weeks only** (a week with no
  school day of the school, such as a half-term holiday, has no row), against the same week number of
  the academic year last year (null where last year's week had no school day).
* ``term_of``: with the LA's term dates file (``rules.term_dates``), its terms; without it,
  ``school_terms``: autumn 1 September - 31 December; spring 1 January to the day before the summer term;
  summer from the first school day after the Easter break to 31 August. The Easter break is read from
  the school's own school days (the longest run of at least ``EASTER_MIN_WEEKDAYS`` weekdays without a
  school day whose next school day falls between 20 March and 15 May); when the data does not show it
  yet, summer starts on the Tuesday after Easter Monday.
* ``pupil_lists``: the SA pupils, then the PA pupils who are not SA, with their year group, cohort
  flags, rates this term and last term, absence codes (counts per code), absences by day of the week,
  the share of their absent sessions that are Monday AM or Friday PM, and their rate over the school's
  last ``RECENT_DAYS`` (20) school days against before.
* ``early_identification``: see its docstring (a drop of at least 10 percentage points over the last
  30 school days).
* ``cohort_rates`` and ``year_group_rates``: by cohort (``COHORTS``; null is "not recorded", its own
  group) and by NC year; ``with_la`` puts the LA's figure for the same group beside each.
* ``open_items``: the school's ongoing 10-day absence runs, absence triggers, sixth-day exclusion cases
  and children missing education candidates.
* ``infer_phase``: the school's phase from its roll when the registry does not give it.

Documented in docs/targeting_pack.md.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ncc_transfer.canonical import as_datetimes
from ncc_transfer.reference.attendance_codes import category_for, possible_for
from ncc_transfer.rules.absence import absence_headline, absence_summary
from ncc_transfer.rules.calendar import academic_year_start, easter_sunday, school_days
from ncc_transfer.rules.term_dates import Term, TermDates, term_from_dates

# Cohort columns of the pupils table; a column absent from the frame is all null ("not recorded").
COHORTS = ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_in_need", "child_protection_plan")
COHORT_TITLES = {"sen_provision": "SEN provision", "fsm_eligible": "FSM eligible", "fsm_ever6": "FSM ever 6",
                 "looked_after": "Looked after", "child_in_need": "Child in need",
                 "child_protection_plan": "Child protection plan"}
SEN_GROUPS = {"N": "N (no SEN)", "K": "K (SEN support)", "E": "E (EHC plan)"}
NOT_RECORDED = "not recorded"
YES, NO = "yes", "no"

PA_SHARE, SA_SHARE = 10, 2  # absent * 10 >= possible (10 %), absent * 2 >= possible (50 %)
RECENT_DAYS = 20  # "a drop in the last four school weeks"
EARLY_DAYS = 30  # six school weeks
EARLY_DROP_POINTS = 10  # percentage points
EASTER_MIN_WEEKDAYS = 5
PHASES = ("primary", "secondary", "special", "all-through", "alternative provision")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
_EARLY_YEARS = {"E1", "E2", "N1", "N2", "R"}


# ------------------------------------------------------------------------------------------- periods

def _school_dates(attendance: pd.DataFrame, school_key: str | None = None) -> np.ndarray:
    """The sorted school days (dates with any possible session) of one school, as datetime64[D]."""
    days = school_days(attendance)
    if school_key is not None:
        days = days[days["school_key"] == school_key]
    return np.sort(days["date"].to_numpy(dtype="datetime64[D]"))


def summer_term_start(school_dates: np.ndarray, academic_year_first: date) -> date:
    """The first school day after the school's Easter break (see the module docstring)."""
    year = academic_year_first.year + 1
    dates = school_dates[(school_dates >= np.datetime64(date(year, 3, 1)))
                         & (school_dates <= np.datetime64(date(year, 5, 31)))]
    best, best_weekdays = None, 0
    for before, after in zip(dates[:-1], dates[1:]):
        weekdays = int(np.busday_count(before + np.timedelta64(1, "D"), after))
        nxt = pd.Timestamp(after).date()
        if (weekdays >= EASTER_MIN_WEEKDAYS and date(year, 3, 20) <= nxt <= date(year, 5, 15)
                and weekdays > best_weekdays):
            best, best_weekdays = nxt, weekdays
    return best if best is not None else easter_sunday(year) + timedelta(days=2)


def school_terms(school_dates: np.ndarray, academic_year_first: date) -> list[Term]:
    """Autumn, spring and summer of the academic year starting ``academic_year_first`` (1 September)."""
    year = academic_year_first.year
    summer = summer_term_start(school_dates, academic_year_first)
    return [Term("autumn", date(year, 9, 1), date(year, 12, 31)),
            Term("spring", date(year + 1, 1, 1), summer - timedelta(days=1)),
            Term("summer", summer, date(year + 1, 8, 31))]


def term_of(attendance: pd.DataFrame, school_key: str | None, on: date,
            term_dates: TermDates | None = None) -> tuple[Term, Term]:
    """(the term containing ``on``, the term before it; the summer term of last year for autumn).

    With the LA's ``term_dates`` (``rules.term_dates``) holding ``on``'s academic year, the terms are the
    file's (``term_from_dates``; the term before read from the data only when the file does not hold last
    year); otherwise read from the school's days as the module docstring says."""
    given = term_from_dates(term_dates, on) if term_dates is not None else None
    if given is not None and given[1] is not None:
        return given
    dates = _school_dates(attendance, school_key)
    first = academic_year_start(on)
    if given is not None:  # an autumn term from the file, last year's summer not in it
        return given[0], school_terms(dates, date(first.year - 1, 9, 1))[2]
    terms = school_terms(dates, first)
    index = next(i for i, term in enumerate(terms) if term.start <= on <= term.end)
    previous = terms[index - 1] if index else school_terms(dates, date(first.year - 1, 9, 1))[2]
    return terms[index], previous


# ----------------------------------------------------------------------------------------- rates

def _in_window(attendance: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    when = as_datetimes(attendance["date"])
    return attendance[(when >= pd.Timestamp(start)) & (when <= pd.Timestamp(end))]


def window_summary(pupils: pd.DataFrame | None, attendance: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """``absence_summary`` over the marks dated ``start``..``end`` (within one academic year), as of ``end``:
    the DfE method (and its Year 11 cut) applied to that period alone."""
    return absence_summary(pupils, _in_window(attendance, start, end), end)


def _comparable(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["dfe_comparable"].astype(bool)]


def _absent(summary: pd.DataFrame) -> pd.Series:
    return summary["sessions_authorised"] + summary["sessions_unauthorised"]


def attendance_rate(absent, possible) -> float | None:
    """1 - absent / possible; None without a possible session."""
    return None if not possible else 1.0 - float(absent) / float(possible)


def school_rates(summary: pd.DataFrame) -> dict:
    """Attendance, PA and SA rates over an ``absence_summary`` (one school's rows, or a phase's).

    Keys: pupils, sessions_possible, attendance_rate, pa_rate, sa_rate, persistent, severe
    (``absence_headline``'s figures over the ``dfe_comparable`` rows)."""
    headline = absence_headline(summary)
    return {"pupils": headline["enrolments"], "sessions_possible": headline["sessions_possible"],
            "attendance_rate": attendance_rate(headline["sessions_absent"], headline["sessions_possible"]),
            "pa_rate": headline["pa_rate"], "sa_rate": headline["severe_rate"],
            "persistent": headline["persistent"], "severe": headline["severe"]}


def _pupil_rates(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (school_key, upn) of the comparable rows: absent, possible and the attendance rate."""
    rows = _comparable(summary)
    out = pd.DataFrame({"school_key": rows["school_key"].astype(object), "upn": rows["upn"].astype(object),
                        "absent": _absent(rows).astype("int64"), "possible": rows["sessions_possible"].astype("int64")})
    out["rate"] = 1.0 - out["absent"] / out["possible"].where(out["possible"] > 0)
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- weeks

def week_number(monday: date, academic_year_first: date) -> int:
    """Week 1 is the week (Monday to Sunday) containing 1 September."""
    first_monday = academic_year_first - timedelta(days=academic_year_first.weekday())
    return (monday - first_monday).days // 7 + 1


def _weekly(pupils, attendance: pd.DataFrame, school_key: str, first: date, last: date) -> pd.DataFrame:
    """The school's weeks in ``first``..``last`` (one academic year). Each week is summarised alone, as
    ``window_summary`` over that week would, but in one ``absence_summary`` call: every week's marks and
    pupils are given a school key of their own (``<school>\x1f<monday>``), so the DfE method (and its
    Year 11 cut, judged from that week's marks) applies to each week separately."""
    columns = ["week_number", "week_commencing", "attendance_rate", "sessions_possible"]
    marks = _in_window(attendance[attendance["school_key"] == school_key], first, last)
    when = as_datetimes(marks["date"])
    mondays = (when - pd.to_timedelta(when.dt.weekday, unit="D")).dt.normalize()
    possible = possible_for(marks["code"].astype(object).astype(str).str.strip().str.upper(), when).to_numpy(dtype=bool)
    school_weeks = [pd.Timestamp(m) for m in np.unique(mondays.to_numpy()[possible])]
    if not school_weeks:
        return pd.DataFrame(columns=columns)
    # The week's key per mark, formatted once per distinct Monday (not per mark).
    week_index, week_mondays = pd.factorize(mondays)
    week_names = np.asarray([f"{school_key}\x1f{m:%Y-%m-%d}" for m in week_mondays], dtype=object)
    marks = marks.assign(school_key=week_names[week_index])
    roll = pupils[pupils["school_key"] == school_key] if pupils is not None else None
    if roll is not None and len(roll):
        weeks = pd.DataFrame({"_week": sorted(f"{school_key}\x1f{m:%Y-%m-%d}" for m in school_weeks)})
        roll = roll.drop(columns="school_key").merge(weeks, how="cross").rename(columns={"_week": "school_key"})
    summary = absence_summary(roll, marks, last)
    by_week = {key: rows for key, rows in summary.groupby("school_key", sort=False)}
    rows = []
    for monday in school_weeks:
        key = f"{school_key}\x1f{monday:%Y-%m-%d}"
        rates = school_rates(by_week.get(key, summary.iloc[0:0]))
        rows.append({"week_number": week_number(monday.date(), first), "week_commencing": monday.date(),
                     "attendance_rate": rates["attendance_rate"], "sessions_possible": rates["sessions_possible"]})
    return pd.DataFrame(rows, columns=columns)


def weekly_series(pupils: pd.DataFrame | None, attendance: pd.DataFrame, school_key: str, as_of: date) -> pd.DataFrame:
    """One row per school week of this academic year up to ``as_of`` (a week with at least one school day
    of the school; holiday weeks have no row). Columns: week_number, week_commencing, attendance_rate,
    sessions_possible, last_year_week_commencing, last_year_rate (the same week number of last academic
    year, null when that week had no school day or no marks)."""
    first = academic_year_start(as_of)
    mine = attendance[attendance["school_key"] == school_key]
    this_year = _weekly(pupils, mine, school_key, first, as_of)
    last_first = date(first.year - 1, 9, 1)
    last_year = _weekly(pupils, mine, school_key, last_first, first - timedelta(days=1))
    last_year = last_year.rename(columns={"week_commencing": "last_year_week_commencing",
                                          "attendance_rate": "last_year_rate"}).drop(columns="sessions_possible")
    return this_year.merge(last_year, on="week_number", how="left")


# ----------------------------------------------------------------------------------------- cohorts

def _flag_label(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return NOT_RECORDED
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "t", "yes", "y", "1"):
            return YES
        if text in ("false", "f", "no", "n", "0"):
            return NO
        return NOT_RECORDED
    return YES if bool(value) else NO


def _sen_label(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return NOT_RECORDED
    return SEN_GROUPS.get(str(value).strip().upper(), NOT_RECORDED)


def cohort_labels(pupils: pd.DataFrame) -> pd.DataFrame:
    """Per (school_key, upn): nc_year and one label per cohort (``yes``/``no``/``not recorded``; SEN N/K/E).
    A cohort column missing from ``pupils`` is all "not recorded"; null is never read as "no"."""
    out = pd.DataFrame({"school_key": pupils["school_key"].astype(object), "upn": pupils["upn"].astype(object)})
    nc_year = pupils["nc_year"] if "nc_year" in pupils.columns else pd.Series(None, index=pupils.index, dtype=object)
    out["nc_year"] = nc_year.astype(object).where(nc_year.notna(), None).map(
        lambda v: NOT_RECORDED if v is None or str(v).strip() == "" else str(v).strip().upper())
    for column in COHORTS:
        values = pupils[column] if column in pupils.columns else pd.Series(None, index=pupils.index, dtype=object)
        label = _sen_label if column == "sen_provision" else _flag_label
        out[column] = [label(v) for v in values.astype(object)]
    return out.drop_duplicates(["school_key", "upn"], keep="last").reset_index(drop=True)


def _group_rates(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    grouped = rows.groupby(by, sort=False).agg(pupils=("upn", "size"), possible=("possible", "sum"),
                                                absent=("absent", "sum"), pa=("pa", "sum"), sa=("sa", "sum"))
    grouped["attendance_rate"] = 1.0 - grouped["absent"] / grouped["possible"].where(grouped["possible"] > 0)
    grouped["pa_rate"] = grouped["pa"] / grouped["pupils"]
    grouped["sa_rate"] = grouped["sa"] / grouped["pupils"]
    return grouped.reset_index().rename(columns={by: "group"})


def _summary_with_labels(summary: pd.DataFrame, pupils: pd.DataFrame) -> pd.DataFrame:
    rows = _comparable(summary)
    frame = pd.DataFrame({"school_key": rows["school_key"].astype(object), "upn": rows["upn"].astype(object),
                          "possible": rows["sessions_possible"].astype("int64"), "absent": _absent(rows).astype("int64"),
                          "pa": rows["persistent_absence"].astype(bool).astype(int),
                          "sa": rows["severe_absence"].astype(bool).astype(int)})
    frame = frame.merge(cohort_labels(pupils), on=["school_key", "upn"], how="left")
    return frame.fillna({c: NOT_RECORDED for c in ("nc_year", *COHORTS)})


RATE_COLUMNS = ["pupils", "attendance_rate", "pa_rate", "sa_rate"]


def cohort_rates(summary: pd.DataFrame, pupils: pd.DataFrame) -> pd.DataFrame:
    """Rates per cohort group over the ``dfe_comparable`` rows of ``summary`` (one school's, or an LA
    phase's): cohort, group, pupils, attendance_rate (1 - Σ absent / Σ possible), pa_rate and sa_rate
    (share of the group's pupils). Every cohort has its "not recorded" group when any pupil's value is null."""
    frame = _summary_with_labels(summary, pupils)
    parts = []
    for column in COHORTS:
        rates = _group_rates(frame, column) if len(frame) else pd.DataFrame(columns=["group", *RATE_COLUMNS])
        rates.insert(0, "cohort", column)
        parts.append(rates)
    out = pd.concat(parts, ignore_index=True)[["cohort", "group", *RATE_COLUMNS]]
    order = {g: i for i, g in enumerate([*SEN_GROUPS.values(), YES, NO, NOT_RECORDED])}
    out["_order"] = out["group"].map(order)
    return out.sort_values(["cohort", "_order"], key=lambda s: s.map({c: i for i, c in enumerate(COHORTS)})
                           if s.name == "cohort" else s, kind="stable").drop(columns="_order").reset_index(drop=True)


def _year_order(year: str) -> tuple[int, str]:
    early = ["E1", "E2", "N1", "N2", "R"]
    if year in early:
        return (early.index(year) - 10, year)
    return (int(year), year) if year.isdigit() else (100, year)


def year_group_rates(summary: pd.DataFrame, pupils: pd.DataFrame) -> pd.DataFrame:
    """Rates per NC year group (``group``; null years are "not recorded"), in NC order."""
    frame = _summary_with_labels(summary, pupils)
    if not len(frame):
        return pd.DataFrame(columns=["group", *RATE_COLUMNS])
    out = _group_rates(frame, "nc_year")[["group", *RATE_COLUMNS]]
    return out.sort_values("group", key=lambda s: s.map(_year_order), kind="stable").reset_index(drop=True)


def with_la(school: pd.DataFrame, la: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """The school's rows with the LA's figures for the same group beside them (``la_*`` columns; null
    where the LA has no such group) and the gap in attendance (school - LA, fraction)."""
    la = la[[*on, *RATE_COLUMNS]].rename(columns={c: f"la_{c}" for c in RATE_COLUMNS})
    out = school.merge(la, on=on, how="left")
    out["attendance_gap"] = out["attendance_rate"] - out["la_attendance_rate"]
    return out


# ----------------------------------------------------------------------------------------- pupils

def drop_flags(before_absent, before_possible, recent_absent, recent_possible, points: int = EARLY_DROP_POINTS):
    """Element-wise: attendance over the recent period is at least ``points`` percentage points below the
    attendance before it. In exact integer arithmetic (no rounding):
    (1 - ra/rp) <= (1 - ba/bp) - points/100  <=>  100 * (ra * bp - ba * rp) >= points * bp * rp.
    False where either period has no possible session."""
    ba, bp = np.asarray(before_absent, dtype=object), np.asarray(before_possible, dtype=object)
    ra, rp = np.asarray(recent_absent, dtype=object), np.asarray(recent_possible, dtype=object)
    valid = (bp > 0) & (rp > 0)
    return np.asarray(valid & (100 * (ra * bp - ba * rp) >= points * bp * rp), dtype=bool)


def _last_school_days(attendance: pd.DataFrame, school_key: str, as_of: date, n: int) -> tuple[date, date] | None:
    """(first day of the school's last ``n`` school days up to ``as_of``, last school day before them);
    None when the school has no more than ``n`` school days this academic year."""
    dates = _school_dates(attendance, school_key)
    dates = dates[(dates >= np.datetime64(academic_year_start(as_of))) & (dates <= np.datetime64(as_of))]
    if len(dates) <= n:
        return None
    return pd.Timestamp(dates[-n]).date(), pd.Timestamp(dates[-n - 1]).date()


def _recent_vs_before(pupils, attendance, school_key: str, as_of: date, n: int) -> pd.DataFrame:
    """Per pupil: absent/possible/rate before the last ``n`` school days and over them."""
    columns = ["school_key", "upn", "absent_before", "possible_before", "rate_before",
               "absent_recent", "possible_recent", "rate_recent"]
    window = _last_school_days(attendance, school_key, as_of, n)
    if window is None:
        return pd.DataFrame(columns=columns)
    first_recent, last_before = window
    before = _pupil_rates(window_summary(pupils, attendance, academic_year_start(as_of), last_before))
    recent = _pupil_rates(window_summary(pupils, attendance, first_recent, as_of))
    out = before.merge(recent, on=["school_key", "upn"], how="outer", suffixes=("_before", "_recent"))
    for column in ("absent_before", "possible_before", "absent_recent", "possible_recent"):
        out[column] = out[column].fillna(0).astype("int64")
    return out[columns]


def early_identification(pupils: pd.DataFrame | None, attendance: pd.DataFrame, summary: pd.DataFrame,
                         school_key: str, as_of: date) -> pd.DataFrame:
    """Pupils at risk of becoming persistently absent.

    Rule: a ``dfe_comparable`` pupil of the school who is **not persistently absent** this school year to
    date (``summary``, DfE method) and whose attendance rate over the school's last ``EARLY_DAYS`` (30)
    school days up to ``as_of`` (about six school weeks) is **at least 10 percentage points below** their
    attendance rate from 1 September to the school day before those 30 days. Both periods need a possible
    session of the pupil; a school with 30 school days or fewer this year has no "before" and no one is
    listed. Exactly 10 points is listed, 9.99 is not (``drop_flags``, exact integers). Rates by the DfE
    method over each period (``window_summary``).

    Columns: school_key, upn, rate_before, rate_recent, drop_points (percentage points), rate_ytd."""
    mine = attendance[attendance["school_key"] == school_key]
    periods = _recent_vs_before(pupils, mine, school_key, as_of, EARLY_DAYS)
    ytd = _comparable(summary[summary["school_key"] == school_key])
    not_pa = ytd[~ytd["persistent_absence"].astype(bool)]
    frame = periods.merge(pd.DataFrame({"school_key": not_pa["school_key"].astype(object),
                                        "upn": not_pa["upn"].astype(object),
                                        "rate_ytd": 1.0 - _absent(not_pa) / not_pa["sessions_possible"]}),
                          on=["school_key", "upn"], how="inner")
    flagged = drop_flags(frame["absent_before"], frame["possible_before"], frame["absent_recent"],
                         frame["possible_recent"])
    frame = frame[flagged].copy()
    frame["drop_points"] = 100.0 * (frame["rate_before"] - frame["rate_recent"])
    return frame[["school_key", "upn", "rate_before", "rate_recent", "drop_points", "rate_ytd"]].sort_values(
        ["drop_points", "upn"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _absence_marks(attendance: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Marks this academic year up to ``as_of`` that are absences (authorised or unauthorised)."""
    marks = _in_window(attendance, academic_year_start(as_of), as_of)
    dates = pd.to_datetime(marks["date"])
    codes = marks["code"].astype(object).astype(str).str.strip().str.upper()
    category = category_for(codes, dates)
    absent = category.isin(["authorised", "unauthorised"]).to_numpy(dtype=bool)
    return pd.DataFrame({"upn": marks["upn"].astype(object).to_numpy()[absent], "date": dates.to_numpy()[absent],
                         "session": marks["session"].astype(object).astype(str).str.strip().str.upper().to_numpy()[absent],
                         "code": codes.to_numpy()[absent]})


def absence_patterns(attendance: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per upn (one school's marks): ``codes`` ("O 12, I 4": absent sessions per code, most first), absent
    sessions per weekday (``absent_mon`` .. ``absent_fri``) and ``mon_am_fri_pm_share`` (absent sessions on a
    Monday AM or a Friday PM / absent sessions). Every mark counts (no Year 11 cut: patterns, not rates)."""
    marks = _absence_marks(attendance, as_of)
    columns = ["upn", "codes", *[f"absent_{d.lower()}" for d in WEEKDAYS], "mon_am_fri_pm_share"]
    if not len(marks):
        return pd.DataFrame(columns=columns)
    weekday = pd.to_datetime(marks["date"]).dt.weekday.to_numpy()
    edge = ((weekday == 0) & (marks["session"] == "AM").to_numpy()) | ((weekday == 4) & (marks["session"] == "PM").to_numpy())
    frame = marks.assign(weekday=weekday, edge=edge)
    # Sessions per code, most first and, for the same count, in code order (as value_counts after sort_index).
    counts = frame.groupby(["upn", "code"], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values(["upn", "n", "code"], ascending=[True, False, True], kind="stable")
    codes = (counts["code"] + " " + counts["n"].astype(str)).groupby(counts["upn"], sort=True).agg(", ".join)
    by_day = pd.crosstab(frame["upn"], frame["weekday"]).reindex(columns=range(len(WEEKDAYS)), fill_value=0)
    grouped = frame.groupby("upn", sort=True)["edge"]
    share = grouped.sum().astype(float) / grouped.size()
    out = pd.DataFrame({"upn": codes.index.astype(object), "codes": codes.to_numpy()})
    for number, name in enumerate(WEEKDAYS):
        out[f"absent_{name.lower()}"] = by_day[number].reindex(codes.index).to_numpy(dtype="int64")
    out["mon_am_fri_pm_share"] = share.reindex(codes.index).to_numpy(dtype=float)
    rows = out
    return rows[columns].reset_index(drop=True)


PUPIL_LIST_COLUMNS = ["upn", "surname", "forename", "nc_year", *COHORTS, "list", "sessions_possible", "rate_ytd",
                      "rate_this_term", "rate_last_term", "codes", *[f"absent_{d.lower()}" for d in WEEKDAYS],
                      "mon_am_fri_pm_share", "rate_before_last_20_days", "rate_last_20_days", "drop_last_20_days"]


def pupil_lists(pupils: pd.DataFrame, attendance: pd.DataFrame, summary: pd.DataFrame, school_key: str,
                as_of: date, terms: tuple[Term, Term] | None = None) -> pd.DataFrame:
    """The school's SA pupils (``list`` = "SA"), then its PA pupils who are not SA ("PA"), each lowest
    attendance first; ``dfe_comparable`` rows of ``summary`` only. Columns ``PUPIL_LIST_COLUMNS``: rates are
    fractions; ``drop_last_20_days`` = rate before the last 20 school days - rate over them (fraction;
    positive is a fall). ``terms``: (this term, last term) as ``term_of`` gives them (default: ``term_of``
    over the school's marks, without the LA's term dates)."""
    mine = attendance[attendance["school_key"] == school_key]
    my_pupils = pupils[pupils["school_key"] == school_key]
    rows = _comparable(summary[summary["school_key"] == school_key])
    rows = rows[rows["persistent_absence"].astype(bool)]
    out = pd.DataFrame({"school_key": rows["school_key"].astype(object), "upn": rows["upn"].astype(object),
                        "list": np.where(rows["severe_absence"].astype(bool), "SA", "PA"),
                        "sessions_possible": rows["sessions_possible"].astype("int64"),
                        "rate_ytd": 1.0 - _absent(rows) / rows["sessions_possible"]})
    if not len(out):
        return pd.DataFrame(columns=PUPIL_LIST_COLUMNS)
    labels = cohort_labels(my_pupils)
    names = my_pupils[["upn"] + [c for c in ("surname", "forename") if c in my_pupils.columns]].astype(object)
    out = out.merge(labels, on=["school_key", "upn"], how="left").merge(
        names.drop_duplicates("upn", keep="last"), on="upn", how="left")
    this_term, last_term = terms if terms is not None else term_of(mine, school_key, as_of)
    terms = {"rate_this_term": (this_term.start, min(this_term.end, as_of)), "rate_last_term": (last_term.start, last_term.end)}
    for column, (start, end) in terms.items():
        rates = _pupil_rates(window_summary(my_pupils, mine, start, end))[["upn", "rate"]]
        out = out.merge(rates.rename(columns={"rate": column}), on="upn", how="left")
    listed = mine[mine["upn"].astype(object).isin(set(out["upn"]))]
    out = out.merge(absence_patterns(listed, as_of), on="upn", how="left")
    recent = _recent_vs_before(my_pupils, mine, school_key, as_of, RECENT_DAYS)
    out = out.merge(recent[["upn", "rate_before", "rate_recent"]].rename(
        columns={"rate_before": "rate_before_last_20_days", "rate_recent": "rate_last_20_days"}), on="upn", how="left")
    out["drop_last_20_days"] = out["rate_before_last_20_days"] - out["rate_last_20_days"]
    for column in PUPIL_LIST_COLUMNS:
        if column not in out.columns:
            out[column] = None
    out["_order"] = (out["list"] == "PA").astype(int)
    return out.sort_values(["_order", "rate_ytd", "upn"], kind="stable")[PUPIL_LIST_COLUMNS].reset_index(drop=True)


# ----------------------------------------------------------------------------------------- the school

OPEN_ITEM_VIEWS = ("ten_day_absence", "absence_triggers", "exclusion_provision", "children_missing_education")


def open_items(views: dict[str, pd.DataFrame], school_key: str) -> dict[str, pd.DataFrame]:
    """The school's open statutory items: its ongoing ``ten_day_absence`` runs and its rows of
    ``absence_triggers``, ``exclusion_provision`` and ``children_missing_education`` (by ``school_key``)."""
    out = {}
    for name in OPEN_ITEM_VIEWS:
        frame = views.get(name)
        if frame is None:
            out[name] = pd.DataFrame()
            continue
        rows = frame[frame["school_key"].astype(object) == school_key]
        if name == "ten_day_absence":
            rows = rows[rows["ongoing"].astype(bool)]
        out[name] = rows.reset_index(drop=True)
    return out


def infer_phase(nc_years) -> str | None:
    """The phase from the NC years on roll: every year <= 6 (Reception and nursery count as early years,
    below 1) primary, every year >= 7 secondary, else all-through. Years that are not NC years (X, blank)
    are ignored; None when none is left."""
    numbers = []
    for value in nc_years:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        text = str(value).strip().upper()
        if text in _EARLY_YEARS:
            numbers.append(0)
        elif text.isdigit():
            numbers.append(int(text))
    if not numbers:
        return None
    if max(numbers) <= 6:
        return "primary"
    if min(numbers) >= 7:
        return "secondary"
    return "all-through"
