"""The Groupcall Xporter on Demand route (``mis: xporter``, the SIMS route): one school's pupils (on roll
and leavers), session attendance for the academic year to date, and exclusions, through XoD's REST API
(https://xporterdocs.groupcall.com/docs/Xporter/endpoints/xporter).

Registry settings: ``source: {relying_party: "app.example.dev", secret_env: "XOD_SECRET_9262001"}``,
optional ``estab`` (default: the school's LAESTAB), ``sts_url`` (default Groupcall's STS) and
``base_url`` (default ``https://xporter.groupcall.com``). The school's ``schoolSecret`` is read from
the environment variable named by ``secret_env``.

Auth: the STS gives a per-school token for ``{estab, relyingParty, password, thirdpartyid}``; data calls
send ``Authorization: Idaas <token>``. ``http.TokenEndpoint`` caches it until it expires and
re-authenticates once on a 401. Paging: ``page``/``pageSize`` up to ``__pagination__[0].PageCount``
(never ``NextPage``, which is still there on the last page). Errors in a 200 (``ExceptionMessage``) are
caught by ``http.check_body``. Every field name is in ``mapping.py`` with its confidence.

Incremental (changesets): the full fetch lists Students with ``changedRows=*`` and keeps the
``NextChangedRows`` token as the watermark; the next night asks for ``changedRows=<token>`` with the same
options and gets the changed rows (maybe only their ``Id``: those are re-read) and ``Students_deleted``.
Marks are re-read for the look-back window; exclusions in full.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Iterator
from urllib.parse import quote

from ncc_transfer.connectors.xporter import mapping as X
from ncc_transfer.connectors.base import (
    Records, RecordsBuilder, ID_KEY, STUDENT_KEY, IncrementalConnector, RouteSettings, VendorRouteError, date_text,
    field_paths, mapped_code, mapped_row, preferred_if_different, text
)
from ncc_transfer.connectors.http import TokenEndpoint, VendorSession, page_count
from ncc_transfer.connectors.incremental import PupilChanges

ROUTE = "xporter"
# Up to this many changed pupils that came back with only their Id are re-read one by one
# (``Students/{id}``); more are picked out of one full listing.
REFETCH_ONE_BY_ONE_MAX = 20
ESTAB = re.compile(r"^\d{7}$")  # XoD knows a school by its DfE LAESTAB ("3281101") [SDK]
STUDENT_PATHS = field_paths(X.STUDENT_FIELDS)
EXCLUSION_PATHS = field_paths(X.EXCLUSION_FIELDS)
_STUDENT_FIELDS = {*STUDENT_PATHS.values(), X.ADDRESS_HOUSE_NO, X.ADDRESS_HOUSE_NAME, X.ADDRESS_APARTMENT}


# ------------------------------------------------------------------------------------------ values


def nc_year_of(year_group: str | None) -> str | None:
    """XoD's year group name -> the NC year text the MIS holds: ``"Year  4"`` -> ``"4"``, ``"Year  N2"``
    -> ``"N2"``; anything else is passed on as supplied (validation judges it)."""
    if year_group is not None and year_group.startswith(X.YEAR_GROUP_PREFIX):
        return year_group[len(X.YEAR_GROUP_PREFIX):]
    return year_group


def address_line1(student: dict) -> str | None:
    """``<Apartment>, <HouseName>, <HouseNo> <Street>``, leaving out the parts that are empty."""
    street = " ".join(p for p in (text(student.get(X.ADDRESS_HOUSE_NO)), text(student.get(X.ADDRESS_STREET))) if p)
    parts = (text(student.get(X.ADDRESS_APARTMENT)), text(student.get(X.ADDRESS_HOUSE_NAME)), street)
    return ", ".join(p for p in parts if p) or None


def student_row(student: dict) -> dict[str, str | None]:
    """One XoD student -> one raw pupils row (canonical column names, text values)."""
    row = preferred_if_different(mapped_row(student, STUDENT_PATHS, X.DATE_COLUMNS), X.PREFERRED_OF)
    row["address_line1"] = address_line1(student)
    row["nc_year"] = nc_year_of(row["nc_year"])
    return row


def is_full_student(student: dict) -> bool:
    """Whether a changed row carries the student's fields, or (as recorded) only its ``Id``."""
    return any(field in student for field in _STUDENT_FIELDS)


