"""The connector interface every MIS route implements (issue #4; README, "Adding a new MIS route"), and what they share.

A connector turns one school's registry entry into a ``RawExtract``: the same raw shape the files route
produces (all-text object columns with the canonical names of ``canonical.RAW_COLUMNS`` plus ``_source``
and ``_line``), so validation and everything after it is route-blind.

``VendorConnector`` is the common skeleton: it reads the registry settings (``RouteSettings``), builds a
``VendorSession`` on the shared HTTP layer, and turns every ``VendorError`` into the pipeline's two
failure kinds. A route module supplies ``auth(settings)`` and ``snapshot(...)`` (the full extract as a
``Snapshot``). A route whose vendor can list changes subclasses ``IncrementalConnector`` instead: it
supplies ``all_pupils``/``changed_pupils``/``marks``/``exclusions`` and gets the full snapshot here and
incremental extraction from ``incremental.py``.

Failures: a temporary fault (5xx/429 after retries, timeout, maintenance page) raises
``extract.TransientExtractError``; anything a retry will not fix (bad token, forbidden, missing
setting or secret, an unexpected status) raises ``VendorRouteError``. Both messages name the school,
route, endpoint and status, never a token or pupil data.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from ..extract import RawExtract, TransientExtractError, VendorHostUnreachable, VendorRouteError
from ..registry import School
from ..rules.calendar import academic_year_start
from .http import AuthStrategy, VendorError, VendorSession, dig, make_session
from .http.errors import VendorUnreachable
from .incremental import PupilChanges, incremental_snapshot
from .routes import ROUTES
from .records import Records, RecordsBuilder, records_from
from .snapshot import ID_KEY, STUDENT_KEY, Snapshot, build_raw

__all__ = ["ID_KEY", "STUDENT_KEY", "Capabilities", "Connector", "IncrementalConnector", "RawExtract",
           "Records", "RecordsBuilder", "RouteSettings", "Snapshot", "TransientExtractError", "VendorConnector",
           "VendorRouteError", "build_raw",
           "date_spans", "date_text", "field_paths", "local_to_statutory", "mapped_code", "mapped_row",
           "preferred_if_different", "reason_columns", "records_by_id", "rows_by_id", "secret_from_env", "text"]

_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T][0-9:.]*(?:Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class Capabilities:
    changed_since: bool = False  # can fetch only what changed since a watermark
    deletions: bool = False  # reports deleted records
    leavers: bool = True  # lists pupils who have left


@runtime_checkable
class Connector(Protocol):
    route: str
    capabilities: Capabilities

    def fetch(self, school: School, *, as_of: date, state: Any = None) -> RawExtract: ...


def secret_from_env(school: School, setting: str) -> str:
    """The secret held by the environment variable the registry names in ``source[setting]``.

    A failure names the registry field, not its value: the message reaches logs, the audit log and
    the school's report, and a mistaken registry could hold a secret where the name belongs."""
    name = str(school.source.get(setting, "") or "").strip()
    if not name:
        raise VendorRouteError(f"{school.key}: {school.mis}: source.{setting} is not set in the registry")
    value = os.environ.get(name, "")
    if not value:
        raise VendorRouteError(f"{school.key}: {school.mis}: the environment variable named in source.{setting} "
                               f"is not set")
    return value


# ------------------------------------------------------------------------------------------ values


def text(value: Any) -> str | None:
    """A vendor value as raw text (validation judges it later); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def date_text(value: Any) -> str | None:
    """A vendor date (ISO, ``Y-m-d H:i:s``, ``...T00:00:00``, a PHP DateTime object) -> ``YYYY-MM-DD``.

    Text that is not a date is passed on as supplied, for validation to report.
    """
    if isinstance(value, dict):
        value = value.get("date")
    value = text(value)
    return None if value is None else _date_part(value)


def vendor_day(value: Any) -> date | None:
    """A vendor date (any form :func:`date_text` reads) as a date; None for none. Raises ValueError for text
    that is not a date (a cohort period whose dates cannot be read is then not supplied)."""
    day = date_text(value)
    return date.fromisoformat(day) if day else None


@lru_cache(maxsize=4096)  # a school's marks repeat a few hundred distinct dates
def _date_part(value: str) -> str:
    match = _DATE_TEXT.match(value.strip())
    return match.group(1) if match else value


def field_paths(fields: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Canonical column -> path, from a mapping's field table of ``(path, confidence tag)``."""
    return {column: path for column, (path, _) in fields.items()}


def mapped_row(record: dict, fields: Mapping[str, str], date_columns: Iterable[str] = ()) -> dict[str, str | None]:
    """Canonical columns from a vendor record: ``fields`` maps each column to its (dotted) path; values
    as text, dates as ``YYYY-MM-DD``. The mapping modules' field tables are read through this."""
    dates = set(date_columns)
    return {column: date_text(dig(record, path)) if column in dates else text(dig(record, path))
            for column, path in fields.items()}


