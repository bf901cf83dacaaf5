"""Text hygiene (docs/hardening.md, "Text hygiene"): control characters in any text field become
record-level issues, never a backend failure, and no stored value holds one."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from ncc_transfer.pipeline import process_school
from ncc_transfer.reference.upn import make_upn
from ncc_transfer.registry import School
from ncc_transfer.validation import validate_extract
from ncc_transfer.validation.text_hygiene import (escape_control_characters, remove_control_characters,
                                                  scrub_control_characters)

NIGHT = date(2026, 3, 20)
UPN, OTHER = make_upn("926", "2001", 21, 1), make_upn("926", "2001", 21, 2)
HEADER = "upn,surname,forename,dob,sex,nc_year,enrol_status,entry_date,address_line1,town,postcode\n"


def test_a_nul_in_a_surname_and_a_vertical_tab_in_an_address_load_on_both_backends(tmp_path, backend):
    home = tmp_path / "home"
    folder = home / "landing" / "9262001"
    folder.mkdir(parents=True)
    (folder / "pupils.csv").write_text(
        HEADER
        + f"{UPN},Smi\x00th,Ada,2016-05-01,F,4,C,2021-09-01,1 High\x0bStreet,Norwich,NR1 2AB\n"
        + f"{OTHER},Jones,Bob,2016-06-01,M,4,C,2021-09-01,2 High Street,Norwich,NR1 2AB\n", encoding="utf-8")
    (folder / "attendance.csv").write_text(f"upn,date,session,code\n{UPN},2026-03-16,AM,/\x00\n"
                                           f"{UPN},2026-03-16,PM,/\x00\n", encoding="utf-8")
    school = School("9262001", "School A", "files", source={"path": "landing/9262001"})

    outcome = process_school(school, home=home, warehouse=backend, as_of=NIGHT, views=False,
                             extracted_at=datetime(2026, 3, 20, 2))

    assert outcome.status == "loaded", outcome.message
    stored = backend.school_rows("pupils", school.key).set_index("upn")
    assert stored.loc[UPN, "surname"] == "Smith" and stored.loc[UPN, "address_line1"] == "1 High Street"
    assert list(backend.school_rows("attendance", school.key)["code"]) == ["/", "/"]
    issues = backend.read("SELECT upn, dataset, field, value, severity, message FROM validation_issues "
                          "WHERE school_key = ? AND rule = 'control_character' ORDER BY dataset, field",
                          [school.key])
    assert issues[["upn", "dataset", "field", "value", "severity"]].values.tolist() == [
        [UPN, "attendance", "code", "/\\x00", "warning"],
        [UPN, "pupils", "address_line1", "1 High\\x0bStreet", "warning"],
        [UPN, "pupils", "surname", "Smi\\x00th", "warning"],
    ]
    assert "(\\x00)" in issues["message"].iloc[2] and "\x00" not in "".join(issues["message"])
    rolled = backend.read("SELECT upn FROM roll_history WHERE school_key = ?", [school.key])
    assert sorted(rolled["upn"]) == sorted([UPN, OTHER])


def run(pupils: list[dict], **tables) -> object:
    frames = {"pupils": pd.DataFrame(pupils).assign(_source="pupils.csv", _line=[str(i + 2) for i in range(len(pupils))])}
    frames.update({name: pd.DataFrame(rows).assign(_source=f"{name}.csv", _line=[str(i + 2) for i in range(len(rows))])
                   for name, rows in tables.items()})
    return validate_extract(frames, school_key="9262001-files", laestab="9262001",
                            extracted_at=datetime(2026, 3, 20, 2), as_of=NIGHT)


PUPIL = {"upn": UPN, "surname": "Smith", "forename": "Ada", "dob": "2016-05-01", "sex": "F", "nc_year": "4",
         "enrol_status": "C", "entry_date": "2021-09-01", "postcode": "NR1 2AB"}


def test_a_upn_with_a_control_character_is_rejected_not_repaired():
    result = run([{**PUPIL, "upn": UPN + "\x00"}])
    assert result.tables["pupils"].empty
    malformed = result.issues[result.issues["rule"] == "upn_malformed"]
    assert list(malformed["value"]) == [UPN + "\\x00"]
    assert "\x00" not in "".join(result.issues["message"]) + "".join(result.issues["value"].dropna())
    assert list(result.raw["pupils"]["upn"]) == [UPN + "\\x00"]  # the roll records the escape, not the NUL


def test_exclusions_and_every_other_field_are_scrubbed():
    exclusion = {"upn": UPN, "category": "SUSP", "reason": "P\x01P", "start_date": "2026-02-02", "start_session": "AM",
                 "sessions": "2\x7f"}
    result = run([{**PUPIL, "forename": "A\x85da", "town": "Nor\twich"}], exclusions=[exclusion])
    pupil = result.tables["pupils"].iloc[0]
    assert (pupil["forename"], pupil["town"]) == ("Ada", "Nor wich")
    assert result.tables["exclusions"][["reason", "sessions"]].values.tolist() == [["PP", 2]]
    found = result.issues[result.issues["rule"] == "control_character"]
    assert sorted(zip(found["dataset"], found["field"])) == [
        ("exclusions", "reason"), ("exclusions", "sessions"), ("pupils", "forename"), ("pupils", "town")]


def test_a_control_character_in_a_cohort_field_is_taken_out_and_the_value_read():
    result = run([{**PUPIL, "fsm_eligible": "Y\x00", "sen_provision": "\x0bK"}])
    pupil = result.tables["pupils"].iloc[0]
    assert pupil["fsm_eligible"] == True and pupil["sen_provision"] == "K"  # noqa: E712 (nullable boolean)
    found = result.issues[result.issues["rule"] == "control_character"]
    assert sorted(found["field"]) == ["fsm_eligible", "sen_provision"]
    assert "\x00" not in "".join(found["message"]) + "".join(found["value"].dropna())


def test_clean_frames_are_returned_untouched_and_escapes_read_back():
    frame = pd.DataFrame([PUPIL])
    clean, issues = scrub_control_characters(frame, "pupils")
    assert clean is frame and issues.empty
    assert escape_control_characters("a\x00b\x1fc\x9f") == "a\\x00b\\x1fc\\x9f"
    assert remove_control_characters("a\x00b\r\nc\x0bd") == "ab  c d"