def statutory_code(code: str | None, statutory_of: dict[str, str]) -> str | None:
    """The MIS's attendance code (maybe a local sub-code such as X01) -> the statutory code, through the
    AttendanceCodes list's statutory mapping; a code the list does not know is passed on as supplied."""
    if code is None:
        return None
    return statutory_of.get(code) or statutory_of.get(code.strip().upper()) or code


# ------------------------------------------------------------------------------------------ paging


class _KeepEnvelopes:
    """Stands in for the session in ``http.page_count`` and keeps every page's envelope (the body
    without its rows): ``__changedRows__`` and ``Students_deleted`` live there."""

    def __init__(self, session: VendorSession, table: str) -> None:
        self.session = session
        self.route = session.route
        self.table = table
        self.envelopes: list[dict] = []

    def get_json(self, url: str, params: Any = None, **kwargs: Any) -> Any:
        data = self.session.get_json(url, params=params, **kwargs)
        if isinstance(data, dict):
            self.envelopes.append({k: v for k, v in data.items() if k != self.table})
        return data


class XporterConnector(IncrementalConnector):
    route = ROUTE
    default_base_url = X.DEFAULT_BASE_URL

    # ------------------------------------------------------------------------------------ auth
    @staticmethod
    def estab(settings: RouteSettings) -> str:
        """The school's XoD ``estab`` (it goes into every URL path, so it must be 7 digits)."""
        value = str(settings.get("estab", settings.school.laestab)).strip()
        if not ESTAB.match(value):
            raise VendorRouteError(f"{settings.school.key}: {ROUTE}: source.estab must be the school's 7-digit "
                                   f"LAESTAB as XoD knows it")
        return value

    def auth(self, settings: RouteSettings) -> TokenEndpoint:
        estab = self.estab(settings)
        relying_party = settings.require("relying_party")
        settings.secret("secret_env")  # fails now, naming the registry field, when its variable is not set

        def body() -> dict[str, str]:  # the secret is read when a token is fetched, never kept
            return {X.STS_BODY["estab"]: estab, X.STS_BODY["relying_party"]: relying_party,
                    X.STS_BODY["secret"]: settings.secret("secret_env"), X.STS_BODY["third_party"]: X.THIRD_PARTY_ID}

        return TokenEndpoint(str(settings.get("sts_url", X.DEFAULT_STS_URL)), body, X.STS_EXPIRY_FIELD,
                             token_field=X.STS_TOKEN_FIELD, scheme=X.AUTH_SCHEME,
                             name=settings.credential_name("secret_env"))

    # ----------------------------------------------------------------------------------- paths
    def _paths(self, settings: RouteSettings) -> dict[str, str]:
        prefix = X.API_PREFIX.format(estab=self.estab(settings))
        return {name: prefix + path for name, (path, _) in X.ENDPOINTS.items()}

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        paths = self._paths(settings)
        return {"pupils": paths["students"], "attendance": paths["attendance"], "exclusions": paths["exclusions"]}

    @staticmethod
    def _rows(session: Any, path: str, endpoint: str, **params: Any) -> Iterator[dict]:
        """Every row of a listing, page by page up to ``PageCount``."""
        return page_count(session, path, params, items_key=X.TABLES[endpoint][0], total_pages_key=X.PAGE_COUNT_PATH,
                          page_param=X.PAGE_PARAM, size_param=X.PAGE_SIZE_PARAM, page_size=X.PAGE_SIZES[endpoint])

    def _students(self, session: VendorSession, path: str, **params: Any) -> tuple[list[dict], list[dict]]:
        """Students rows and the pages' envelopes, always with the same options (changesets need that)."""
        keeper = _KeepEnvelopes(session, X.TABLES["students"][0])
        options = {X.OPTIONS_PARAM: ",".join(X.STUDENT_OPTIONS)}
        rows = list(self._rows(keeper, path, "students", **options, **params))
        return rows, keeper.envelopes

    @staticmethod
    def _next_changed_rows(envelopes: list[dict]) -> str | None:
        """The changeset token of the first page (a change made while paging is then listed again next
        night rather than missed)."""
        for envelope in envelopes:
            block = envelope.get(X.CHANGED_ROWS_KEY)
            token = block[0].get(X.NEXT_CHANGED_ROWS) if isinstance(block, list) and block and \
                isinstance(block[0], dict) else None
            if token:
                return str(token)
        return None

    # -------------------------------------------------------------------------------- datasets
    def _pupils(self, students: list[dict], path: str) -> dict[str, dict]:
        return {str(s.get(X.STUDENT_ID)): {**student_row(s), "_source": path} for s in students}

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        paths = self._paths(settings)
        code_field, statutory_field = X.ATTENDANCE_CODE_FIELDS["code"], X.ATTENDANCE_CODE_FIELDS["statutory"]
        statutory_of = {str(c.get(code_field)): str(c.get(statutory_field))
                        for c in self._rows(session, paths["attendance_codes"], "attendance_codes")
                        if c.get(code_field) is not None and c.get(statutory_field)}
        first, last = X.ATTENDANCE_RANGE_PARAMS
        fields = field_paths(X.ATTENDANCE_FIELDS)
        marks = RecordsBuilder()
        for n, mark in enumerate(self._rows(session, paths["attendance"], "attendance",
                                            **{first: start.isoformat(), last: end.isoformat()})):
            student = text(mark.get(fields["student"]))
            mark_id = text(mark.get(X.ATTENDANCE_ID)) or f"{student}|{mark.get(fields['date'])}|" \
                                                            f"{mark.get(fields['session'])}|{n}"
            marks.add(mark_id, {STUDENT_KEY: student, "date": date_text(mark.get(fields["date"])),
                              "session": text(mark.get(fields["session"])),
                              "code": statutory_code(text(mark.get(fields["code"])), statutory_of),
                              "_source": paths["attendance"]})
        return marks.build()

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        path = self._paths(settings)["exclusions"]
        exclusions: dict[str, dict] = {}
        for n, record in enumerate(self._rows(session, path, "exclusions")):
            row: dict[str, Any] = {"_source": path, **mapped_row(record, EXCLUSION_PATHS, X.DATE_COLUMNS)}
            row[STUDENT_KEY] = row.pop("student")
            row["category"] = mapped_code(row["category"], X.EXCLUSION_CATEGORY)
            exclusions[text(record.get(X.EXCLUSION_ID)) or f"#{n}"] = row
        return exclusions

    def all_pupils(self, session: VendorSession, settings: RouteSettings) -> tuple[dict[str, dict], dict[str, Any]]:
        path = self._paths(settings)["students"]
        students, envelopes = self._students(session, path, **{X.CHANGED_ROWS_PARAM: X.CHANGED_ROWS_START})
        token = self._next_changed_rows(envelopes)
        return self._pupils(students, path), {X.WATERMARK_KEY: token} if token else {}

    # ----------------------------------------------------------------------------- incremental
    def changed_pupils(self, session: VendorSession, settings: RouteSettings, *, since: dict,
                       as_of: date) -> PupilChanges:
        path = self._paths(settings)["students"]
        since_token = str(since[X.WATERMARK_KEY])
        changed, envelopes = self._students(session, path, **{X.CHANGED_ROWS_PARAM: since_token})
        deleted = {text(d.get(X.STUDENT_ID)) for e in envelopes
                   for d in (e.get(X.TABLES["students"][0] + X.DELETED_SUFFIX) or []) if isinstance(d, dict)}
        full = [s for s in changed if is_full_student(s)]
        ids_only = {str(s.get(X.STUDENT_ID)) for s in changed if not is_full_student(s)}
        ids_only -= {str(s.get(X.STUDENT_ID)) for s in full}
        refetched = self._refetch(session, path, ids_only)
        upserts = self._pupils(full + refetched, path)
        deleted |= ids_only - set(upserts)  # listed as changed but no longer there
        watermark = {X.WATERMARK_KEY: self._next_changed_rows(envelopes) or since_token}
        return PupilChanges(upserts=upserts, deleted={d for d in deleted if d} - set(upserts), watermark=watermark)

    def _refetch(self, session: VendorSession, path: str, ids: set[str]) -> list[dict]:
        """Full records of the students a changeset listed by Id only."""
        if not ids:
            return []
        if len(ids) <= REFETCH_ONE_BY_ONE_MAX:
            return [s for sid in sorted(ids) for s in self._students(session, f"{path}/{quote(sid, safe='')}")[0]
                    if str(s.get(X.STUDENT_ID)) == sid]
        return [s for s in self._students(session, path)[0] if str(s.get(X.STUDENT_ID)) in ids]


__all__ = ["ID_KEY", "XporterConnector", "nc_year_of", "statutory_code", "student_row"]
