"""Reference tables: UPN check letters, attendance code sets around 19 August 2024, exclusions, enrolment."""

from __future__ import annotations

import pandas as pd
import pytest

from ncc_transfer.reference import (CATEGORY_CODES, CODE_SET_CHANGE, ON_ROLL_STATUSES, REASON_CODES, category_for,
                                    category_table, code_table, enrol_status_table, expected_nc_year_age, la_codes,
                                    nc_year_table, normalise_category, possible_for, reason_table, upn)
from ncc_transfer.reference.attendance_codes import CATEGORIES

PRE = "2024-08-18"
NEW = "2024-08-19"


# ---------------------------------------------------------------- UPN (DfE UPN guidance examples)

@pytest.mark.parametrize("value, valid, temporary", [
    ("H801200001001", True, False),
    ("G80120000101A", True, True),
    ("R201100018042", True, False),
    ("T20110001804V", True, True),
    ("B801200005001", True, False),
    ("A801200005001", False, False),
])
def test_upn_check_letters_on_dfe_examples(value, valid, temporary):
    assert upn.is_valid(value) is valid
    assert upn.is_temporary(value) is temporary
    assert bool(upn.valid_check_letter_mask(pd.Series([value]))[0]) is valid


@pytest.mark.parametrize("value, recognised", [
    ("H801200001001", True),  # Bristol (DfE guidance example)
    ("A926200115001", True),  # Norfolk
    ("J928200115001", True),  # Northamptonshire, retired 2021
    ("Y000200115001", False),  # 000: no LA
    ("L999200115001", False),  # 999: no LA (MTC's test code)
    ("Y00020011500B", False),  # temporary UPNs carry an LA number too
    ("Y0002001150", False),  # not well formed
])
def test_upn_la_code(value, recognised):
    assert upn.has_recognised_la_code(value) is recognised
    assert bool(upn.recognised_la_code_mask(pd.Series([value]))[0]) is recognised
    assert upn.la_code(value) == value[1:4]


def test_recognised_la_code_mask_treats_null_as_not_recognised():
    mask = upn.recognised_la_code_mask(pd.Series(["A926200115001", None, "Y000200115001"], dtype=object))
    assert mask.tolist() == [True, False, False]


# ---------------------------------------------------------------- LA numbers (reference list)

def test_known_la_numbers_and_names():
    assert la_codes.LA_CODES["926"] == "Norfolk"
    assert la_codes.LA_CODES["201"] == "City of London"
    assert la_codes.LA_CODES["838"] == "Dorset"
    assert la_codes.LA_CODES["940"] == "North Northamptonshire"
    assert la_codes.la_name("943") == "Westmorland and Furness"
    assert la_codes.la_name("000") is None


@pytest.mark.parametrize("code", [
    "928", "909", "835", "836", "837", "820", "875",  # retired, still in UPNs issued before
    "838", "839", "940", "941", "942", "943",  # their successors
    "660", "681",  # Wales (Isle of Anglesey, Cardiff)
    "702", "420",  # BFPO overseas establishments, Isles of Scilly
])
def test_retired_new_and_welsh_la_numbers_are_recognised(code):
    assert la_codes.is_la_code(code)


@pytest.mark.parametrize("code", ["000", "999", "100", "200", "234", "944", "92", "9260", ""])
def test_not_la_numbers(code):
    assert not la_codes.is_la_code(code)


def test_la_number_list_shape():
    codes = la_codes.LA_CODES
    assert len(codes) == 195
    assert all(len(c) == 3 and c.isdigit() for c in codes)
    assert all(name.strip() for name in codes.values())
    # every code of python-stdnum's 2017 list (stdnum/gb/upn.py) is included
    stdnum_2017 = {201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, *range(301, 321),
                   *range(330, 337), *range(340, 345), *range(350, 360), *range(370, 374), *range(380, 385),
                   *range(390, 395), 420, 800, 801, 802, 803, 805, 806, 807, 808, 810, 811, 812, 813, 815, 816,
                   821, 822, 823, 825, 826, 830, 831, 835, 836, 837, 840, 841, 845, 846, 850, 851, 852, 855,
                   856, 857, 860, 861, *range(865, 875), *range(876, 897), 908, 909, 916, 919, 921, 925, 926,
                   928, 929, 931, 933, 935, 936, 937, 938}
    assert {f"{c:03d}" for c in stdnum_2017} <= set(codes)


# ---------------------------------------------------------------- attendance codes

def categories(codes: list[str], day: str) -> list:
    return list(category_for(pd.Series(codes, dtype=object), pd.Series([day] * len(codes))))


@pytest.mark.parametrize("code, before, from_change", [
    ("H", "authorised", None),
    ("J", "aea", None),
    ("J1", None, "authorised"),
    ("K", None, "aea"),
    ("Y1", None, "not_possible"),
    ("T", "authorised", "authorised"),
    ("Y", "not_possible", None),
    ("F", "authorised", None),
    ("C1", None, "authorised"),
    ("Q", None, "not_possible"),
])
def test_code_category_at_the_2024_boundary(code, before, from_change):
    assert str(CODE_SET_CHANGE) == NEW
    assert categories([code], PRE) == [before]
    assert categories([code], NEW) == [from_change]


def test_t_changed_meaning():
    table = code_table()
    assert (table["code"] == "T").sum() == 2
    pre_row = table[(table["code"] == "T") & table["valid_to"].notna()].iloc[0]
    new_row = table[(table["code"] == "T") & table["valid_from"].notna()].iloc[0]
    assert "Traveller" in pre_row["meaning"]
    assert "occupational" in new_row["meaning"]
    assert pre_row["valid_to"] == pd.Timestamp(PRE)
    assert new_row["valid_from"] == pd.Timestamp(NEW)


