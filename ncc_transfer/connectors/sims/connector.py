"""The SIMS route: one school's pupils (past, current and future learners), session attendance for the
academic year to date, and exclusions, through the SIMS 8 / SIMS Primary V3 OData APIs
(https://www.sims-partners.com/Product/SIMS8/APIs/V3/ReleaseNote; field vocabulary from the SIMS 7
partner APIs, e.g. https://www.sims-partners.com/Products/SIMS7/PartnerAPIs/TPPersonStudent).

Registry settings: ``source: {organisation_id: "...", client_id_env: "SIMS_CLIENT_ID",
client_secret_env: "SIMS_CLIENT_SECRET", subscription_key_env: "SIMS_SUBSCRIPTION_KEY"}``, optional
``token_url`` (default the SIMS STS) and ``base_url`` (default the API Manager gateway). The secrets are
read from the environment variables those settings name.

Auth [DOC]: an OAuth2 client-credentials token from the STS (scope ``simsserverapplication partner``)
as ``Authorization: Bearer``, plus the API Manager ``Ocp-Apim-Subscription-Key`` header on every call;
the school is chosen by an ``Organisation_ID`` header [GUESS: the sample code sends it]. A 401 gets one
re-authentication (shared HTTP layer). The documented throttle is 5 calls per second per technical
integrator, so that is the default rate (one bucket per client id variable).

Data: OData v4 ``value`` lists paged with ``$top``/``$skip``; a pupil is joined from LearnerPersonals,
LearnerIdentifiers, LearnerEnrolments, LearnerAddresses and LearnerCharacteristics (the cohort fields SEN
status, FSM eligible and in care [GUESS]; validation reads them) by the learner's ExternalID; attendance comes
from AttendanceRecords filtered on ``AttendableEventStart`` (DateTimeOffset literals: a bare date
errors [DOC]) in spans of at most 90 days; local attendance codes (``X01``) become statutory codes
through the codes' ``StatutoryAttendanceCode`` reference [DOC]. Every field is in ``mapping.py``
with its confidence; most are GUESSes.

Incremental: each learner domain's ``SIMS.Changes(startDate=...)`` since the watermark (the start of the
previous fetch less an hour for clock skew), deleted learners flagged ``@removed`` [GUESS]; marks are
re-read for the look-back window and exclusions in full (``incremental.py``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from ncc_transfer import cohorts
from ncc_transfer.connectors.sims import mapping as S
from ncc_transfer.canonical import PUPIL_COLUMNS
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Records, RecordsBuilder, IncrementalConnector, RouteSettings, date_spans, date_text, field_paths,
    mapped_code, mapped_row, preferred_if_different, reason_columns, text
)
from ncc_transfer.connectors.http import ApiKeyHeader, AuthStrategy, Combined, OAuth2ClientCredentials, VendorSession, dig, odata
from ncc_transfer.connectors.incremental import PupilChanges

ROUTE = "sims"
CLOCK_SKEW = timedelta(hours=1)  # the watermark is taken this much before the fetch started
LONDON = ZoneInfo(S.LOCAL_TIMEZONE)
# A chunk one day shorter than the limit: a span over a clock change is an hour longer than its days.
CHUNK_DAYS = S.MAX_SPAN_DAYS - 1
EXCLUSION_PATHS = field_paths(S.EXCLUSION_FIELDS)


# ------------------------------------------------------------------------------------------ values


def utc_literal(moment: datetime) -> str:
    """An OData DateTimeOffset literal in UTC (``2025-09-01T00:00:00Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LONDON)


def event_start(value: Any) -> tuple[str | None, int | None]:
    """``AttendableEventStart`` -> (the Europe/London date as text, the local hour). A value that is not
    a timestamp is passed on as text (validation judges it) with no hour; no zone means local time."""
    raw = text(value)
    if raw is None:
        return None, None
    return _event_start(raw)


@lru_cache(maxsize=4096)  # a school's marks share a few hundred start times
def _event_start(raw: str) -> tuple[str | None, int | None]:
    try:
        stamp = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return date_text(raw), None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=LONDON)
    local = stamp.astimezone(LONDON)
    return local.date().isoformat(), local.hour


def learner_of(record: dict) -> str | None:
    return text(dig(record, S.LEARNER_REF))


def _latest_enrolment(records: list[dict]) -> dict:
    """The enrolment with the latest entry date (ISO text sorts by date; a missing date sorts first)."""
    return max(records, key=lambda r: text(r.get(S.PUPIL_FIELDS["entry_date"][1])) or "")


def _current_home_address(records: list[dict]) -> dict | None:
    current = [r for r in records if r.get(S.ADDRESS_TYPE) in (S.HOME_ADDRESS, None) and not r.get(S.ADDRESS_END)]
    return current[-1] if current else None


