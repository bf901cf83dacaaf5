"""k-anonymity of the pseudonymised export: the ladder worked by hand on small frames, then the demo LA.

Every expected level below was worked out by hand from the ladder in ``ncc_transfer.k_anonymity``:
month_sector -> month_district -> cohort_district -> cohort_area -> cohort -> year_group -> suppressed.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from ncc_transfer.k_anonymity import (
    LADDER,
    QUASI_IDENTIFIERS,
    SUPPRESSED,
    assign_levels,
    birth_cohort,
    class_sizes,
    hierarchy_columns,
    k_anonymise,
    postcode_area,
    postcode_district,
)

# (label, sex, nc_year, dob, postcode, expected level at k=3)
PUPILS = [
    # A: three girls born October 2017 in sector NR1 2: a class of 3 as they are.
    ("A1", "F", "3", "2017-10-05", "NR1 2AB", "month_sector"),
    ("A2", "F", "3", "2017-10-12", "NR1 2CD", "month_sector"),
    ("A3", "F", "3", "2017-10-30", "NR1 2EF", "month_sector"),
    # B: girls born October 2017 in NR1, but sectors NR1 3 (2) and NR1 4 (1): 3 together in district NR1.
    ("B1", "F", "3", "2017-10-20", "NR1 3CD", "month_district"),
    ("B2", "F", "3", "2017-10-21", "NR1 3EF", "month_district"),
    ("B3", "F", "3", "2017-10-22", "NR1 4EF", "month_district"),
    # C: boys in NR2 1, born January (2) and March (1) 2018: 3 only once the month becomes the cohort 2017/18.
    ("C1", "M", "3", "2018-01-10", "NR2 1AA", "cohort_district"),
    ("C2", "M", "3", "2018-01-11", "NR2 1BB", "cohort_district"),
    ("C3", "M", "3", "2018-03-03", "NR2 1BB", "cohort_district"),
    # D + G: boys of year 3 in different districts and areas, cohorts 2017/18 (2) and 2015/16 (1):
    # no class of 3 until only school, sex and year group are left.
    ("D1", "M", "3", "2017-12-01", "NR3 1AA", "year_group"),
    ("D2", "M", "3", "2017-11-11", "IP4 2BB", "year_group"),
    ("G1", "M", "3", "2016-07-01", "NR5 5AA", "year_group"),
    # E: the only girl of year 3 left unplaced after A and B: suppressed (dropped).
    ("E1", "F", "3", "2016-08-30", "IP1 1AA", SUPPRESSED),
    # H: year 4 boys, cohort 2016/17, districts NR6/NR7/NR8 of area NR: a class of 3 at cohort_area.
    ("H1", "M", "4", "2016-09-15", "NR6 1AA", "cohort_area"),
    ("H2", "M", "4", "2016-10-01", "NR7 2BB", "cohort_area"),
    ("H3", "M", "4", "2017-02-02", "NR8 3CC", "cohort_area"),
    # I: year 4 girls, cohort 2016/17, areas NR, IP and CB: a class of 3 once the postcode is withheld.
    ("I1", "F", "4", "2016-09-15", "NR6 1AA", "cohort"),
    ("I2", "F", "4", "2016-10-01", "IP7 2BB", "cohort"),
    ("I3", "F", "4", "2017-02-02", "CB8 3CC", "cohort"),
]


def _frame(rows=PUPILS) -> pd.DataFrame:
    labels = [r[0] for r in rows]
    base = pd.DataFrame({
        "label": labels, "school_key": "9261001-files", "laestab": "9261001",
        "sex": [r[1] for r in rows], "nc_year": [r[2] for r in rows],
    }, index=labels)
    detail = hierarchy_columns(pd.Series([r[3] for r in rows], index=labels),
                               pd.Series([r[4] for r in rows], index=labels))
    return pd.concat([base, detail], axis=1)


def test_hierarchies():
    assert birth_cohort("2015-08-31") == "2014/15" and birth_cohort("2015-09-01") == "2015/16"
    assert birth_cohort(date(1999, 12, 31)) == "1999/00" and birth_cohort(None) is None
    assert postcode_district("nr1 2ab") == "NR1" and postcode_area("nr1 2ab") == "NR"
    assert postcode_district("EC1A 1BB") == "EC1A" and postcode_area("EC1A 1BB") == "EC"
    assert postcode_district("W1A0AX") == "W1A" and postcode_area("W1A0AX") == "W"
    assert postcode_district("not a postcode") is None and postcode_area(None) is None
    detail = hierarchy_columns(pd.Series(["2017-10-05"]), pd.Series(["NR1 2AB"]))
    assert detail.iloc[0].to_dict() == {"dob_month": "2017-10", "birth_cohort": "2017/18", "postcode_sector": "NR1 2",
                                        "postcode_district": "NR1", "postcode_area": "NR"}


def test_each_pupil_lands_on_the_hand_worked_level():
    levels = assign_levels(_frame(), k=3)
    assert levels.to_dict() == {r[0]: r[5] for r in PUPILS}


def test_released_values_per_level_and_report():
    released, report = k_anonymise(_frame(), k=3)
    rows = released.set_index("label")
    columns = ["dob_month", "birth_cohort", "postcode_sector", "postcode_district", "postcode_area"]
    values = lambda label: rows.loc[label, columns].tolist()  # noqa: E731
    assert values("A1") == ["2017-10", "2017/18", "NR1 2", "NR1", "NR"]
    assert values("B3") == ["2017-10", "2017/18", None, "NR1", "NR"]
    assert values("C3") == [None, "2017/18", None, "NR2", "NR"]
    assert values("H1") == [None, "2016/17", None, None, "NR"]
    assert values("I2") == [None, "2016/17", None, None, None]
    assert values("G1") == [None, None, None, None, None]
    assert "E1" not in rows.index  # suppressed: dropped, not blanked
    assert rows.loc["G1", ["school_key", "sex", "nc_year"]].tolist() == ["9261001-files", "M", "3"]

    assert report.k == 3 and report.rows_in == 19 and report.rows_out == 18 and report.suppressed_rows == 1
    assert report.rows_by_level == {"month_sector": 3, "month_district": 3, "cohort_district": 3,
                                    "cohort_area": 3, "cohort": 3, "year_group": 3}
    assert report.min_class_size == 3 and report.classes == 6
    assert (class_sizes(released) >= 3).all()
    assert report.as_dict()["achieved_min_class_size"] == 3


def test_order_does_not_matter_and_k1_changes_nothing():
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=11)
    assert assign_levels(shuffled, 3).sort_index().equals(assign_levels(frame, 3).sort_index())
    released, report = k_anonymise(frame, k=1)
    assert report.rows_by_level["month_sector"] == len(frame) and report.suppressed_rows == 0
    assert released[list(QUASI_IDENTIFIERS)].equals(frame[list(QUASI_IDENTIFIERS)])


def test_twelve_pupils_at_k5():
    """12 pupils of one school and year: 6 girls and 6 boys born in 2015/16 around two districts."""
    rows = [(f"F{i}", "F", "5", "2015-11-0%d" % (i + 1), "NR1 2AB", None) for i in range(5)]  # 5 alike
    rows += [("F5", "F", "5", "2016-03-01", "NR1 2AB", None)]  # March: alone in its month
    rows += [(f"M{i}", "M", "5", "2016-0%d-15" % (i + 1), "NR2 %dAB" % i, None) for i in range(6)]  # all differ
    levels = assign_levels(_frame(rows), k=5)
    # The 5 November girls stay exact; the March girl is alone at every level until her sex and year group
    # (then only 1 girl is left unplaced): suppressed. The 6 boys share cohort 2015/16 and district NR2.
    assert levels.to_dict() == {**{f"F{i}": "month_sector" for i in range(5)}, "F5": SUPPRESSED,
                                **{f"M{i}": "cohort_district" for i in range(6)}}


def test_bad_k_is_refused():
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            assign_levels(_frame(), k)


def test_ladder_coarsens_one_field_per_step():
    for finer, coarser in zip(LADDER, LADDER[1:]):
        assert set(coarser.birth) <= set(finer.birth) and set(coarser.postcode) <= set(finer.postcode)
        assert len(finer.birth) + len(finer.postcode) - len(coarser.birth) - len(coarser.postcode) >= 1


def test_demo_export_is_k_anonymous(demo_night, tmp_path):
    """The shared demo night exported: every quasi-identifier combination has >= 5 pupils; the manifest says so."""
    from ncc_transfer.pseudonymise import export_views

    warehouse = demo_night.warehouse()
    try:
        source_rows = len(warehouse.read("SELECT upn FROM pupils"))
        written = export_views(warehouse, tmp_path / "out", key=b"a demo export key of enough bytes!!", fmt="csv")
    finally:
        warehouse.close()
    pupils = pd.read_csv(written["pupils"], dtype=str, keep_default_na=False, na_values=[""])
    assert len(pupils) > 1000
    sizes = pupils[list(QUASI_IDENTIFIERS)].fillna("\x00").value_counts()
    assert sizes.min() >= 5, sizes[sizes < 5].head()

    manifest = json.loads(written["manifest"].read_text())["k_anonymity"]
    assert manifest["k"] == 5 and manifest["achieved_min_class_size"] == sizes.min() >= 5
    assert manifest["rows_in"] == source_rows and manifest["rows_out"] == len(pupils)
    assert sum(manifest["rows_by_level"].values()) + manifest["suppressed_rows"] == source_rows
    assert manifest["classes"] == len(sizes)
    assert "k = 5" in written["README"].read_text()

    # The one view field derived from the date of birth is withheld wherever pupils withholds the cohort.
    summary = pd.read_csv(written["absence_summary"], dtype=str, keep_default_na=False, na_values=[""])
    cohorts = pupils.dropna(subset=["birth_cohort"]).set_index(["school_key", "pupil_id"]).index
    aged = summary.dropna(subset=["age_at_31_august"]).set_index(["school_key", "pupil_id"]).index
    assert aged.isin(cohorts).all() and len(aged) > 1000
    print("demo k-anonymity:", json.dumps(manifest["rows_by_level"]), "suppressed", manifest["suppressed_rows"],
          "min class", manifest["achieved_min_class_size"], "classes", manifest["classes"],
          "ages withheld", manifest["view_ages_withheld"])
