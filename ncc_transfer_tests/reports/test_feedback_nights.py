"""Feedback over three real nights: an error fires, persists (2 nights), is fixed (reported, then dropped);
the school's report and email follow it, and the LA overview counts it."""

from __future__ import annotations

import csv
from datetime import date

import dagster as dg
import pandas as pd

from ncc_transfer_tests.conftest import ncc_env

NIGHTS = [date(2026, 3, 18), date(2026, 3, 19), date(2026, 3, 20)]
GOOD_UPN = "H801200001001"
PUPILS = ("upn,surname,forename,dob,sex,nc_year,enrol_status,entry_date,postcode\n"
          f"{GOOD_UPN},Quill,Ada,{{dob}},F,5,C,2021-09-01,NR1 2AB\n")


def test_issue_new_persisting_fixed_through_the_pipeline(small_la, smtp_server):
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    host, port, mails = smtp_server
    with ncc_env(home, NCC_EMAIL_SCHOOL_REPORTS="true", NCC_SMTP_HOST=host, NCC_SMTP_PORT=str(port),
                 NCC_SMTP_FROM="data.team@la.example"):
        registry = _load_registry()
        school = registry.active_schools[0]
        folder = school.landing_folder(home)
        for path in folder.iterdir():
            path.unlink()

        def night(n: int, dob: str):
            (folder / "pupils.csv").write_text(PUPILS.format(dob=dob), encoding="utf-8")
            result = run_night(registry, schools=[school.key], as_of=NIGHTS[n])
            warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
            issues = warehouse.read("SELECT rule, status, nights_seen, fixed_on FROM validation_issues "
                                    "WHERE school_key = ? AND rule LIKE 'dob%'", [school.key])
            warehouse.close()
            return result, issues

        _, one = night(0, "2031-02-30")
        assert one[["rule", "status", "nights_seen"]].values.tolist() == [["dob_not_a_date", "new", 1]]
        assert len(mails) == 1  # something new: the school is emailed
        attachments = {part.get_filename() for part in mails[0].iter_attachments()}
        assert any(name.endswith(".html") for name in attachments) and any(name.endswith(".csv") for name in attachments)
        assert GOOD_UPN not in mails[0]["Subject"] and "Quill" not in str(mails[0].get_body(("plain",)).get_content())

        _, two = night(1, "2031-02-30")
        assert two[["status", "nights_seen"]].values.tolist() == [["persisting", 2]]
        assert len(mails) == 1  # nothing new: no second email
        report_html = (home / "reports" / school.laestab / "latest.html").read_text()
        assert "PERSISTING (2 nights)" in report_html and "2031-02-30" in report_html and "Quill" in report_html

        _, three = night(2, "2016-03-02")
        assert three[["status"]].values.tolist() == [["fixed"]]
        assert str(three["fixed_on"].iloc[0])[:10] == NIGHTS[2].isoformat()
        report_html = (home / "reports" / school.laestab / "latest.html").read_text()
        assert "FIXED" in report_html
        rows = list(csv.DictReader((home / "reports" / school.laestab / "latest.csv").open(encoding="utf-8")))
        assert [r["status"] for r in rows if r["rule"] == "dob_not_a_date"] == ["fixed"]

        # Night 4: the fix is history in the warehouse, no longer in the school's report.
        _, four = night_after(night, registry, school, folder, home)
        assert four[["status"]].values.tolist() == [["fixed"]]
        assert "FIXED" not in (home / "reports" / school.laestab / "latest.html").read_text()

        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        sent = warehouse.read("SELECT count(*) AS n FROM audit_log WHERE event = 'report_sent' AND school_key = ?",
                              [school.key])
        warehouse.close()
        assert sent["n"].iloc[0] == 1

        instance = dg.DagsterInstance.get()
        overview = instance.get_latest_materialization_event(dg.AssetKey("validation_overview")).asset_materialization
        assert "data:image/png;base64," in overview.metadata["summary"].value
        assert GOOD_UPN not in str(overview.metadata) and "Quill" not in str(overview.metadata)
        report_event = instance.get_latest_materialization_event(dg.AssetKey("school_report")).asset_materialization
        assert report_event.partition == school.key and "Quill" not in str(report_event.metadata)



def night_after(night, registry, school, folder, home):
    from ncc_transfer.cli import run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    (folder / "pupils.csv").write_text(PUPILS.format(dob="2016-03-02"), encoding="utf-8")
    result = run_night(registry, schools=[school.key], as_of=date(2026, 3, 23))
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    issues = warehouse.read("SELECT rule, status, nights_seen, fixed_on FROM validation_issues "
                            "WHERE school_key = ? AND rule LIKE 'dob%'", [school.key])
    warehouse.close()
    return result, issues


def test_dated_reports_are_pruned_after_the_retention_period(tmp_path):
    from ncc_transfer.feedback import prune_reports

    folder = tmp_path / "9262001"
    folder.mkdir()
    for name in ("9262001_validation_2026-01-01.html", "9262001_validation_2026-01-01.csv",
                 "9262001_validation_2026-03-01.html", "latest.html", "notes_2020-01-01.txt"):
        (folder / name).write_text("x")
    assert prune_reports(folder, date(2026, 3, 20), keep_days=60) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["9262001_validation_2026-03-01.html", "latest.html",
                                                       "notes_2020-01-01.txt"]