def choose(domain: str, records: list[dict]) -> dict | None:
    """The one record of a satellite domain a pupil row is built from [GUESS: a learner may have
    several; the latest enrolment and the current home address are taken]."""
    if not records:
        return None
    if domain == "enrolments":
        return _latest_enrolment(records)
    if domain == "addresses":
        return _current_home_address(records)
    return records[-1]


def address_line1(address: dict | None) -> str | None:
    """Apartment, house name and ``house number street`` joined, as the files route has one line."""
    if not address:
        return None
    apartment, house_name, house_no, street = (text(address.get(f)) for f in S.ADDRESS_LINE1_PARTS)
    numbered = " ".join(p for p in (house_no, street) if p) or None
    return ", ".join(p for p in (apartment, house_name, numbered) if p) or None


def pupil_row(learner: dict, parts: dict[str, dict | None]) -> dict[str, str | None]:
    """A LearnerPersonals record and its satellite records -> one raw pupils row (text values)."""
    row: dict[str, str | None] = {}
    for column, (domain, path, _) in S.PUPIL_FIELDS.items():
        record = learner if domain == "learners" else parts.get(domain)
        value = dig(record, path) if record else None
        row[column] = date_text(value) if column in S.DATE_COLUMNS else text(value)
    preferred_if_different(row, S.PREFERRED_OF)
    row["address_line1"] = address_line1(parts.get("addresses"))
    if row["sex"] is not None:
        row["sex"] = S.GENDER.get(row["sex"], row["sex"])
    row["sen_provision"] = cohorts.sen_provision_text(row["sen_provision"])  # the lookup's description -> code
    return {column: row.get(column) for column in PUPIL_COLUMNS}


def exclusion_row(record: dict) -> dict[str, Any]:
    row: dict[str, Any] = {STUDENT_KEY: learner_of(record), **mapped_row(record, EXCLUSION_PATHS, S.DATE_COLUMNS)}
    reasons_field, columns = S.EXCLUSION_REASONS
    reasons = record.get(reasons_field)
    reasons = [reasons] if isinstance(reasons, str) else reasons if isinstance(reasons, list) else []
    row.update(reason_columns(reasons, columns))
    row["category"] = mapped_code(row["category"], S.EXCLUSION_CATEGORY)
    return row


# --------------------------------------------------------------------------------------- connector


