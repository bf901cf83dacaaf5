"""Writing the termly targeting support pack (HTML and CSV) and the LA page: formatting and files only.

The figures come from ``rules.targeting`` (assembled by ``ncc_transfer.targeting``). The school's pack
holds pupil data: it is written only under ``<packs_root>/<laestab>/<academic year>-<term>/`` with
owner-only permissions (``files.py``). The LA page holds counts and rates only, no pupil name or UPN.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ncc_transfer.reports.files import private_dir, school_dir, write_private
from ncc_transfer.reports.svg_chart import weekly_chart_svg
from ncc_transfer.reports.templating import render
from ncc_transfer.rules.targeting import COHORT_TITLES, NOT_RECORDED

PACK_HTML = "targeting_pack.html"
PUPILS_CSV = "sa_pa_pupils.csv"
EARLY_CSV = "early_identification.csv"
LA_HTML = "la_targeting.html"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would read these as formulas


@dataclass
class SchoolPack:
    """Everything the school's pack shows (rates are fractions; national figures percentages, as published)."""

    school_key: str
    laestab: str
    school_name: str
    la_name: str
    as_of: date
    term_label: str  # 2026-27-autumn
    term: Any  # rules.targeting.Term
    last_term: Any
    phase: str | None
    phase_source: str  # "registry" | "inferred from the roll" | "not known"
    rates: dict
    la_rates: dict
    national: Any  # reference.national_attendance.NationalFigure or None
    weekly: pd.DataFrame
    pupils: pd.DataFrame  # rules.targeting.pupil_lists, SA then PA
    early: pd.DataFrame  # rules.targeting.early_identification, with surname/forename/nc_year
    cohorts: pd.DataFrame  # cohort_rates with_la
    year_groups: pd.DataFrame  # year_group_rates with_la
    open_items: dict[str, pd.DataFrame]
    views_as_of: date | None = None

    def counts(self) -> dict[str, int]:
        """Counts only: safe for logs and Dagster metadata."""
        lists = self.pupils["list"].value_counts() if len(self.pupils) else {}
        return {"severe": int(lists.get("SA", 0)), "persistent_not_severe": int(lists.get("PA", 0)),
                "early_identification": len(self.early), "school_weeks": len(self.weekly),
                **{f"open_{name}": len(frame) for name, frame in self.open_items.items()}}


@dataclass
class LaPage:
    la_name: str
    as_of: date
    term_label: str
    phases: pd.DataFrame  # phase, schools, pupils, attendance_rate, pa_rate, sa_rate, national_*
    furthest: pd.DataFrame  # school_name, phase, pupils, attendance_rate, phase_rate, gap
    cohort_gaps: pd.DataFrame  # cohort, group, pupils, attendance_rate, pa_rate, sa_rate, gap


@dataclass(frozen=True)
class WrittenPack:
    folder: Path
    files: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def pct(value, places: int = 1) -> str:
    """0.9452 -> '94.5%'; None -> '–'."""
    return "–" if value is None or pd.isna(value) else f"{100.0 * float(value):.{places}f}%"


def points(value) -> str:
    """A gap as signed percentage points: -0.025 -> '-2.5 pts'."""
    return "–" if value is None or pd.isna(value) else f"{100.0 * float(value):+.1f} pts"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [] if frame is None or not len(frame) else frame.astype(object).where(frame.notna(), None).to_dict("records")


def _cell(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value.date() if isinstance(value, pd.Timestamp) else value)
    return "'" + text if text.startswith(_FORMULA_START) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(frame.columns))
    for row in frame.itertuples(index=False):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _day(value) -> str:
    return "?" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%d %b %Y}"