def preferred_if_different(row: dict[str, str | None], preferred_of: Mapping[str, str]) -> dict[str, str | None]:
    """``row`` with each preferred name (``preferred_surname``...) kept only where it differs from the legal
    one it is paired with in ``preferred_of`` (a vendor that always fills them in holds the legal name)."""
    for column, legal in preferred_of.items():
        if row[column] == row[legal]:
            row[column] = None
    return row


def reason_columns(reasons: Sequence[Any], columns: Sequence[str]) -> dict[str, str | None]:
    """The canonical reason columns (``reason``, ``reason_2``, ...) from a vendor's list of reasons, in order."""
    return {column: text(reasons[n]) if n < len(reasons) else None for n, column in enumerate(columns)}


def date_spans(start: date, end: date, days: int) -> list[tuple[date, date]]:
    """``start``..``end`` (inclusive) as contiguous ``(first, stop)`` spans of at most ``days`` days, ``stop``
    exclusive: the requests of a vendor that limits the date range of one."""
    spans = []
    first = start
    while first <= end:
        stop = min(first + timedelta(days=days), end + timedelta(days=1))
        spans.append((first, stop))
        first = stop
    return spans


def rows_by_id(records: Iterable[dict], id_field: str, to_row: Callable[[dict], dict], endpoint: str) -> dict[str, dict]:
    """Mapped rows keyed by the vendor's record id (the record's position when it has none)."""
    return {text(record.get(id_field)) or f"{endpoint}:{n}": to_row(record) for n, record in enumerate(records)}


def records_by_id(records: Iterable[dict], id_field: str, to_row: Callable[[dict], dict], endpoint: str) -> Records:
    """``rows_by_id`` for a large table (the marks): held column by column (``records.Records``)."""
    return records_from((text(record.get(id_field)) or f"{endpoint}:{n}", to_row(record))
                        for n, record in enumerate(records))


def mapped_code(value: str | None, table: Mapping[str, str]) -> str | None:
    """A vendor's code through one of its mapping tables (keys all upper or all lower case), matched
    whatever the case of the value and blanks around it; a value not in the table passes through as
    supplied, for validation to judge."""
    if value is None:
        return None
    key = value.strip()
    return table.get(key.upper(), table.get(key.lower(), value))


def local_to_statutory(code: str | None, subcodes: Mapping[str, str]) -> str | None:
    """An MIS attendance code (maybe a local sub-code such as ``X01``) -> the statutory code, through the
    vendor's mapping; a code not in the mapping passes through unchanged, for validation to judge."""
    return mapped_code(code, subcodes)


# -------------------------------------------------------------------------------------- settings


TUNABLE_FLOATS = ("rate_per_second", "backoff_factor", "connect_timeout", "read_timeout")


@dataclass
class RouteSettings:
    """One school's route settings: ids, base URL, HTTP tunables, secrets read on demand."""

    school: School
    route: str
    base_url: str
    http: dict[str, Any]

    def get(self, setting: str, default: Any = None) -> Any:
        value = self.school.source.get(setting)
        return default if value in (None, "") else value

    def require(self, setting: str) -> str:
        value = str(self.school.source.get(setting, "") or "").strip()
        if not value:
            raise VendorRouteError(f"{self.school.key}: {self.route}: source.{setting} is not set in the registry")
        return value

    def secret(self, setting: str) -> str:
        return secret_from_env(self.school, setting)

    def credential_name(self, setting: str) -> str:
        """The (non-secret) name a credential is known by: its environment variable."""
        return str(self.school.source.get(setting, "") or setting)


