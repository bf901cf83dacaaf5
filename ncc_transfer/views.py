"""Computing the statutory views from the warehouse (plain Python; the rules are in ``rules/``).

Per-school views (absence summary, 10-day list, sickness and G/N/O triggers, sixth-day provision)
are recomputed for a school after each load attempt, from what the warehouse holds for it: tonight's
data when it loaded, its last good load when it failed (so officers still get tonight's list, as of
tonight). LA-wide views (children missing education, pupil movements) are computed once per night
over every school. Each function also returns counts for Dagster metadata: never identifiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from .canonical import LA_VIEWS, SCHOOL_VIEWS
from .rules.absence import absence_summary, prepare_marks
from .rules.calendar import academic_year_start
from .rules.cme import children_missing_education
from .rules.exclusions import exclusion_provision
from .rules.movements import pupil_movements
from .rules.runs import absence_triggers, pupil_days, ten_day_absence
from .warehouse import Warehouse


def compute_school_views(pupils: pd.DataFrame, attendance: pd.DataFrame, exclusions: pd.DataFrame,
                         as_of: date) -> dict[str, pd.DataFrame]:
    """Every per-school view for the given canonical rows.

    The marks are prepared once (integer arrays per mark, then per pupil-day) and shared by the
    absence summary and the three run rules."""
    marks = prepare_marks(attendance, as_of)
    days = pupil_days(marks, as_of)
    return {
        "absence_summary": absence_summary(pupils, attendance, as_of, marks=marks, school_days=days.school_day_pairs),
        "ten_day_absence": ten_day_absence(attendance, as_of, days=days),
        "absence_triggers": absence_triggers(attendance, as_of, days=days),
        "exclusion_provision": exclusion_provision(exclusions, attendance, as_of, days=days.school_days),
    }


def split_views_by_school(views: dict[str, pd.DataFrame], school_keys: list[str]
                          ) -> dict[str, dict[str, pd.DataFrame]]:
    """Per school key, its rows of each view (in the view's order, a fresh index), as
    ``compute_school_views`` would give for that school alone; a school with no rows gets none."""
    out: dict[str, dict[str, pd.DataFrame]] = {key: {} for key in school_keys}
    for name, frame in views.items():
        keys = frame["school_key"].to_numpy(dtype=object)
        for key in school_keys:
            out[key][name] = frame[keys == key].reset_index(drop=True)
    return out


def refresh_school_views(warehouse: Warehouse, school_key: str, as_of: date,
                         tables: dict[str, pd.DataFrame] | None = None) -> dict[str, dict]:
    """Recompute and store one school's views; return counts per view.

    ``tables`` are the school's canonical rows just loaded; without them (the load failed) the
    school's last good rows are read back from the warehouse.
    """
    rows = tables or {t: warehouse.school_rows(t, school_key) for t in ("pupils", "attendance", "exclusions")}
    views = compute_school_views(rows["pupils"], rows["attendance"], rows["exclusions"], as_of)
    warehouse.replace_views(views, school_key=school_key)
    return {name: school_view_counts(name, frame) for name, frame in views.items()}


def school_view_counts(view: str, frame: pd.DataFrame) -> dict:
    """What an officer wants at a glance for one school's view: counts only."""
    counts: dict = {"rows": len(frame)}
    if view == "absence_summary" and len(frame):
        comparable = frame[frame["dfe_comparable"]]
        counts.update(persistent=int(frame["persistent_absence"].sum()), severe=int(frame["severe_absence"].sum()),
                      pa_rate_percent=_percent(comparable["persistent_absence"].sum(), len(comparable)),
                      absence_rate_percent=_percent(
                          frame["sessions_authorised"].sum() + frame["sessions_unauthorised"].sum(),
                          frame["sessions_possible"].sum()))
    elif view in ("ten_day_absence", "absence_triggers") and len(frame):
        counts["ongoing"] = int(frame["ongoing"].sum())
        if view == "absence_triggers":
            counts.update({str(k): int(v) for k, v in frame["trigger"].value_counts().items()})
    elif view == "exclusion_provision" and len(frame):
        counts.update({str(k): int(v) for k, v in frame["responsible"].value_counts().items()})
    return counts


def compute_la_views(warehouse: Warehouse, as_of: date,
                     final_years: Mapping[str, int] | None = None) -> dict[str, pd.DataFrame]:
    """The LA-wide views over every school's latest load.

    ``final_years``: school key -> final NC year, as the registry gives them (``Registry.final_years``);
    the CME rule infers the others from the roll."""
    from .canonical import as_datetimes, coerce_types

    pupils = coerce_types("pupils", warehouse.read("SELECT * FROM pupils"))
    roll = warehouse.read("SELECT * FROM roll_history")
    for column in ("entry_date", "leaving_date", "first_seen", "last_seen", "dob"):
        roll[column] = as_datetimes(roll[column]).astype("datetime64[ns]")
    # School days need only which codes were used on which dates at each school, not every mark.
    calendar = warehouse.read(
        "SELECT DISTINCT school_key, laestab, '' AS upn, date, 'AM' AS session, code FROM attendance "
        "WHERE date BETWEEN ? AND ?", [academic_year_start(as_of), as_of])
    calendar["date"] = as_datetimes(calendar["date"]).astype("datetime64[ns]")
    return {
        "children_missing_education": children_missing_education(pupils, roll, as_of, attendance=calendar,
                                                                 final_years=final_years),
        "pupil_movements": pupil_movements(pupils, roll, calendar, as_of),
    }


def inferred_final_years(warehouse: Warehouse, as_of: date) -> dict[str, int]:
    """Each loaded school's final year group as the CME rule infers it from the warehouse's rolls."""
    from .rules.cme import infer_final_years

    pupils = warehouse.read("SELECT school_key, nc_year FROM pupils")
    roll = warehouse.read("SELECT school_key, nc_year, last_seen FROM roll_history")
    return infer_final_years(pupils, roll, as_of)


def refresh_la_views(warehouse: Warehouse, as_of: date,
                     final_years: Mapping[str, int] | None = None) -> dict[str, pd.DataFrame]:
    views = compute_la_views(warehouse, as_of, final_years)
    warehouse.replace_views(views)
    return views


def la_view_counts(view: str, frame: pd.DataFrame) -> dict:
    counts: dict = {"rows": len(frame)}
    if view == "children_missing_education" and len(frame):
        counts.update({str(k): int(v) for k, v in frame["reason"].value_counts().items()})
    if view == "pupil_movements" and len(frame):
        counts.update({str(k): int(v) for k, v in frame["event"].value_counts().items()})
        counts["new_entrant_return_due"] = int(frame["new_entrant_return_due"].sum())
    return counts


def la_headline(warehouse: Warehouse) -> dict:
    """LA totals across every view: the numbers an officer looks at first. Counts only.

    Absence figures follow the DfE method (``absence_summary``'s cut columns over ``dfe_comparable``
    rows); ``sickness_returns`` counts enrolments with 15 days of illness, consecutive or cumulative."""
    row = warehouse.read(
        """
        SELECT (SELECT count(*) FROM absence_summary WHERE dfe_comparable) AS enrolments,
               (SELECT count(*) FROM absence_summary WHERE dfe_comparable AND persistent_absence) AS persistent,
               (SELECT count(*) FROM absence_summary WHERE dfe_comparable AND severe_absence) AS severe,
               (SELECT round(100.0 * sum(sessions_authorised + sessions_unauthorised) / nullif(sum(sessions_possible), 0), 2)
                  FROM absence_summary WHERE dfe_comparable) AS overall_absence_rate_percent,
               (SELECT count(*) FROM ten_day_absence) AS ten_day_list,
               (SELECT count(*) FROM ten_day_absence WHERE ongoing) AS ten_day_ongoing,
               (SELECT count(*) FROM (SELECT DISTINCT school_key, upn FROM absence_triggers
                                      WHERE "trigger" IN ('sickness_15', 'sickness_15_cumulative')) s
               ) AS sickness_returns,
               (SELECT count(*) FROM absence_triggers WHERE "trigger" = 'gno_20') AS gno_20_day_runs,
               (SELECT count(*) FROM exclusion_provision WHERE responsible = 'local_authority') AS sixth_day_la,
               (SELECT count(*) FROM exclusion_provision WHERE responsible = 'school') AS sixth_day_school,
               (SELECT count(*) FROM children_missing_education) AS cme_candidates,
               (SELECT count(*) FROM pupil_movements WHERE new_entrant_return_due) AS new_entrant_returns_due
        """).iloc[0].to_dict()
    headline = {k: (None if pd.isna(v) else (float(v) if "rate" in k else int(v))) for k, v in row.items()}
    headline["pa_rate_percent"] = _percent(headline["persistent"], headline["enrolments"])
    return headline


def overview_by_school(warehouse: Warehouse) -> pd.DataFrame:
    """Counts per school across the views, for the markdown table in Dagster metadata."""
    return warehouse.read(
        """
        WITH a AS (SELECT school_key, count(*) AS enrolments,
                          sum(CASE WHEN persistent_absence THEN 1 ELSE 0 END) AS persistent,
                          sum(CASE WHEN severe_absence THEN 1 ELSE 0 END) AS severe,
                          round(100.0 * sum(CASE WHEN persistent_absence AND dfe_comparable THEN 1 ELSE 0 END)
                                / nullif(sum(CASE WHEN dfe_comparable THEN 1 ELSE 0 END), 0), 1) AS pa_rate
                   FROM absence_summary GROUP BY 1),
             t AS (SELECT school_key, count(*) AS ten_day, sum(CASE WHEN ongoing THEN 1 ELSE 0 END) AS ten_day_ongoing
                   FROM ten_day_absence GROUP BY 1),
             x AS (SELECT school_key, count(*) AS sixth_day FROM exclusion_provision GROUP BY 1),
             c AS (SELECT school_key, count(*) AS cme FROM children_missing_education GROUP BY 1),
             m AS (SELECT school_key, sum(CASE WHEN event = 'joined' THEN 1 ELSE 0 END) AS joined,
                          sum(CASE WHEN event = 'left' THEN 1 ELSE 0 END) AS "left"
                   FROM pupil_movements GROUP BY 1),
             s AS (SELECT DISTINCT school_key FROM pupils)
        SELECT s.school_key, coalesce(enrolments, 0)::INTEGER AS enrolments,
               coalesce(persistent, 0)::INTEGER AS persistent, pa_rate, coalesce(severe, 0)::INTEGER AS severe,
               coalesce(ten_day, 0)::INTEGER AS ten_day, coalesce(ten_day_ongoing, 0)::INTEGER AS ten_day_ongoing,
               coalesce(sixth_day, 0)::INTEGER AS sixth_day, coalesce(cme, 0)::INTEGER AS cme,
               coalesce(joined, 0)::INTEGER AS joined, coalesce("left", 0)::INTEGER AS "left"
        FROM s LEFT JOIN a USING (school_key) LEFT JOIN t USING (school_key) LEFT JOIN x USING (school_key)
               LEFT JOIN c USING (school_key) LEFT JOIN m USING (school_key)
        ORDER BY s.school_key
        """
    )


def markdown_table(frame: pd.DataFrame) -> str:
    """A small markdown table (no tabulate dependency)."""
    if frame.empty:
        return "_no schools loaded_"
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _percent(part, whole) -> float | None:
    return round(100.0 * float(part) / float(whole), 1) if whole else None


__all__ = ["LA_VIEWS", "SCHOOL_VIEWS", "compute_school_views", "split_views_by_school", "refresh_school_views", "refresh_la_views",
           "la_view_counts", "la_headline", "overview_by_school", "markdown_table"]