def item_detail(view: str, row: dict) -> str:
    """One line describing an open statutory item (dates and counts, no names)."""
    if view == "ten_day_absence":
        return f"since {_day(row.get('first_day'))}, {row.get('school_days')} school days"
    if view == "absence_triggers":
        state = "ongoing" if row.get("ongoing") else f"to {_day(row.get('last_day'))}"
        return f"{row.get('trigger')}: from {_day(row.get('first_day'))}, {row.get('school_days')} school days, {state}"
    if view == "exclusion_provision":
        estimated = " (estimated)" if row.get("sixth_day_estimated") else ""
        return (f"{row.get('category')} from {_day(row.get('start_date'))}: sixth day {_day(row.get('sixth_day'))}"
                f"{estimated}, provision by the {str(row.get('responsible') or '').replace('_', ' ')}")
    if view == "children_missing_education":
        return f"{row.get('reason')}, left {_day(row.get('leaving_date'))}"
    return ""


_SHORT = {"sen_provision": "SEN", "fsm_eligible": "FSM", "fsm_ever6": "FSM6", "looked_after": "LAC",
          "child_in_need": "CIN", "child_protection_plan": "CP"}


def cohort_flags(row: dict) -> tuple[str, str]:
    """(the pupil's cohorts, e.g. "SEN K (SEN support) · FSM"; the cohorts not recorded, e.g. "LAC, CIN")."""
    flags, unknown = [], []
    for column, short in _SHORT.items():
        value = row.get(column)
        if value in (None, NOT_RECORDED):
            unknown.append(short)
        elif column == "sen_provision":
            if not str(value).startswith("N"):
                flags.append(f"SEN {value}")
        elif value == "yes":
            flags.append(short)
    return " · ".join(flags), ", ".join(unknown)


def _pupil_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = _records(frame)
    for row in rows:
        row["flags"], row["not_recorded"] = cohort_flags(row)
    return rows


def _items(open_items: dict[str, pd.DataFrame]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, frame in open_items.items():
        rows = _records(frame)
        for row in rows:
            row["detail"] = item_detail(name, row)
        out[name] = rows
    return out


def write_school_pack(pack: SchoolPack, packs_root: Path) -> WrittenPack:
    """``<packs_root>/<laestab>/<term_label>/``: targeting_pack.html, sa_pa_pupils.csv, early_identification.csv."""
    folder = private_dir(school_dir(packs_root, pack.laestab) / pack.term_label)
    national_rate = pack.national.attendance_rate if pack.national is not None else None
    phase_name = pack.phase or "all schools"
    chart = weekly_chart_svg(pack.weekly, la_rate=pack.la_rates.get("attendance_rate"), national_rate=national_rate,
                             la_label=f"LA {phase_name} average", national_label=f"England {phase_name} average"
                             if pack.national is not None and pack.national.phase != "total" else "England average")
    html = render("targeting_pack.html.j2", pack=pack, cohort_titles=COHORT_TITLES, chart=chart, pct=pct, points=points,
                  sa=_pupil_rows(pack.pupils[pack.pupils["list"] == "SA"]) if len(pack.pupils) else [],
                  pa=_pupil_rows(pack.pupils[pack.pupils["list"] == "PA"]) if len(pack.pupils) else [],
                  early=_records(pack.early), cohorts=_records(pack.cohorts), year_groups=_records(pack.year_groups),
                  items=_items(pack.open_items))
    files = [write_private(folder / PACK_HTML, html.encode("utf-8")),
             write_private(folder / PUPILS_CSV, csv_bytes(pack.pupils)),
             write_private(folder / EARLY_CSV, csv_bytes(pack.early))]
    return WrittenPack(folder=folder, files=files, counts=pack.counts())


def write_la_page(page: LaPage, packs_root: Path) -> WrittenPack:
    """``<packs_root>/la/<term_label>/la_targeting.html``: counts and rates, no pupil."""
    root = Path(packs_root)
    if not root.exists():
        private_dir(root)
    folder = private_dir(private_dir(root / "la") / page.term_label)
    html = render("la_targeting.html.j2", page=page, cohort_titles=COHORT_TITLES, pct=pct, points=points, phases=_records(page.phases),
                  furthest=_records(page.furthest), cohort_gaps=_records(page.cohort_gaps))
    path = write_private(folder / LA_HTML, html.encode("utf-8"))
    return WrittenPack(folder=folder, files=[path], counts={"schools": int(page.phases["schools"].sum())
                                                             if len(page.phases) else 0})
