"""National (England) attendance by phase: the DfE's published figures, shipped as reference data.

Source: DfE, *Pupil attendance in schools* (official statistics from the daily attendance collection),
https://explore-education-statistics.service.gov.uk/find-statistics/pupil-attendance-in-schools
Its year-to-date file is the one the DfE's own dashboard ships, ``data/EES_ytd_data.csv`` in
https://github.com/dfe-analytical-services/attendance-data-dashboard: one row per time period,
geographic level (National, Regional, Local authority) and phase (column ``education_phase``, called
``school_type`` before 2025/26: Primary, Secondary, Special, Total), with ``attendance_perc``,
``overall_absence_perc`` and ``pa_perc`` (persistent absence, percent of enrolments). The file has no
severe absence rate: ``sa_rate`` is blank unless a refresh file carries an ``sa_perc`` column.

``national_attendance.csv`` (next to this module) holds the National rows with ``time_identifier`` =
"Academic year" (the year to date as of the release; the last release of a year covers the whole year),
one row per academic year and phase: academic_year (``2025/26``), phase (primary, secondary, special,
total), attendance_rate, pa_rate, sa_rate (percent, as published, rounded to 4 places), source_url,
published (the date of the release the figures come from). ``refresh`` rebuilds it from a downloaded
DfE file (``ncc-transfer reference-refresh --from FILE``); docs/targeting_pack.md says how.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SHIPPED = Path(__file__).with_name("national_attendance.csv")
PUBLICATION_URL = "https://explore-education-statistics.service.gov.uk/find-statistics/pupil-attendance-in-schools"
COLUMNS = ["academic_year", "phase", "attendance_rate", "pa_rate", "sa_rate", "source_url", "published"]
PHASES = {"Primary": "primary", "Secondary": "secondary", "Special": "special", "Total": "total"}
# The pack's phase -> the national phase it is compared with (the DfE file has no all-through or AP figure).
PHASE_FOR_SCHOOL = {"primary": "primary", "secondary": "secondary", "special": "special",
                    "all-through": "total", "alternative provision": "total", None: "total"}
_PHASE_COLUMNS = ("education_phase", "school_type")  # 2025/26 on, before
_REQUIRED = ("time_period", "time_identifier", "geographic_level", "attendance_perc", "pa_perc")


class ReferenceFileError(ValueError):
    """A file that is not laid out as the DfE's year-to-date attendance file."""


@dataclass(frozen=True)
class NationalFigure:
    academic_year: str
    phase: str
    attendance_rate: float | None  # percent
    pa_rate: float | None
    sa_rate: float | None
    source_url: str
    published: str


def academic_year_label(time_period: str) -> str:
    """The DfE's ``202526`` -> ``2025/26``."""
    text = str(time_period).strip()
    if len(text) != 6 or not text.isdigit():
        raise ReferenceFileError(f"time_period {time_period!r} is not an academic year such as 202526")
    return f"{text[:4]}/{text[4:]}"


def academic_year_of(on: date) -> str:
    first = on.year if on.month >= 9 else on.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    if text in ("", "x", "z", "c", "NA", "u", "low"):
        return None
    return float(text)


def load(path: Path = SHIPPED) -> list[NationalFigure]:
    """The shipped figures (or another file in the same layout)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [NationalFigure(row["academic_year"], row["phase"], _number(row["attendance_rate"]),
                               _number(row["pa_rate"]), _number(row["sa_rate"]), row["source_url"], row["published"])
                for row in csv.DictReader(handle)]


def figure_for(phase: str | None, on: date, figures: list[NationalFigure] | None = None) -> NationalFigure | None:
    """The national figure for a school's phase (``PHASE_FOR_SCHOOL``) in the academic year of ``on``,
    else the latest earlier year's; None when there is none."""
    figures = load() if figures is None else figures
    wanted = PHASE_FOR_SCHOOL.get(phase, "total")
    year = academic_year_of(on)
    candidates = [f for f in figures if f.phase == wanted and f.academic_year <= year]
    return max(candidates, key=lambda f: f.academic_year) if candidates else None


def from_dfe_file(text: str, *, source_url: str, published: str) -> list[NationalFigure]:
    """The National, academic-year rows of a DfE year-to-date attendance file (its text)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in _REQUIRED if c not in header]
    phase_column = next((c for c in _PHASE_COLUMNS if c in header), None)
    if missing or phase_column is None:
        raise ReferenceFileError("not the DfE's year-to-date attendance layout: missing "
                                 + ", ".join(missing + ([] if phase_column else ["education_phase"])))
    out = []
    for row in reader:
        if row["geographic_level"].strip() != "National" or row["time_identifier"].strip() != "Academic year":
            continue
        phase = PHASES.get(row[phase_column].strip())
        if phase is None:
            continue
        rounded = [None if v is None else round(v, 4)
                   for v in (_number(row["attendance_perc"]), _number(row["pa_perc"]), _number(row.get("sa_perc")))]
        out.append(NationalFigure(academic_year_label(row["time_period"]), phase, *rounded, source_url, published))
    if not out:
        raise ReferenceFileError("no National rows for an academic year in the file")
    return out


def merged(old: list[NationalFigure], new: list[NationalFigure]) -> list[NationalFigure]:
    """``old`` with every academic year that ``new`` covers replaced by ``new``'s rows; sorted."""
    years = {f.academic_year for f in new}
    order = list(PHASES.values())
    rows = [f for f in old if f.academic_year not in years] + new
    return sorted(rows, key=lambda f: (f.academic_year, order.index(f.phase)))


def write(figures: list[NationalFigure], path: Path = SHIPPED) -> Path:
    def cell(value):
        return "" if value is None else (f"{value:g}" if isinstance(value, float) else value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in figures:
        writer.writerow([cell(getattr(f, c)) for c in COLUMNS])
    Path(path).write_text(buffer.getvalue(), encoding="utf-8")
    return Path(path)


def refresh(dfe_file: Path, *, out: Path = SHIPPED, source_url: str = PUBLICATION_URL,
            published: str | None = None) -> list[NationalFigure]:
    """Rebuild ``out`` from a downloaded DfE file: its academic years replace the same years in ``out``
    (kept otherwise). ``published``: the release date (default the file's modification date)."""
    dfe_file = Path(dfe_file)
    when = published or date.fromtimestamp(dfe_file.stat().st_mtime).isoformat()
    new = from_dfe_file(dfe_file.read_text(encoding="utf-8"), source_url=source_url, published=when)
    rows = merged(load(out) if Path(out).exists() else [], new)
    write(rows, out)
    return new
