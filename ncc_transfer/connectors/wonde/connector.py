"""The Wonde route: one school's pupils (on roll and leavers), session attendance for the academic year
to date, and exclusions, through Wonde's REST API (https://docs.wonde.com/docs/api/sync/).

Registry settings: ``source: {school_id: "A1930499544", token_env: "WONDE_TOKEN_9262001",
base_url: "https://api.wonde.com"}``; ``base_url`` is optional (the UK domain by default; a school in
another region, or the simulator, overrides it). The token is read from the environment variable named
by ``token_env``. Every field location is in ``mapping.py`` with its confidence (DOC/3P/GUESS).

Incremental: students and leavers ``updated_after`` the watermark (the start of the last fetch,
less an hour for clock skew) plus ``/deletions``; marks re-read for the look-back window. Each pupil row
keeps its cohort date ranges (``PERIODS_KEY``), and every night, full or incremental, counts every pupil's
flags on its own date from them (``WondeConnector.on_night``), so a pupil not re-read is not left with the
flags of the night it was read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Iterator

from ncc_transfer import cohorts
from ncc_transfer.connectors.wonde import mapping as W
from ncc_transfer.connectors.base import (
    Records, RecordsBuilder, ID_KEY, STUDENT_KEY, IncrementalConnector, RouteSettings, date_text, field_paths,
    Snapshot, local_to_statutory, mapped_code, mapped_row, preferred_if_different, text, vendor_day
)
from ncc_transfer.connectors.http import StaticBearer, VendorSession, dig, next_link
from ncc_transfer.connectors.incremental import PupilChanges

DEFAULT_BASE_URL = "https://api.wonde.com"
ROUTE = "wonde"
CLOCK_SKEW = timedelta(hours=1)  # the watermark is taken this much before the fetch started
# A pupil row's cohort date ranges as compact JSON (``periods_text``): kept in the mirror so that every night
# counts the flags on its own date, re-read or not; not a raw column, so it never reaches the raw extract,
# the archive or the warehouse.
PERIODS_KEY = "_cohort_periods"
STUDENT_PATHS = field_paths(W.STUDENT_FIELDS)
EXCLUSION_PATHS = field_paths(W.EXCLUSION_FIELDS)


def _ranges(student: dict, include: str) -> list[tuple[date | None, date | None]] | None:
    """A date-range include as (start, end) periods (end None: open); None when the include is absent or a
    range has a date that cannot be read (the flags are then not supplied)."""
    ranges = student.get(include)
    if not isinstance(ranges, dict) or not isinstance(ranges.get(W.DATE_RANGE_ITEMS), list):
        return None
    first, last = W.DATE_RANGE_FIELDS
    periods = []
    for item in ranges[W.DATE_RANGE_ITEMS]:
        try:
            start, end = vendor_day(item.get(first)), vendor_day(item.get(last))
        except (AttributeError, ValueError):
            return None
        periods.append((start, end))
    return periods


Periods = dict[str, list[tuple[date | None, date | None]] | None]


def cohort_periods(student: dict) -> Periods:
    """The student's date-range includes as periods, by cohort field (``mapping.DATE_RANGE_INCLUDES``: fsm,
    looked_after, child_protection_plan); None for an include absent or unreadable."""
    return {field: _ranges(student, include) for field, (include, _) in W.DATE_RANGE_INCLUDES.items()}


def periods_text(periods: Periods) -> str:
    """Periods as the compact JSON text the mirror keeps in ``PERIODS_KEY``:
    ``{"child_protection_plan":null,"fsm":[["2020-09-01","2026-03-19"]],"looked_after":[]}``."""
    return json.dumps({field: None if spans is None else
                       [[d.isoformat() if d else None for d in span] for span in spans]
                       for field, spans in periods.items()}, sort_keys=True, separators=(",", ":"))


def periods_from_text(value: str | None) -> Periods:
    """``periods_text`` read back (None or unreadable text: every include not supplied)."""
    try:
        stored = json.loads(value) if value else {}
        return {field: None if stored.get(field) is None else
                [tuple(date.fromisoformat(d) if d else None for d in span) for span in stored[field]]
                for field in W.DATE_RANGE_INCLUDES}
    except (TypeError, ValueError, AttributeError):
        return dict.fromkeys(W.DATE_RANGE_INCLUDES)


def flags_on(periods: Periods, as_of: date | None) -> dict[str, str | None]:
    """The flags ``periods`` give on ``as_of`` (raw text; None without the include or a night), by the
    one rule in ``ncc_transfer.cohorts`` (``fsm_flags``, ``covers``)."""
    flags: dict[str, str | None] = {"fsm_eligible": None, "fsm_ever6": None}
    for field in W.DATE_RANGE_INCLUDES:
        spans = periods.get(field) if as_of is not None else None
        if field == "fsm":
            if spans is not None:
                eligible, ever6 = cohorts.fsm_flags(spans, as_of)
                flags.update(fsm_eligible=cohorts.flag_text(eligible), fsm_ever6=cohorts.flag_text(ever6))
        else:
            flags[field] = None if spans is None else cohorts.flag_text(cohorts.covers(spans, as_of))
    return flags


def cohort_flags(student: dict, as_of: date | None) -> dict[str, str | None]:
    """The flags the date-range includes give on ``as_of`` (raw text; None without the include or a night)."""
    return flags_on(cohort_periods(student), as_of)


def student_row(student: dict, as_of: date | None = None) -> dict[str, str | None]:
    """One Wonde student -> one raw pupils row (canonical column names, text values); the cohort flags from
    date ranges are counted on ``as_of`` (the night; None: not supplied)."""
    row = preferred_if_different(mapped_row(student, STUDENT_PATHS, W.DATE_COLUMNS), W.PREFERRED_OF)
    row.update(cohort_flags(student, as_of))
    parts = {p: text(dig(student, W.ADDRESS_PREFIX + p)) for p in W.ADDRESS_LINE1_PARTS}
    street = " ".join(p for p in (parts["house_number"], parts["street"]) if p) or None
    row["address_line1"] = ", ".join(p for p in (parts["apartment"], parts["house_name"], street) if p) or None
    if row["sex"] is not None:
        row["sex"] = W.GENDER.get(row["sex"], row["sex"])
    return row


def statutory_code(mis_code: str | None) -> str | None:
    """A Wonde attendance code (the MIS's, maybe a local sub-code) -> the statutory code."""
    return local_to_statutory(mis_code, W.LOCAL_SUBCODES)


class WondeConnector(IncrementalConnector):
    route = ROUTE
    # 2: FSM, looked after and child protection plan from the date-range includes; 3: the pupil rows keep the
    # ranges (PERIODS_KEY), so a mirror from before is rebuilt by one full fetch
    mapping_version = 3
    mirror_fields = (PERIODS_KEY,)
    default_base_url = DEFAULT_BASE_URL

    def auth(self, settings: RouteSettings) -> StaticBearer:
        settings.require("school_id")
        return StaticBearer(settings.secret("token_env"), name=settings.credential_name("token_env"))

    # ------------------------------------------------------------------------------------- paths
    def _paths(self, settings: RouteSettings) -> dict[str, str]:
        prefix = W.API_PREFIX.format(school_id=settings.require("school_id"))
        return {name: prefix + path for name, (path, _) in W.ENDPOINTS.items()}

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        paths = self._paths(settings)
        return {"pupils": f"{paths['students']} + {paths['leavers']}",
                "attendance": f"{paths['attendance']} + {paths['leaver_attendance']}",
                "exclusions": paths["exclusions"]}

    def _pages(self, session: VendorSession, path: str, page_size: int, **params: Any) -> Iterator[dict]:
        query = {"per_page": page_size, "cursor": "true", **params}  # cursor mode for full rosters
        return next_link(session, path, query, items_key="data", next_key=W.PAGINATION_NEXT)

    # ---------------------------------------------------------------------------------- datasets
    def _pupils(self, session: VendorSession, settings: RouteSettings, **params: Any) -> dict[str, dict]:
        """Pupils by Wonde id, with the date ranges they keep (``PERIODS_KEY``); their flags are counted
        on the night by ``on_night`` (every night, full or incremental)."""
        paths = self._paths(settings)
        pupils: dict[str, dict] = {}
        for endpoint in ("students", "leavers"):
            for student in self._pages(session, paths[endpoint], W.PAGE_SIZES["students"],
                                       include=",".join(W.STUDENT_INCLUDES), **params):
                pupils[str(student.get("id"))] = {**student_row(student),
                                                  PERIODS_KEY: periods_text(cohort_periods(student)),
                                                  "_source": paths[endpoint]}
        return pupils

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        paths = self._paths(settings)
        codes = {str(c.get(W.ATTENDANCE_CODE_FIELDS["id"])): text(c.get(W.ATTENDANCE_CODE_FIELDS["code"]))
                 for c in self._pages(session, paths["attendance_codes"], W.PAGE_SIZES["attendance_codes"])}
        first, last = W.ATTENDANCE_RANGE_PARAMS
        dates = {first: start.isoformat(), last: end.isoformat()}
        fields = field_paths(W.ATTENDANCE_FIELDS)
        marks = RecordsBuilder()
        for endpoint in ("attendance", "leaver_attendance"):
            for n, mark in enumerate(self._pages(session, paths[endpoint], W.PAGE_SIZES["attendance"], **dates)):
                code_id = text(dig(mark, fields["code"]))
                mark_id = text(mark.get("id")) or f"{endpoint}:{n}"
                marks.add(mark_id, {
                    STUDENT_KEY: text(dig(mark, fields["student"])),
                    "date": date_text(dig(mark, fields["date"])),
                    "session": text(dig(mark, fields["session"])),
                    "code": statutory_code(codes.get(code_id, code_id) if code_id is not None else None),
                    "_source": paths[endpoint]})
        return marks.build()

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        path = self._paths(settings)["exclusions"]
        exclusions: dict[str, dict] = {}
        for n, record in enumerate(self._pages(session, path, W.PAGE_SIZES["exclusions"],
                                               include=",".join(W.EXCLUSION_INCLUDES))):
            row: dict[str, Any] = {"_source": path, **mapped_row(record, EXCLUSION_PATHS, W.DATE_COLUMNS)}
            row["category"] = mapped_code(row["category"], W.EXCLUSION_TYPE)
            exclusions[text(record.get("id")) or str(n)] = row
        return exclusions

    @staticmethod
    def _watermark() -> dict[str, str]:
        return {W.UPDATED_AFTER_PARAM: (datetime.now() - CLOCK_SKEW).strftime("%Y-%m-%d %H:%M:%S")}

    def all_pupils(self, session: VendorSession, settings: RouteSettings) -> tuple[dict[str, dict], dict[str, Any]]:
        watermark = self._watermark()  # taken first: a change made during the fetch is listed next night
        return self._pupils(session, settings), watermark

    def on_night(self, snapshot: Snapshot, as_of: date) -> Snapshot:
        """Every pupil's date-range flags counted on ``as_of`` from the ranges the row keeps (``PERIODS_KEY``),
        whether the pupil was read tonight or comes from the mirror: a period that ended, or an FSM period
        that left the six years, changes the flag on the night it does, without any change at Wonde."""
        flags: dict[str | None, dict[str, str | None]] = {}  # by periods text (most pupils share a few)
        pupils = {}
        for pid, row in snapshot.pupils.items():
            value = row.get(PERIODS_KEY)
            if value not in flags:
                flags[value] = flags_on(periods_from_text(value), as_of)
            pupils[pid] = {**row, **flags[value]}
        return replace(snapshot, pupils=pupils)

    def changed_pupils(self, session: VendorSession, settings: RouteSettings, *, since: dict,
                       as_of: date) -> PupilChanges:
        watermark = self._watermark()
        after = {W.UPDATED_AFTER_PARAM: since[W.UPDATED_AFTER_PARAM]}
        upserts = self._pupils(session, settings, **after)
        deleted = {text(d.get("id")) for d in self._pages(session, self._paths(settings)["deletions"],
                                                          W.PAGE_SIZES["deletions"], **after)
                   if d.get("type") == W.DELETION_TYPE_STUDENT and not d.get("restored_at")}
        return PupilChanges(upserts=upserts, deleted={d for d in deleted if d} - set(upserts), watermark=watermark)


__all__ = ["ID_KEY", "PERIODS_KEY", "WondeConnector", "cohort_flags", "cohort_periods", "flags_on", "periods_from_text",
           "periods_text", "statutory_code", "student_row"]
