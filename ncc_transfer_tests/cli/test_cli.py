"""`ncc-transfer run` exit codes (README, "Command line"): 0 all loaded, 1 a school failed, 2 usage/registry error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ncc_transfer.cli import main
from ncc_transfer_tests.conftest import ncc_env


def test_run_exit_0_when_every_school_loads(small_la, capsys):
    home, demo = small_la
    with ncc_env(home):
        code = main(["run", "--as-of", "2026-03-20"])
    out = capsys.readouterr().out
    assert code == 0
    for school in demo.schools:
        status = "loaded" if school["active"] else "skipped"
        assert any(line.startswith(f"{school['laestab']}-files") and status in line for line in out.splitlines()), out


def test_run_exit_1_when_a_school_fails_and_others_still_load(small_la, capsys):
    home, demo = small_la
    with ncc_env(home):
        first = next(s for s in demo.schools if s["active"])
        for path in (home / "landing" / first["laestab"]).iterdir():
            path.write_bytes(b"\xff\xfe garbage")
        code = main(["run", "--as-of", "2026-03-20"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert any(line.startswith(f"{first['laestab']}-files") and "FAILED" in line for line in lines)
    assert sum(" loaded " in line for line in lines) == sum(s["active"] for s in demo.schools) - 1


def test_run_one_school(small_la, capsys):
    home, demo = small_la
    key = f"{demo.schools[-1]['laestab']}-files"
    with ncc_env(home):
        code = main(["run", "--school", key, "--as-of", "2026-03-20"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("926")]
    assert code == 0 and len(lines) == 1 and lines[0].startswith(key)


def test_run_exit_2_on_usage_and_registry_errors(tmp_path, capsys):
    (tmp_path / "schools.yaml").write_text('local_authority: {code: "926", name: T}\nschools:\n'
                                           '  - {laestab: "926", name: X, mis: files, source: {path: x}}\n')
    with ncc_env(tmp_path):
        assert main(["run"]) == 2
        assert "registry error" in capsys.readouterr().err
        assert main(["check-registry"]) == 2
        (tmp_path / "schools.yaml").write_text('local_authority: {code: "926", name: T}\nschools:\n'
                                               '  - {laestab: "9262001", name: X, mis: files, source: {path: x}}\n')
        assert main(["run", "--school", "9269999-files"]) == 2
        assert "no school with key 9269999-files" in capsys.readouterr().err
    try:
        main(["run", "--as-of", "31/12/2026"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "is not a date in the form YYYY-MM-DD" in capsys.readouterr().err


def test_installed_command_reports_registry_error(tmp_path):
    """The real entry point, in its own process."""
    command = Path(sys.executable).parent / "ncc-transfer"
    env = {**os.environ, "NCC_HOME": str(tmp_path)}
    env.pop("NCC_SCHOOLS_FILE", None)
    done = subprocess.run([str(command), "run"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "schools.yaml" in done.stderr and "file not found" in done.stderr


def test_export_command(demo_night, tmp_path, capsys):
    with demo_night.env():
        os.environ.pop("NCC_PSEUDONYM_KEY", None)
        assert main(["export", "--out", str(tmp_path / "none")]) == 2
        assert "NCC_PSEUDONYM_KEY" in capsys.readouterr().err
        os.environ["NCC_PSEUDONYM_KEY"] = "an analyst export key of at least 32 bytes"
        try:
            assert main(["export", "--out", str(tmp_path / "out"), "--format", "csv"]) == 0
        finally:
            os.environ.pop("NCC_PSEUDONYM_KEY")
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"pupils.csv", "ten_day_absence.csv", "children_missing_education.csv", "README.txt"} <= written
    text = (tmp_path / "out" / "pupils.csv").read_text()
    some_upn = demo_night.warehouse().read("SELECT upn FROM pupils LIMIT 1")["upn"].iloc[0]
    assert some_upn not in text


def test_check_registry_shows_each_schools_final_year_and_where_it_came_from(tmp_path, capsys):
    import pandas as pd

    from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS, coerce_types
    from ncc_transfer.warehouse import DuckDBWarehouse

    (tmp_path / "schools.yaml").write_text(
        'local_authority: {code: "926", name: T}\nschools:\n'
        '  - {laestab: "9262001", name: Primary, mis: files, source: {path: a}, final_year: 6}\n'
        '  - {laestab: "9264001", name: High, mis: files, source: {path: b}}\n'
        '  - {laestab: "9262002", name: Infants, mis: files, source: {path: c}}\n')
    with ncc_env(tmp_path):
        assert main(["check-registry"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "9262001-files" in lines[1] and lines[1].endswith("Primary - final year 6 (registry)")
        assert lines[2].endswith("High - final year: inferred when data is loaded")
        assert not (tmp_path / "warehouse.duckdb").exists()  # checking the registry creates no warehouse

        warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        rows = [{"school_key": "9264001-files", "laestab": "9264001", "upn": f"H80120000100{i}", "surname": "T",
                 "forename": "P", "dob": "2011-01-01", "sex": "F", "nc_year": nc, "enrol_status": "C",
                 "extracted_at": "2026-03-20T02:00:00"} for i, nc in enumerate(["7", "11", "X"])]
        warehouse.replace_school("9264001-files", {"pupils": coerce_types("pupils", pd.DataFrame(rows))},
                                 pd.DataFrame({c: pd.Series(dtype=object) for c in VALIDATION_ISSUE_COLUMNS}))
        warehouse.close()
        assert main(["check-registry"]) == 0
        lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("Primary - final year 6 (registry)")
    assert lines[2].endswith("High - final year 11 (inferred from the roll)")
    assert lines[3].endswith("Infants - final year: not known (no NC year 1-14 on its roll yet)")


def test_check_registry_checks_the_term_dates_file(tmp_path, capsys):
    """No file: said, and fine; Norfolk's autumn 2025/26 rows: the years and half terms listed; a term
    name mistyped on line 3: exit 2 naming the file, the line and the field."""
    (tmp_path / "schools.yaml").write_text('local_authority: {code: "926", name: T}\nschools:\n'
                                           '  - {laestab: "9262001", name: X, mis: files, source: {path: x}}\n')
    header = "academic_year,term,half,first_day,last_day\n"
    year = ("2025/26,autumn,1,2025-09-03,2025-10-24\n2025/26,autumn,2,2025-11-04,2025-12-19\n"
            "2025/26,spring,1,2026-01-06,2026-02-13\n2025/26,spring,2,2026-02-23,2026-03-27\n"
            "2025/26,summer,1,2026-04-15,2026-05-22\n2025/26,summer,2,2026-06-01,2026-07-17\n")
    with ncc_env(tmp_path):
        assert main(["check-registry"]) == 0
        assert "term dates: none" in capsys.readouterr().out
        (tmp_path / "term_dates.csv").write_text(header + year)
        assert main(["check-registry"]) == 0
        assert "term_dates.csv: 2025/26 (6 half terms)" in capsys.readouterr().out
        (tmp_path / "term_dates.csv").write_text(header + year.replace("autumn,2", "autum,2"))
        assert main(["check-registry"]) == 2
        err = capsys.readouterr().err
        assert "term_dates.csv, line 3" in err and "autum" in err
