"""`ncc-transfer run` exit codes (design §3.6): 0 all loaded, 1 a school failed, 2 usage/registry error."""

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
