"""Record-level validation: every rule with a failing and a passing record, normalisation,
aggregation of attendance issues, rejected pupils, and the shape of the output tables."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import pandas as pd
import pytest

from ncc_transfer import canonical
from ncc_transfer.reference.upn import make_upn
from ncc_transfer.validation import RULES, ValidatedExtract, rule, rules_frame, validate_extract

AS_OF = datetime.date(2025, 11, 3)
EXTRACTED_AT = datetime.datetime(2025, 11, 3, 2, 30)
SCHOOL_KEY, LAESTAB = "9262001-files", "9262001"
UPN = "A926200115001"  # make_upn("926", "2001", 15, 1)
UPN2 = "P926200115002"

PUPIL = {
    "upn": UPN, "former_upn": None, "surname": "Smith", "forename": "Ann", "middle_names": "Jo",
    "preferred_surname": None, "preferred_forename": None, "dob": "2015-03-02", "sex": "F", "nc_year": "6",
    "enrol_status": "C", "entry_date": "2019-09-04", "leaving_date": None, "address_line1": "1 High St",
    "town": "Norwich", "postcode": "NR1 2AB",
}
MARK = {"upn": UPN, "date": "2025-10-01", "session": "AM", "code": "/"}
EXCLUSION = {"upn": UPN, "category": "SUSP", "reason": "PD", "reason_2": None, "reason_3": None,
             "start_date": "2025-10-06", "start_session": "AM", "sessions": "2", "end_date": "2025-10-06"}
BASE = {"pupils": PUPIL, "attendance": MARK, "exclusions": EXCLUSION}
FILES = {"pupils": "pupils.csv", "attendance": "attendance.csv", "exclusions": "exclusions.csv"}


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A raw frame: every value text or None, with _source and _line (header is line 1)."""
    data = [{**r, "_source": FILES[table], "_line": str(i + 2)} for i, r in enumerate(rows)]
    columns = canonical.RAW_COLUMNS[table] + canonical.BOOKKEEPING_COLUMNS
    return pd.DataFrame(data, columns=columns, dtype=object).astype(object).where(lambda f: f.notna(), None)


def run(pupils=None, attendance=None, exclusions=None, as_of=AS_OF) -> ValidatedExtract:
    raw = {
        "pupils": frame("pupils", pupils if pupils is not None else [PUPIL]),
        "attendance": frame("attendance", attendance if attendance is not None else []),
        "exclusions": frame("exclusions", exclusions if exclusions is not None else []),
    }
    return validate_extract(raw, school_key=SCHOOL_KEY, laestab=LAESTAB, extracted_at=EXTRACTED_AT, as_of=as_of)


@dataclass
class Case:
    dataset: str
    rule: str
    bad: dict
    good: dict
    pupil: dict = field(default_factory=dict)  # changes to the pupil record for attendance/exclusion cases

    @property
    def id(self) -> str:
        return f"{self.dataset}.{self.rule}"


def _name_cases() -> list[Case]:
    cases = []
    for name in ("surname", "forename", "middle_names", "preferred_surname", "preferred_forename"):
        cases.append(Case("pupils", f"{name}_spaces", {name: "Mary  Ann"}, {name: "Mary Ann"}))
        cases.append(Case("pupils", f"{name}_characters", {name: "Smith?"}, {name: "O’Brien-Žižek Jr."}))
    return cases


