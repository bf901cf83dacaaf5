"""Cohort fields on the files route (ncc_transfer.cohorts): a CTF's FSMhistory, LookedAfter and SENhistory,
and pupils.csv's optional columns, through the reader and validation to the canonical values."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from ncc_transfer.cohorts import fsm_flags, sen_provision_code
from ncc_transfer.files_route import read_school_folder
from ncc_transfer.files_route.ctf import read_ctf
from ncc_transfer.validation import validate_extract
from ncc_transfer_tests.files_route.test_files_route import LAESTAB, ctf, pupil, write

NIGHT = date(2026, 3, 20)
UPN = "Z926200124001"  # valid (reference.upn.make_upn)


def ctf_pupil(extra: str, as_of: date = NIGHT, tmp_path=None) -> dict:
    path = write(tmp_path, "roll.xml", ctf(pupil(UPN, extra=extra)))
    return read_ctf(path, LAESTAB, as_of=as_of).pupils.iloc[0].to_dict()


def fsm(*instances: tuple[str, str | None]) -> str:
    body = "".join(f"<FSMinstance><FSMstartDate>{s}</FSMstartDate>"
                   + (f"<FSMendDate>{e}</FSMendDate>" if e else "") + "<UKcountry>ENG</UKcountry></FSMinstance>"
                   for s, e in instances)
    return f"<FSMhistory><FSMreviewDate>2025-09-01</FSMreviewDate>{body}</FSMhistory>"


def test_two_fsm_instances_one_ended_2019_one_current(tmp_path):
    # As of 2026-03-20: the 2017-09-04..2019-07-19 instance ended before 2020-03-20 (six years back), but
    # the one from 2024-01-08 with no end covers the night: eligible, and so ever 6.
    row = ctf_pupil(fsm(("2017-09-04", "2019-07-19"), ("2024-01-08", None)), tmp_path=tmp_path)
    assert (row["fsm_eligible"], row["fsm_ever6"]) == ("true", "true")


@pytest.mark.parametrize("night, expected", [
    (date(2026, 3, 20), ("false", "false")),  # 2020-03-19 < 2026-03-20 minus six years (2020-03-20)
    (date(2026, 3, 19), ("false", "true")),   # 2020-03-19 >= 2026-03-19 minus six years (2020-03-19): boundary
])
def test_fsm_ended_2020_03_19_is_ever6_until_six_years_after(tmp_path, night, expected):
    row = ctf_pupil(fsm(("2018-01-08", "2020-03-19")), as_of=night, tmp_path=tmp_path)
    assert (row["fsm_eligible"], row["fsm_ever6"]) == expected


def test_fsm_history_without_instance_is_no_and_without_history_is_not_supplied(tmp_path):
    assert ctf_pupil("<FSMhistory><FSMreviewDate>2025-09-01</FSMreviewDate></FSMhistory>", tmp_path=tmp_path
                     )["fsm_eligible"] == "false"
    row = ctf_pupil("", tmp_path=tmp_path)
    assert row["fsm_eligible"] is None and row["fsm_ever6"] is None
    assert ctf_pupil(fsm(("20/01/2024", None)), tmp_path=tmp_path)["fsm_eligible"] is None  # undatable: not supplied


def test_fsm_ending_on_the_night_and_starting_after_it():
    # ends 2026-03-20 (the night): still eligible that day; starts 2026-03-21: not yet, and not ever 6
    assert fsm_flags([(date(2025, 1, 6), date(2026, 3, 20))], NIGHT) == (True, True)
    assert fsm_flags([(date(2026, 3, 21), None)], NIGHT) == (False, False)
    assert fsm_flags([], NIGHT) == (False, False)


def test_sen_history_with_two_sen_elements_gives_the_latest(tmp_path):
    # 2023-09-05 K (SEN support), then 2025-02-03 E (EHC plan); written newest first to show order does not matter
    sen = ("<SENhistory><SEN><StartDate>2025-02-03</StartDate><SENprovision>E</SENprovision></SEN>"
           "<SEN><StartDate>2023-09-05</StartDate><SENprovision>K</SENprovision></SEN></SENhistory>")
    assert ctf_pupil(sen, tmp_path=tmp_path)["sen_provision"] == "E"
    assert ctf_pupil("", tmp_path=tmp_path)["sen_provision"] is None


@pytest.mark.parametrize("extra, expected", [
    ("<LookedAfter><InCare>true</InCare><CareAuthority>926</CareAuthority></LookedAfter>", "true"),
    ("<LookedAfter><InCare>false</InCare></LookedAfter>", "false"),
    ("", None),
])
def test_in_care_true_false_absent(tmp_path, extra, expected):
    row = ctf_pupil(extra, tmp_path=tmp_path)
    assert row["looked_after"] == expected
    assert row["child_in_need"] is None and row["child_protection_plan"] is None  # no CTF element


def test_legacy_sen_codes_are_normalised():
    assert [sen_provision_code(c) for c in ("N", "k", " E ", "S", "A", "P", None, " ")] == \
        ["N", "K", "E", "E", "K", "K", None, None]
    with pytest.raises(ValueError):
        sen_provision_code("X")


def canonical(folder, night: date = NIGHT):
    raw = read_school_folder(folder, LAESTAB, as_of=night)
    return validate_extract(raw.tables, school_key=f"{LAESTAB}-files", laestab=LAESTAB,
                            extracted_at=datetime(2026, 3, 20, 2), as_of=night)


def test_ctf_cohorts_reach_the_canonical_table(tmp_path):
    write(tmp_path, "roll.xml", ctf(pupil(UPN, extra=fsm(("2024-01-08", None))
                                          + "<LookedAfter><InCare>true</InCare></LookedAfter>"
                                          + "<SENhistory><SEN><StartDate>2024-09-04</StartDate>"
                                            "<SENprovision>S</SENprovision></SEN></SENhistory>")))
    row = canonical(tmp_path).tables["pupils"].iloc[0]
    assert row["sen_provision"] == "E"  # a statement (S) is read as an EHC plan
    assert (row["fsm_eligible"], row["fsm_ever6"], row["looked_after"]) == (True, True, True)
    assert row["child_in_need"] is pd.NA and row["child_protection_plan"] is pd.NA


HEADER = "upn,surname,forename,dob,sex"
A, B, C = "Z926200124001", "N926200124002", "C926200124003"
PUPILS = [f"{A},Jones,Ann,2015-01-02,F", f"{B},Smith,Bob,2015-03-04,M", f"{C},Brown,Cat,2015-05-06,F"]


def test_csv_optional_cohort_columns_present(tmp_path):
    cohorts = ["K,Y,true,1,N,0", "e,n,FALSE,0,yes,1", ",,,,,"]
    write(tmp_path, "pupils.csv", "\n".join(
        [HEADER + ",sen_provision,fsm_eligible,fsm_ever6,looked_after,child_in_need,child_protection_plan"]
        + [f"{p},{c}" for p, c in zip(PUPILS, cohorts)]) + "\n")
    result = canonical(tmp_path)
    table = result.tables["pupils"].set_index("upn")
    assert table["sen_provision"].fillna("-").tolist() == ["K", "E", "-"]
    assert table.loc[A, ["fsm_eligible", "fsm_ever6", "looked_after", "child_in_need",
                                       "child_protection_plan"]].tolist() == [True, True, True, False, False]
    assert table.loc[B, ["fsm_eligible", "fsm_ever6", "looked_after", "child_in_need",
                                       "child_protection_plan"]].tolist() == [False, False, False, True, True]
    assert table.loc[C].isna()[["sen_provision", "fsm_eligible", "child_in_need"]].all()
    assert str(table["fsm_eligible"].dtype) == "boolean"
    assert not result.issues["rule"].str.endswith("_invalid").any()


def test_csv_without_cohort_columns_gives_nulls(tmp_path):
    write(tmp_path, "pupils.csv", "\n".join([HEADER] + PUPILS) + "\n")
    table = canonical(tmp_path).tables["pupils"]
    for column in ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_in_need",
                   "child_protection_plan"):
        assert table[column].isna().all(), column


def test_csv_bad_cohort_value_is_a_warning_and_loads_as_null(tmp_path):
    write(tmp_path, "pupils.csv", "\n".join(
        [HEADER + ",sen_provision,fsm_eligible,looked_after"]
        + [PUPILS[0] + ",X,maybe,Y", PUPILS[1] + ",K,N,2"]) + "\n")
    result = canonical(tmp_path)
    table = result.tables["pupils"].set_index("upn")
    assert len(table) == 2  # no pupil lost
    assert table.loc[A, "sen_provision"] is pd.NA and table.loc[A, "fsm_eligible"] is pd.NA
    assert table.loc[A, "looked_after"] == True  # noqa: E712 (nullable boolean)
    assert table.loc[B, "looked_after"] is pd.NA
    found = result.issues[result.issues["rule"].str.endswith("_invalid")]
    assert sorted(zip(found["rule"], found["field"], found["value"], found["location"], found["severity"])) == [
        ("fsm_eligible_invalid", "fsm_eligible", "maybe", "pupils.csv line 2", "warning"),
        ("looked_after_invalid", "looked_after", "2", "pupils.csv line 3", "warning"),
        ("sen_provision_invalid", "sen_provision", "X", "pupils.csv line 2", "warning"),
    ]
    assert "'maybe'" in found.set_index("rule").loc["fsm_eligible_invalid", "message"]
