"""Pupil Asset JSON <-> canonical raw columns: the ONE place the (guessed) Pupil Asset shape is written down.

EVERYTHING HERE IS A GUESS. Pupil Asset publishes no API documentation. The only facts are [DOC] (its
help page, https://pupilasset.com/help/how-to-guide/data-protection-and-security/how-to-configure-access-to-your-school-data-for-a-third-party/):
schools approve third parties from a fixed list, the data areas include Pupils ("name, DOB, UPN, year
group, ...") and Read Attendance, which is described as attendance *summaries*, not session marks;
exclusions are not listed as a data area at all; and one aggregator
config names the host ``https://secure.pupilasset.com`` [3P, low confidence]. So the session-mark and
exclusion endpoints below are doubly a guess.

**The LA should reach Pupil Asset schools through Wonde or Groupcall** (the routes ``wonde`` /
``xporter``) until Pupil Asset supplies partner documentation. This route exists so that, if it does,
a data engineer holding a real payload can correct every name in this file in minutes: the connector
(``connectors/pupil_asset/connector.py``, reading) and the simulator (``connectors/pupil_asset/simulator.py``, writing) both
take every path, parameter and field name from here.

What to ask Pupil Asset for:
  1. Is there a partner API for an LA (not on the approved-app list), or is it Wonde/Groupcall only?
  2. Base URL, auth (API key header name? OAuth?), and how a key is scoped to a school.
  3. The pupil endpoint and fields: UPN, former UPN, legal and preferred names, DOB, gender, NC year,
     enrolment status, admission and leaving dates, address; how leavers are listed; the SEN status, FSM,
     Ever 6 FSM and looked-after fields (or groups) and their values; child in need / protection plan.
  4. Whether session (AM/PM) marks can be read at all, or only summaries; the date-range parameters;
     the code list (local sub-codes and their statutory codes).
  5. Whether exclusions/suspensions can be read, and their fields (category, reasons, sessions).
  6. Pagination (page numbers? a total? a next link?), page-size maximum, rate limits, error shape.
"""

from __future__ import annotations

GUESS = "GUESS"  # the only confidence tag this module uses: nothing here is documented

DEFAULT_BASE_URL = "https://secure.pupilasset.com"  # the host is [3P, low confidence]; the API on it: GUESS
API_KEY_HEADER = "X-API-Key"  # GUESS

API_PREFIX = "/api/v1/schools/{school_id}"  # GUESS

# Endpoints: canonical table -> (path relative to API_PREFIX, confidence).
ENDPOINTS = {
    "pupils": ("/pupils", GUESS),
    "attendance": ("/attendance/sessions", GUESS),  # doubly a guess: only summaries are documented
    "exclusions": ("/exclusions", GUESS),  # doubly a guess: not a documented data area
}

# Query parameters [GUESS].
LEAVERS_PARAM = ("status", "all")  # on roll AND leavers; without it only pupils on roll
ATTENDANCE_RANGE_PARAMS = ("from", "to")  # YYYY-MM-DD, inclusive
PAGE_PARAM, SIZE_PARAM, FIRST_PAGE = "page", "limit", 1  # page numbers until a short page
PAGE_SIZES = {"pupils": 500, "attendance": 2000, "exclusions": 500}

# Envelope [GUESS]: {"success": true, "data": [...]}; an error is {"success": false, "error": "..."} with
# HTTP 200.
ITEMS_KEY = "data"
SUCCESS_KEY = "success"
ERROR_KEY = "error"

# canonical pupil column -> field of a pupil object [all GUESS]. Dates are YYYY-MM-DD [GUESS].
PUPIL_FIELDS: dict[str, str] = {
    "upn": "upn",
    "former_upn": "former_upn",
    "surname": "legal_surname",
    "forename": "legal_forename",
    "middle_names": "middle_names",
    "preferred_surname": "preferred_surname",
    "preferred_forename": "preferred_forename",
    "dob": "dob",
    "sex": "gender",
    "nc_year": "year_group",
    "enrol_status": "enrolment_status",
    "entry_date": "admission_date",
    "leaving_date": "leaving_date",
    "address_line1": "address_line_1",
    "town": "town",
    "postcode": "postcode",
    # Cohort fields (ncc_transfer.cohorts) [GUESS: names and values; nothing public]. Pupil Asset is an
    # assessment tracker that groups pupils by their characteristics (SEN, FSM, Ever 6 FSM, looked after), as
    # trackers synced from an MIS do (e.g. Insight's pupil profile: SEND provision, FSM, Ever 6 FSM, Ever In
    # Care, https://kb.insighttracking.com/article/4kd5eq1wu1-pupil-profile-details-fsm-pp-etc [3P, another
    # product]); here as fields of the pupil: the SEN status as its label (SEN_STATUS_LABELS), the flags as JSON
    # booleans. Child in need / child protection plan: no trace; not mapped.
    "sen_provision": "sen_status",
    "fsm_eligible": "fsm",
    "fsm_ever6": "fsm_ever_6",
    "looked_after": "looked_after",
}
COHORT_FLAGS = ("fsm_eligible", "fsm_ever6", "looked_after")  # JSON booleans [GUESS]
# How Pupil Asset labels a SEN status (the simulator writes these) [GUESS: the DfE's short forms]. The connector
# reads any label of ncc_transfer.cohorts.SEN_PROVISION_LABELS (these among them) as its code; a code or any
# other text passes through for validation to judge.
SEN_STATUS_LABELS = {"N": "No SEN", "K": "SEN Support", "E": "EHC Plan"}
PUPIL_ID = "id"

# Canonical columns holding dates (sent as YYYY-MM-DD [GUESS]; a time part would be dropped).
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "date", "start_date", "end_date"}

# Pupil Asset gender -> CTF sex [GUESS]; anything else passes through for validation to judge.
GENDER = {"Male": "M", "Female": "F"}

# A session mark [GUESS]: {"id", "pupil_id", "date", "session": "AM"|"PM", "mark"}.
MARK_ID = "id"
MARK_PUPIL = "pupil_id"  # the connector turns it into the pupil's UPN
MARK_FIELDS: dict[str, str] = {"date": "date", "session": "session", "code": "mark"}

# The school's own codes -> statutory code [GUESS: that Pupil Asset lets schools define sub-codes, and
# which]. Anything else is taken as statutory (or left for validation to reject). Never put a real
# statutory code (C1, C2, J1, Y1-Y7) on the left.
LOCAL_SUBCODES = {"X01": "X", "I01": "I"}

# An exclusion [GUESS]: {"id", "pupil_id", "type", "reason_1", ...}.
EXCLUSION_ID = "id"
EXCLUSION_PUPIL = "pupil_id"
EXCLUSION_FIELDS: dict[str, str] = {
    "category": "type",
    "reason": "reason_1",
    "reason_2": "reason_2",
    "reason_3": "reason_3",
    "start_date": "start_date",
    "start_session": "start_session",
    "sessions": "sessions",
    "end_date": "end_date",
}
# Pupil Asset exclusion type -> canonical category [GUESS].
EXCLUSION_TYPE = {"fixed": "SUSP", "permanent": "PERM", "lunchtime": "LNCH"}
