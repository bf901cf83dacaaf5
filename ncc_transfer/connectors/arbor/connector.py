"""The Arbor route: one school's pupils (on roll and leavers), session attendance for the academic year
to date, and exclusions, read from the school's own Arbor host
(http://developers.arbor-education.com/api/endpoints; GraphQL at ``/graphql/query``).

Registry settings: ``source: {base_url: "https://school.uk.arbor.sc", user_env: "ARBOR_USER_9262001",
password_env: "ARBOR_PASSWORD_9262001", application_id: "uk_swd_137264"}``; ``application_id`` is
optional and sent as the ``x-mis-application-id`` header when set. The partner app's HTTP Basic
username and password are read from the environment variables the registry names.

Reading uses Arbor GraphQL (``POST /graphql/query``): one query per page of ``Student``,
``AttendanceRecord``, ``FixedPeriodExclusion`` and ``PermanentExclusion`` (``page_size``/``page_num``,
stopping at a short page), instead of the REST listing-then-href pattern (one request per record).
GraphQL reports problems as ``errors`` in a 200 (e.g. "You do not have access to Student.upn."): the
shared ``check_body`` turns them into a failure naming the error count and code, never the message.

Incremental: the REST changelog ``/rest-v2/students/changelog?from-revision=n`` lists the students
created, updated or deleted since the watermark (the highest revision seen); changed students are re-read
with ``Student(id_in: [...])``, deleted ones removed; marks are re-read for the look-back window and
exclusions in full. Every field location is in ``mapping.py`` with its confidence.

Cohort columns (``ncc_transfer.cohorts``): ``SenStatusAssignment``, ``EligibilityRecord`` (free school
meals), ``InCareStatusAssignment`` and ``ChildProtectionStatusAssignment`` are read in full every night,
full or incremental (``refresh_pupils``), one query per page each, and counted on the night's as-of date
(``cohorts.covers``, ``cohorts.fsm_flags``). Each is optional: an entity the host refuses (GraphQL
``errors``, or 403) leaves its columns null and the night goes on. ``child_in_need`` is not read.

Static Basic credentials: there is no token to expire, so no re-authentication (a 401 fails at once).
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from ncc_transfer import cohorts
from ncc_transfer.connectors.arbor import mapping as A
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Records, RecordsBuilder, IncrementalConnector, RouteSettings, VendorConnector, date_text,
    field_paths, mapped_code, mapped_row, preferred_if_different, text, vendor_day
)
from ncc_transfer.connectors.http import MAX_PAGES, RETRY_STATUSES, AuthStrategy, Basic, VendorError, VendorSession, _origin, _path_of, dig
from ncc_transfer.connectors.incremental import PupilChanges

log = logging.getLogger(__name__)

ROUTE = "arbor"
USER_AGENT = "ncc-transfer/0.1 (local authority pupil data transfer; Arbor partner app)"
# Where each table comes from (the ``_source`` of its rows, named in validation messages).
SOURCES = {"pupils": f"{A.GRAPHQL_PATH} {A.STUDENT_ENTITY}" + "".join(f" + {e}" for e in A.COHORT_ENTITIES),
           "attendance": f"{A.GRAPHQL_PATH} {A.ATTENDANCE_ENTITY}",
           "exclusions": f"{A.GRAPHQL_PATH} {A.FIXED_PERIOD_ENTITY} + {A.PERMANENT_ENTITY}"}
STUDENT_PATHS = field_paths(A.STUDENT_FIELDS)
_USUAL = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}):\d{2}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?$")


# ------------------------------------------------------------------------------------------ values


def split_datetime(value: Any) -> tuple[str | None, str | None]:
    """An Arbor datetime (``Y-m-d H:i:s``) -> (the date as text, the session AM/PM or None).

    The date part is passed on as supplied when it is not a date (validation reports it). The session
    comes from the time of day [GUESS]: before noon AM, from noon PM; midnight or no time: no session.
    """
    value = text(value)
    if value is None:
        return None, None
    value = value.strip()
    usual = _USUAL.match(value)  # the usual shape, read without the general path below
    if usual is not None:
        return usual.group(1), _session(usual.group(2))
    day, _, clock = value.rpartition(" ")
    match = _CLOCK.match(clock) if day else None
    if match is None:
        return date_text(value), None
    return date_text(day), _session(f"{int(match.group(1)):02d}:{match.group(2)}")


def _session(hours_minutes: str) -> str | None:
    if hours_minutes == A.NO_SESSION_TIME[:5]:
        return None
    return "AM" if hours_minutes < A.PM_FROM else "PM"


def statutory_code(mark_code: str | None) -> str | None:
    """An Arbor AttendanceMark code -> the statutory code (unknown codes pass through)."""
    return mapped_code(mark_code, A.MARK_CODES)


def nc_year(label: str | None) -> str | None:
    """``Year 5`` -> ``5``, ``Reception`` -> ``R``; anything else as supplied [GUESS on the labels]."""
    if label is None:
        return None
    if label.startswith(A.NC_YEAR_PREFIX) and label[len(A.NC_YEAR_PREFIX):].strip():
        return label[len(A.NC_YEAR_PREFIX):]
    return A.NC_YEAR_LABELS.get(label, label)


def student_row(student: dict) -> dict[str, str | None]:
    """One GraphQL Student -> one raw pupils row (canonical column names, text values)."""
    row = preferred_if_different(mapped_row(student, STUDENT_PATHS, A.DATE_COLUMNS), A.PREFERRED_OF)
    row["sex"] = mapped_code(row["sex"], A.GENDER)
    row["nc_year"] = nc_year(row["nc_year"])
    return row


def exclusion_row(entity: str, record: dict) -> dict[str, Any]:
    """One FixedPeriodExclusion / PermanentExclusion -> one raw exclusions row (with ``_student``)."""
    more = record.get(A.MORE_REASONS_FIELD) or []
    more = more if isinstance(more, list) else []
    extra = [text(dig(r, A.MORE_REASON_CODE)) if isinstance(r, dict) else None for r in more[:2]]
    extra += [None] * (2 - len(extra))
    row: dict[str, Any] = {"category": A.CATEGORY_OF[entity], "reason": text(dig(record, A.REASON_FIELD)),
                           "reason_2": extra[0], "reason_3": extra[1]}
    if entity == A.FIXED_PERIOD_ENTITY:
        fields = field_paths(A.FIXED_PERIOD_FIELDS)
        row["start_date"], row["start_session"] = split_datetime(dig(record, fields["start"]))
        row["end_date"] = split_datetime(dig(record, fields["end"]))[0]
        row["sessions"] = text(dig(record, fields["sessions"]))
        if dig(record, fields["lunchtime"]) is True:
            row["category"] = A.LUNCHTIME_CATEGORY
    else:
        fields = field_paths(A.PERMANENT_FIELDS)
        row["start_date"] = date_text(dig(record, fields["start_date"]))
        row["start_session"] = text(dig(record, fields["start_session"]))
        row["sessions"] = row["end_date"] = None
    row[STUDENT_KEY] = text(dig(record, fields["student"]))
    return row


# What a pupil the cohort entity does not list has: no SEN on the night, not eligible, not in care...
COHORT_DEFAULTS = {"sen_provision": A.NO_SEN, "fsm_eligible": cohorts.FALSE_TEXT, "fsm_ever6": cohorts.FALSE_TEXT,
                   "looked_after": cohorts.FALSE_TEXT, "child_protection_plan": cohorts.FALSE_TEXT}


def _by_student(records: Iterable[dict], fields: dict[str, str],
                keep: Callable[[dict], bool] = lambda record: True) -> dict[str, list[tuple[cohorts.Period, dict]] | None]:
    """Cohort records -> (period, record) by student id, the records ``keep`` keeps
    (``cohorts.periods_by_pupil``: a student with dates that cannot be read is None)."""
    return cohorts.periods_by_pupil(
        (record for record in records if keep(record)), lambda record: text(dig(record, fields["student"])),
        lambda record: (vendor_day(dig(record, fields["start_date"])), vendor_day(dig(record, fields["end_date"]))))


def sen_provision(records: Iterable[dict], as_of: date) -> dict[str, str | None]:
    """SenStatusAssignment records -> the SEN status code by student id on ``as_of``: the code of the
    assignment covering it (``cohorts.covers``; the latest start if several). A student whose assignments
    cover no part of that day is not listed (no SEN: ``mapping.NO_SEN``); one with a date that cannot be
    read is None."""
    fields = field_paths(A.SEN_FIELDS)
    codes: dict[str, str | None] = {}
    for sid, listed in _by_student(records, fields).items():
        if listed is None:
            codes[sid] = None
            continue
        covering = [(start, record) for (start, end), record in listed if cohorts.covers([(start, end)], as_of)]
        if covering:
            latest = max(covering, key=lambda item: item[0])[1]
            codes[sid] = text(dig(latest, fields["code"]))
    return codes


def _is_fsm(record: dict) -> bool:
    code = text(dig(record, A.FSM_FIELDS["eligibility"][0]))
    return code is not None and code.strip().upper() in A.FSM_ELIGIBILITY_CODES


def fsm_flags(records: Iterable[dict], as_of: date) -> dict[str, tuple[str | None, str | None]]:
    """EligibilityRecord records -> (fsm_eligible, fsm_ever6) as text by student id on ``as_of``, from the
    FSM ones' periods (``cohorts.fsm_flags``); a student with no FSM record is not listed (false); one with
    a date that cannot be read is (None, None)."""
    flags: dict[str, tuple[str | None, str | None]] = {}
    for sid, listed in _by_student(records, field_paths(A.FSM_FIELDS), _is_fsm).items():
        if listed is None:
            flags[sid] = (None, None)
        else:
            eligible, ever6 = cohorts.fsm_flags([period for period, _ in listed], as_of)
            flags[sid] = (cohorts.flag_text(eligible), cohorts.flag_text(ever6))
    return flags


def _counts_as_in_care(record: dict) -> bool:
    return dig(record, A.IN_CARE_FIELDS["counts"][0]) is not False


def covered(records: Iterable[dict], fields: dict[str, tuple[str, str]], as_of: date,
            keep: Callable[[dict], bool] = lambda record: True) -> dict[str, str | None]:
    """Status assignments (in care, child protection) -> ``true``/``false`` by student id: one covering
    ``as_of`` (``cohorts.covers``); a student with a date that cannot be read is None; one with no
    assignment is not listed (false)."""
    return cohorts.covering_flags(_by_student(records, field_paths(fields), keep), as_of)


def cohort_values(entity: str, records: Iterable[dict], as_of: date) -> dict[str, dict[str, str | None]]:
    """One cohort entity's records (``mapping.COHORT_ENTITIES``) -> each of its columns' values by student
    id on ``as_of``; a student not listed has the column's ``COHORT_DEFAULTS`` value."""
    if entity == A.SEN_ENTITY:
        return {"sen_provision": sen_provision(records, as_of)}
    if entity == A.FSM_ENTITY:
        flags = fsm_flags(records, as_of)
        return {"fsm_eligible": {sid: f[0] for sid, f in flags.items()},
                "fsm_ever6": {sid: f[1] for sid, f in flags.items()}}
    if entity == A.IN_CARE_ENTITY:
        return {"looked_after": covered(records, A.IN_CARE_FIELDS, as_of, _counts_as_in_care)}
    if entity == A.CHILD_PROTECTION_ENTITY:
        return {"child_protection_plan": covered(records, A.CHILD_PROTECTION_FIELDS, as_of)}
    raise ValueError(f"not a cohort entity: {entity}")


