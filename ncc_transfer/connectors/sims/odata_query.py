"""The query options the simulated SIMS API accepts (``simulator.py``), and its OData error answers.

``$top``/``$skip`` paging (``$top`` above ``MAX_TOP`` is refused, as ASP.NET OData does), the
AttendableEventStart ``$filter`` AttendanceRecords require (DateTimeOffset literals: a bare date is a 400
[DOC]; both bounds, at most ``MAX_SPAN_DAYS`` apart) and the DateTimeOffset of ``SIMS.Changes``. A
request the API refuses raises ``ODataError``, answered as an OData error object.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import JSONResponse

from ncc_transfer.connectors.sims import mapping as S

DATETIME_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
CLAUSE = re.compile(rf"^{S.ATTENDANCE_FILTER_FIELD} (ge|gt|le|lt|eq) (\S+)$")


class ODataError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message}}, status_code=self.status)


def datetime_offset(literal: str) -> datetime:
    if not DATETIME_OFFSET.match(literal):
        raise ODataError(400, "", f"The query specified in the URI is not valid. A DateTimeOffset literal is "
                                  f"required; '{literal[:40]}' is not one.")
    return datetime.fromisoformat(literal.replace("Z", "+00:00"))


def attendance_span(flt: str | None) -> tuple[datetime, datetime]:
    """The ``[low, high)`` range of an AttendableEventStart filter (both bounds required, ≤ 90 days)."""
    if not flt:
        raise ODataError(400, "", f"A $filter on {S.ATTENDANCE_FILTER_FIELD} is required (at most "
                                  f"{S.MAX_SPAN_DAYS} days).")
    low = high = None
    for clause in flt.split(" and "):
        match = CLAUSE.match(clause.strip())
        if not match:
            raise ODataError(400, "", "The query specified in the URI is not valid. Unsupported $filter.")
        operator, moment = match.group(1), datetime_offset(match.group(2))
        if operator in ("ge", "gt", "eq"):
            low = moment if operator != "gt" else moment + timedelta(microseconds=1)
        if operator in ("lt", "le", "eq"):
            high = moment if operator == "lt" else moment + timedelta(microseconds=1)
    if low is None or high is None:
        raise ODataError(400, "", "Both a lower and an upper bound on AttendableEventStart are required.")
    if high - low > timedelta(days=S.MAX_SPAN_DAYS):
        raise ODataError(400, "", f"The date range may span at most {S.MAX_SPAN_DAYS} days.")
    return low, high


def paging(query: Any) -> tuple[int, int]:
    try:
        top = int(query.get("$top", S.MAX_TOP))
        skip = int(query.get("$skip", 0))
    except ValueError:
        raise ODataError(400, "", "The query specified in the URI is not valid. $top and $skip are integers.") \
            from None
    if top > S.MAX_TOP:
        raise ODataError(400, "", f"The limit of '{S.MAX_TOP}' for Top query has been exceeded. The value from "
                                  f"the incoming request is '{top}'.")
    if top < 0 or skip < 0:
        raise ODataError(400, "", "The query specified in the URI is not valid. $top and $skip must be positive.")
    return top, skip