CASES = [
    # pupils
    Case("pupils", "upn_missing", {"upn": ""}, {"upn": UPN}),
    Case("pupils", "upn_malformed", {"upn": "H80120000100"}, {"upn": "H801200001001"}),
    Case("pupils", "upn_check_letter", {"upn": "A801200005001"}, {"upn": "B801200005001"}),
    Case("pupils", "upn_la_code", {"upn": "Y000200115001"}, {"upn": "J928200115001"}),
    Case("pupils", "upn_temporary", {"upn": "G80120000101A"}, {"upn": "R201100018042"}),
    Case("pupils", "former_upn_malformed", {"former_upn": "A801200005001"}, {"former_upn": "h801200001001"}),
    Case("pupils", "surname_missing", {"surname": "  "}, {"surname": "Smith"}),
    Case("pupils", "forename_missing", {"forename": ""}, {"forename": "Ann"}),
    *_name_cases(),
    Case("pupils", "dob_missing", {"dob": ""}, {"dob": "2015-03-02"}),
    Case("pupils", "dob_not_a_date", {"dob": "2031-02-30"}, {"dob": "02/03/2015"}),
    Case("pupils", "dob_in_future", {"dob": "2025-11-04"}, {"dob": "2015-03-02"}),
    Case("pupils", "dob_implausible", {"dob": "1900-01-01"}, {"dob": "2014-09-01"}),
    # September-born are the oldest in their year: 2014-09-01 is Year 6 in 2025/26, 2015-09-01 is Year 5
    Case("pupils", "dob_nc_year_mismatch", {"dob": "2015-09-01"}, {"dob": "2014-09-01"}),
    Case("pupils", "sex_missing", {"sex": ""}, {"sex": "m"}),
    Case("pupils", "sex_invalid", {"sex": "U"}, {"sex": "Female"}),
    Case("pupils", "enrol_status_missing", {"enrol_status": None}, {"enrol_status": "m"}),
    Case("pupils", "enrol_status_unknown", {"enrol_status": "Z"}, {"enrol_status": "G"}),
    Case("pupils", "nc_year_unknown", {"nc_year": "0"}, {"nc_year": "Year  6"}),
    Case("pupils", "postcode_missing", {"postcode": " "}, {"postcode": "GIR 0AA"}),
    Case("pupils", "postcode_invalid", {"postcode": "NR1 2A"}, {"postcode": "nr1  2ab"}),
    Case("pupils", "entry_date_not_a_date", {"entry_date": "2019-02-29"}, {"entry_date": "2020-02-29"}),
    Case("pupils", "leaving_date_not_a_date", {"leaving_date": "2025-13-01"}, {"leaving_date": ""}),
    Case("pupils", "leaving_before_entry", {"leaving_date": "2019-09-03"}, {"leaving_date": "2019-09-04"}),
    Case("pupils", "sen_provision_invalid", {"sen_provision": "X"}, {"sen_provision": "s"}),
    Case("pupils", "fsm_eligible_invalid", {"fsm_eligible": "maybe"}, {"fsm_eligible": "Y"}),
    Case("pupils", "fsm_ever6_invalid", {"fsm_ever6": "2"}, {"fsm_ever6": "false"}),
    Case("pupils", "looked_after_invalid", {"looked_after": "in care"}, {"looked_after": " True "}),
    Case("pupils", "child_in_need_invalid", {"child_in_need": "CIN"}, {"child_in_need": "0"}),
    Case("pupils", "child_protection_plan_invalid", {"child_protection_plan": "-"}, {"child_protection_plan": "n"}),
    # attendance
    Case("attendance", "upn_missing", {"upn": None}, {"upn": UPN.lower()}),
    Case("attendance", "upn_not_in_pupils", {"upn": "H801200001001"}, {"upn": UPN}),
    Case("attendance", "date_not_a_date", {"date": "2025-02-30"}, {"date": "2025-02-28"}),
    Case("attendance", "session_invalid", {"session": "XM"}, {"session": "pm"}),
    Case("attendance", "code_unknown", {"code": "7"}, {"code": "i"}),
    Case("attendance", "code_not_valid_on_date", {"code": "H"}, {"code": "C"}),
    Case("attendance", "mark_before_entry", {"date": "2019-09-03"}, {"date": "2019-09-04"}),
    Case("attendance", "mark_after_leaving", {"date": "2025-10-01"}, {"date": "2025-09-30"},
         pupil={"leaving_date": "2025-09-30", "enrol_status": "P"}),
    Case("attendance", "mark_after_extract", {"date": "2099-01-05"}, {"date": "2025-11-03"}),
    Case("attendance", "no_mark", {"code": "-", "date": "2025-10-31"}, {"code": "-", "date": "2025-11-03"}),
    # exclusions
    Case("exclusions", "upn_missing", {"upn": ""}, {"upn": UPN}),
    Case("exclusions", "upn_not_in_pupils", {"upn": "H801200001001"}, {"upn": UPN}),
    Case("exclusions", "category_missing", {"category": None}, {"category": "PERM", "sessions": None}),
    Case("exclusions", "category_unknown", {"category": "EXPL"}, {"category": "fixd"}),
    Case("exclusions", "start_date_missing", {"start_date": ""}, {"start_date": "2025-10-06"}),
    Case("exclusions", "start_date_not_a_date", {"start_date": "2025-09-31"}, {"start_date": "2025-09-30"}),
    Case("exclusions", "sessions_missing", {"sessions": ""}, {"category": "LNCH", "sessions": None}),
    Case("exclusions", "sessions_invalid", {"sessions": "1.5"}, {"sessions": "3"}),
    Case("exclusions", "reason_missing", {"reason": ""}, {"reason": "pd"}),
    Case("exclusions", "reason_unknown", {"reason": "XX"}, {"reason": "BW"}),
    Case("exclusions", "reason_2_unknown", {"reason_2": "ZZ"}, {"reason_2": "OT"}),
    Case("exclusions", "reason_3_unknown", {"reason_3": "Bullying"}, {"reason_3": "BU"}),
    Case("exclusions", "end_date_not_a_date", {"end_date": "2025-10-32"}, {"end_date": ""}),
    Case("exclusions", "end_before_start", {"end_date": "2025-10-05"}, {"end_date": "2025-10-07"}),
    Case("exclusions", "start_session_invalid", {"start_session": "LUNCH"}, {"start_session": "pm"}),
]


