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

# (label, sex, nc_year, dob, postcode, expected level at k=3), one school. Worked by hand, top-down:
# school and year group -> sex -> cohort -> area -> district -> month and district -> month and sector.
PUPILS = [
    # Year 3 (9): 6 girls and 3 boys. The girls are all October 2017 in NR1, so they go down to month and
    # district together; there A splits off (sector NR1 2, 3 of them) and B (NR1 3 x2, NR1 4) stays.
    ("A1", "F", "3", "2017-10-05", "NR1 2AB", "month_sector"),
    ("A2", "F", "3", "2017-10-12", "NR1 2CD", "month_sector"),
    ("A3", "F", "3", "2017-10-30", "NR1 2EF", "month_sector"),
    ("B1", "F", "3", "2017-10-20", "NR1 3CD", "month_district"),
    ("B2", "F", "3", "2017-10-21", "NR1 3EF", "month_district"),
    ("B3", "F", "3", "2017-10-22", "NR1 4EF", "month_district"),
    # The boys share cohort 2017/18 and district NR2, but their months (January x2, March) split them.
    ("C1", "M", "3", "2018-01-10", "NR2 1AA", "cohort_district"),
    ("C2", "M", "3", "2018-01-11", "NR2 1BB", "cohort_district"),
    ("C3", "M", "3", "2018-03-03", "NR2 1BB", "cohort_district"),
    # Year 4 (6): boys of cohort 2016/17 in area NR but districts NR6, NR7, NR8: cohort and area.
    ("H1", "M", "4", "2016-09-15", "NR6 1AA", "cohort_area"),
    ("H2", "M", "4", "2016-10-01", "NR7 2BB", "cohort_area"),
    ("H3", "M", "4", "2017-02-02", "NR8 3CC", "cohort_area"),
    # ... and girls of cohort 2016/17 in areas NR, IP and CB: cohort only.
    ("I1", "F", "4", "2016-09-15", "NR6 1AA", "cohort"),
    ("I2", "F", "4", "2016-10-01", "IP7 2BB", "cohort"),
    ("I3", "F", "4", "2017-02-02", "CB8 3CC", "cohort"),
    # Year 5 (3): boys of cohorts 2015/16 (2) and 2014/15 (1): school, year group and sex only.
    ("J1", "M", "5", "2015-12-01", "NR3 1AA", "year_group"),
    ("J2", "M", "5", "2016-01-11", "NR3 1AB", "year_group"),
    ("J3", "M", "5", "2015-07-01", "NR3 1AC", "year_group"),
    # Year 6 (7): 6 boys and 1 girl. The girl alone is under k, so 2 boys join her with sex withheld:
    # the 2 of the smaller cohort (2013/14, out of their year group). The other 4 boys are all October
    # 2014 in sector NR9 1: exact.
    ("L1", "M", "6", "2014-10-01", "NR9 1AA", "month_sector"),
    ("L2", "M", "6", "2014-10-02", "NR9 1AB", "month_sector"),
    ("L3", "M", "6", "2014-10-03", "NR9 1AD", "month_sector"),
    ("L4", "M", "6", "2014-10-04", "NR9 1AE", "month_sector"),
    ("L5", "M", "6", "2013-11-01", "IP2 1AA", "school_year"),
    ("L6", "M", "6", "2013-11-02", "IP2 1AB", "school_year"),
    ("L7", "F", "6", "2014-12-01", "NR9 1AF", "school_year"),
    # Year 1 (1): a year group of one pupil cannot be hidden at this school: suppressed (dropped).
    ("N1", "F", "1", "2019-11-11", "NR1 2AB", SUPPRESSED),
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
    columns = ["sex", "dob_month", "birth_cohort", "postcode_sector", "postcode_district", "postcode_area"]
    values = lambda label: rows.loc[label, columns].tolist()  # noqa: E731
    assert values("A1") == ["F", "2017-10", "2017/18", "NR1 2", "NR1", "NR"]
    assert values("B3") == ["F", "2017-10", "2017/18", None, "NR1", "NR"]
    assert values("C3") == ["M", None, "2017/18", None, "NR2", "NR"]
    assert values("H1") == ["M", None, "2016/17", None, None, "NR"]
    assert values("I2") == ["F", None, "2016/17", None, None, None]
    assert values("J3") == ["M", None, None, None, None, None]
    assert values("L5") == values("L7") == [None, None, None, None, None, None]
    assert rows.loc["L7", ["school_key", "nc_year"]].tolist() == ["9261001-files", "6"]
    assert "N1" not in rows.index  # suppressed: dropped, not blanked

    assert report.k == 3 and report.rows_in == 26 and report.rows_out == 25 and report.suppressed_rows == 1
    assert report.rows_by_level == {"month_sector": 7, "month_district": 3, "cohort_district": 3, "cohort_area": 3,
                                    "cohort": 3, "year_group": 3, "school_year": 3}
    assert report.min_class_size == 3 and report.classes == 8
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
    """12 pupils of one school's year 5, all born in 2015/16: 6 girls and 6 boys."""
    rows = [(f"F{i}", "F", "5", "2015-11-0%d" % (i + 1), "NR1 2AB", None) for i in range(5)]  # 5 alike
    rows += [("F5", "F", "5", "2016-03-01", "NR1 2AB", None)]  # March: alone in her month
    rows += [(f"M{i}", "M", "5", "2016-0%d-15" % (i + 1), "NR2 %dAB" % i, None) for i in range(6)]  # all differ
    levels = assign_levels(_frame(rows), k=5)
    # Girls: 6 together down to cohort and district NR1; by month it would be 5 (November) and 1 (March).
    # The 1 needs 4 more and the 5 cannot spare them (1 left), so all 6 stay at cohort and district.
    # Boys: 6 together down to cohort and district NR2; every month differs, so they stay there too.
    assert levels.to_dict() == {**{f"F{i}": "cohort_district" for i in range(6)},
                                **{f"M{i}": "cohort_district" for i in range(6)}}
    # With the March girl born in November too, the 6 girls are exact.
    rows[5] = ("F5", "F", "5", "2015-11-30", "NR1 2AB", None)
    assert set(assign_levels(_frame(rows), k=5)[[f"F{i}" for i in range(6)]]) == {"month_sector"}


def test_bad_k_is_refused():
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            assign_levels(_frame(), k)


def test_ladder_coarsens_one_field_per_step():
    for finer, coarser in zip(LADDER, LADDER[1:]):
        assert set(coarser.released) < set(finer.released)


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


def test_export_command_takes_k(demo_night, tmp_path, capsys):
    import os

    from ncc_transfer.cli import main

    with demo_night.env():
        assert main(["export", "--out", str(tmp_path / "out"), "--format", "csv", "--k", "10"]) == 0
        assert main(["export", "--out", str(tmp_path / "bad"), "--k", "0"]) == 2
        assert os.environ["NCC_PSEUDONYM_KEY"]
    assert "--k must be a whole number of at least 1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["k_anonymity"]
    assert manifest["k"] == 10 and manifest["achieved_min_class_size"] >= 10
    pupils = pd.read_csv(tmp_path / "out" / "pupils.csv", dtype=str, keep_default_na=False, na_values=[""])
    assert pupils[list(QUASI_IDENTIFIERS)].fillna("\x00").value_counts().min() >= 10


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [2, 5, 11])
def test_random_rolls_are_k_anonymous_and_only_small_year_groups_are_dropped(seed, k):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 400
    rows = [(f"P{i}", rng.choice(["F", "M", None]), str(rng.integers(1, 8)),
             f"{rng.integers(2013, 2020)}-{rng.integers(1, 13):02d}-15",
             f"{rng.choice(['NR', 'IP', 'CB'])}{rng.integers(1, 4)} {rng.integers(1, 4)}AB", None) for i in range(n)]
    frame = _frame(rows)
    frame.loc[frame.index[::7], "school_key"] = "9261002-files"  # a second, smaller school
    released, report = k_anonymise(frame, k)
    assert (class_sizes(released) >= k).all() and report.min_class_size >= k
    year_groups = frame.groupby(["school_key", "nc_year"])["label"].transform("size")
    dropped = frame.index.difference(released.index)
    assert set(dropped) == set(frame.index[year_groups < k])
