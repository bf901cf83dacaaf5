"""The retention schedule (how long each kind of data is kept) and the cut-off dates it gives.

The schedule is a YAML file beside the registry (``$NCC_HOME/retention.yaml``, or the file named by
``NCC_RETENTION_FILE``); without one, the documented defaults in ``retention_defaults.yaml`` apply.
Keys a file leaves out keep their default.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from ..config import retention_file
from ..rules.calendar import academic_year_start

DEFAULTS_FILE = Path(__file__).parents[1] / "retention_defaults.yaml"
_MINIMUM = {"attendance_academic_years": 1}  # everything else: 0 or more


class RetentionConfigError(ValueError):
    """The retention file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RetentionConfig:
    """Retention periods (days unless the name says years). Defaults: ``retention_defaults.yaml``."""

    raw_archive_days: int = 30
    attendance_academic_years: int = 2
    leavers_years: int = 6
    validation_issues_fixed_days: int = 365
    reports_days: int = 90
    dagster_runs_days: int = 90
    audit_log_years: int = 7
    extract_state_days: int = 14
    leaver_cohort_fields_days: int = 365
    source: str = field(default="built-in defaults", compare=False)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "source"]

    def periods(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in self.keys()}


@functools.lru_cache(maxsize=1)
def default_retention() -> RetentionConfig:
    """The shipped schedule, read from ``retention_defaults.yaml`` (the one place its numbers live).

    Read once per process: the file ships with the code (every school's report asks for it)."""
    return parse_retention(_read_yaml(DEFAULTS_FILE), source=f"defaults ({DEFAULTS_FILE.name})")


def load_retention(path: Path | None = None) -> RetentionConfig:
    """The schedule in ``path`` (default ``retention_file()``); a missing file means the defaults.

    Raises ``RetentionConfigError`` naming the file and key for anything it cannot use.
    """
    path = retention_file() if path is None else Path(path)
    if not path.exists():
        return default_retention()
    return parse_retention(_read_yaml(path), source=str(path), base=default_retention())


def parse_retention(data: Any, *, source: str, base: RetentionConfig | None = None) -> RetentionConfig:
    """Check a parsed YAML document; keys it leaves out come from ``base`` (default: built-in)."""
    base = base or RetentionConfig()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RetentionConfigError(f"{source}: expected a mapping of retention keys to whole numbers, "
                                   f"got {type(data).__name__}")
    known = RetentionConfig.keys()
    problems: list[str] = []
    values: dict[str, int] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"{source}: unknown key {key!r} (known keys: {', '.join(known)})")
            continue
        minimum = _MINIMUM.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{source}: {key} must be a whole number (got {value!r})")
        elif value < minimum:
            why = " (the current year's marks are needed for tonight's statutory lists)" if minimum else ""
            problems.append(f"{source}: {key} must be {minimum} or more{why} (got {value})")
        else:
            values[key] = value
    if problems:
        raise RetentionConfigError("; ".join(problems))
    return replace(base, **values, source=source)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RetentionConfigError(f"{path}: cannot read the retention file ({type(exc).__name__}: {exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RetentionConfigError(f"{path}: not valid YAML{where}") from None


# -- cut-offs ---------------------------------------------------------------------------------------

def years_before(day: date, years: int) -> date:
    """The same day ``years`` years earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Cutoffs:
    """Dated before these, it goes."""

    archive: date
    attendance: date
    leavers: date
    issues_fixed: date
    reports: date
    runs: datetime  # aware, UTC
    audit: datetime  # naive, as audit_log.logged_at is stored (UTC)
    state: date
    cohort_fields: date = date.min  # leavers who left before this lose their cohort fields

    @classmethod
    def of(cls, config: RetentionConfig, as_of: date) -> Cutoffs:
        runs_day = as_of - timedelta(days=config.dagster_runs_days)
        year_start = academic_year_start(as_of)
        return cls(
            archive=as_of - timedelta(days=config.raw_archive_days),
            attendance=year_start.replace(year=year_start.year - (config.attendance_academic_years - 1)),
            leavers=years_before(as_of, config.leavers_years),
            issues_fixed=as_of - timedelta(days=config.validation_issues_fixed_days),
            reports=as_of - timedelta(days=config.reports_days),
            runs=datetime.combine(runs_day, time(0), tzinfo=timezone.utc),
            audit=datetime.combine(years_before(as_of, config.audit_log_years), time(0)),
            state=as_of - timedelta(days=config.extract_state_days),
            cohort_fields=as_of - timedelta(days=config.leaver_cohort_fields_days),
        )