class SimsConnector(IncrementalConnector):
    route = ROUTE
    default_base_url = S.DEFAULT_BASE_URL
    mapping_version = 2  # 2: the cohort fields from LearnerCharacteristics (a mirror without them is rebuilt)

    def auth(self, settings: RouteSettings) -> AuthStrategy:
        organisation = settings.require("organisation_id")
        integrator = settings.credential_name("client_id_env")  # one rate-limit bucket per integrator
        token = OAuth2ClientCredentials(str(settings.get("token_url", S.DEFAULT_TOKEN_URL)),
                                        settings.secret("client_id_env"), settings.secret("client_secret_env"),
                                        scope=S.TOKEN_SCOPE, name=integrator)
        key = ApiKeyHeader(S.SUBSCRIPTION_KEY_HEADER, settings.secret("subscription_key_env"),
                           name=settings.credential_name("subscription_key_env"))
        school = ApiKeyHeader(S.ORGANISATION_HEADER, organisation, name="organisation_id")  # not a secret
        return Combined(token, key, school, name=integrator)

    # ------------------------------------------------------------------------------------- paths
    @staticmethod
    def path(domain: str) -> str:
        return S.DOMAINS[domain][0]

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        return {"pupils": " + ".join(self.path(d) for d in S.LEARNER_DOMAINS),
                "attendance": self.path("attendance"), "exclusions": self.path("exclusions")}

    def _pages(self, session: VendorSession, domain: str, path: str | None = None, **params: Any) -> Iterator[dict]:
        items = odata(session, path or self.path(domain), params, page_size=S.PAGE_SIZES[domain],
                      items_key=S.VALUE_KEY)
        return (item for item in items if isinstance(item, dict))

    def _changes(self, session: VendorSession, domain: str, start: str) -> list[dict]:
        path = self.path(domain) + S.CHANGES_FUNCTION.format(start=start)
        return list(self._pages(session, domain, path))

    # ---------------------------------------------------------------------------------- datasets
    def _pupils(self, learners: Iterable[dict], satellites: dict[str, list[dict]]) -> dict[str, dict]:
        """Pupil rows keyed by learner ExternalID, each joined with its satellite records."""
        by_learner: dict[str, dict[str, list[dict]]] = {d: {} for d in S.SATELLITE_DOMAINS}
        for domain in S.SATELLITE_DOMAINS:
            for record in satellites.get(domain, []):
                by_learner[domain].setdefault(learner_of(record) or "", []).append(record)
        pupils: dict[str, dict] = {}
        for learner in learners:
            learner_id = text(learner.get(S.ID))
            if learner_id is None:
                continue
            parts = {d: choose(d, by_learner[d].get(learner_id, [])) for d in S.SATELLITE_DOMAINS}
            pupils[learner_id] = {**pupil_row(learner, parts), "_source": self.path("learners")}
        return pupils

    def _codes(self, session: VendorSession) -> dict[str, str | None]:
        """Attendance code ExternalID -> statutory code (a local sub-code such as X01 -> X, through its
        StatutoryAttendanceCode reference [DOC]; a code without one is kept as it is)."""
        statutory = {text(c.get(S.ID)): text(dig(c, S.STATUTORY_CODE_FIELDS["code"]))
                     for c in self._pages(session, "statutory_codes")}
        codes: dict[str, str | None] = {}
        for code in self._pages(session, "attendance_codes"):
            local = text(dig(code, S.CODE_FIELDS["code"]))
            codes[text(code.get(S.ID)) or ""] = statutory.get(text(dig(code, S.CODE_FIELDS["statutory"]))) or local
        return codes

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        """Marks from ``start`` to ``end`` inclusive, read in spans of at most 90 days."""
        codes = self._codes(session)
        path, field = self.path("attendance"), S.ATTENDANCE_FILTER_FIELD
        fields = field_paths(S.ATTENDANCE_FIELDS)
        marks = RecordsBuilder()
        for first, last in date_spans(start, end, CHUNK_DAYS):
            span = (f"{field} ge {utc_literal(local_midnight(first))} and "
                    f"{field} lt {utc_literal(local_midnight(last))}")
            for n, record in enumerate(self._pages(session, "attendance", **{"$filter": span})):
                day, hour = event_start(dig(record, fields["start"]))
                session_name = text(dig(record, fields["session"]))
                if session_name is None and hour is not None:
                    session_name = "AM" if hour < S.NOON_HOUR else "PM"
                code_id = text(dig(record, fields["code"]))
                marks.add(text(record.get(S.ID)) or f"{first}:{n}", {
                    STUDENT_KEY: learner_of(record), "date": day, "session": session_name,
                    "code": codes.get(code_id, code_id) if code_id is not None else None, "_source": path})
        return marks.build()

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        path = self.path("exclusions")
        return {text(record.get(S.ID)) or str(n): {**exclusion_row(record), "_source": path}
                for n, record in enumerate(self._pages(session, "exclusions"))}

    @staticmethod
    def _watermark() -> dict[str, str]:
        return {S.CHANGES_START: utc_literal(datetime.now(timezone.utc) - CLOCK_SKEW)}

    def all_pupils(self, session: VendorSession, settings: RouteSettings) -> tuple[dict[str, dict], dict[str, Any]]:
        watermark = self._watermark()  # taken first: a change made during the fetch is listed next night
        records = {domain: list(self._pages(session, domain)) for domain in S.LEARNER_DOMAINS}
        return self._pupils(records["learners"], records), watermark

    def changed_pupils(self, session: VendorSession, settings: RouteSettings, *, since: dict,
                       as_of: date) -> PupilChanges:
        """Learners changed in any learner domain since the watermark, rebuilt whole; deleted learners."""
        watermark = self._watermark()
        start = since[S.CHANGES_START]
        changes = {domain: self._changes(session, domain, start) for domain in S.LEARNER_DOMAINS}
        deleted = {text(r.get(S.ID)) for r in changes["learners"] if S.REMOVED in r} - {None}
        records = {d: [r for r in recs if S.REMOVED not in r] for d, recs in changes.items()}
        changed = {text(r.get(S.ID)) for r in records["learners"]}
        changed |= {learner_of(r) for d in S.SATELLITE_DOMAINS for r in records[d]}
        changed -= deleted | {None}
        for domain in S.LEARNER_DOMAINS:  # a part not listed as changed: read that domain once
            key = (lambda r: text(r.get(S.ID))) if domain == "learners" else learner_of
            missing = changed - {key(r) for r in records[domain]}
            if missing:
                records[domain] += [r for r in self._pages(session, domain) if key(r) in missing]
        learners = [r for r in records["learners"] if text(r.get(S.ID)) in changed]
        upserts = self._pupils(learners, records)
        return PupilChanges(upserts=upserts, deleted=deleted - set(upserts), watermark=watermark)


__all__ = ["CHUNK_DAYS", "SimsConnector", "event_start", "exclusion_row", "pupil_row"]
