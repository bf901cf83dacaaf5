"""The warehouse backends behave the same (issue #5): DuckDB and PostgreSQL, same rows, same types.

Every behaviour test runs on both backends (the ``backend`` fixture): a fresh DuckDB file, or a
PostgreSQL warehouse in a fresh, uniquely named schema dropped afterwards. PostgreSQL tests are
marked ``postgres`` and skipped, with the reason, when $NCC_TEST_POSTGRES_URL is not reachable.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS, VALIDATION_ISSUE_COLUMNS, VIEW_COLUMNS, coerce_types
from ncc_transfer.warehouse import open_warehouse, table_ddl
from ncc_transfer.warehouse_postgres import PG_TYPES, PostgresWarehouse, qmark_to_psycopg

from ncc_transfer_tests.conftest import DEMO_AS_OF

NIGHT1, NIGHT2 = date(2026, 3, 19), date(2026, 3, 20)
AT1, AT2 = datetime(2026, 3, 19, 1, 2, 3, 456789), datetime(2026, 3, 20, 1, 5, 0, 123)


# -- small canonical frames -------------------------------------------------------------------------

def pupils(school: str, upns: list[str], at: datetime = AT1, surname: str = "Smith") -> pd.DataFrame:
    rows = [{"school_key": school, "laestab": school[:7], "upn": upn, "former_upn": None, "surname": surname,
             "forename": f"Pupil {i}", "middle_names": "" if i % 2 else None, "preferred_surname": None,
             "preferred_forename": None, "dob": f"201{i % 10}-0{1 + i % 9}-15", "sex": "F" if i % 2 else "M",
             "nc_year": str(1 + i % 6), "enrol_status": "C", "entry_date": "2025-09-03" if i % 3 else None,
             "leaving_date": None, "address_line1": "1 O'Brien \"Close\", Flat %?", "town": "Newtown",
             "postcode": "NC1 1AA", **cohort_values(i), "extracted_at": at} for i, upn in enumerate(upns)]
    return coerce_types("pupils", pd.DataFrame(rows))


def cohort_values(i: int) -> dict:
    """Cohort fields for pupil i: every flag true, false and null (not supplied) across three pupils."""
    flags = (True, False, None)
    return {"sen_provision": ("N", "K", "E", None)[i % 4], "fsm_eligible": flags[i % 3],
            "fsm_ever6": flags[(i + 1) % 3], "looked_after": flags[(i + 2) % 3], "child_in_need": flags[i % 3],
            "child_protection_plan": None}


def attendance(school: str, upns: list[str], days: int = 3, code: str = "/") -> pd.DataFrame:
    rows = [{"school_key": school, "laestab": school[:7], "upn": upn, "date": f"2026-03-0{2 + d}", "session": s,
             "code": code if d else "I"} for upn in upns for d in range(days) for s in ("AM", "PM")]
    return coerce_types("attendance", pd.DataFrame(rows))


def exclusions(school: str, upns: list[str], sessions=4) -> pd.DataFrame:
    rows = [{"school_key": school, "laestab": school[:7], "upn": upn, "category": "SUSP", "reason": "PP",
             "reason_2": None, "reason_3": None, "start_date": "2026-02-02", "start_session": "AM",
             "sessions": sessions if isinstance(sessions, int) else 1, "end_date": None} for upn in upns]
    frame = coerce_types("exclusions", pd.DataFrame(rows))
    if not isinstance(sessions, int):  # a wrong type the transaction must reject
        frame["sessions"] = pd.Series([sessions] * len(frame), dtype=object)
    return frame


def issues(school: str, specs: list[tuple[str | None, str]], at: datetime) -> pd.DataFrame:
    rows = [{"school_key": school, "laestab": school[:7], "upn": upn, "dataset": "pupils", "record": "",
             "location": "pupils.csv line 3", "field": "postcode", "value": "X?%", "rule": rule, "severity": "warning",
             "message": "Postcode is not a valid UK postcode: correct it in the MIS.",
             "first_seen": at, "last_seen": at}
            for upn, rule in specs]
    return pd.DataFrame(rows, columns=VALIDATION_ISSUE_COLUMNS).astype({"first_seen": "datetime64[ns]",
                                                                       "last_seen": "datetime64[ns]"})


def roll(school: str, upns: list[str], seen_on: date, entry: str | None = "2025-09-03",
         leaving: str | None = None) -> pd.DataFrame:
    return pd.DataFrame({"school_key": school, "laestab": school[:7], "upn": upns,
                         "entry_date": pd.to_datetime(pd.Series([entry] * len(upns), dtype=object)),
                         "leaving_date": pd.to_datetime(pd.Series([leaving] * len(upns), dtype=object)),
                         "seen_on": pd.Timestamp(seen_on)})


def view_frame(view: str, school: str, rows: int, salt: int = 0) -> pd.DataFrame:
    values = {"text": lambda i: f"{school}-{i + salt}", "int": lambda i: i + salt, "float": lambda i: (i + salt) / 3,
              "bool": lambda i: bool((i + salt) % 2), "date": lambda i: pd.Timestamp(2026, 3, 1 + i)}
    data = {c: [values[k](i) for i in range(rows)] for c, k in VIEW_COLUMNS[view].items()}
    data["school_key"] = [school] * rows
    if rows:
        data[next(c for c, k in VIEW_COLUMNS[view].items() if k == "text" and c != "school_key")][0] = None
    return pd.DataFrame(data)


UPNS = ["A100000000001", "A100000000002", "A100000000003"]


def load(warehouse, school: str = "1234567-files", upns=UPNS, at=AT1, night=NIGHT1, **changes) -> dict:
    tables = {"pupils": pupils(school, upns, at), "attendance": attendance(school, upns),
              "exclusions": exclusions(school, upns[:1])}
    tables.update({k: v for k, v in changes.items() if k in tables})
    warehouse.replace_school(school, tables, changes.get("issues", issues(school, [(upns[0], "postcode")], at)),
                             roll=changes.get("roll", roll(school, upns, night)), night=night,
                             views=changes.get("views"))
    return tables


def snapshot(warehouse) -> dict[str, pd.DataFrame]:
    """Every table, rows sorted (row order is not part of the contract)."""
    return {table: _sorted(warehouse.read(f'SELECT * FROM "{table}"')) for table in table_ddl()}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), ignore_index=True, na_position="last") if len(frame) else frame


def assert_same(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert left.keys() == right.keys()
    for name, frame in left.items():
        pd.testing.assert_frame_equal(frame, right[name], check_dtype=True, obj=name)


# -- behaviour on both backends ---------------------------------------------------------------------

def test_replace_school_is_idempotent(backend):
    load(backend)
    first = snapshot(backend)
    load(backend)
    assert_same(first, snapshot(backend))
    assert len(first["pupils"]) == 3 and len(first["attendance"]) == 18 and len(first["roll_history"]) == 3


@pytest.mark.parametrize("failure", ["missing_column", "wrong_type", "broken_roll", "broken_views"])
def test_failed_replace_keeps_the_previous_load(backend, failure):
    load(backend, views={"absence_summary": view_frame("absence_summary", "1234567-files", 3)})
    before = snapshot(backend)
    assert len(before["absence_summary"]) == 3
    bad = {"missing_column": {"attendance": attendance("1234567-files", UPNS).drop(columns="code")},
           "wrong_type": {"exclusions": exclusions("1234567-files", UPNS[:1], sessions="lots")},
           "broken_roll": {"roll": roll("1234567-files", UPNS, NIGHT2).drop(columns="seen_on")},
           "broken_views": {"views": {"absence_summary": view_frame("absence_summary", "1234567-files", 2),
                                      "ten_day_absence": view_frame("ten_day_absence", "1234567-files", 1
                                                                    ).drop(columns="last_day")}},
           }[failure]
    # pupils (first in the transaction) are deleted and re-inserted before the failure.
    # A missing column is a KeyError; a value of the wrong type a DuckDB or Arrow (ValueError) error.
    with pytest.raises((KeyError, ValueError, duckdb.Error)):
        load(backend, upns=UPNS[:2], at=AT2, night=NIGHT2, **bad)
    assert_same(before, snapshot(backend))
    load(backend, upns=UPNS[:2], at=AT2, night=NIGHT2)  # the warehouse is still usable after the rollback
    assert len(backend.school_rows("pupils", "1234567-files")) == 2


def test_one_schools_replace_leaves_the_others(backend):
    load(backend, school="1111111-files")
    load(backend, school="2222222-files", upns=["B200000000001"])
    def school_b(frames):  # a boolean column read raw is numpy bool without nulls, nullable with them
        return {t: f[f["school_key"] == "2222222-files"].reset_index(drop=True)
                .astype({c: "boolean" for c in f.columns if f[c].dtype == bool}) for t, f in frames.items()
                if "school_key" in f}

    other = school_b(snapshot(backend))
    assert all(len(other[t]) for t in ("pupils", "attendance", "validation_issues", "roll_history"))
    load(backend, school="1111111-files", upns=UPNS[:1], at=AT2, night=NIGHT2)
    backend.replace_issues("1111111-files", issues("1111111-files", [], AT2), night=NIGHT2)
    after = snapshot(backend)
    assert_same(school_b(after), other)
    assert list(after["pupils"]["school_key"]).count("1111111-files") == 1


def test_issue_first_seen_is_kept_across_nights(backend):
    school = "1234567-files"
    load(backend, issues=issues(school, [(UPNS[0], "postcode"), (None, "file_warning")], AT1))
    load(backend, at=AT2, night=NIGHT2,
         issues=issues(school, [(UPNS[0], "postcode"), (None, "file_warning"), (UPNS[1], "postcode")], AT2))
    rows = backend.school_rows("validation_issues", school)
    tonight = rows[rows["last_seen"] == pd.Timestamp(AT2)].set_index(["upn", "rule"], drop=False)
    assert len(tonight) == 3
    assert tonight.loc[(UPNS[0], "postcode"), "first_seen"] == pd.Timestamp(AT1)
    assert tonight[tonight["upn"].isna()]["first_seen"].tolist() == [pd.Timestamp(AT1)]  # null UPN keeps it too
    assert tonight.loc[(UPNS[1], "postcode"), "first_seen"] == pd.Timestamp(AT2)


def test_roll_history_upserts(backend):
    school = "1234567-files"
    load(backend, upns=UPNS[:2], night=NIGHT1)
    load(backend, upns=UPNS[1:], at=AT2, night=NIGHT2,
         roll=roll(school, UPNS[1:], NIGHT2, entry=None, leaving="2026-03-20"))
    history = backend.read("SELECT * FROM roll_history ORDER BY upn").set_index("upn")
    assert list(history.index) == UPNS
    gone, stayed, new = (history.loc[u] for u in UPNS)
    assert (gone["first_seen"], gone["last_seen"]) == (pd.Timestamp(NIGHT1), pd.Timestamp(NIGHT1))
    assert (stayed["first_seen"], stayed["last_seen"]) == (pd.Timestamp(NIGHT1), pd.Timestamp(NIGHT2))
    assert stayed["entry_date"] == pd.Timestamp("2025-09-03")  # a missing entry date keeps the known one
    assert stayed["leaving_date"] == pd.Timestamp("2026-03-20")
    assert (new["first_seen"], new["last_seen"]) == (pd.Timestamp(NIGHT2), pd.Timestamp(NIGHT2))
    assert pd.isna(new["entry_date"])


def test_roll_history_remembers_dob_and_nc_year(backend):
    """For the CME rule once a pupil has dropped off every extract: the last known dob and NC year are kept;
    a roll without them (an older caller) leaves what is known."""
    school = "1234567-files"
    night1 = roll(school, UPNS[:2], NIGHT1).assign(dob=pd.to_datetime(["2016-01-15", "2015-09-02"]),
                                                   nc_year=["5", "6"])
    load(backend, upns=UPNS[:2], night=NIGHT1, roll=night1)
    load(backend, upns=UPNS[1:], at=AT2, night=NIGHT2, roll=roll(school, UPNS[1:], NIGHT2))
    history = backend.read("SELECT * FROM roll_history ORDER BY upn").set_index("upn")
    assert history.loc[UPNS[0], "dob"] == pd.Timestamp("2016-01-15") and history.loc[UPNS[0], "nc_year"] == "5"
    assert history.loc[UPNS[1], "dob"] == pd.Timestamp("2015-09-02") and history.loc[UPNS[1], "nc_year"] == "6"
    assert pd.isna(history.loc[UPNS[2], "dob"]) and pd.isna(history.loc[UPNS[2], "nc_year"])


def test_views_load_with_the_schools_rows(backend):
    load(backend, views={"absence_summary": view_frame("absence_summary", "1234567-files", 3)})
    load(backend, school="2222222-files", upns=["B200000000001"],
         views={"absence_summary": view_frame("absence_summary", "2222222-files", 2)})
    load(backend, upns=UPNS[:2], at=AT2, night=NIGHT2,
         views={"absence_summary": view_frame("absence_summary", "1234567-files", 1, salt=7),
                "ten_day_absence": view_frame("ten_day_absence", "1234567-files", 0)})
    summary = backend.read("SELECT school_key, sessions_possible FROM absence_summary ORDER BY 1, 2")
    assert summary.values.tolist() == [["1234567-files", 7], ["2222222-files", 0], ["2222222-files", 1]]
    assert len(backend.school_rows("pupils", "1234567-files")) == 2


def test_views_replace_per_school_and_whole(backend):
    backend.replace_views({"absence_summary": view_frame("absence_summary", "A", 3)}, school_key="A")
    backend.replace_views({"absence_summary": view_frame("absence_summary", "B", 2)}, school_key="B")
    backend.replace_views({"absence_summary": view_frame("absence_summary", "A", 1, salt=5)}, school_key="A")
    summary = backend.read("SELECT school_key, sessions_possible FROM absence_summary ORDER BY 1, 2")
    assert summary.values.tolist() == [["A", 5], ["B", 0], ["B", 1]]
    backend.replace_views({"pupil_movements": view_frame("pupil_movements", "A", 4)})
    backend.replace_views({"pupil_movements": view_frame("pupil_movements", "B", 2, salt=1)})
    movements = backend.read("SELECT school_key, count(*) AS n FROM pupil_movements GROUP BY 1")
    assert movements.values.tolist() == [["B", 2]]
    backend.replace_views({"pupil_movements": view_frame("pupil_movements", "B", 0)})
    assert backend.read("SELECT count(*) AS n FROM pupil_movements")["n"].tolist() == [0]


def test_new_contract_columns_are_added_in_place(backend):
    load(backend)
    with backend._connect() as con:
        con.execute('ALTER TABLE pupils DROP COLUMN town')
    backend.close()
    reopened = open_warehouse(backend.url)  # the URL carries no secret and reopens the same warehouse
    try:
        rows = reopened.school_rows("pupils", "1234567-files")
        assert list(rows.columns) == CANONICAL_COLUMNS["pupils"] and rows["town"].isna().all() and len(rows) == 3
    finally:
        reopened.close()


COHORT_COLUMNS_ADDED = ["sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_in_need",
                        "child_protection_plan"]


def test_a_warehouse_made_before_the_cohort_columns_gets_them_in_place_and_stores_them(backend):
    load(backend)
    with backend._connect() as con:  # the pupils table as a release before the cohort columns created it
        for column in COHORT_COLUMNS_ADDED:
            con.execute(f'ALTER TABLE pupils DROP COLUMN "{column}"')
    backend.close()
    reopened = open_warehouse(backend.url)
    try:
        old = reopened.school_rows("pupils", "1234567-files")
        assert list(old.columns) == CANONICAL_COLUMNS["pupils"] and len(old) == 3
        # added at the end, where a new warehouse has them too: SELECT * gives the same order on both
        assert list(reopened.read("SELECT * FROM pupils").columns) == CANONICAL_COLUMNS["pupils"]
        for column in COHORT_COLUMNS_ADDED:  # rows loaded before: not supplied
            assert old[column].isna().all(), column
        assert str(old["fsm_eligible"].dtype) == "boolean" and str(old["sen_provision"].dtype) == "string"
        tables = load(reopened)
        again = reopened.school_rows("pupils", "1234567-files")
        pd.testing.assert_frame_equal(again, tables["pupils"])
        assert again["fsm_eligible"].tolist() == [True, False, pd.NA]
        assert again["sen_provision"].tolist() == ["N", "K", "E"]
        flags = reopened.read("SELECT fsm_ever6 FROM pupils WHERE fsm_ever6 ORDER BY upn")
        assert len(flags) == 1  # stored as a real boolean: usable as a condition
    finally:
        reopened.close()


# Columns added to the views with the DfE Year 11 rule, cumulative sickness and reg 13(2).
ADDED_VIEW_COLUMNS = {
    "absence_summary": ["sessions_possible_all", "sessions_present_all", "sessions_aea_all",
                        "sessions_authorised_all", "sessions_unauthorised_all", "absence_rate_all",
                        "persistent_absence_all", "severe_absence_all", "summer_2_start", "first_enrolled_summer_2"],
    "absence_triggers": ["threshold_day", "sessions"],
    "pupil_movements": ["new_entrant_return_exempt", "new_entrant_return_deadline"],
}


def test_a_warehouse_made_before_the_new_view_columns_gets_them_in_place(backend):
    backend.replace_views({"absence_summary": view_frame("absence_summary", "A", 2)}, school_key="A")
    with backend._connect() as con:  # the tables as an older release created them
        for view, columns in ADDED_VIEW_COLUMNS.items():
            for column in columns:
                con.execute(f'ALTER TABLE {view} DROP COLUMN "{column}"')
    backend.close()
    reopened = open_warehouse(backend.url)
    try:
        for view, columns in ADDED_VIEW_COLUMNS.items():
            assert list(reopened.read(f'SELECT * FROM "{view}"').columns) == list(VIEW_COLUMNS[view]), view
        old = reopened.read("SELECT sessions_possible, sessions_possible_all FROM absence_summary ORDER BY 1")
        assert old["sessions_possible"].tolist() == [0, 1] and old["sessions_possible_all"].isna().all()
        reopened.replace_views({view: view_frame(view, "A", 2) for view in ADDED_VIEW_COLUMNS}, school_key="A")
        new = reopened.read("SELECT summer_2_start, persistent_absence_all FROM absence_summary ORDER BY 1")
        assert new["summer_2_start"].notna().all() and new["persistent_absence_all"].tolist() == [False, True]
        deadline = reopened.read("SELECT new_entrant_return_deadline AS d FROM pupil_movements ORDER BY 1")
        assert pd.to_datetime(deadline["d"]).dt.date.tolist() == [date(2026, 3, 1), date(2026, 3, 2)]
    finally:
        reopened.close()


def test_read_takes_question_mark_placeholders(backend):
    from ncc_transfer.cli import _outcomes_for_runs

    load(backend)
    n = backend.read("SELECT count(*) AS n FROM pupils WHERE school_key = ? AND address_line1 LIKE '%?%' "
                     "AND upn IN (?, ?) -- a '?' in a comment", ["1234567-files", UPNS[0], UPNS[2]])
    assert n["n"].tolist() == [2]
    backend.append_audit([{"logged_at": AT1, "event": "extraction", "school_key": "1234567-files", "run_id": r,
                           "outcome": "loaded", "detail": {"rows": {"pupils": 3}}, "message": None} for r in "ab"])
    outcomes = _outcomes_for_runs(backend, ["a", "b", "c"])
    assert outcomes["1234567-files"]["outcome"] == "loaded"


# -- the backends agree -----------------------------------------------------------------------------

@pytest.mark.postgres
def test_school_rows_and_types_are_identical_across_backends(duck, pg):
    for warehouse in (duck, pg):
        tables = load(warehouse)
        load(warehouse, school="2222222-files", upns=["B200000000001"], at=AT2, night=NIGHT2)
        for view in VIEW_COLUMNS:
            warehouse.replace_views({view: view_frame(view, "1234567-files", 3)}, school_key="1234567-files")
        for table, frame in tables.items():  # a round trip gives back the canonical frame
            pd.testing.assert_frame_equal(warehouse.school_rows(table, "1234567-files"), frame, obj=table)
    for table in [*CANONICAL_COLUMNS, "validation_issues", "roll_history", *VIEW_COLUMNS]:
        pd.testing.assert_frame_equal(pg.school_rows(table, "1234567-files"), duck.school_rows(table, "1234567-files"),
                                      obj=table)
    assert_same(snapshot(duck), snapshot(pg))
    # the same columns in the same order, in the PostgreSQL spelling of each DuckDB type
    duck_types = duck.read("SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "ORDER BY table_name, ordinal_position")
    pg_types = pg.read("SELECT table_name::text AS table_name, column_name::text AS column_name, "
                       "data_type::text AS data_type FROM information_schema.columns WHERE table_schema = ? "
                       "ORDER BY table_name, ordinal_position", [pg.schema])
    names = ["table_name", "column_name"]
    assert pg_types[names].values.tolist() == duck_types[names].values.tolist()
    spelled = {"timestamp": "timestamp without time zone"}
    assert pg_types["data_type"].tolist() == [spelled.get(PG_TYPES[t], PG_TYPES[t]) for t in duck_types["data_type"]]
    indexes = set(pg.read("SELECT indexname FROM pg_indexes WHERE schemaname = ?", [pg.schema])["indexname"])
    assert {"pupils_upn_idx", "attendance_school_key_date_idx", "roll_history_school_key_upn_key",
            "absence_summary_upn_idx"} <= indexes


@pytest.mark.postgres
def test_pipeline_and_views_are_identical_on_both_backends(tmp_path, duck, pg):
    """The real per-school pipeline and the LA views on a small demo LA give the same rows on both."""
    from ncc_transfer.demo.generator import build_demo_la
    from ncc_transfer.pipeline import process_school
    from ncc_transfer.registry import load_registry
    from ncc_transfer.views import la_headline, overview_by_school, refresh_la_views

    home = tmp_path / "la"
    # Schools at a tenth of full size (was 0.3): the two backends are compared row for row whatever the
    # size, and the tables that must not be empty for that to mean something are asserted non-empty below.
    demo = build_demo_la(home, seed=7, schools=3, as_of=DEMO_AS_OF, pupils_scale=0.1)
    schools = load_registry(demo.registry_path).active_schools
    extracted_at = datetime(2026, 3, 20, 2, 0, 0, 123456)
    results = {}
    for warehouse in (duck, pg):
        outcomes = [process_school(s, home=home, warehouse=warehouse, as_of=DEMO_AS_OF, run_id="night-1",
                                   extracted_at=extracted_at) for s in schools]
        assert [o.status for o in outcomes] == ["loaded"] * len(schools), [o.message for o in outcomes]
        refresh_la_views(warehouse, DEMO_AS_OF)
        tables = snapshot(warehouse)
        audit = tables.pop("audit_log")
        details = [json.loads(d) for d in audit.pop("detail")]
        for detail in details:
            detail.pop("seconds"), detail.pop("stage_seconds", None)
        results[warehouse.describe()] = (tables, audit, details, la_headline(warehouse), overview_by_school(warehouse))
    (duck_tables, *duck_rest), (pg_tables, *pg_rest) = results.values()
    assert all(len(duck_tables[t]) for t in ("pupils", "attendance", "validation_issues", "roll_history",
                                              "absence_summary", "pupil_movements"))
    assert_same(duck_tables, pg_tables)
    pd.testing.assert_frame_equal(duck_rest[0], pg_rest[0], obj="audit_log")
    assert duck_rest[1:3] == pg_rest[1:3]  # audit details (less timings), LA headline
    pd.testing.assert_frame_equal(duck_rest[3], pg_rest[3], obj="overview_by_school")


# -- no server needed -------------------------------------------------------------------------------

def test_question_marks_become_psycopg_placeholders_only_outside_quotes():
    sql = ("SELECT '?''?', \"a?\", ?, $$?$$, $t$ ? $t$, E'\\'?', x % 2 -- ?\n"
           "/* ? /* ? */ ? */ FROM t WHERE a LIKE '10%' AND b = ?")
    assert qmark_to_psycopg(sql) == ("SELECT '?''?', \"a?\", %s, $$?$$, $t$ ? $t$, E'\\'?', x %% 2 -- ?\n"
                                     "/* ? /* ? */ ? */ FROM t WHERE a LIKE '10%%' AND b = %s")


def test_postgres_url_never_shows_the_password():
    warehouse = open_warehouse("postgresql://ncc:s3cr%40t@db.example:5433/la?schema=ncc&sslmode=require")
    assert isinstance(warehouse, PostgresWarehouse)  # opened lazily: nothing connected yet
    shown = " ".join([warehouse.url, warehouse.describe(), repr(warehouse)])
    assert "s3cr" not in shown and "ncc@db.example:5433/la" in warehouse.describe()
    assert warehouse.schema == "ncc"
    assert "s3cr" not in PostgresWarehouse("postgresql://db.example/la?password=s3cret").describe()
    with pytest.raises(ValueError):
        PostgresWarehouse("postgresql://db.example/la?schema=x;drop")
