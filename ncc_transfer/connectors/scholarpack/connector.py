"""The ScholarPack route: one school's pupils (on roll and former), session attendance for the academic
year to date, and exclusions, through ScholarPack's REST API
(https://support.scholarpack.com/hc/en-gb/articles/6173665308189-For-Data-Integrators-About-the-ScholarPack-API).

Registry settings: ``source: {client_id_env: "SP_CLIENT_ID", client_secret_env: "SP_CLIENT_SECRET",
refresh_token_env: "SP_REFRESH_9262001"}``, plus optional ``base_url`` (default
``https://services.scholarpack.co.uk/api/v1``; ``https://sandbox.scholarpack.co.uk/api/v1`` for the
sandbox) and ``token_url`` (default: ``/oauth2/token/`` on the base URL's host, a GUESS). Every field
location is in ``mapping.py`` with its confidence (DOC/GUESS).

Auth is OAuth2 authorisation code: once, at onboarding, a school user with the Admin and System
Admin roles approves the LA's app and the resulting refresh token is put in the environment variable
``refresh_token_env`` names. Nightly the connector uses the refresh-token grant. ScholarPack is assumed
to rotate refresh tokens (GUESS), and the environment cannot be rewritten, so the newest refresh token
is kept in the state folder (``$NCC_HOME/state/<school key>.scholarpack_refresh_token``, 0600, written
atomically the moment it is issued) and preferred on the next night. If it is refused (``invalid_grant``)
the environment's token is tried once (an admin may have authorised the app again); if that is refused
too, the school must be authorised again. Without a state folder only the environment's token is used.

ScholarPack lists no changes (no changed-since parameter in its API documentation), so every night is a full fetch.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from ncc_transfer.connectors.scholarpack import mapping as S
from ncc_transfer.registry import School
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Records, RecordsBuilder, RouteSettings, Snapshot, VendorConnector, build_raw, date_text,
    field_paths, local_to_statutory, mapped_code, mapped_row, preferred_if_different, reason_columns, text
)
from ncc_transfer.extract import RawExtract
from ncc_transfer.connectors.http import OAuth2RefreshToken, VendorError, VendorSession, dig, next_link

ROUTE = "scholarpack"
TOKEN_FILE_SUFFIX = ".scholarpack_refresh_token"
STUDENT_PATHS = field_paths(S.STUDENT_FIELDS)
EXCLUSION_PATHS = field_paths(S.EXCLUSION_FIELDS)


# ------------------------------------------------------------------------------ the kept refresh token


class RefreshTokenFile:
    """The newest refresh token of one school, kept beside its extract state (0600, atomic writes)."""

    def __init__(self, root: Path, key: str) -> None:
        self.path = Path(root) / f"{key}{TOKEN_FILE_SUFFIX}"

    def read(self) -> str | None:
        try:
            token = self.path.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise VendorError(ROUTE, f"could not read the kept refresh token ({type(exc).__name__})") from None
        return token or None

    def write(self, token: str) -> None:
        """Replace the kept token atomically: a crash leaves the old token or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = self.path.with_name(self.path.name + ".new")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, token.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(scratch, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)


# ------------------------------------------------------------------------------------------ mapping


def student_row(student: dict) -> dict[str, str | None]:
    """One ScholarPack student -> one raw pupils row (canonical column names, text values)."""
    return preferred_if_different(mapped_row(student, STUDENT_PATHS, S.DATE_COLUMNS), S.PREFERRED_OF)


def statutory_code(mark: str | None) -> str | None:
    """A register mark (the MIS's code, maybe a local sub-code) -> the statutory code."""
    return local_to_statutory(mark, S.LOCAL_SUBCODES)


def exclusion_row(record: dict) -> dict[str, Any]:
    row: dict[str, Any] = mapped_row(record, EXCLUSION_PATHS, S.DATE_COLUMNS)
    row[STUDENT_KEY] = row.pop("student")
    reasons = dig(record, S.EXCLUSION_REASONS[0])
    row.update(reason_columns(reasons if isinstance(reasons, list) else [] if reasons is None else [reasons],
                              S.REASON_COLUMNS))
    row["category"] = mapped_code(row["category"], S.EXCLUSION_TYPE)
    return row


# ---------------------------------------------------------------------------------------- connector