class VendorConnector:
    """The shared skeleton of the HTTP connectors; subclasses set ``route`` and implement the rest."""

    route: str = ""
    capabilities = Capabilities()  # no change list (a full fetch every night), leavers listed
    mapping_version = 1  # a route bumps it when its mapping changes what rows it gives: its mirrors are rebuilt
    default_base_url: str | None = None
    defaults: dict[str, Any] = {"max_retries": 4, "backoff_factor": 1.0, "connect_timeout": 10, "read_timeout": 60}

    def __init__(self, **options: Any) -> None:
        spec = ROUTES.get(self.route)  # its request rate per credential is the route's
        self.options = {**self.defaults, "rate_per_second": spec.rate_per_second if spec else None, **options}

    # ------------------------------------------------------------------------------- to override
    def auth(self, settings: RouteSettings) -> AuthStrategy | None:
        raise NotImplementedError

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        raise NotImplementedError

    # ---------------------------------------------------------------------------------- skeleton
    def settings(self, school: School) -> RouteSettings:
        base_url = str(school.source.get("base_url") or self.default_base_url or "").rstrip("/")
        if not base_url:
            raise VendorRouteError(f"{school.key}: {self.route}: source.base_url is not set in the registry")
        http = dict(self.options)
        for setting in (*TUNABLE_FLOATS, "max_retries"):  # optional registry overrides
            if setting in school.source:
                value = school.source[setting]
                http[setting] = None if value in (None, "", 0) and setting == "rate_per_second" else value
        for setting in TUNABLE_FLOATS:
            if http.get(setting) is not None:
                http[setting] = float(http[setting])
        http["max_retries"] = int(http["max_retries"])
        return RouteSettings(school, self.route, base_url, http)

    def session(self, settings: RouteSettings, auth: AuthStrategy | None, *, credential: str | None = None,
                base_url: str | None = None) -> VendorSession:
        return make_session(base_url or settings.base_url, auth, route=self.route,
                            credential=credential or (auth.name if auth is not None else None), **settings.http)

    def fetch(self, school: School, *, as_of: date, state: Any = None) -> RawExtract:
        """The school's raw extract; with ``state`` (an ``incremental.StateStore``) and a vendor that
        can list changes, only what changed since the last night is fetched."""
        settings = self.settings(school)
        try:
            session = self.session(settings, self.auth(settings))
            with session:
                if state is not None and self.capabilities.changed_since:
                    snapshot = incremental_snapshot(self, session, settings, as_of=as_of, store=state)
                else:
                    snapshot = self.snapshot(session, settings, as_of=as_of)
            return build_raw(snapshot)
        except VendorError as exc:
            raise self.translate(school, exc) from None

    @staticmethod
    def translate(school: School, exc: VendorError) -> Exception:
        message = f"{school.key}: {exc}"
        if isinstance(exc, VendorUnreachable):  # the pipeline says what to do about it (``next_steps``)
            return VendorHostUnreachable(message, host=exc.host, port=exc.port, how=exc.how, detail=exc.detail)
        if exc.transient:
            return TransientExtractError(message)
        return VendorRouteError(message)


class IncrementalConnector(VendorConnector):
    """The skeleton of a route whose vendor can list changes (``incremental.py``).

    A full fetch is every pupil (with the vendor's watermark: where its change list continues from), the
    academic year's marks to date and the exclusions, read in that order. An incremental night asks the
    vendor for the pupils changed since the watermark and re-reads marks for a look-back window.
    """

    capabilities = Capabilities(changed_since=True, deletions=True, leavers=True)
    # Fields every pupil row of a mirror must hold for an incremental night (a mirror without one, written
    # before the route kept it, is rebuilt by a full fetch).
    mirror_fields: tuple[str, ...] = ()

    # ------------------------------------------------------------------------------- to override
    def sources(self, settings: RouteSettings) -> dict[str, str]:
        raise NotImplementedError

    def all_pupils(self, session: VendorSession, settings: RouteSettings) -> tuple[dict[str, dict], dict[str, Any]]:
        """Every pupil row by vendor id, and the watermark to list changes from next night."""
        raise NotImplementedError

    def changed_pupils(self, session: VendorSession, settings: RouteSettings, *, since: dict,
                       as_of: date) -> PupilChanges:
        raise NotImplementedError

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        raise NotImplementedError

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        raise NotImplementedError

    def on_night(self, snapshot: Snapshot, as_of: date) -> Snapshot:
        """The snapshot with what depends on the night rather than on the vendor's records (e.g. a flag
        counted on the as-of date from date ranges) counted on ``as_of``: applied to every pupil, on a full
        fetch and on an incremental night (re-read or from the mirror). As fetched by default."""
        return snapshot

    def refresh_pupils(self, session: VendorSession, settings: RouteSettings, pupils: dict[str, dict], *,
                       as_of: date) -> dict[str, dict]:
        """Every pupil row with the columns the vendor keeps apart from the pupil records (which its change
        list does not follow, e.g. Arbor's cohort entities) read afresh for ``as_of``: after the pupils of
        a full fetch, and after the merge on an incremental night. By default the rows as they are."""
        return pupils

    # ---------------------------------------------------------------------------------- skeleton
    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        pupils, watermark = self.all_pupils(session, settings)
        pupils = self.refresh_pupils(session, settings, pupils, as_of=as_of)
        return self.on_night(Snapshot(pupils=pupils,
                                      attendance=self.marks(session, settings, start=academic_year_start(as_of),
                                                            end=as_of),
                                      exclusions=self.exclusions(session, settings, as_of=as_of),
                                      sources=self.sources(settings), watermark=watermark), as_of)
