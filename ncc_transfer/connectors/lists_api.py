"""The connector of a small JSON API that lists one school's pupils, marks and exclusions under a
per-school path, a page at a time: the shape of the routes whose API is guessed (``integris``,
``pupil_asset``). The simulator serves the same shape from ``simulator/lists_api.py``.

The route's ``mapping`` module names everything, so a real payload corrects the route there:

* ``API_PREFIX`` (with ``{school_id}``) and ``ENDPOINTS`` (table -> (path, tag)): where the lists are;
* ``LEAVERS_PARAM`` (name, value: leavers listed too), ``ATTENDANCE_RANGE_PARAMS`` (first, last date);
* ``PAGE_PARAM``, ``SIZE_PARAM``, ``FIRST_PAGE``, ``PAGE_SIZES`` (per table) and ``ITEMS_KEY``;
* ``PUPIL_FIELDS``, ``MARK_FIELDS``, ``EXCLUSION_FIELDS`` (canonical column -> dotted path) and
  ``DATE_COLUMNS``; the record ids ``PUPIL_ID``, ``MARK_ID``, ``EXCLUSION_ID``; the pupil a mark or an
  exclusion belongs to, ``MARK_PUPIL`` and ``EXCLUSION_PUPIL``;
* the code maps ``GENDER`` (vendor -> CTF sex), ``LOCAL_SUBCODES`` (school code -> statutory code)
  and ``EXCLUSION_TYPE`` (vendor type -> canonical category);
* the pupil's cohort fields (``ncc_transfer.cohorts``) are ``PUPIL_FIELDS`` entries like any other, read as
  text as supplied (validation reads the codes and flags), except that a SEN provision sent as a label ("SEN
  Support") becomes its code through the one label map, ``cohorts.sen_provision_text``.

A route subclasses ``ListsApiConnector`` with its ``mapping``, ``auth`` and ``pages`` (its paging style).
No change list is known for these vendors, so every night is a full fetch of the academic year to date.
"""

from __future__ import annotations

from datetime import date
from types import ModuleType
from typing import Any, Iterator

from .. import cohorts
from ..rules.calendar import academic_year_start
from .base import (
    STUDENT_KEY, RouteSettings, Snapshot, VendorConnector, local_to_statutory, mapped_code, mapped_row, records_by_id,
    rows_by_id, text
)
from .http import VendorSession


class ListsApiConnector(VendorConnector):
    mapping: ModuleType  # the route's mapping module

    # ------------------------------------------------------------------------------- to override
    def pages(self, session: VendorSession, path: str, table: str, params: dict[str, Any]) -> Iterator[dict]:
        """The records of one list, every page of it, in the vendor's paging style."""
        raise NotImplementedError

    # -------------------------------------------------------------------------------------- rows
    def pupil_row(self, record: dict) -> dict[str, str | None]:
        """One pupil record -> one raw pupils row (canonical column names, text as supplied)."""
        m = self.mapping
        row = mapped_row(record, m.PUPIL_FIELDS, m.DATE_COLUMNS)
        if row["sex"] is not None:
            row["sex"] = m.GENDER.get(row["sex"], row["sex"])
        if "sen_provision" in row:  # a label ("SEN Support") as its code; a code or odd text as supplied
            row["sen_provision"] = cohorts.sen_provision_text(row["sen_provision"])
        return row

    def statutory_code(self, code: str | None) -> str | None:
        """The school's attendance code (maybe a local sub-code) -> the statutory code."""
        return local_to_statutory(code, self.mapping.LOCAL_SUBCODES)

    def mark_row(self, record: dict) -> dict[str, str | None]:
        row = mapped_row(record, self.mapping.MARK_FIELDS, ("date",))
        row["code"] = self.statutory_code(row["code"])
        row[STUDENT_KEY] = text(record.get(self.mapping.MARK_PUPIL))
        return row

    def exclusion_row(self, record: dict) -> dict[str, str | None]:
        m = self.mapping
        row = mapped_row(record, m.EXCLUSION_FIELDS, m.DATE_COLUMNS)
        row["category"] = mapped_code(row["category"], m.EXCLUSION_TYPE)
        row[STUDENT_KEY] = text(record.get(m.EXCLUSION_PUPIL))
        return row

    # ------------------------------------------------------------------------------------ fetching
    def sources(self, settings: RouteSettings) -> dict[str, str]:
        """Table -> the path of its list."""
        prefix = self.mapping.API_PREFIX.format(school_id=settings.require("school_id"))
        return {table: prefix + path for table, (path, _) in self.mapping.ENDPOINTS.items()}

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        m = self.mapping
        paths = self.sources(settings)
        first, last = m.ATTENDANCE_RANGE_PARAMS
        lists = {  # table -> (query, record id, row builder)
            "pupils": (dict([m.LEAVERS_PARAM]), m.PUPIL_ID, self.pupil_row),
            "attendance": ({first: academic_year_start(as_of).isoformat(), last: as_of.isoformat()}, m.MARK_ID,
                           self.mark_row),
            "exclusions": ({}, m.EXCLUSION_ID, self.exclusion_row),
        }
        rows = {table: (records_by_id if table == "attendance" else rows_by_id)(
                    self.pages(session, paths[table], table, query), id_field, to_row, table)
                for table, (query, id_field, to_row) in lists.items()}
        return Snapshot(**rows, sources=paths)