class ScholarPackConnector(VendorConnector):
    route = ROUTE
    default_base_url = S.DEFAULT_BASE_URL

    # ---------------------------------------------------------------------------------------- auth
    @staticmethod
    def token_url(settings: RouteSettings) -> str:
        """``token_url``, else ``/oauth2/token/`` on the host (and mount) of a ``.../api/v1`` base URL."""
        explicit = settings.get("token_url")
        if explicit:
            return str(explicit)
        if settings.base_url.endswith(S.API_PREFIX):
            return settings.base_url[: -len(S.API_PREFIX)] + S.TOKEN_PATH
        raise VendorError(ROUTE, f"source.token_url is needed: base_url does not end in {S.API_PREFIX}")

    def auth(self, settings: RouteSettings, kept: RefreshTokenFile | None = None) -> OAuth2RefreshToken:
        """The refresh-token grant: the kept token first (if any), then the environment's."""
        variable = settings.credential_name("refresh_token_env")
        from_env = settings.secret("refresh_token_env")
        stored = kept.read() if kept is not None else None
        hint = (f"the {'kept refresh token and the one in' if stored else 'refresh token in'} environment "
                f"variable {variable} {'were' if stored else 'was'} refused; a school user with the Admin and "
                f"System Admin roles must authorise the app in ScholarPack again and the new refresh token "
                f"be put in {variable}")
        return OAuth2RefreshToken(self.token_url(settings), settings.secret("client_id_env"),
                                  settings.secret("client_secret_env"), [t for t in (stored, from_env) if t],
                                  persist=kept.write if kept is not None else None, persisted=stored,
                                  refused_hint=hint, name=variable)

    # ------------------------------------------------------------------------------------- paths
    @staticmethod
    def sources(settings: RouteSettings) -> dict[str, str]:
        paths = {name: path for name, (path, _, _) in S.ENDPOINTS.items()}
        return {"pupils": f"{paths['students']} + {paths['sen']} + {paths['lac']}", "attendance": f"{paths['register']} + {paths['historic_register']}",
                "exclusions": paths["exclusions"]}

    @staticmethod
    def _pages(session: VendorSession, endpoint: str, **params: Any) -> Iterator[dict]:
        path = S.ENDPOINTS[endpoint][0]
        query = {S.PER_PAGE_PARAM: S.PAGE_SIZES[endpoint], **params}
        return next_link(session, path, query, items_key=S.ITEMS_KEY, next_key=S.NEXT_KEY)

    # ---------------------------------------------------------------------------------- datasets
    def pupils(self, session: VendorSession) -> dict[str, dict]:
        name, value = S.FORMER_STUDENTS_PARAM
        path = S.ENDPOINTS["students"][0]
        pupils: dict[str, dict] = {}
        for n, student in enumerate(self._pages(session, "students", **{name: value})):
            pupils[text(student.get(S.STUDENT_ID)) or f"students:{n}"] = {**student_row(student), "_source": path}
        for endpoint in S.COHORT_ENDPOINTS:
            values = self.cohort_values(session, endpoint)
            column = S.COHORT_ENDPOINTS[endpoint][0]
            for key, row in pupils.items():
                row[column] = values.get(key)
        return pupils

    def cohort_values(self, session: VendorSession, endpoint: str) -> dict[str, str | None]:
        """One cohort column by student uuid from a cohort endpoint (``mapping.COHORT_ENDPOINTS``); empty
        when the school's authorisation lacks the endpoint's scope (403: the column stays null)."""
        field = S.COHORT_ENDPOINTS[endpoint][1]
        try:
            return {text(record.get(S.STUDENT_ID)): text(record.get(field))
                    for record in self._pages(session, endpoint) if text(record.get(S.STUDENT_ID))}
        except VendorError as exc:
            if exc.status == 403:
                return {}
            raise

    def marks(self, session: VendorSession, *, start: date, end: date) -> Records:
        first, last = S.REGISTER_RANGE_PARAMS
        dates = {first: start.isoformat(), last: end.isoformat()}
        fields = field_paths(S.REGISTER_FIELDS)
        marks = RecordsBuilder()
        for endpoint in ("register", "historic_register"):
            path = S.ENDPOINTS[endpoint][0]
            for n, record in enumerate(self._pages(session, endpoint, **dates)):
                marks.add(f"{endpoint}:{n}", {  # [GUESS] no record id: marks are not merged across nights
                    STUDENT_KEY: text(dig(record, fields["student"])),
                    "date": date_text(dig(record, fields["date"])),
                    "session": text(dig(record, fields["session"])),
                    "code": statutory_code(text(dig(record, fields["code"]))),
                    "_source": path})
        return marks.build()

    def exclusions(self, session: VendorSession) -> dict[str, dict]:
        path = S.ENDPOINTS["exclusions"][0]
        return {f"exclusions:{n}": {**exclusion_row(record), "_source": path}
                for n, record in enumerate(self._pages(session, "exclusions"))}

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        return Snapshot(pupils=self.pupils(session),
                        attendance=self.marks(session, start=academic_year_start(as_of), end=as_of),
                        exclusions=self.exclusions(session), sources=self.sources(settings))

    # ----------------------------------------------------------------------------------- fetching
    def fetch(self, school: School, *, as_of: date, state: Any = None) -> RawExtract:
        """A full extract every night. ``state`` (an ``incremental.StateStore``) is where the school's
        newest refresh token is kept; without it only the environment's token is used."""
        settings = self.settings(school)
        kept = RefreshTokenFile(state.root, school.key) if state is not None else None
        try:
            with self.session(settings, self.auth(settings, kept)) as session:
                snapshot = self.snapshot(session, settings, as_of=as_of)
            return build_raw(snapshot)
        except VendorError as exc:
            raise self.translate(school, exc) from None


__all__ = ["RefreshTokenFile", "ScholarPackConnector", "exclusion_row", "statutory_code", "student_row"]
