"""A small LA through three nights across the summer holiday of 2026 (``ncc-transfer run --as-of``),
every view read back from the warehouse each night.

The LA, its calendar and each pupil's story are written out in ``year_end_la.py``; the expectations
below are worked by hand from them, with their dates. Brooke Primary is on the Wonde route (real HTTP
on loopback against the simulator), the others on the files route: the year-end rules give a vendor
school the same answers (B6 and A6 are the same case on the two routes).
"""

from __future__ import annotations

import os
from datetime import date

import pandas as pd
import pytest

from ncc_transfer.canonical import VIEW_COLUMNS
from ncc_transfer.cli import main
from ncc_transfer_tests.e2e import year_end_la as la
from ncc_transfer_tests.conftest import ncc_env
from ncc_transfer_tests.e2e.year_end_la import ASHBY, BROOKE, COSTESSEY, upn

AUGUST, EARLY_SEPTEMBER, LATE_SEPTEMBER = la.NIGHTS


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Run the three nights; per night, every view, the pupils and the validation issues as loaded."""
    from ncc_transfer.registry import load_registry
    from ncc_transfer.simulator import Simulator, create_app, run_in_thread
    from ncc_transfer.simulator.app import register_school
    from ncc_transfer.warehouse import DuckDBWarehouse

    home = tmp_path_factory.mktemp("year_end")
    sim = Simulator()
    root, stop = run_in_thread(create_app(sim))
    registry_path = la.write_registry(home, f"{root}/wonde")
    env = {la.WONDE_TOKEN_ENV: "year-end-test-token-0123456789"}
    seen: dict[date, dict] = {}
    try:
        with ncc_env(home, **env):
            registry = load_registry(registry_path)
            for night in la.NIGHTS:
                la.write_extracts(home, night)
                if night == LATE_SEPTEMBER:  # the DfE's check results arrive after the MIS export
                    ctf = la.write_mtc_partial_ctf(home / "landing" / ASHBY, ["AN3", "A3"], "2026-09-29T16:20:05")
                    os.utime(ctf, None)
                register_school(sim, registry.school(f"{BROOKE}-wonde"), home, os.environ)
                code = main(["run", "--as-of", night.isoformat()])
                warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
                try:
                    seen[night] = {"exit": code, **{view: warehouse.read(f'SELECT * FROM "{view}"')
                                                    for view in VIEW_COLUMNS},
                                   "pupils": warehouse.read("SELECT * FROM pupils"),
                                   "attendance": warehouse.read("SELECT school_key, count(*) AS marks FROM attendance "
                                                                "GROUP BY school_key"),
                                   "issues": warehouse.read("SELECT * FROM validation_issues")}
                finally:
                    warehouse.close()
    finally:
        stop()
    return seen


def _day(value) -> str:
    return str(value)[:10]


def _cme(frame: pd.DataFrame) -> set[tuple]:
    return {(r.upn, r.laestab, r.reason, _day(r.leaving_date), int(r.days_since_leaving)) for r in frame.itertuples()}


@pytest.mark.parametrize("night", la.NIGHTS, ids=str)
def test_every_night_loads_every_school_and_every_view_is_as_of_that_night(nights, night):
    seen = nights[night]
    assert seen["exit"] == 0
    assert set(seen["pupils"]["school_key"]) == {f"{ASHBY}-files", f"{BROOKE}-wonde", f"{COSTESSEY}-files"}
    for view, columns in VIEW_COLUMNS.items():
        frame = seen[view]
        assert list(frame.columns) == list(columns), view
        assert (pd.to_datetime(frame["as_of"]).dt.date == night).all(), view


# -- children missing education ---------------------------------------------------------------------

def test_august_only_the_year_4_leaver_is_a_cme_candidate(nights):
    # Mon 17 Aug 2026: A4 left Year 4 on Wed 22 Jul 2026 with no destination: 26 days ago. The Year 6
    # completers (A6, A6b at Ashby, B6 at Brooke) are in the holiday between phases; C11 left Year 11 on
    # Fri 26 Jun 2026 and turned 16 in 2025/26: past compulsory school age since that day.
    assert _cme(nights[AUGUST]["children_missing_education"]) == {
        (upn("A4"), ASHBY, "left_no_destination", "2026-07-22", 26)}


def test_early_september_the_completers_are_not_yet_candidates(nights):
    # Mon 7 Sep 2026: the MIS have rolled over and the leavers are gone from the extracts; the roll
    # history keeps their leaving dates. Only 2 school days of 2026/27 are known (Thu 3, Fri 4 Sep), fewer
    # than the 10 after which a Year 6 completer on no roll becomes a candidate. A4: 47 days.
    assert _cme(nights[EARLY_SEPTEMBER]["children_missing_education"]) == {
        (upn("A4"), ASHBY, "left_no_destination", "2026-07-22", 47)}


def test_late_september_year_6_completers_on_no_roll_are_candidates_on_either_route(nights):
    # Wed 30 Sep 2026: the tenth school day of 2026/27 (Wed 16 Sep) has passed. A6 (files route) and B6
    # (Wonde route) are on no roll in the LA: not_started_next_phase, 70 days after Wed 22 Jul 2026.
    # A6b started Year 7 at Costessey on Thu 3 Sep: not a candidate. C11 is 16: never again a candidate.
    assert _cme(nights[LATE_SEPTEMBER]["children_missing_education"]) == {
        (upn("A4"), ASHBY, "left_no_destination", "2026-07-22", 70),
        (upn("A6"), ASHBY, "not_started_next_phase", "2026-07-22", 70),
        (upn("B6"), BROOKE, "not_started_next_phase", "2026-07-22", 70),
    }


# -- absence: the DfE method's Year 11 rule -----------------------------------------------------------

def test_august_absence_summary_cuts_year_11_sessions_after_the_may_half_term(nights):
    summary = nights[AUGUST]["absence_summary"].set_index("upn")
    # C11, 15 at 31 Aug 2025, on roll to Fri 26 Jun 2026: 71 + 54 + 27 + 20 = 172 school days, 344
    # sessions, 40 of them O (Mon 1 - Fri 26 Jun). The second half of the summer term starts Mon 1 Jun
    # 2026 (the first school day after the May half-term, 25-29 May): the DfE method drops those 40
    # sessions for a 15-year-old, leaving 304 possible sessions and no absence: not persistent.
    c11 = summary.loc[upn("C11")]
    assert (c11["sessions_possible"], c11["sessions_unauthorised"], bool(c11["persistent_absence"])) == (304, 0, False)
    # ... while the uncut counts still show the June absence: 40 of 344 sessions (11.6 %), persistent.
    assert (c11["sessions_possible_all"], c11["sessions_unauthorised_all"], bool(c11["persistent_absence_all"])) \
        == (344, 40, True)
    # C10, 14 at 31 Aug 2025, the same marks and present to Wed 22 Jul: 190 days, 380 sessions, 40 O
    # (10.5 %): persistent under both.
    c10 = summary.loc[upn("C10")]
    assert (c10["sessions_possible"], c10["sessions_unauthorised"], bool(c10["persistent_absence"])) == (380, 40, True)
    assert (c10["sessions_possible_all"], bool(c10["persistent_absence_all"])) == (380, True)
    # Every Ashby pupil on roll all year was present every session of the 190 days.
    assert summary.loc[upn("A6"), "sessions_possible"] == 380 and summary.loc[upn("A6"), "sessions_present"] == 380


def test_august_ten_day_list_and_triggers_hold_the_june_runs(nights):
    # O every session Mon 1 - Fri 26 Jun 2026: 20 school days, on the 10-day list and a G/N/O 20-day run
    # for both, finished (Costessey's last school day before the night is Wed 22 Jul).
    ten_day = {(r.upn, _day(r.first_day), _day(r.last_day), int(r.school_days), bool(r.ongoing))
               for r in nights[AUGUST]["ten_day_absence"].itertuples()}
    assert ten_day == {(upn(k), "2026-06-01", "2026-06-26", 20, False) for k in ("C11", "C10")}
    triggers = nights[AUGUST]["absence_triggers"]
    assert {(r.upn, r.trigger) for r in triggers.itertuples()} == {(upn("C11"), "gno_20"), (upn("C10"), "gno_20")}


# -- sickness: cumulative -----------------------------------------------------------------------------

def test_late_september_three_separate_illnesses_reach_the_sickness_trigger(nights):
    # AN3: I on Fri 4, Mon 7 - Thu 10 Sep (5 school days), present Fri 11; I Mon 14 - Fri 18 (5), present
    # Mon 21; I Tue 22 - Fri 25 and Mon 28 Sep (5): the fifteenth school day of illness is Mon 28 Sep 2026.
    # No run is 15 days long, so only the cumulative trigger fires.
    triggers = nights[LATE_SEPTEMBER]["absence_triggers"]
    sick = triggers[triggers["upn"] == upn("AN3")]
    assert [(r.trigger, _day(r.first_day), _day(r.threshold_day)) for r in sick.itertuples()] == [
        ("sickness_15_cumulative", "2026-09-04", "2026-09-28")]
    assert nights[EARLY_SEPTEMBER]["absence_triggers"].empty


# -- movements and the new-pupil return ---------------------------------------------------------------

def test_early_september_new_pupil_returns_exempt_the_most_junior_year_groups(nights):
    moves = nights[EARLY_SEPTEMBER]["pupil_movements"]
    joined = {(r.upn, r.laestab, _day(r.event_date), bool(r.new_entrant_return_due))
              for r in moves[moves["event"] == "joined"].itertuples()}
    # All three joined on Thu 3 Sep 2026, the first school day of 2026/27. ANR joined Ashby's most junior
    # year group (Reception) and A6b Costessey's (Year 7): exempt under reg. 13(2). AN3 joined Year 3:
    # the return is due.
    assert joined == {(upn("ANR"), ASHBY, "2026-09-03", False), (upn("AN3"), ASHBY, "2026-09-03", True),
                      (upn("A6b"), COSTESSEY, "2026-09-03", False)}
    # The leavers' departures belong to 2025/26, not to this year's movements.
    assert not (moves["event"] == "left").any()


def test_august_movements_hold_the_summer_leavers(nights):
    moves = nights[AUGUST]["pupil_movements"]
    left = {(r.upn, _day(r.event_date)) for r in moves[moves["event"] == "left"].itertuples()}
    assert left == {(upn("A6"), "2026-07-22"), (upn("A6b"), "2026-07-22"), (upn("A4"), "2026-07-22"),
                    (upn("B6"), "2026-07-22"), (upn("C11"), "2026-06-26")}
    assert not moves["new_entrant_return_due"].any()


# -- a partial CTF from a DfE service -----------------------------------------------------------------

def test_a_partial_ctf_after_the_mis_export_removes_nothing_and_is_explained(nights):
    before, after = nights[EARLY_SEPTEMBER], nights[LATE_SEPTEMBER]
    ashby = f"{ASHBY}-files"
    roll = set(after["pupils"].loc[after["pupils"]["school_key"] == ashby, "upn"])
    assert roll == {upn(k) for k in ("A3", "AR", "ANR", "AN3")} == \
        set(before["pupils"].loc[before["pupils"]["school_key"] == ashby, "upn"])
    marks = after["attendance"].set_index("school_key")["marks"]
    assert marks[ashby] == 4 * 19 * 2  # four pupils, Thu 3 - Tue 29 Sep 2026: 19 school days, 2 sessions
    notes = after["issues"][(after["issues"]["school_key"] == ashby)
                            & after["issues"]["location"].astype(str).str.contains("_KS2_")]
    assert len(notes) == 1 and "partial" in notes.iloc[0]["message"] and "nothing was removed" in notes.iloc[0]["message"]
    assert pd.isna(notes.iloc[0]["upn"])