# All cases run in two extracts (one of bad records, one of good), each case on its own pupil and its
# own line, so the parametrised tests stay fast and also show that records do not affect each other.

def case_upn(i: int) -> str:
    return make_upn("926", "2001", 16, i)


def _for_case(changes: dict, upn: str) -> dict:
    """A case's changes with the placeholder UPN replaced by the case's own pupil."""
    swap = {UPN: upn, UPN.lower(): upn.lower()}
    return {k: swap.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}


@dataclass
class Batch:
    result: ValidatedExtract
    lines: dict[str, int]  # case id -> line of its record in its dataset's file
    upns: dict[str, str]  # case id -> UPN of its pupil


def run_batch(polarity: str) -> Batch:
    rows: dict[str, list[dict]] = {"pupils": [], "attendance": [], "exclusions": []}
    lines, upns = {}, {}
    for i, case in enumerate(CASES):
        upn = case_upn(i)
        changes = _for_case(getattr(case, polarity), upn)
        pupil = {**PUPIL, **case.pupil, "upn": upn, "address_line1": f"case {i}"}
        if case.dataset == "pupils":
            pupil = {**pupil, **changes}
        rows["pupils"].append(pupil)
        if case.dataset != "pupils":
            rows[case.dataset].append({**BASE[case.dataset], "upn": upn, **changes})
        lines[case.id] = len(rows[case.dataset]) + 1
        upns[case.id] = upn
    result = run(pupils=rows["pupils"], attendance=rows["attendance"], exclusions=rows["exclusions"])
    return Batch(result, lines, upns)


@pytest.fixture(scope="module")
def bad_batch() -> Batch:
    return run_batch("bad")


@pytest.fixture(scope="module")
def good_batch() -> Batch:
    return run_batch("good")


def loaded(batch: Batch, case: Case) -> int:
    """How many of the case's records were loaded."""
    table = batch.result.tables[case.dataset]
    if case.dataset == "pupils":
        return int((table["address_line1"] == f"case {CASES.index(case)}").sum())
    return int((table["upn"] == batch.upns[case.id]).sum())


