"""The Wonde route: one school's pupils (on roll and leavers), session attendance for the academic year
to date, and exclusions, through Wonde's REST API (``shared/docs/mis_apis.md`` §2).

Registry settings: ``source: {school_id: "A1930499544", token_env: "WONDE_TOKEN_9262001",
base_url: "https://api.wonde.com"}``; ``base_url`` is optional (the UK domain by default; a school in
another region, or the simulator, overrides it). The token is read from the environment variable named
by ``token_env``. Every field location is in ``wonde_mapping.py`` with its confidence (DOC/3P/GUESS).

Not yet: incremental extraction (Wonde supports ``updated_after`` plus ``/deletions``), so
``capabilities.changed_since`` is False and every night fetches the academic year to date.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterator

import pandas as pd

from ..canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS, TABLES
from ..files_route.folder import RawExtract
from ..registry import School
from . import wonde_mapping as W
from ..rules.calendar import academic_year_start
from .base import Capabilities, VendorRouteError, secret_from_env
from .http import StaticBearer, VendorError, VendorSession, dig, make_session, next_link

DEFAULT_BASE_URL = "https://api.wonde.com"
ROUTE = "wonde"
# Optional `source` settings of the HTTP layer (defaults: WondeConnector's arguments). A null or 0
# rate_per_second turns the per-token rate limit off (the simulator on loopback).
TUNABLE_SETTINGS = ("rate_per_second", "max_retries", "backoff_factor", "read_timeout")
_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T][0-9:.]*)?$")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _date_text(value: Any) -> str | None:
    """A PHP DateTime object ``{"date": "2015-10-29 14:53:44.000000", ...}`` or a plain date -> text.

    Text that is not a date is passed on as supplied, for validation to report.
    """
    if isinstance(value, dict):
        value = value.get("date")
    text = _text(value)
    if text is None:
        return None
    match = _DATE_TEXT.match(text.strip())
    return match.group(1) if match else text


def student_row(student: dict) -> dict[str, str | None]:
    """One Wonde student -> one raw pupils row (canonical column names, text values)."""
    row: dict[str, str | None] = {}
    for column, (path, _) in W.STUDENT_FIELDS.items():
        value = dig(student, path)
        row[column] = _date_text(value) if column in W.DATE_COLUMNS else _text(value)
    for column, wonde_field in W.PREFERRED_OF.items():  # preferred names only when they differ
        legal = row[column.replace("preferred_", "")]
        row[column] = row[column] if row[column] != legal else None
    parts = {p: _text(dig(student, W.ADDRESS_PREFIX + p)) for p in W.ADDRESS_LINE1_PARTS}
    street = " ".join(p for p in (parts["house_number"], parts["street"]) if p) or None
    row["address_line1"] = ", ".join(p for p in (parts["apartment"], parts["house_name"], street) if p) or None
    if row["sex"] is not None:
        row["sex"] = W.GENDER.get(row["sex"], row["sex"])
    return row


def statutory_code(mis_code: str | None) -> str | None:
    """A Wonde attendance code (the MIS's, maybe a local sub-code) -> the statutory code."""
    if mis_code is None:
        return None
    return W.LOCAL_SUBCODES.get(mis_code.strip().upper(), mis_code)


class WondeConnector:
    route = ROUTE
    capabilities = Capabilities(changed_since=False, deletions=False, leavers=True)

    def __init__(self, *, max_retries: int = 4, backoff_factor: float = 1.0, connect_timeout: float = 10,
                 read_timeout: float = 60, rate_per_second: float | None = 5.0) -> None:
        self.options = dict(max_retries=max_retries, backoff_factor=backoff_factor,
                            connect_timeout=connect_timeout, read_timeout=read_timeout,
                            rate_per_second=rate_per_second)

    # ---------------------------------------------------------------------------------------- fetch
    def fetch(self, school: School, *, as_of: date) -> RawExtract:
        school_id = str(school.source.get("school_id", "") or "").strip()
        if not school_id:
            raise VendorRouteError(f"{school.key}: wonde: source.school_id is not set in the registry")
        token = secret_from_env(school, "token_env")
        base_url = str(school.source.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        options = dict(self.options)
        for setting in TUNABLE_SETTINGS:  # optional registry overrides, e.g. a stricter rate limit
            if setting in school.source:
                value = school.source[setting]
                options[setting] = None if value in (None, "", 0) else float(value)
        if options["max_retries"] is not None:
            options["max_retries"] = int(options["max_retries"])
        session = make_session(base_url, StaticBearer(token, name=str(school.source["token_env"])),
                               route=ROUTE, credential=str(school.source["token_env"]), **options)
        prefix = W.API_PREFIX.format(school_id=school_id)
        try:
            with session:
                return self._fetch(session, prefix, as_of)
        except VendorError as exc:
            message = f"{school.key}: {exc}"
            if exc.transient:
                from ..pipeline import TransientExtractError  # lazily: pipeline imports connectors

                raise TransientExtractError(message) from None
            raise VendorRouteError(message) from None

    def _pages(self, session: VendorSession, path: str, page_size: int, **params: Any) -> Iterator[dict]:
        query = {"per_page": page_size, "cursor": "true", **params}  # cursor mode for full rosters (§2.2)
        return next_link(session, path, query, items_key="data", next_key=W.PAGINATION_NEXT)

    def _fetch(self, session: VendorSession, prefix: str, as_of: date) -> RawExtract:
        paths = {name: prefix + path for name, (path, _) in W.ENDPOINTS.items()}
        include = ",".join(W.STUDENT_INCLUDES)

        pupils: list[dict] = []
        upn_by_student: dict[str, str | None] = {}
        for endpoint in ("students", "leavers"):
            for n, student in enumerate(self._pages(session, paths[endpoint], W.PAGE_SIZES["students"],
                                                    include=include), start=1):
                row = student_row(student)
                upn_by_student[str(student.get("id"))] = row["upn"]
                pupils.append({**row, "_source": paths[endpoint], "_line": str(n)})

        codes = {str(c.get(W.ATTENDANCE_CODE_FIELDS["id"])): _text(c.get(W.ATTENDANCE_CODE_FIELDS["code"]))
                 for c in self._pages(session, paths["attendance_codes"], W.PAGE_SIZES["attendance_codes"])}

        start, end = W.ATTENDANCE_RANGE_PARAMS
        dates = {start: academic_year_start(as_of).isoformat(), end: as_of.isoformat()}
        fields = {c: path for c, (path, _) in W.ATTENDANCE_FIELDS.items()}
        marks: list[dict] = []
        for endpoint in ("attendance", "leaver_attendance"):
            for n, mark in enumerate(self._pages(session, paths[endpoint], W.PAGE_SIZES["attendance"], **dates),
                                     start=1):
                code_id = _text(dig(mark, fields["code"]))
                marks.append({
                    "upn": upn_by_student.get(str(dig(mark, fields["student"]))),
                    "date": _date_text(dig(mark, fields["date"])),
                    "session": _text(dig(mark, fields["session"])),
                    "code": statutory_code(codes.get(code_id, code_id) if code_id is not None else None),
                    "_source": paths[endpoint], "_line": str(n)})

        exclusions: list[dict] = []
        for n, record in enumerate(self._pages(session, paths["exclusions"], W.PAGE_SIZES["exclusions"],
                                               include=",".join(W.EXCLUSION_INCLUDES)), start=1):
            row = {}
            for column, (path, _) in W.EXCLUSION_FIELDS.items():
                value = dig(record, path)
                row[column] = _date_text(value) if column in W.DATE_COLUMNS else _text(value)
            if row["category"] is not None:
                row["category"] = W.EXCLUSION_TYPE.get(row["category"].strip().upper(), row["category"])
            exclusions.append({**row, "_source": paths["exclusions"], "_line": str(n)})

        frames = {"pupils": pupils, "attendance": marks, "exclusions": exclusions}
        tables = {t: pd.DataFrame(frames[t], columns=RAW_COLUMNS[t] + BOOKKEEPING_COLUMNS, dtype=object)
                  for t in TABLES}
        sources = {"pupils": f"{paths['students']} + {paths['leavers']}",
                   "attendance": f"{paths['attendance']} + {paths['leaver_attendance']}",
                   "exclusions": paths["exclusions"]}
        return RawExtract(tables=tables, sources=sources)
