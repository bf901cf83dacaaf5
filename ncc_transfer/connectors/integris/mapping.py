"""RM Integris JSON <-> canonical raw columns: the ONE place the (guessed) Integris shape is written down.

EVERYTHING HERE IS A GUESS. No public API documentation for RM Integris was found in any corpus:
Integris data reaches third parties through aggregators (ParentPay documents only its import rules,
https://support.parentpaygroup.com/hc/en-gb/articles/15739043820945-RM-Integris-data-requirements), and
the only clue is a connector config with ``G2_Scope``/``G2_Server`` tokens for "g2" (Integris G2)
schools [3P, low confidence], which hints at OAuth2 scopes and a per-deployment server, nothing more.
There are also unverified reports that Integris is being retired. One more clue on the record shape:
ParentPay names the fields it takes from Integris's centrally hosted API, ``StudentData`` with
``LegalSurname``, ``FirstName``, ``KnownName``, ``Surname``
(https://support.parentpaygroup.com/hc/en-gb/articles/6252390908305-What-names-are-imported-from-RM-Integris-MIS
[3P]): PascalCase, where the guesses below are camelCase; a real payload will correct every name at once.

**The LA should reach Integris schools through Wonde or Groupcall** (the routes ``wonde`` /
``xporter``) until RM supplies partner documentation. This route exists so that, if it does, a data
engineer holding a real payload can correct every name in this file in minutes: the connector
(``connectors/integris/connector.py``, reading) and the simulator (``connectors/integris/simulator.py``, writing) both take
every path, parameter and field name from here.

What to ask RM:
  1. Is there a partner API an LA can use directly, or is it Wonde/Groupcall only? Is Integris being
     retired, and when?
  2. The base URL per school or deployment (G2 server?), the token endpoint, grant type and scopes
     (``G2_Scope``?), and whether a client is per school or per LA.
  3. The student endpoint and fields: UPN, former UPN, legal and preferred names, DOB, gender, NC year,
     enrolment status, admission and leaving dates, address; how leavers are included; SEN status, FSM
     eligibility (ever 6?), in care, child in need, child protection plan, and how each is sent.
  4. Session (AM/PM) attendance: endpoint, date-range parameters, the code list (local sub-codes and
     their statutory codes).
  5. Exclusions: endpoint and fields (category, reasons, start/end, sessions).
  6. Pagination, page-size maximum, rate limits, and the error shape.
"""

from __future__ import annotations

GUESS = "GUESS"  # the only confidence tag this module uses: nothing here is documented

# No base URL is known: the registry must give ``base_url`` (required for this route).
TOKEN_PATH = "/oauth/token"  # GUESS: the default token_url is <base_url>/oauth/token
SCOPE: str | None = None  # GUESS: the G2_Scope clue suggests a scope may be required; unknown

API_PREFIX = "/api/v1/schools/{school_id}"  # GUESS

# Endpoints: canonical table -> (path relative to API_PREFIX, confidence).
ENDPOINTS = {
    "pupils": ("/students", GUESS),
    "attendance": ("/attendance", GUESS),
    "exclusions": ("/exclusions", GUESS),
}

# Query parameters [GUESS].
LEAVERS_PARAM = ("includeLeavers", "true")  # without it only students on roll
ATTENDANCE_RANGE_PARAMS = ("fromDate", "toDate")  # YYYY-MM-DD, inclusive
PAGE_PARAM, SIZE_PARAM, FIRST_PAGE = "page", "pageSize", 1
PAGE_SIZES = {"pupils": 500, "attendance": 2000, "exclusions": 500}

# Envelope [GUESS]: {"items": [...], "page": n, "totalPages": t}.
ITEMS_KEY = "items"
TOTAL_PAGES_KEY = "totalPages"

# canonical pupil column -> dotted path in a student object [all GUESS]. Dates may come as
# `YYYY-MM-DDT00:00:00` (a .NET habit) [GUESS]; the connector keeps the date part.
PUPIL_FIELDS: dict[str, str] = {
    "upn": "upn",
    "former_upn": "formerUpn",
    "surname": "legalSurname",
    "forename": "legalForename",
    "middle_names": "middleNames",
    "preferred_surname": "preferredSurname",
    "preferred_forename": "preferredForename",
    "dob": "dateOfBirth",
    "sex": "gender",  # CTF letters (M/F/...) as held [GUESS]; nothing to map
    "nc_year": "ncYear",
    "enrol_status": "enrolmentStatus",
    "entry_date": "admissionDate",
    "leaving_date": "leavingDate",
    "address_line1": "address.line1",
    "town": "address.town",
    "postcode": "address.postcode",
    # Cohort fields (ncc_transfer.cohorts) [GUESS: names and values]. Integris returns the school census, so it
    # holds SEN provision, FSM eligibility and in-care status per pupil; ParentPay's import of Integris pupils
    # reports FSM entitlement changes [3P:
    # https://support.parentpaygroup.com/hc/en-gb/articles/4410420183057-New-ParentPay-schools-using-RM-Integris],
    # so FSM at least is in what the API shares. SEN status as the
    # CTF/census code (N/K/E), the flags as "Y"/"N" text (FLAG_TEXT). FSM ever 6 (a DfE derivation), child in
    # need and child protection plan: no trace; not mapped.
    "sen_provision": "senStatus",
    "fsm_eligible": "fsmEligible",
    "looked_after": "inCare",
}
COHORT_FLAGS = ("fsm_eligible", "looked_after")
FLAG_TEXT = {True: "Y", False: "N"}  # how a flag is sent [GUESS]; validation reads Y/N (ncc_transfer.cohorts)
PUPIL_ID = "studentId"

# Integris gender -> CTF sex: none needed, CTF letters (M/F/...) are held [GUESS].
GENDER: dict[str, str] = {}

# Canonical columns holding dates (sent as `YYYY-MM-DDT00:00:00` [GUESS]; read as the date part).
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "date", "start_date", "end_date"}

# A session mark [GUESS]: {"attendanceId", "studentId", "date", "session": "AM"|"PM", "code"}.
MARK_ID = "attendanceId"
MARK_PUPIL = "studentId"  # the connector turns it into the student's UPN
MARK_FIELDS: dict[str, str] = {"date": "date", "session": "session", "code": "code"}

# The school's own codes -> statutory code [GUESS: that Integris lets schools define sub-codes, and
# which]. Anything else is taken as statutory (or left for validation to reject). Never put a real
# statutory code (C1, C2, J1, Y1-Y7) on the left.
LOCAL_SUBCODES = {"X01": "X", "G01": "G"}

# An exclusion [GUESS]: {"exclusionId", "studentId", "exclusionType", "reason1", ...}.
EXCLUSION_ID = "exclusionId"
EXCLUSION_PUPIL = "studentId"
EXCLUSION_FIELDS: dict[str, str] = {
    "category": "exclusionType",
    "reason": "reason1",
    "reason_2": "reason2",
    "reason_3": "reason3",
    "start_date": "startDate",
    "start_session": "startSession",
    "sessions": "sessionsExcluded",
    "end_date": "endDate",
}
# Integris exclusion type -> canonical category (CBDS says FIXD; the warehouse says SUSP) [GUESS].
EXCLUSION_TYPE = {"FIXD": "SUSP", "PERM": "PERM", "LNCH": "LNCH"}
