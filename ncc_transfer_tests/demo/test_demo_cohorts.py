"""The demo pupils' cohort fields (ncc_transfer.demo.generator.cohorts): roughly national rates, written to CTFs
and CSVs so the files route reads them back, and drawn from their own random stream."""

from __future__ import annotations

import pandas as pd

from ncc_transfer.files_route import read_school_folder
from ncc_transfer.validation import validate_extract
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env


def test_demo_cohorts_at_roughly_national_rates_through_the_files_route(tmp_path):
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path / "la"  # three schools at 0.3 of their size: enough pupils (over 300) for rates
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=DEMO_AS_OF, pupils_scale=0.3)
    frames, formats = [], {}
    for school in demo.schools:
        if not school["active"]:
            continue
        raw = read_school_folder(home / "landing" / school["laestab"], school["laestab"], as_of=DEMO_AS_OF)
        table = validate_extract(raw.tables, school_key="k", laestab=school["laestab"],
                                 extracted_at=pd.Timestamp(DEMO_AS_OF), as_of=DEMO_AS_OF).tables["pupils"]
        formats[school["format"]] = table
        frames.append(table)
    pupils = pd.concat(frames)
    n = len(pupils)
    assert n > 300
    share = pupils["sen_provision"].value_counts(normalize=True)
    assert pupils["sen_provision"].notna().all()
    assert 0.08 < share.get("K", 0) < 0.20 and 0.02 < share.get("E", 0) < 0.09  # 13.6% and 4.8% nationally
    assert 0.18 < pupils["fsm_eligible"].mean() < 0.32  # 25%
    assert pupils["fsm_ever6"].mean() > pupils["fsm_eligible"].mean()  # ~30%
    assert not (pupils["fsm_eligible"] & ~pupils["fsm_ever6"]).any()  # eligible now is ever 6
    assert pupils["looked_after"].mean() < 0.03  # 0.7%
    # a CTF carries no child in need / child protection plan; pupils.csv does
    if "csv" in formats:
        csv = formats["csv"]
        assert csv["child_in_need"].notna().all() and csv["child_in_need"].mean() < 0.08
        assert not (csv["child_protection_plan"] & ~csv["child_in_need"]).any()
    for fmt, table in formats.items():
        if fmt != "csv":
            assert table["child_in_need"].isna().all() and table["child_protection_plan"].isna().all(), fmt