def with_cohorts(pupils: dict[str, dict], values: dict[str, dict[str, str | None] | None]) -> dict[str, dict]:
    """Pupil rows (by student id) with the cohort columns: a column whose entity could not be read (None)
    null on every pupil, otherwise the pupil's value, or the column's default when it is not listed."""
    return {sid: {**row, **{column: None if by_student is None else by_student.get(sid, COHORT_DEFAULTS[column])
                            for column, by_student in values.items()}}
            for sid, row in pupils.items()}


GRAPHQL_ERRORS = "GraphQL errors in body"  # the shared check_body's problem for a GraphQL ``errors`` answer


def refused(exc: VendorError) -> bool:
    """An answer that says this list may not be read (GraphQL ``errors`` in a 200, e.g. no access to the
    entity or a field, or an HTTP 403): an optional list is then left out."""
    return not exc.transient and (exc.status == 403 or (exc.status == 200 and exc.problem.startswith(GRAPHQL_ERRORS)))



def check_rest_body(data: Any, route: str, method: str, path: str) -> Any:
    """An Arbor REST body whose ``response.code`` is not a success overrides the 200 it came with."""
    response = data.get(A.REST_ERROR_ROOT) if isinstance(data, dict) else None
    if isinstance(response, dict) and response.get("code") is not None:
        try:
            code = int(response["code"])
        except (TypeError, ValueError):
            code = None
        if code not in A.REST_OK_CODES:
            transient = code in RETRY_STATUSES
            raise VendorError(route, f"Arbor error in body (response.code {code})", code, transient,
                              method=method, path=path)
    return data


