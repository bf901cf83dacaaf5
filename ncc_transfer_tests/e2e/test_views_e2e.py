"""Every statutory view, end to end: the demo LA through the nightly job, read from the warehouse,
compared with the generator's own ground truth (worked out from the marks it wrote)."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest

from ncc_transfer.canonical import LA_VIEWS, SCHOOL_VIEWS, VIEW_COLUMNS
from ncc_transfer_tests.conftest import DEMO_AS_OF


@pytest.fixture(scope="module")
def expected(demo_night):
    manifest = json.loads((demo_night.home / "demo_manifest.json").read_text())
    rejected = {(e["laestab"], (e.get("upn") or "").strip().upper()) for e in manifest["injected_errors"]}
    return manifest["expected"], rejected


def _read(demo_night, view: str) -> pd.DataFrame:
    return demo_night.warehouse().read(f'SELECT * FROM "{view}"')


def test_every_view_is_in_the_warehouse_with_contract_columns(demo_night):
    for view, columns in VIEW_COLUMNS.items():
        frame = _read(demo_night, view)
        assert list(frame.columns) == list(columns), view
        assert len(frame) > 0, view
        assert (pd.to_datetime(frame["as_of"]).dt.date == DEMO_AS_OF).all(), view


def _keyed(rows, fields):
    return {tuple(str(r[f]) for f in fields) for r in rows}


def test_ten_day_list_matches_ground_truth(demo_night, expected):
    truth, rejected = expected
    view = _read(demo_night, "ten_day_absence")
    got = {(r.laestab, r.upn, str(r.first_day)[:10], str(r.last_day)[:10], int(r.school_days), bool(r.ongoing))
           for r in view.itertuples()}
    want = {(t["laestab"], t["upn"], t["first_day"], t["last_day"], t["school_days"], t["ongoing"])
            for t in truth["ten_day_absence"] if (t["laestab"], t["upn"]) not in rejected}
    assert want and got == want


@pytest.mark.parametrize(("trigger", "truth_key"), [("sickness_15", "sickness_15_days"), ("gno_20", "gno_20_days")])
def test_absence_triggers_match_ground_truth(demo_night, expected, trigger, truth_key):
    truth, rejected = expected
    view = _read(demo_night, "absence_triggers")
    view = view[view["trigger"] == trigger]
    got = {(r.laestab, r.upn, str(r.first_day)[:10], int(r.school_days)) for r in view.itertuples()}
    want = {(t["laestab"], t["upn"], t["first_day"], t["school_days"]) for t in truth[truth_key]
            if (t["laestab"], t["upn"]) not in rejected}
    assert want and got == want


def test_persistent_absence_boundaries(demo_night, expected):
    truth, rejected = expected
    summary = _read(demo_night, "absence_summary").set_index(["laestab", "upn"])
    checked = 0
    for case in truth["rates"]:
        key = (case["laestab"], case["upn"])
        if key in rejected:
            continue
        row = summary.loc[key]
        assert row["sessions_possible"] == case["possible_sessions"], case
        assert row["sessions_authorised"] + row["sessions_unauthorised"] == case["absence_sessions"], case
        assert bool(row["persistent_absence"]) == (case["absence_sessions"] * 10 >= case["possible_sessions"]), case
        assert bool(row["severe_absence"]) == (case["absence_sessions"] * 2 >= case["possible_sessions"]), case
        checked += 1
    assert checked >= 2


def test_exclusion_provision_matches_ground_truth(demo_night, expected):
    truth, rejected = expected
    view = _read(demo_night, "exclusion_provision")
    got = {(r.laestab, r.upn, r.category, str(r.start_date)[:10], str(r.sixth_day)[:10], r.responsible)
           for r in view.itertuples()}
    want = {(t["laestab"], t["upn"], t["category"], t["start_date"], t["sixth_day"], t["responsible"])
            for t in truth["exclusion_periods_over_5_days"] if (t["laestab"], t["upn"]) not in rejected}
    assert want and want <= got
    assert not (view["category"] == "LNCH").any()


def test_movers_are_not_cme_and_leavers_are(demo_night, expected):
    truth, _ = expected
    cme = _read(demo_night, "children_missing_education")
    movers = {m["upn"] for m in truth["moved_between_schools"]}
    assert movers and not movers & set(cme["upn"])
    left = cme[cme["reason"] == "left_no_destination"]
    want = {(c["laestab"], c["upn"], c["days_since_leaving"]) for c in truth["cme_candidates_by_rule"]}
    got = {(r.laestab, r.upn, int(r.days_since_leaving)) for r in left.itertuples()}
    assert want and got == want


def test_pupil_movements_record_the_movers(demo_night, expected):
    truth, _ = expected
    moves = _read(demo_night, "pupil_movements")
    for mover in truth["moved_between_schools"]:
        mine = moves[moves["upn"] == mover["upn"]]
        events = {(r.laestab, r.event, str(r.event_date)[:10]) for r in mine.itertuples()}
        assert (mover["from_laestab"], "left", mover["left"]) in events
        assert (mover["to_laestab"], "joined", mover["joined"]) in events


def test_views_materialised_with_counts_only(demo_night):
    with demo_night.env():
        instance = dg.DagsterInstance.get()
        active = {f"{s['laestab']}-files" for s in demo_night.demo.schools if s["active"]}
        for view in SCHOOL_VIEWS:
            assert instance.get_materialized_partitions(dg.AssetKey(view)) == active, view
        for view in LA_VIEWS:
            event = instance.get_latest_materialization_event(dg.AssetKey(view))
            metadata = event.asset_materialization.metadata
            assert "by_school" in metadata and "counts" in metadata
            assert metadata["as_of"].value == DEMO_AS_OF.isoformat()
            totals = metadata["la_totals"].value
            assert totals["ten_day_list"] == len(_read(demo_night, "ten_day_absence"))
            assert totals["cme_candidates"] == len(_read(demo_night, "children_missing_education"))
            assert 0 < totals["pa_rate_percent"] < 50
            table = metadata["by_school"].value
            assert table.startswith("| school_key |") and all(k in table for k in active)
        summary = instance.get_latest_materialization_event(dg.AssetKey("absence_summary"))
        counts = summary.asset_materialization.metadata["counts"].value
        assert {"rows", "persistent", "severe", "pa_rate_percent"} <= set(counts)


def test_roll_history_remembers_the_loaded_dob_and_nc_year(demo_night):
    """What the CME rule needs once a pupil has dropped off every extract."""
    joined = _read(demo_night, "roll_history").merge(_read(demo_night, "pupils"), on=["school_key", "upn"],
                                                      suffixes=("_roll", ""))
    assert len(joined) > 0
    assert (pd.to_datetime(joined["dob_roll"]) == pd.to_datetime(joined["dob"])).all()
    assert (joined["nc_year_roll"].astype(str) == joined["nc_year"].astype(str)).all()