# The category of each code, per period (before / from 19 August 2024), written out independently of the
# code table: SI 2024/208 and the DfE's "Working together to improve school attendance" for the 2024 set.
CONTRACT = {
    "present": (["/", "\\", "L"], ["/", "\\", "L"]),
    "aea": (["V", "P", "W", "B", "J"], ["K", "V", "P", "W", "B"]),
    "authorised": (["C", "E", "I", "M", "R", "S", "T", "H", "F"],
                   ["C", "C1", "C2", "E", "I", "J1", "M", "R", "S", "T"]),
    "unauthorised": (["G", "N", "O", "U"], ["G", "N", "O", "U"]),
    "not_possible": (["D", "X", "Y", "Z", "#"],
                     ["D", "X", "Q", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#"]),
    "no_mark": (["-"], ["-"]),
}


@pytest.mark.parametrize("category", list(CONTRACT))
def test_contract_category_lists(category):
    pre_codes, new_codes = CONTRACT[category]
    assert categories(pre_codes, "2023-10-02") == [category] * len(pre_codes)
    assert categories(new_codes, "2025-10-01") == [category] * len(new_codes)


def test_code_sets_are_exactly_the_contract_lists():
    for day, side in (("2023-10-02", 0), ("2025-10-01", 1)):
        table = code_table()
        when = pd.Timestamp(day)
        in_force = table[(table["valid_from"].isna() | (table["valid_from"] <= when))
                         & (table["valid_to"].isna() | (table["valid_to"] >= when))]
        assert not in_force["code"].duplicated().any()
        expected = {c for lists in CONTRACT.values() for c in lists[side]}
        assert set(in_force["code"]) == expected


def test_code_table_shape_and_flags():
    table = code_table()
    assert list(table.columns) == ["code", "meaning", "category", "possible_session", "valid_from", "valid_to"]
    assert set(table["category"]) == set(CATEGORIES)
    assert str(table["valid_from"].dtype) == "datetime64[ns]"
    dash = table[table["code"] == "-"].iloc[0]
    assert dash["category"] == "no_mark" and not dash["possible_session"]
    assert pd.isna(dash["valid_from"]) and pd.isna(dash["valid_to"])
    closure = table[table["code"] == "#"].iloc[0]
    assert closure["category"] == "not_possible" and not closure["possible_session"]
    possible = table.groupby("category")["possible_session"].agg(set).to_dict()
    assert possible == {"present": {True}, "aea": {True}, "authorised": {True}, "unauthorised": {True},
                        "not_possible": {False}, "no_mark": {False}}


def test_category_for_is_none_for_unknown_codes_and_missing_dates():
    codes = pd.Series(["/", "ZZ", "/", None], dtype=object)
    dates = pd.Series(pd.to_datetime(["2025-01-06", "2025-01-06", None, "2025-01-06"]))
    assert list(category_for(codes, dates)) == ["present", None, None, None]
    assert list(possible_for(codes, dates)) == [True, False, False, False]


def test_category_for_keeps_the_index():
    codes = pd.Series(["I", "H"], index=[10, 20], dtype=object)
    result = category_for(codes, pd.Series([NEW, PRE], index=[10, 20]))
    assert result.to_dict() == {10: "authorised", 20: "authorised"}


# ---------------------------------------------------------------- exclusions

def test_fixd_is_read_as_susp():
    result = normalise_category(pd.Series(["FIXD", " fixd ", "SUSP", "perm", "LNCH", None, "XXXX"], dtype=object))
    assert list(result) == ["SUSP", "SUSP", "SUSP", "PERM", "LNCH", None, "XXXX"]
    assert CATEGORY_CODES == {"PERM", "SUSP", "LNCH"}
    table = category_table()
    assert table.set_index("code").loc["FIXD", "alias_of"] == "SUSP"


def test_reason_table():
    table = reason_table()
    assert list(table.columns) == ["code", "label", "list"]
    assert not table["code"].duplicated().any()
    lists = table.groupby("list")["code"].agg(set).to_dict()
    assert lists["2020/21"] == {"PP", "PA", "VP", "VA", "OW", "BU", "RA", "LG", "DS", "SM", "DA", "DM", "TH",
                                "MT", "PH", "PD"}
    assert lists["legacy"] == {"OT"}
    assert lists["expanded"] == {"BW", "TB", "SB", "MB", "AB", "DR", "AR", "SR", "VR", "LD", "CB", "DB", "MP", "OS"}
    assert set(table["code"]) == REASON_CODES
    assert table["label"].str.len().gt(0).all()


# ---------------------------------------------------------------- enrolment and NC years

def test_enrol_statuses_on_roll():
    table = enrol_status_table().set_index("code")
    assert list(table.index) == ["C", "M", "S", "F", "O", "G", "P"]
    assert set(table.index[table["on_roll"]]) == {"C", "M", "S"} == ON_ROLL_STATUSES


@pytest.mark.parametrize("nc_year, age", [("R", 4), ("1", 5), ("6", 10), ("11", 15), ("12", 16), ("13", 17),
                                          ("14", 18), ("N1", None), ("E2", None), ("X", None), ("Y1", None)])
def test_expected_nc_year_age(nc_year, age):
    assert expected_nc_year_age(nc_year) == age


def test_expected_nc_year_age_vectorised():
    result = expected_nc_year_age(pd.Series(["R", "7", "N2", None], dtype=object))
    assert str(result.dtype) == "Int64"
    assert result.tolist() == [4, 11, pd.NA, pd.NA]
    table = nc_year_table()
    assert set(table["code"]) == {"R", *map(str, range(1, 15)), "N1", "N2", "E1", "E2", "X"}