# ------------------------------------------------------------------------------------------ connector


class ArborConnector(IncrementalConnector):
    route = ROUTE  # its request rate (2 per second, a conservative guess: Arbor answers 429): SPEC
    mapping_version = 2  # 2: the cohort columns

    def auth(self, settings: RouteSettings) -> AuthStrategy:
        return Basic(settings.secret("user_env"), settings.secret("password_env"),
                     name=settings.credential_name("user_env"))

    def session(self, settings: RouteSettings, auth: AuthStrategy | None, *, credential: str | None = None,
                base_url: str | None = None) -> VendorSession:
        session = super().session(settings, auth, credential=credential, base_url=base_url)
        session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        application_id = settings.get("application_id")
        if application_id is not None:
            session.headers[A.APPLICATION_ID_HEADER] = str(application_id)
        return session

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        return dict(SOURCES)

    # ---------------------------------------------------------------------------------- GraphQL
    def graphql_pages(self, session: VendorSession, entity: str, paths: list[str], page_size: int,
                      **arguments: Any) -> Iterator[dict]:
        """Every record of ``entity``: POST one query per page, from ``FIRST_PAGE_NUM`` until a short page.

        A page that repeats a record of the page before is refused: that is what a wrong page_num base
        (or a server ignoring ``page_num``) looks like, and following it would loop or duplicate
        records. (Only the page before is kept: the ids of every page read would cost more memory than
        the marks themselves.)
        """
        if not 0 < page_size <= A.MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{A.MAX_PAGE_SIZE}")
        where = {"method": "POST", "path": _path_of(session.url_for(A.GRAPHQL_PATH))}
        previous: set[str] = set()
        page = A.FIRST_PAGE_NUM
        for _ in range(MAX_PAGES):
            body = {"query": A.query(entity, {**arguments, A.PAGE_SIZE_ARG: page_size, A.PAGE_NUM_ARG: page},
                                     paths)}
            data = check_rest_body(session.post_json(A.GRAPHQL_PATH, json=body), self.route, **where)
            items = dig(data, f"data.{entity}")
            if not isinstance(items, list):
                raise VendorError(self.route, f"GraphQL answer has no {entity} list", 200, **where)
            ids = {text(i.get("id")) for i in items if isinstance(i, dict)} - {None}
            if ids & previous:
                raise VendorError(self.route, f"GraphQL page {page} of {entity} repeats records (page_num base?)",
                                  200, **where)
            previous = ids
            yield from (i for i in items if isinstance(i, dict))
            if len(items) < page_size:
                return
            page += 1
        raise VendorError(self.route, f"more than {MAX_PAGES} pages of {entity}", None, **where)

    # ---------------------------------------------------------------------------------- datasets
    def _students(self, session: VendorSession, **arguments: Any) -> tuple[dict[str, dict], int]:
        """Pupils by Arbor student id, and the highest ``revisionId`` among them."""
        source = SOURCES["pupils"]
        pupils: dict[str, dict] = {}
        revision = 0
        for student in self.graphql_pages(session, A.STUDENT_ENTITY, A.student_paths(),
                                          A.PAGE_SIZES[A.STUDENT_ENTITY], **arguments):
            pupils[str(text(student.get(A.STUDENT_ID)))] = {**student_row(student), "_source": source}
            revision = max(revision, _revision(student.get(A.REVISION_FIELD)))
        return pupils, revision

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        source = SOURCES["attendance"]
        fields = field_paths(A.ATTENDANCE_FIELDS)
        window = {A.ATTENDANCE_FROM_ARG: f"{start.isoformat()} 00:00:00",
                  A.ATTENDANCE_BEFORE_ARG: f"{(end + timedelta(days=1)).isoformat()} 00:00:00"}
        marks = RecordsBuilder()
        for n, record in enumerate(self.graphql_pages(session, A.ATTENDANCE_ENTITY, A.attendance_paths(),
                                                      A.PAGE_SIZES[A.ATTENDANCE_ENTITY], **window)):
            day, session_name = split_datetime(dig(record, fields["start"]))
            marks.add(text(record.get("id")) or f"{A.ATTENDANCE_ENTITY}:{n}", {
                STUDENT_KEY: text(dig(record, fields["student"])), "date": day, "session": session_name,
                "code": statutory_code(text(dig(record, fields["code"]))), "_source": source})
        return marks.build()

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        source = SOURCES["exclusions"]
        exclusions: dict[str, dict] = {}
        for entity, fields in ((A.FIXED_PERIOD_ENTITY, A.FIXED_PERIOD_FIELDS),
                               (A.PERMANENT_ENTITY, A.PERMANENT_FIELDS)):
            for n, record in enumerate(self.graphql_pages(session, entity, A.exclusion_paths(fields),
                                                          A.PAGE_SIZES[entity])):
                key = f"{entity}:{text(record.get('id')) or n}"
                exclusions[key] = {**exclusion_row(entity, record), "_source": source}
        return exclusions

    def all_pupils(self, session: VendorSession, settings: RouteSettings) -> tuple[dict[str, dict], dict[str, Any]]:
        pupils, revision = self._students(session)
        return pupils, {A.WATERMARK_KEY: revision}

    def refresh_pupils(self, session: VendorSession, settings: RouteSettings, pupils: dict[str, dict], *,
                       as_of: date) -> dict[str, dict]:
        """Every pupil with the cohort columns on ``as_of``, each cohort entity read in full (the changelog
        lists Student changes only); an entity the host refuses leaves its columns null."""
        values: dict[str, dict[str, str | None] | None] = {}
        for entity, (columns, _) in A.COHORT_ENTITIES.items():
            try:
                records = list(self.graphql_pages(session, entity, A.cohort_paths(entity), A.PAGE_SIZES[entity]))
            except VendorError as exc:
                if not refused(exc):
                    raise
                log.warning("%s: %s %s not read (%s): %s left null", settings.school.key, self.route, entity,
                            exc.problem, ", ".join(columns))
                values.update(dict.fromkeys(columns))
                continue
            values.update(cohort_values(entity, records, as_of))
        return with_cohorts(pupils, values)

    # ------------------------------------------------------------------------------- incremental
    def changed_pupils(self, session: VendorSession, settings: RouteSettings, *, since: dict,
                       as_of: date) -> PupilChanges:
        last_change, revision = self._changelog(session, _revision(since.get(A.WATERMARK_KEY)))
        deleted = {sid for sid, kind in last_change.items() if kind == "delete"}
        wanted = sorted(set(last_change) - deleted)
        upserts: dict[str, dict] = {}
        for start in range(0, len(wanted), A.ID_BATCH):
            ids = [int(i) if i.isdigit() else i for i in wanted[start:start + A.ID_BATCH]]
            batch, batch_revision = self._students(session, **{A.ID_IN_ARG: ids})
            upserts.update(batch)
            revision = max(revision, batch_revision)
        return PupilChanges(upserts=upserts, deleted=deleted, watermark={A.WATERMARK_KEY: revision})

    def _changelog(self, session: VendorSession, since: int) -> tuple[dict[str, str], int]:
        """The students changed after revision ``since`` (id -> its latest change type), and the
        highest revision the changelog reports."""
        where = {"method": "GET", "path": _path_of(session.url_for(A.CHANGELOG_PATH))}
        body = check_rest_body(session.get_json(A.CHANGELOG_PATH, params={A.CHANGELOG_FROM: since}),
                               self.route, **where)
        changes = body.get(A.CHANGES_KEY) if isinstance(body, dict) else None
        if not isinstance(changes, list):
            raise VendorError(self.route, f"changelog has no {A.CHANGES_KEY!r} list", 200, **where)
        last_change: dict[str, str] = {}
        revision = since
        for change in changes:
            changed = change.get("changedObject") if isinstance(change, dict) else None
            if not isinstance(changed, dict):
                continue
            if changed.get("entityType", A.STUDENT_ENTITY_TYPE) != A.STUDENT_ENTITY_TYPE:
                continue
            last_change[self._changed_id(session, changed, where)] = str(change.get("changeType") or "update")
            revision = max(revision, _revision(change.get("toRevision")))
        return last_change, revision

    def _changed_id(self, session: VendorSession, changed: dict, where: dict) -> str:
        """The student id of a changelog entry: its ``id``, else the last segment of its ``href``.

        The href is host-relative (made absolute against the school's host); one that resolves to another
        host is refused: the changelog is the school's own, and nothing it names may send us elsewhere.
        """
        href = text(changed.get("href"))
        from_href = None
        if href:
            absolute = session.from_host(href)
            if _origin(absolute) != _origin(session.base_url):
                raise VendorError(self.route, "refused a changelog href on another host", 200, False, **where)
            from_href = urlsplit(absolute).path.rstrip("/").rpartition("/")[2] or None
        ident = text(changed.get("id")) or from_href
        if not ident:
            raise VendorError(self.route, "changelog entry names no student", 200, False, **where)
        return ident


def _revision(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


__all__ = ["ArborConnector", "cohort_values", "covered", "exclusion_row", "fsm_flags", "sen_provision", "split_datetime",
           "statutory_code", "student_row", "with_cohorts"]
