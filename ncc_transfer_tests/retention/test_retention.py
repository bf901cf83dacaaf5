"""The retention schedule and purge (issue #7): exactly what is past its date goes, in every store.

Every purge test runs on both warehouse backends (DuckDB file; PostgreSQL in a fresh schema, marked
``postgres`` and skipped when the server is not reachable), with an archive tree, a reports tree and
a real Dagster instance whose runs are backdated (``RunStorage.add_historical_run``: the only way to
give a run a creation time in the past). The as-of date is the demo's, 2026-03-20, so with the
default schedule the cut-offs are: attendance 2024-09-01, leavers 2020-03-20, fixed issues
2025-03-20, archive 2026-02-18, reports 2025-12-20, runs 2025-12-20 00:00 UTC, audit 2019-03-20.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS, STORED_ISSUE_COLUMNS, VIEW_COLUMNS
from ncc_transfer.retention import (
    NO_SCHOOL,
    Cutoffs,
    PurgeError,
    RetentionConfig,
    RetentionConfigError,
    academic_year_start,
    default_retention,
    execute_purge,
    load_retention,
    plan_purge,
    retention_file,
    years_before,
)
from ncc_transfer.warehouse import DuckDBWarehouse, table_ddl

from ncc_transfer_tests.conftest import DEMO_AS_OF

AS_OF = DEMO_AS_OF  # 2026-03-20
A, B = "9261001-files", "9261002-files"
UPNS = {"P1": "A10000000001A", "P2": "A10000000002B", "P3": "A10000000003C", "P4": "A10000000004D",
        "P5": "A10000000005E"}


# -- hand-made rows on both sides of every boundary --------------------------------------------------

def insert(warehouse, table: str, rows: list[dict]) -> None:
    """Rows straight into a table (test set-up: no issue-history merge, any status and dates)."""
    columns = list(CANONICAL_COLUMNS.get(table) or VIEW_COLUMNS.get(table) or table_ddl()[table])
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns).astype(object)
    for column, sql_type in table_ddl()[table].items():
        if sql_type == "DATE":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        elif sql_type == "TIMESTAMP":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
        elif sql_type == "INTEGER":
            frame[column] = pd.array(frame[column], dtype="Int64")
        elif sql_type == "BOOLEAN":
            frame[column] = pd.array(frame[column], dtype="boolean")
        elif sql_type == "DOUBLE":
            frame[column] = pd.array(frame[column], dtype="Float64")
    with warehouse._transaction() as handle:
        warehouse._insert(handle, table, frame)


def school(key: str) -> dict:
    return {"school_key": key, "laestab": key[:7]}


def pupil(key: str, who: str, leaving: str | None) -> dict:
    return {**school(key), "upn": UPNS[who], "surname": "Example", "forename": who, "dob": "2012-05-01",
            "sex": "F", "enrol_status": "C", "entry_date": "2016-09-01", "leaving_date": leaving,
            "extracted_at": datetime(2026, 3, 20, 1, 0)}


def mark(key: str, who: str, day: str) -> dict:
    return {**school(key), "upn": UPNS[who], "date": day, "session": "AM", "code": "/"}


def issue(key: str, who: str | None, rule: str, status: str, fixed_on: str | None) -> dict:
    return {**school(key), "upn": UPNS[who] if who else None, "dataset": "pupils", "record": "", "field": "dob",
            "rule": rule, "severity": "warning", "message": "Check the date of birth.", "status": status,
            "fixed_on": fixed_on, "first_seen": datetime(2024, 1, 5), "last_seen": datetime(2025, 3, 1),
            "nights_seen": 3}


def audit(key: str | None, at: datetime, event: str = "extraction") -> dict:
    return {"logged_at": at, "event": event, "school_key": key, "route": "files", "run_id": "r",
            "outcome": "loaded", "detail": {"rows": {"pupils": 3}}, "message": "loaded"}


def build_warehouse(warehouse) -> None:
    insert(warehouse, "pupils", [
        pupil(A, "P1", None),
        pupil(A, "P2", "2020-03-19"),  # left 6 years + 1 day before as-of: goes
        pupil(A, "P3", "2020-03-20"),  # left exactly 6 years before: stays
        pupil(B, "P2", None),  # the same child now at another school: stays
        pupil(B, "P4", None),
    ])
    insert(warehouse, "attendance", [
        mark(A, "P1", "2024-08-31"),  # last day of the academic year before the previous one: goes
        mark(A, "P1", "2024-09-01"),  # first day of the previous academic year: stays
        mark(A, "P1", "2026-03-19"),
        mark(A, "P2", "2020-03-02"),  # a leaver's mark (and old): goes
        mark(A, "P3", "2024-10-01"),
        mark(B, "P2", "2025-10-01"),  # the leaver's marks at the school still holding her: stay
        mark(B, "P4", "2024-08-31"),  # goes
        mark(B, "P4", "2025-09-01"),
    ])
    insert(warehouse, "exclusions", [
        {**school(A), "upn": UPNS["P2"], "category": "SUSP", "start_date": "2019-11-04", "sessions": 4},  # leaver
        {**school(A), "upn": UPNS["P3"], "category": "SUSP", "start_date": "2019-11-04", "sessions": 2},
        {**school(B), "upn": UPNS["P2"], "category": "SUSP", "start_date": "2025-11-04", "sessions": 2},
    ])
    insert(warehouse, "validation_issues", [
        issue(A, "P1", "fixed_366", "fixed", "2025-03-19"),  # fixed 366 days before: goes
        issue(A, "P1", "fixed_365", "fixed", "2025-03-20"),  # fixed 365 days before: stays
        issue(A, "P1", "open_old", "persisting", None),  # open issues never go by age
        issue(A, "P2", "leaver_open", "persisting", None),  # a leaver's: goes
        issue(B, "P4", "fixed_400", "fixed", "2025-02-13"),  # goes
        issue(B, None, "file_fixed_366", "fixed", "2025-03-19"),  # not about a pupil, fixed 366 days: goes
        issue(B, "P2", "at_b", "new", None),
    ])
    view_row = {"as_of": AS_OF}
    insert(warehouse, "absence_summary", [
        {**school(A), "upn": UPNS["P1"], "sessions_possible": 10, **view_row},
        {**school(A), "upn": UPNS["P2"], "sessions_possible": 10, **view_row},  # leaver: goes
    ])
    insert(warehouse, "children_missing_education", [
        {**school(A), "upn": UPNS["P2"], "leaving_date": "2020-03-19", "reason": "left", **view_row},  # goes
        {**school(A), "upn": UPNS["P3"], "leaving_date": "2020-03-20", "reason": "left", **view_row},
    ])
    insert(warehouse, "pupil_movements", [
        {**school(B), "upn": UPNS["P2"], "event": "joined", "event_date": "2025-09-03", **view_row},
    ])
    insert(warehouse, "roll_history", [
        {**school(A), "upn": UPNS["P2"], "leaving_date": "2020-03-19", "first_seen": "2019-01-01", "last_seen": "2020-03-19"},
        {**school(A), "upn": UPNS["P5"], "leaving_date": "2019-01-01", "first_seen": "2018-01-01", "last_seen": "2019-01-01"},
        {**school(A), "upn": UPNS["P3"], "leaving_date": "2020-03-20", "first_seen": "2019-01-01", "last_seen": "2020-03-20"},
        {**school(B), "upn": UPNS["P2"], "leaving_date": None, "first_seen": "2020-04-01", "last_seen": "2026-03-20"},
    ])
    warehouse.append_audit([
        audit(A, datetime(2019, 3, 19, 23, 59, 59)),  # 7 years and a moment before: goes
        audit(None, datetime(2018, 6, 1), event="report_sent"),  # LA-wide row: goes
        audit(A, datetime(2019, 3, 20, 0, 0)),  # exactly 7 years: stays
        audit(B, datetime(2026, 3, 19, 2, 0)),
    ])


def build_files(home: Path, outside: Path) -> None:
    """The archive and reports trees, with symlinks pointing at ``outside`` (never to be touched)."""
    (outside / "2020-01-01").mkdir(parents=True)
    (outside / "2020-01-01" / "keep.enc").write_bytes(b"x")
    (outside / "9261001_validation_2020-01-02.html").write_text("x")
    archive = home / "archive"
    for night in ("2026-02-17", "2026-02-18", "2026-03-19", "not-a-date", "2026-02-30",
                  ".2026-02-17.new-k3_x9q", ".2026-03-19.old-1a2b3c4d"):  # copies a crash left behind
        (archive / "9261001" / night).mkdir(parents=True)
        (archive / "9261001" / night / "payload.enc").write_bytes(b"ciphertext")
    (archive / "9261001" / "2020-01-03").write_bytes(b"a file named as a date")  # not a folder
    (archive / "9261001" / "2020-01-02").symlink_to(outside / "2020-01-01", target_is_directory=True)
    (archive / "9261002" / "2025-01-01" / "sub").mkdir(parents=True)
    (archive / "9261002" / "2025-01-01" / "a.enc").write_bytes(b"c")
    (archive / "9261002" / "2025-01-01" / "sub" / "b.enc").write_bytes(b"c")
    (archive / "9261002" / "2025-01-01" / "link").symlink_to(outside / "2020-01-01", target_is_directory=True)
    (archive / "9269999").symlink_to(outside, target_is_directory=True)  # a school folder that is a link

    reports = home / "reports"
    (reports / "9261001").mkdir(parents=True)
    (reports / "la").mkdir()
    for name in ("9261001_validation_2025-12-19.html", "9261001_validation_2025-12-19.csv",  # go
                 "9261001_validation_2025-12-20.html", "latest.html", "latest.csv",
                 "9261002_validation_2020-01-01.html",  # another school's name in this folder: not ours to judge
                 "notes_2020-01-01.txt"):
        (reports / "9261001" / name).write_text("report")
    (reports / "9261001" / "9261001_validation_2020-01-02.html").symlink_to(outside / "9261001_validation_2020-01-02.html")
    for name in ("la_overview_2025-12-19.html", "la_overview_2025-12-19.png",  # go
                 "la_overview_2025-12-20.png", "latest.png", "latest.html", "la_overview_2020-01-01.csv"):
        (reports / "la" / name).write_text("overview")


@dg.op
def noop() -> None:
    pass


@dg.job
def tiny():
    noop()


def build_runs(instance) -> dict[str, str]:
    """Runs on both sides of the cut-off (2025-12-20 00:00 UTC), each with its event log."""
    runs = {}
    for label, created in (("old", datetime(2025, 12, 19, 23, 59, tzinfo=timezone.utc)),
                           ("boundary", datetime(2025, 12, 20, 0, 0, tzinfo=timezone.utc)),
                           ("now", None)):
        result = tiny.execute_in_process(instance=instance)
        run = instance.get_run_by_id(result.run_id)
        if created is not None:  # backdate: the same run, with its event log, created back then
            instance.run_storage.delete_run(run.run_id)
            instance.run_storage.add_historical_run(run, created)
        runs[label] = run.run_id
    stuck = dg.DagsterRun(job_name="tiny", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
    instance.run_storage.add_historical_run(stuck, datetime(2025, 1, 1, tzinfo=timezone.utc))
    runs["old_unfinished"] = stuck.run_id
    return runs


def table_keys(warehouse, table: str, extra: str) -> set[tuple]:
    frame = warehouse.read(f'SELECT school_key, {extra} FROM "{table}"')
    return {tuple(None if pd.isna(v) else (v.date().isoformat() if isinstance(v, pd.Timestamp) else v) for v in row)
            for row in frame.itertuples(index=False)}


def snapshot(warehouse, home: Path, instance) -> dict:
    tables = {t: len(warehouse.read(f'SELECT * FROM "{t}"')) for t in table_ddl()}
    files = sorted(str(p.relative_to(home)) for root in ("archive", "reports") for p in (home / root).rglob("*"))
    runs = sorted(r.dagster_run.run_id for r in instance.get_run_records())
    return {"tables": tables, "files": files, "runs": runs}


EXPECTED = {
    "warehouse pupils cohort fields": {},  # the hand-made pupils hold no cohort field (see the test below)
    "warehouse attendance": {A: 2, B: 1},
    "warehouse exclusions": {A: 1},
    "warehouse validation_issues": {A: 2, B: 2},
    "warehouse absence_summary": {A: 1},
    "warehouse ten_day_absence": {},
    "warehouse absence_triggers": {},
    "warehouse exclusion_provision": {},
    "warehouse children_missing_education": {A: 1},
    "warehouse pupil_movements": {},
    "warehouse roll_history": {A: 2},
    "warehouse pupils": {A: 1},
    "warehouse audit_log": {A: 1, NO_SCHOOL: 1},
    "archive nights": {"9261001": 2, "9261002": 1},
    "reports files": {"9261001": 2, NO_SCHOOL: 2},
    "packs folders": {},
    "state extract state": {},
    "dagster runs": {NO_SCHOOL: 1},
}


# -- the purge, end to end ---------------------------------------------------------------------------

def test_purge_deletes_exactly_what_is_past_its_date(backend, tmp_path):
    home, outside = tmp_path / "home", tmp_path / "outside"
    build_warehouse(backend)
    build_files(home, outside)
    config = default_retention()
    with dg.instance_for_test() as instance:
        runs = build_runs(instance)
        before = snapshot(backend, home, instance)
        assert (Path(instance.storage_directory()) / runs["old"] / "compute_logs").is_dir()

        # the plan and a dry run: counts only, nothing deleted, nothing written
        plan = plan_purge(config, as_of=AS_OF, warehouse=backend, home=home, instance=instance)
        assert plan.counts() == EXPECTED
        assert plan.item("dagster", "runs").note == "1 older runs still queued or in progress are kept"
        dry = execute_purge(plan, warehouse=backend, instance=instance, dry_run=True)
        assert dry.dry_run and dry.counts() == EXPECTED and dry.audit_rows == 0
        assert snapshot(backend, home, instance) == before
        assert "DRY RUN" in dry.lines()[0]

        result = execute_purge(plan, warehouse=backend, instance=instance, run_id="purge-run")
        assert result.counts() == EXPECTED and not result.failures
        assert result.total == plan.total == 23

        # the Dagster instance: only the finished run created before the cut-off went, with its event log
        remaining = {r.dagster_run.run_id for r in instance.get_run_records()}
        assert remaining == {runs["boundary"], runs["now"], runs["old_unfinished"]}
        assert instance.all_logs(runs["old"]) == []
        assert instance.all_logs(runs["boundary"]) and instance.all_logs(runs["now"])
        storage = Path(instance.storage_directory())  # the captured stdout/stderr of each run's steps
        assert not (storage / runs["old"]).exists() and (storage / runs["boundary"] / "compute_logs").is_dir()

    # the warehouse
    assert table_keys(backend, "pupils", "upn") == {(A, UPNS["P1"]), (A, UPNS["P3"]), (B, UPNS["P2"]), (B, UPNS["P4"])}
    assert table_keys(backend, "attendance", "upn, date") == {
        (A, UPNS["P1"], "2024-09-01"), (A, UPNS["P1"], "2026-03-19"), (A, UPNS["P3"], "2024-10-01"),
        (B, UPNS["P2"], "2025-10-01"), (B, UPNS["P4"], "2025-09-01")}
    assert table_keys(backend, "exclusions", "upn") == {(A, UPNS["P3"]), (B, UPNS["P2"])}
    assert table_keys(backend, "validation_issues", "rule") == {(A, "fixed_365"), (A, "open_old"), (B, "at_b")}
    assert table_keys(backend, "absence_summary", "upn") == {(A, UPNS["P1"])}
    assert table_keys(backend, "children_missing_education", "upn") == {(A, UPNS["P3"])}
    assert table_keys(backend, "pupil_movements", "upn") == {(B, UPNS["P2"])}
    assert table_keys(backend, "roll_history", "upn") == {(A, UPNS["P3"]), (B, UPNS["P2"])}
    kept_audit = backend.read("SELECT school_key, logged_at FROM audit_log WHERE event <> 'purge' ORDER BY logged_at")
    assert [(k, t.to_pydatetime()) for k, t in zip(kept_audit["school_key"], kept_audit["logged_at"])] == [
        (A, datetime(2019, 3, 20)), (B, datetime(2026, 3, 19, 2, 0))]

    # the archive: one night per school gone; links, odd names and the folder on the boundary stay
    archive = home / "archive"
    assert sorted(p.name for p in (archive / "9261001").iterdir()) == [
        ".2026-03-19.old-1a2b3c4d", "2020-01-02", "2020-01-03", "2026-02-18", "2026-02-30", "2026-03-19", "not-a-date"]
    assert list((archive / "9261002").iterdir()) == []
    assert (outside / "2020-01-01" / "keep.enc").exists() and (archive / "9269999" / "2020-01-01").exists()

    # the reports: dated reports before the cut-off gone, latest.* and everything else kept
    assert sorted(p.name for p in (home / "reports" / "9261001").iterdir()) == [
        "9261001_validation_2020-01-02.html", "9261001_validation_2025-12-20.html",
        "9261002_validation_2020-01-01.html", "latest.csv", "latest.html", "notes_2020-01-01.txt"]
    assert sorted(p.name for p in (home / "reports" / "la").iterdir()) == [
        "la_overview_2020-01-01.csv", "la_overview_2025-12-20.png", "latest.html", "latest.png"]
    assert (outside / "9261001_validation_2020-01-02.html").exists()

    # the audit trail: one row per store and table, counts per school, no pupil identifier
    rows = backend.read("SELECT * FROM audit_log WHERE event = 'purge'")
    assert len(rows) == len(EXPECTED) == result.audit_rows
    assert set(rows["outcome"]) == {"deleted"} and set(rows["run_id"]) == {"purge-run"}
    assert rows["school_key"].isna().all()
    details = [json.loads(d) for d in rows["detail"]]
    assert {f"{d['store']} {d['table']}": d["by_school"] for d in details} == EXPECTED
    attendance = next(d for d in details if d["table"] == "attendance")
    assert attendance["rules"] == {"attendance_academic_years": 2, "leavers_years": 6}
    assert attendance["total"] == 3 and "2024-09-01" in attendance["cutoff"] and attendance["as_of"] == "2026-03-20"
    text = " ".join(rows["detail"]) + " " + " ".join(rows["message"])
    assert not any(upn in text for upn in UPNS.values())
    assert "retention purge deleted 3 rows of warehouse attendance" in " ".join(rows["message"])

    # a second purge finds nothing more to delete
    again = execute_purge(default_retention(), warehouse=backend, home=home, as_of=AS_OF)
    assert again.total == 0 and all(not counts for counts in again.counts().values())
    assert "dagster runs: no Dagster instance given" in again.plan.skipped


def test_dry_run_through_config_writes_nothing(backend, tmp_path):
    build_warehouse(backend)
    home = tmp_path / "home"
    build_files(home, tmp_path / "outside")
    with dg.instance_for_test() as instance:
        build_runs(instance)
        before = snapshot(backend, home, instance)
        result = execute_purge(default_retention(), warehouse=backend, home=home, instance=instance, as_of=AS_OF,
                               dry_run=True)
        assert result.counts() == EXPECTED
        assert snapshot(backend, home, instance) == before
    assert len(backend.read("SELECT * FROM audit_log WHERE event = 'purge'")) == 0


def test_periods_come_from_the_schedule(backend, tmp_path):
    """Longer periods keep more; a 0-day period deletes everything dated before today."""
    build_warehouse(backend)
    home = tmp_path / "home"
    build_files(home, tmp_path / "outside")
    config = RetentionConfig(raw_archive_days=0, attendance_academic_years=10, leavers_years=20,
                             validation_issues_fixed_days=0, reports_days=1000, audit_log_years=0)
    plan = plan_purge(config, as_of=AS_OF, warehouse=backend, home=home)
    counts = plan.counts()
    assert counts["warehouse attendance"] == {} and counts["warehouse pupils"] == {}
    assert counts["warehouse validation_issues"] == {A: 2, B: 2}  # every fixed issue (fixed before today)
    assert counts["warehouse audit_log"] == {A: 2, B: 1, NO_SCHOOL: 1}
    assert counts["archive nights"] == {"9261001": 5, "9261002": 1}  # all dated ones (and copies); not 2026-02-30
    assert counts["reports files"] == {}
    assert "dagster runs" not in counts


# -- the delete primitive on both backends ----------------------------------------------------------

def test_delete_where_and_count_where(backend):
    build_warehouse(backend)
    assert backend.count_where("attendance", '"date" < ?', [date(2024, 9, 1)]) == 3
    assert backend.count_where("pupils", "leaving_date IS NOT NULL") == 2
    assert backend.delete_where("attendance", '"date" < ? AND school_key = ?', [date(2024, 9, 1), A]) == 2
    assert backend.count_where("attendance", '"date" < ?', [date(2024, 9, 1)]) == 1
    assert backend.delete_where("exclusions", "upn = ?", ["nobody"]) == 0
    with pytest.raises(ValueError, match="not a warehouse table"):
        backend.delete_where("pupils; DROP TABLE pupils", "1 = 1", [])
    with pytest.raises(Exception):  # a bad condition fails inside the transaction, which rolls back
        backend.delete_where("pupils", "no_such_column = ?", [1])
    assert backend.count_where("pupils", "1 = 1") == 5
    assert backend.delete_where("pupils", "surname LIKE '%mpl%'") == 5  # a literal % with no parameters


# -- a leaver's cohort fields ------------------------------------------------------------------------

COHORT = {"sen_provision": "K", "fsm_eligible": True, "fsm_ever6": True, "looked_after": False,
          "child_in_need": None, "child_protection_plan": False}


def test_a_leavers_cohort_fields_are_blanked_a_year_after_leaving_and_the_row_stays(backend, tmp_path):
    # As of 2026-03-20 with leaver_cohort_fields_days 365 the cut-off is 2025-03-20: P1 left 2025-03-19
    # (blanked), P2 on 2025-03-20 (kept), P3 is on roll (kept), P4 left 2025-03-19 with no cohort field
    # (nothing to blank: not counted); P5 at school B left 2019-01-01 and goes whole (leavers_years 6).
    insert(backend, "pupils", [{**pupil(A, "P1", "2025-03-19"), **COHORT}, {**pupil(A, "P2", "2025-03-20"), **COHORT},
                               {**pupil(A, "P3", None), **COHORT}, pupil(A, "P4", "2025-03-19"),
                               {**pupil(B, "P5", "2019-01-01"), **COHORT}])
    plan = plan_purge(RetentionConfig(), as_of=AS_OF, warehouse=backend, home=tmp_path)
    item = plan.item("warehouse", "pupils cohort fields")
    assert item.by_school == {A: 1, B: 1} and item.unit == "rows blanked"
    assert item.rules == {"leaver_cohort_fields_days": 365} and "2025-03-20" in item.cutoff
    result = execute_purge(plan, warehouse=backend, home=tmp_path)
    assert result.item("warehouse", "pupils cohort fields").by_school == {A: 1, B: 1}
    rows = backend.read("SELECT upn, sen_provision, fsm_eligible, fsm_ever6, looked_after, child_in_need, "
                        "child_protection_plan, surname FROM pupils ORDER BY upn")
    by_upn = {r["upn"]: r for r in rows.to_dict("records")}
    assert set(by_upn) == {UPNS["P1"], UPNS["P2"], UPNS["P3"], UPNS["P4"]}  # P5 went whole
    assert all(pd.isna(by_upn[UPNS["P1"]][c]) for c in COHORT) and by_upn[UPNS["P1"]]["surname"] == "Example"
    for kept in ("P2", "P3"):
        assert by_upn[UPNS[kept]]["sen_provision"] == "K" and bool(by_upn[UPNS[kept]]["fsm_eligible"])
    audit = backend.read("SELECT detail FROM audit_log WHERE event = 'purge'")
    assert any("leaver_cohort_fields_days" in d for d in audit["detail"].astype(str))
    assert plan_purge(RetentionConfig(), as_of=AS_OF, warehouse=backend, home=tmp_path
                      ).item("warehouse", "pupils cohort fields").total == 0  # done: nothing left to blank


# -- one store failing ------------------------------------------------------------------------------

def test_a_failing_store_is_audited_and_the_others_still_go(duck, tmp_path, monkeypatch):
    build_warehouse(duck)
    home = tmp_path / "home"
    build_files(home, tmp_path / "outside")
    real_unlink = Path.unlink

    def unlink(self, *args, **kwargs):
        if self.name.endswith(".csv"):
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(PurgeError, match="reports files") as failed:
        execute_purge(default_retention(), warehouse=duck, home=home, as_of=AS_OF)
    result = failed.value.result
    assert result.counts()["warehouse pupils"] == {A: 1} and result.counts()["archive nights"]
    rows = duck.read("SELECT outcome, detail, message FROM audit_log WHERE event = 'purge'")
    failed_row = rows[rows["outcome"] == "failed"]
    assert len(failed_row) == 1 and "PermissionError" in failed_row["message"].iloc[0]
    assert json.loads(failed_row["detail"].iloc[0])["table"] == "files"
    assert (rows["outcome"] == "deleted").sum() == len(EXPECTED) - 2  # no Dagster item: no instance


# -- the schedule file ------------------------------------------------------------------------------

def test_defaults_file_matches_the_documented_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_HOME", str(tmp_path))
    monkeypatch.delenv("NCC_RETENTION_FILE", raising=False)
    assert retention_file() == tmp_path / "retention.yaml"
    config = load_retention()  # no file: the defaults
    assert config == RetentionConfig() == default_retention()
    assert config.periods() == {"raw_archive_days": 30, "attendance_academic_years": 2, "leavers_years": 6,
                                "validation_issues_fixed_days": 365, "reports_days": 90, "dagster_runs_days": 90,
                                "audit_log_years": 7, "extract_state_days": 14, "leaver_cohort_fields_days": 365}
    assert "retention_defaults.yaml" in config.source
    text = (Path(__file__).parents[2] / "ncc_transfer" / "retention_defaults.yaml").read_text()
    for key in config.periods():  # every key is documented with its reason
        assert f"\n{key}: " in text
    assert text.count("# Why ") == len(config.periods())


def test_a_partial_file_overrides_only_its_keys(tmp_path, monkeypatch):
    path = tmp_path / "my_retention.yaml"
    path.write_text("# our DPO's schedule\nraw_archive_days: 14\nleavers_years: 0\n")
    monkeypatch.setenv("NCC_RETENTION_FILE", str(path))
    config = load_retention()
    assert (config.raw_archive_days, config.leavers_years, config.reports_days) == (14, 0, 90)
    assert config.source == str(path)
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    assert load_retention(tmp_path / "empty.yaml") == RetentionConfig()


@pytest.mark.parametrize("text, expected", [
    ("raw_archive_dayz: 30\n", r"bad\.yaml: unknown key 'raw_archive_dayz'"),
    ("reports_days: -1\n", r"bad\.yaml: reports_days must be 0 or more \(got -1\)"),
    ("reports_days: 1.5\n", r"bad\.yaml: reports_days must be a whole number \(got 1\.5\)"),
    ("reports_days: 90 days\n", r"bad\.yaml: reports_days must be a whole number \(got '90 days'\)"),
    ("audit_log_years: true\n", r"bad\.yaml: audit_log_years must be a whole number \(got True\)"),
    ("leavers_years:\n", r"bad\.yaml: leavers_years must be a whole number \(got None\)"),
    ("attendance_academic_years: 0\n", r"bad\.yaml: attendance_academic_years must be 1 or more"),
    ("- raw_archive_days\n", r"bad\.yaml: expected a mapping"),
    ("raw_archive_days: [30\n", r"bad\.yaml: not valid YAML at line 2"),
])
def test_schedule_errors_name_the_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RetentionConfigError, match=expected):
        load_retention(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("reports_days: -5\nkeep_forever: 1\n")
    with pytest.raises(RetentionConfigError) as error:
        load_retention(path)
    assert "reports_days" in str(error.value) and "keep_forever" in str(error.value)


# -- cut-offs ---------------------------------------------------------------------------------------

def test_cutoffs():
    cut = Cutoffs.of(RetentionConfig(), AS_OF)
    assert cut.attendance == date(2024, 9, 1) and cut.leavers == date(2020, 3, 20)
    assert cut.issues_fixed == date(2025, 3, 20) and cut.archive == date(2026, 2, 18)
    assert cut.reports == date(2025, 12, 20) and cut.runs == datetime(2025, 12, 20, tzinfo=timezone.utc)
    assert cut.audit == datetime(2019, 3, 20)
    assert academic_year_start(date(2026, 8, 31)) == date(2025, 9, 1)
    assert academic_year_start(date(2026, 9, 1)) == date(2026, 9, 1)
    assert Cutoffs.of(RetentionConfig(attendance_academic_years=1), date(2026, 9, 1)).attendance == date(2026, 9, 1)
    assert years_before(date(2028, 2, 29), 6) == date(2022, 2, 28)


# -- from the environment (what the command line and the Dagster asset call) ------------------------

def test_run_purge_reads_the_environment(tmp_path):
    from ncc_transfer.retention import run_purge

    from ncc_transfer_tests.conftest import ncc_env

    home = tmp_path / "la"
    home.mkdir()
    (home / "retention.yaml").write_text("reports_days: 1000\n")
    build_files(home, tmp_path / "outside")
    with ncc_env(home):
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        build_warehouse(warehouse)
        warehouse.close()
        dry = run_purge(as_of=AS_OF, dry_run=True)
        assert dry.plan.config.reports_days == 1000 and dry.plan.config.source == str(home / "retention.yaml")
        assert dry.counts()["reports files"] == {} and dry.counts()["warehouse pupils"] == {A: 1}
        assert "skipped: dagster runs: no Dagster instance given" in dry.lines(schools=False)[-1]
        done = run_purge(as_of=AS_OF)
        assert done.counts()["warehouse pupils"] == {A: 1} and done.audit_rows == len(EXPECTED) - 1
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        assert len(warehouse.read("SELECT * FROM audit_log WHERE event = 'purge'")) == len(EXPECTED) - 1
    finally:
        warehouse.close()


def test_extract_state_not_refreshed_within_the_period_is_purged(tmp_path):
    """The incremental-extraction mirror of a school no longer extracted goes; a current one stays."""
    from ncc_transfer.connectors.base import Snapshot
    from ncc_transfer.connectors.incremental import Mirror, StateStore
    from ncc_transfer.retention import RetentionConfig, execute_purge, plan_purge
    from ncc_transfer.warehouse import DuckDBWarehouse

    home = tmp_path / "home"
    store = StateStore(home / "state")
    as_of = date(2026, 3, 20)
    snapshot = Snapshot(pupils={"1": {"upn": "A123"}}, watermark={"updated_after": "x"})
    store.save("9261001-wonde", Mirror("wonde", "h", as_of - timedelta(days=15), as_of - timedelta(days=15), snapshot))
    store.save("9261002-wonde", Mirror("wonde", "h", as_of - timedelta(days=14), as_of - timedelta(days=20), snapshot))
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        plan = plan_purge(RetentionConfig(), as_of=as_of, warehouse=warehouse, home=home)
        item = next(i for i in plan.items if i.store == "state")
        assert item.by_school == {"9261001-wonde": 1}  # 15 days old goes; 14 (on the cut-off) stays
        execute_purge(plan, warehouse=warehouse, home=home)
        assert store.keys() == ["9261002-wonde"]
        audit = warehouse.read("SELECT detail FROM audit_log WHERE event = 'purge'")
        assert any("extract_state_days" in d for d in audit["detail"].astype(str))
    finally:
        warehouse.close()


def test_targeting_packs_not_written_within_the_reports_period_are_purged(tmp_path):
    """A term's pack folder (docs/targeting_pack.md) goes whole when its newest file was written before the
    reports' cut-off (90 days: before 2025-12-20 for 2026-03-20); a pack written since stays."""
    home = tmp_path / "home"
    as_of = date(2026, 3, 20)
    folders = {"9261001/2025-26-autumn": date(2025, 12, 19), "9261001/2025-26-spring": date(2025, 12, 20),
               "la/2025-26-autumn": date(2025, 11, 1)}
    for name, written in folders.items():
        folder = home / "packs" / name
        folder.mkdir(parents=True)
        for file in ("targeting_pack.html", "sa_pa_pupils.csv"):
            (folder / file).write_text("pack")
            stamp = datetime(written.year, written.month, written.day, 12).timestamp()
            os.utime(folder / file, (stamp, stamp))
    (home / "packs" / "9261002").symlink_to(home / "packs" / "9261001", target_is_directory=True)  # never followed
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        plan = plan_purge(RetentionConfig(), as_of=as_of, warehouse=warehouse, home=home)
        assert plan.item("packs", "folders").by_school == {"9261001": 1, NO_SCHOOL: 1}
        execute_purge(plan, warehouse=warehouse, home=home)
    finally:
        warehouse.close()
    assert sorted(str(p.relative_to(home / "packs")) for p in (home / "packs").glob("*/*")) == [
        "9261001/2025-26-spring", "9261002/2025-26-spring"]  # the second through the link, which stays