def test_every_rule_has_a_case():
    assert {(c.dataset, c.rule) for c in CASES} == {(r.dataset, r.rule) for r in RULES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_fails_on_bad_record(case: Case, bad_batch: Batch):
    issues = bad_batch.result.issues
    where = f"{FILES[case.dataset]} line {bad_batch.lines[case.id]}"
    mine = issues[(issues["dataset"] == case.dataset) & (issues["location"] == where)]
    hits = mine[mine["rule"] == case.rule]
    assert len(hits) == 1, mine[["rule", "message"]].to_dict("records")
    issue = hits.iloc[0]
    entry = rule(case.dataset, case.rule)
    assert issue["severity"] == entry.severity
    assert issue["field"] == entry.field

    # the message shows the exact offending value, and says what to do
    supplied = _for_case(case.bad, bad_batch.upns[case.id]).get(entry.field)
    if isinstance(supplied, str) and supplied.strip():
        assert supplied.strip() in issue["message"]
    assert " — " in issue["message"]
    if case.dataset != "attendance":
        assert issue["value"] == (supplied or "")

    # errors are not loaded; warnings are
    assert loaded(bad_batch, case) == (0 if entry.severity == "error" else 1)


def test_good_records_raise_no_issue(good_batch: Batch):
    issues = good_batch.result.issues
    assert issues.empty, issues[["dataset", "location", "rule", "message"]].to_dict("records")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_passes_on_good_record(case: Case, good_batch: Batch):
    issues = good_batch.result.issues
    assert not ((issues["dataset"] == case.dataset) & (issues["rule"] == case.rule)).any()
    assert loaded(good_batch, case) == 1


def test_baseline_extract_is_clean():
    result = run(attendance=[MARK], exclusions=[EXCLUSION])
    assert result.issues.empty
    assert {t: len(f) for t, f in result.tables.items()} == {"pupils": 1, "attendance": 1, "exclusions": 1}


def test_rules_table():
    table = rules_frame()
    assert list(table.columns) == ["dataset", "field", "rule", "severity", "description"]
    assert set(table["severity"]) == {"error", "warning"}
    assert not table.duplicated(["dataset", "rule"]).any()
    assert set(table["dataset"]) == set(canonical.TABLES)
    assert table["description"].str.len().gt(0).all()


# ---------------------------------------------------------------- messages

def test_message_for_an_impossible_date_of_birth():
    result = run(pupils=[{**PUPIL, "dob": "2031-02-30"}])
    message = result.issues.set_index("rule").loc["dob_not_a_date", "message"]
    assert message.startswith("Date of birth 2031-02-30 is not a real date — correct it in the pupil's record "
                              "(Basic details)")
    assert "attendance and exclusions are not loaded until it is fixed" in message


@pytest.mark.parametrize("dob, age", [
    ("1900-01-01", 125),  # the MIS placeholder: real, but the pupil would be 125 on 3 November 2025
    ("1999-11-03", 26),  # 26 today
    ("2024-11-04", 0),  # 1 year old tomorrow: 0 today
    ("2023-11-04", 1),
])
def test_implausible_date_of_birth(dob, age):
    result = run(pupils=[{**PUPIL, "dob": dob}])
    assert result.issues["rule"].tolist() == ["dob_implausible"]  # not "not a real date", no NC year mismatch
    message = result.issues["message"].iloc[0]
    assert message.startswith(f"Date of birth {dob} would make the pupil {age} — check it in the pupil's record "
                              f"(Basic details)")
    assert result.issues["severity"].iloc[0] == "error" and result.tables["pupils"].empty


@pytest.mark.parametrize("dob", ["1999-11-04", "2023-11-03"])  # 25 and 2 on 3 November 2025: plausible ages
def test_plausible_edges_of_the_age_range(dob):
    assert "dob_implausible" not in set(run(pupils=[{**PUPIL, "dob": dob}]).issues["rule"])


def test_dates_outside_the_datetime_range_are_still_not_real():
    assert run(pupils=[{**PUPIL, "dob": "0001-01-01"}]).issues["rule"].tolist() == ["dob_not_a_date"]
    assert run(pupils=[{**PUPIL, "dob": "2150-01-01"}]).issues["rule"].tolist() == ["dob_in_future"]


def test_marks_after_the_extract_night_are_errors_and_not_loaded():
    """Night of Monday 3 November 2025: marks for the 4th and in 2099 cannot have been taken yet."""
    marks = [
        {**MARK, "date": "2025-11-03", "session": "AM"},  # tonight's own date: fine
        {**MARK, "date": "2025-11-04", "session": "AM"},
        {**MARK, "date": "2099-01-05", "session": "AM"},
        {**MARK, "date": "2099-01-05", "session": "PM"},
        {**MARK, "date": "2025-11-05", "session": "AM", "code": "-"},  # an empty future session: not a mark
    ]
    result = run(pupils=[{**PUPIL, "leaving_date": "2025-12-19"}], attendance=marks)
    issues = result.issues
    assert issues["rule"].tolist() == ["mark_after_extract"]
    issue = issues.iloc[0]
    assert issue["severity"] == "error" and issue["field"] == "date" and issue["value"] == "2025-11-03"
    assert issue["location"] == "attendance.csv lines 3-5"
    assert issue["message"] == (
        "3 session marks between 2025-11-04 and 2099-01-05 are dated after 3 November 2025, the night this data "
        "was collected — a mark can only be recorded for a session that has happened: check the date in the "
        "attendance register (often a mistyped year); they were not loaded, and a mark entered in advance is "
        "collected once the day has passed")
    loaded_days = sorted(result.tables["attendance"]["date"].dt.strftime("%Y-%m-%d"))
    assert loaded_days == ["2025-11-03", "2025-11-05"]


def test_a_future_mark_after_leaving_is_reported_once_for_its_date():
    result = run(pupils=[{**PUPIL, "leaving_date": "2025-10-01", "enrol_status": "P"}],
                 attendance=[{**MARK, "date": "2099-01-05"}])
    assert result.issues["rule"].tolist() == ["mark_after_extract"]


def test_warning_messages_do_not_claim_the_record_is_rejected():
    result = run(pupils=[{**PUPIL, "sex": "X"}])
    assert "not loaded" not in result.issues["message"].iloc[0]


def test_location_uses_position_text_from_a_ctf():
    raw = frame("pupils", [{**PUPIL, "upn": ""}])
    raw["_source"], raw["_line"] = "ctf_2025.xml", "pupil 7"
    result = validate_extract({"pupils": raw}, school_key=SCHOOL_KEY, laestab=LAESTAB,
                              extracted_at=EXTRACTED_AT, as_of=AS_OF)
    assert result.issues["location"].tolist() == ["ctf_2025.xml pupil 7"]


# ---------------------------------------------------------------- attendance aggregation

def test_bad_marks_are_aggregated_per_pupil_rule_and_value():
    marks = [{**MARK, "date": f"2025-10-{d:02d}", "session": s, "code": "H"} for d in range(1, 7) for s in ("AM", "PM")]
    marks += [{**MARK, "date": "2024-07-01", "code": "K"}, {**MARK, "date": "2024-07-02", "code": "K"}]
    result = run(attendance=marks)
    issues = result.issues.set_index("value")
    assert len(result.issues) == 2
    h = issues.loc["H"]
    assert h["rule"] == "code_not_valid_on_date" and h["record"] == "H" and h["upn"] == UPN
    assert h["message"].startswith("12 session marks between 2025-10-01 and 2025-10-06 use code 'H', which is not "
                                   "a valid code since 19 August 2024 — ")
    assert h["location"] == "attendance.csv lines 2-13"
    assert issues.loc["K", "message"].startswith(
        "2 session marks between 2024-07-01 and 2024-07-02 use code 'K', which only came into use")
    assert len(result.tables["attendance"]) == 0


def test_new_codes_before_the_change_and_old_codes_after():
    marks = [{**MARK, "date": "2024-08-16", "code": "J1"}, {**MARK, "date": "2024-08-19", "code": "J"},
             {**MARK, "date": "2024-08-16", "session": "PM", "code": "J"},
             {**MARK, "date": "2024-08-19", "session": "PM", "code": "J1"}]
    result = run(attendance=marks)
    messages = result.issues.set_index("value")["message"]
    assert "1 session mark on 2024-08-16 uses code 'J1', which only came into use on 19 August 2024" in messages["J1"]
    assert "1 session mark on 2024-08-19 uses code 'J', which is not a valid code since 19 August 2024" in messages["J"]
    assert result.tables["attendance"]["code"].tolist() == ["J", "J1"]


def test_no_mark_warnings_are_aggregated_and_kept():
    marks = [{**MARK, "date": f"2025-10-{d:02d}", "code": "-"} for d in (20, 21, 22)]
    result = run(attendance=marks)
    issue = result.issues.iloc[0]
    assert len(result.issues) == 1 and issue["severity"] == "warning"
    assert issue["message"].startswith("3 session marks between 2025-10-20 and 2025-10-22 have no mark recorded")
    assert result.tables["attendance"]["code"].tolist() == ["-"] * 3


def test_closures_are_dropped_silently_and_blank_codes_are_no_marks():
    marks = [{**MARK, "date": "2025-10-04", "code": "#"}, {**MARK, "date": "2099-99-99", "code": "#"},
             {**MARK, "date": "2025-11-03", "code": ""}]
    result = run(attendance=marks)
    assert result.issues.empty
    assert result.tables["attendance"]["code"].tolist() == ["-"]


def test_marks_and_exclusions_of_a_rejected_pupil_are_dropped_without_more_issues():
    marks = [{**MARK, "upn": UPN2, "code": "H"}, {**MARK, "upn": UPN2, "date": "2025-02-30"}, MARK]
    exclusions = [{**EXCLUSION, "upn": UPN2, "category": "NOPE"}, EXCLUSION]
    result = run(pupils=[PUPIL, {**PUPIL, "upn": UPN2, "dob": "2015-02-30"}], attendance=marks, exclusions=exclusions)
    assert result.issues["rule"].tolist() == ["dob_not_a_date"]
    assert result.issues["upn"].tolist() == [UPN2]
    message = result.issues["message"][0]
    assert "this pupil's record, attendance and exclusions are not loaded until it is fixed" in message
    assert result.tables["pupils"]["upn"].tolist() == [UPN]
    assert result.tables["attendance"]["upn"].tolist() == [UPN]
    assert result.tables["exclusions"]["upn"].tolist() == [UPN]


def test_unknown_pupil_marks_are_one_issue():
    marks = [{**MARK, "upn": "h801200001001", "date": f"2025-10-{d:02d}"} for d in (1, 2, 3)]
    result = run(attendance=marks)
    assert len(result.issues) == 1
    issue = result.issues.iloc[0]
    assert issue["upn"] == "H801200001001" and issue["rule"] == "upn_not_in_pupils" and issue["record"] == ""
    assert issue["message"].startswith("3 session marks between 2025-10-01 and 2025-10-03 are for UPN 'H801200001001'")


def test_large_register_is_fast():
    days = pd.date_range("2024-09-02", "2025-07-18", freq="B").strftime("%Y-%m-%d")
    upns = [UPN] * len(days) * 2
    raw = pd.DataFrame({"upn": upns, "date": [d for d in days for _ in (0, 1)], "session": ["AM", "PM"] * len(days),
                        "code": ["H", "/"] * len(days), "_source": "attendance.csv",
                        "_line": [str(i + 2) for i in range(len(upns))]}, dtype=object)
    raw = pd.concat([raw] * 20, ignore_index=True)  # ~8,000 marks, mostly duplicates: validation does not care
    result = validate_extract({"pupils": frame("pupils", [PUPIL]), "attendance": raw}, school_key=SCHOOL_KEY,
                              laestab=LAESTAB, extracted_at=EXTRACTED_AT, as_of=AS_OF)
    assert result.issues["rule"].tolist() == ["code_not_valid_on_date"]
    assert result.issues["message"][0].startswith(f"{len(raw) // 2} session marks between 2024-09-02 and 2025-07-18")


# ---------------------------------------------------------------- normalisation

def test_normalisation():
    pupil = {**PUPIL, "upn": " a926200115001 ", "former_upn": "h801200001001", "surname": " Smith",
             "forename": "Ann", "sex": "f", "nc_year": " year 6", "enrol_status": " c", "postcode": "nr1  2ab"}
    reception = {**PUPIL, "upn": UPN2, "dob": "2021-01-15", "nc_year": "Reception", "postcode": "NR12AB"}
    exclusion = {**EXCLUSION, "upn": UPN.lower(), "category": "FIXD", "reason": " pd", "start_session": "am"}
    mark = {**MARK, "upn": UPN.lower(), "session": " am", "code": "l"}
    result = run(pupils=[pupil, reception], attendance=[mark], exclusions=[exclusion])
    assert result.issues["rule"].tolist() == ["surname_spaces"]
    pupils = result.tables["pupils"].set_index("upn")
    row = pupils.loc[UPN]
    assert (row["former_upn"], row["sex"], row["nc_year"], row["enrol_status"], row["postcode"]) == (
        "H801200001001", "F", "6", "C", "NR1 2AB")
    assert row["surname"] == " Smith"  # names are stored exactly as supplied
    assert pupils.loc[UPN2, "nc_year"] == "R" and pupils.loc[UPN2, "postcode"] == "NR1 2AB"
    exclusions = result.tables["exclusions"]
    assert exclusions[["upn", "category", "reason", "start_session"]].values.tolist() == [[UPN, "SUSP", "PD", "AM"]]
    attendance = result.tables["attendance"]
    assert attendance[["upn", "session", "code"]].values.tolist() == [[UPN, "AM", "L"]]


def test_uncertain_values_are_kept_and_reported():
    result = run(pupils=[{**PUPIL, "nc_year": "0", "postcode": "nr1 2a"}])
    assert sorted(result.issues["rule"]) == ["nc_year_unknown", "postcode_invalid"]
    row = result.tables["pupils"].iloc[0]
    assert row["nc_year"] == "0" and row["postcode"] == "NR1 2A"
    assert "'nr1 2a'" in result.issues.set_index("rule").loc["postcode_invalid", "message"]


def test_exclusion_issue_record_is_the_start_date():
    result = run(exclusions=[{**EXCLUSION, "reason": "XX", "start_date": "06/10/2025"}])
    issue = result.issues.iloc[0]
    assert (issue["rule"], issue["record"], issue["upn"]) == ("reason_unknown", "2025-10-06", UPN)
    assert issue["message"].startswith("The suspension starting 2025-10-06 has reason 'XX'")


def test_invalid_start_session_is_loaded_as_null():
    result = run(exclusions=[{**EXCLUSION, "start_session": "LUNCH"}])
    assert result.tables["exclusions"]["start_session"].isna().tolist() == [True]


# ---------------------------------------------------------------- output shape

def assert_canonical(result: ValidatedExtract) -> None:
    for table, typed in result.tables.items():
        expected = canonical.empty_canonical(table)
        assert list(typed.columns) == canonical.CANONICAL_COLUMNS[table]
        assert typed.dtypes.to_dict() == expected.dtypes.to_dict(), table
    assert list(result.issues.columns) == canonical.VALIDATION_ISSUE_COLUMNS


def test_output_tables_are_canonical():
    result = run(pupils=[{**PUPIL, "sex": "X"}], attendance=[MARK], exclusions=[EXCLUSION])
    assert_canonical(result)
    pupils, exclusions = result.tables["pupils"], result.tables["exclusions"]
    assert str(pupils["dob"].dtype) == "datetime64[ns]"
    assert str(exclusions["sessions"].dtype) == "Int64" and exclusions["sessions"].tolist() == [2]
    assert str(result.tables["attendance"]["date"].dtype) == "datetime64[ns]"
    for typed in result.tables.values():
        assert (typed["school_key"] == SCHOOL_KEY).all() and (typed["laestab"] == LAESTAB).all()
    assert (pupils["extracted_at"] == pd.Timestamp(EXTRACTED_AT)).all()
    assert pupils.loc[0, "dob"] == pd.Timestamp("2015-03-02")
    issues = result.issues
    assert (issues["first_seen"] == pd.Timestamp(EXTRACTED_AT)).all()
    assert (issues["last_seen"] == issues["first_seen"]).all()
    assert str(issues["first_seen"].dtype) == "datetime64[ns]"
    assert issues[["school_key", "laestab", "record"]].values.tolist() == [[SCHOOL_KEY, LAESTAB, ""]]


@pytest.mark.parametrize("raw", [
    {},
    {t: canonical.empty_raw(t) for t in canonical.TABLES},
    {t: pd.DataFrame({c: pd.Series(dtype=object) for c in canonical.REQUIRED_COLUMNS[t]}) for t in canonical.TABLES},
], ids=["no tables", "empty raw", "required columns only"])
def test_empty_extract(raw):
    result = validate_extract(raw, school_key=SCHOOL_KEY, laestab=LAESTAB, extracted_at=EXTRACTED_AT, as_of=AS_OF)
    assert_canonical(result)
    assert all(len(t) == 0 for t in result.tables.values())
    assert result.issues.empty


def test_missing_optional_columns_count_as_blank():
    raw = frame("pupils", [PUPIL])[canonical.REQUIRED_COLUMNS["pupils"] + canonical.BOOKKEEPING_COLUMNS]
    exclusions = frame("exclusions", [EXCLUSION])[canonical.REQUIRED_COLUMNS["exclusions"] + ["sessions", "_line"]]
    result = validate_extract({"pupils": raw, "exclusions": exclusions}, school_key=SCHOOL_KEY, laestab=LAESTAB,
                              extracted_at=EXTRACTED_AT, as_of=AS_OF)
    assert sorted(result.issues["rule"]) == ["enrol_status_missing", "postcode_missing", "reason_missing"]
    assert result.issues.set_index("rule").loc["reason_missing", "location"] == "line 2"
    assert_canonical(result)
    assert len(result.tables["pupils"]) == 1 and len(result.tables["exclusions"]) == 1


# ---------------------------------------------------------------- UPN LA number (characters 2-4)
# Check letters worked by hand: weights 2..13 on characters 2..13, sum mod 23, into
# ABCDEFGHJKLMNPQRTUVWXYZ (A=0 ... Y=21, Z=22; a letter in position 13 counts as its index there).
#   926 2001 15 001: 9*2 + 2*3 + 6*4 + 2*5 + 0*6 + 0*7 + 1*8 + 1*9 + 5*10 + 0*11 + 0*12 + 1*13
#                    = 18 + 6 + 24 + 10 + 8 + 9 + 50 + 13 = 138 = 6*23 + 0  -> A: A926200115001 (UPN above)
#   928 2001 15 001: 18 + 6 + 8*4 + 10 + 8 + 9 + 50 + 13 = 146 = 6*23 + 8   -> J: J928200115001
#   000 2001 15 001: 2*5 + 8 + 9 + 50 + 13 = 90 = 3*23 + 21                  -> Y: Y000200115001
#   000 2001 15 00B: 10 + 8 + 9 + 50 + B(1)*13 = 90                           -> Y: Y00020011500B (temporary)
# So each UPN below has a matching check letter: only the LA number decides.
LA_000 = "Y000200115001"
LA_928 = "J928200115001"
TEMP_LA_000 = "Y00020011500B"


def _issues(upn: str, **changes) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = run(pupils=[{**PUPIL, "upn": upn, **changes}])
    return result.issues, result.tables["pupils"]


def test_upn_with_la_code_000_is_rejected_with_the_value_and_the_code():
    issues, loaded_pupils = _issues(LA_000)
    assert issues["rule"].tolist() == ["upn_la_code"]  # the check letter matches: nothing else is wrong
    issue = issues.iloc[0]
    assert (issue["severity"], issue["field"], issue["value"]) == ("error", "upn", LA_000)
    assert issue["message"].startswith(
        "UPN 'Y000200115001' has characters 2–4 (000) that are not a recognised LA number — check the UPN "
        "against the pupil's CTF or previous school and correct it in the pupil's record (Basic details); "
        "if the pupil has no UPN, generate a temporary one in the MIS")
    assert "not loaded until it is fixed" in issue["message"]
    assert loaded_pupils.empty


def test_upn_la_code_message_shows_the_value_as_sent():
    issues, _ = _issues(" y000200115001 ")
    issue = issues.set_index("rule").loc["upn_la_code"]
    assert "(000)" in issue["message"] and "y000200115001" in issue["message"]


@pytest.mark.parametrize("upn", [
    "A926200115001",  # Norfolk (worked above)
    LA_928,  # Northamptonshire: retired in 2021, still in UPNs issued before
    "R681200115001",  # Cardiff: a UPN issued in Wales
])
def test_upn_with_a_real_la_code_is_loaded(upn):
    issues, loaded_pupils = _issues(upn)
    assert issues.empty, issues[["rule", "message"]].to_dict("records")
    assert loaded_pupils["upn"].tolist() == [upn]


def test_temporary_upn_with_an_unknown_la_code_is_rejected_and_still_reported_as_temporary():
    issues, loaded_pupils = _issues(TEMP_LA_000)
    by_rule = issues.set_index("rule")
    assert sorted(by_rule.index) == ["upn_la_code", "upn_temporary"]
    assert by_rule.loc["upn_la_code", "severity"] == "error"
    assert by_rule.loc["upn_temporary", "severity"] == "warning"
    assert "(000)" in by_rule.loc["upn_la_code", "message"]
    assert loaded_pupils.empty


def test_wrong_check_letter_and_unknown_la_code_are_both_reported():
    issues, _ = _issues("A000200115001")  # Y is right (worked above)
    assert sorted(issues["rule"]) == ["upn_check_letter", "upn_la_code"]


def test_malformed_upn_is_not_also_reported_for_its_la_code():
    issues, _ = _issues("Y00020011500")  # 12 characters
    assert issues["rule"].tolist() == ["upn_malformed"]


def test_former_upn_with_an_unknown_la_code_is_a_warning_and_the_pupil_is_loaded():
    issues, loaded_pupils = _issues("A926200115001", former_upn=LA_000)
    assert issues["rule"].tolist() == ["former_upn_malformed"]
    issue = issues.iloc[0]
    assert issue["severity"] == "warning" and issue["value"] == LA_000
    assert "characters 2–4 a recognised LA number" in issue["message"]
    assert len(loaded_pupils) == 1


def test_former_upn_with_a_retired_la_code_is_fine():
    issues, _ = _issues("A926200115001", former_upn=LA_928)
    assert issues.empty
