"""School identity for every file (docs/hardening.md, "School identity for every file").

Hand-built landing folders: a CSV whose laestab, school_key or urn column names another school is
refused; a landing folder that is a symbolic link to another school's, or two registry entries on one
folder, is a registry error; an extract that is overnight another school's roll fails the school with
its last load kept, the other school untouched. The swap runs on both warehouse backends."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from ncc_transfer.files_route import ExtractFileError, read_school_folder
from ncc_transfer.pipeline import process_school
from ncc_transfer.reference.upn import make_upn
from ncc_transfer.registry import RegistryError, School, load_registry

NIGHT1, NIGHT2 = date(2026, 3, 19), date(2026, 3, 20)
A, B = "9262001", "9262002"
HEADER = "upn,surname,forename,dob,sex,nc_year,enrol_status,entry_date,postcode"


def pupils_csv(upns: list[str], extra_header: str = "", extra: str = "") -> str:
    lines = [HEADER + extra_header]
    lines += [f"{upn},Surname,Pupil,2016-05-0{1 + i % 9},F,4,C,2021-09-01,NR1 2AB{extra}" for i, upn in enumerate(upns)]
    return "\n".join(lines) + "\n"


def upns(estab: str, count: int, start: int = 0) -> list[str]:
    return [make_upn("926", estab, 21, start + i) for i in range(count)]


def folder_with(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pupils.csv").write_text(text, encoding="utf-8")
    return path


# -- a CSV's identity columns ------------------------------------------------------------------------

def test_csv_laestab_column_naming_another_school_is_refused(tmp_path):
    lines = pupils_csv(upns("2001", 2), ",laestab", f",{A}").splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + f",{B}"  # line 2 names school B
    folder = folder_with(tmp_path / A, "\n".join(lines) + "\n")
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(folder, A)
    assert str(info.value) == (f"pupils.csv: line 2: laestab {B} is another school's; this folder is {A}'s — "
                               "move the file to that school's folder")


def test_csv_identity_columns_naming_this_school_or_blank_are_read_and_dropped(tmp_path):
    text = pupils_csv(upns("2001", 2), ",LAESTAB,school_key,urn", f",{A},{A}-files,")
    extract = read_school_folder(folder_with(tmp_path / A, text), A, urn="120001")
    assert len(extract.tables["pupils"]) == 2
    assert not {"laestab", "school_key", "urn"} & set(extract.tables["pupils"].columns)
    assert extract.warnings == []


@pytest.mark.parametrize(("header", "value", "urn", "problem"), [
    (",school_key", f",{B}-files", None, f"line 2: school_key {B}-files is another school's; this folder is {A}'s"),
    (",urn", ",120002", "120001", "line 2: urn 120002 is another school's; this folder is URN 120001's (LAESTAB 9262001)"),
    (",laestab", ",Smith", None, "line 2: the laestab column does not hold a 7-digit LAESTAB"),
])
def test_csv_other_identity_columns(tmp_path, header, value, urn, problem):
    folder = folder_with(tmp_path / A, pupils_csv(upns("2001", 2), header, value))
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(folder, A, urn=urn)
    assert problem in str(info.value)
    assert "Smith" not in str(info.value)  # a cell that is not a school number is never echoed


def test_csv_urn_column_is_not_compared_without_a_registry_urn(tmp_path):
    folder = folder_with(tmp_path / A, pupils_csv(upns("2001", 1), ",urn", ",120002"))
    assert len(read_school_folder(folder, A).tables["pupils"]) == 1


def test_pipeline_records_the_refused_csv_and_keeps_the_last_load(tmp_path, duck):
    home = tmp_path / "home"
    school = School(A, "School A", "files", source={"path": f"landing/{A}"})
    folder = folder_with(home / "landing" / A, pupils_csv(upns("2001", 3)))
    assert process_school(school, home=home, warehouse=duck, as_of=NIGHT1, views=False).status == "loaded"
    folder_with(folder, pupils_csv(upns("2002", 2), ",laestab", f",{B}"))
    outcome = process_school(school, home=home, warehouse=duck, as_of=NIGHT2, views=False)
    assert outcome.status == "failed" and "laestab 9262002 is another school's" in outcome.message
    assert duck.count_where("pupils", "school_key = ?", [school.key]) == 3
    issue = duck.read("SELECT rule, location FROM validation_issues WHERE school_key = ? AND dataset = 'file'",
                      [school.key])
    assert issue.values.tolist() == [["file_unreadable", "pupils.csv: line 2"]]


# -- the registry: one folder per school --------------------------------------------------------------

def write_registry(home: Path, paths: list[str]) -> Path:
    document = {"local_authority": {"code": "926", "name": "Newshire"},
                "schools": [{"laestab": f"92620{i + 1:02d}", "name": f"School {i + 1}", "mis": "files",
                             "source": {"path": path}} for i, path in enumerate(paths)]}
    path = home / "schools.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_landing_folder_that_is_a_symlink_to_another_schools_is_a_registry_error(tmp_path):
    home = tmp_path / "home"
    (home / "landing" / B).mkdir(parents=True)
    os.symlink(home / "landing" / B, home / "landing" / A)
    registry = write_registry(home, [f"landing/{B}", f"landing/{A}"])
    with pytest.raises(RegistryError) as info:
        load_registry(registry, home=home)
    assert info.value.problems == [
        "school 2 (9262002): source.path: is the same folder as school 1 (9262001)'s landing folder once symbolic "
        "links are followed; each school needs a folder of its own, or one school's files replace the other's load"]
    assert len(load_registry(registry).schools) == 2  # without NCC_HOME the folders are not checked


@pytest.mark.parametrize(("paths", "relation"), [
    (["landing/a", "landing/a/"], "is the same folder as"),
    (["landing/a", "{home}/landing/./a"], "is the same folder as"),
    (["landing/a", "landing/a/inner"], "is nested with"),
    (["landing/a/inner", "landing/a"], "is nested with"),  # the earlier entry's folder inside the later's
])
def test_two_registry_entries_on_one_folder_are_a_registry_error(tmp_path, paths, relation):
    home = tmp_path / "home"
    home.mkdir()
    registry = write_registry(home, [p.format(home=home) for p in paths])
    with pytest.raises(RegistryError) as info:
        load_registry(registry, home=home)
    assert len(info.value.problems) == 1 and relation in info.value.problems[0]


def test_check_registry_reports_a_shared_folder(tmp_path, capsys):
    from ncc_transfer.cli import main
    from ncc_transfer_tests.conftest import ncc_env

    home = tmp_path / "home"
    home.mkdir()
    write_registry(home, ["landing/a", "landing/a"])
    with ncc_env(home):
        assert main(["check-registry"]) == 2
    assert "is the same folder as school 1 (9262001)'s landing folder" in capsys.readouterr().err


# -- the overnight roll swap --------------------------------------------------------------------------

def test_an_extract_that_is_another_schools_roll_fails_the_school_and_keeps_its_last_load(tmp_path, backend):
    home = tmp_path / "home"
    school_a = School(A, "School A", "files", source={"path": f"landing/{A}"})
    school_b = School(B, "School B", "files", source={"path": f"landing/{B}"})
    a_pupils, b_pupils = upns("2001", 8), upns("2002", 6)
    folder_a = folder_with(home / "landing" / A, pupils_csv(a_pupils))
    folder_with(home / "landing" / B, pupils_csv(b_pupils))
    for school in (school_a, school_b):
        outcome = process_school(school, home=home, warehouse=backend, as_of=NIGHT1, views=False)
        assert outcome.status == "loaded", outcome.message
    before_b = backend.school_rows("pupils", school_b.key)

    folder_with(folder_a, pupils_csv(b_pupils[:5] + a_pupils[:1]))  # B's export, one of A's pupils among them
    outcome = process_school(school_a, home=home, warehouse=backend, as_of=NIGHT2, views=False,
                             extracted_at=datetime(2026, 3, 20, 2))
    assert outcome.status == "failed"
    assert outcome.message == (f"this extract looks like {school_b.key}'s (5 of its 6 pupils are on that school's "
                               "roll, 1 on this school's last load); previous load kept. Next: ask the school to "
                               "check that its MIS exports this school's data, to this school's folder (its "
                               "validation report says so), then run the school again: `ncc-transfer run --school "
                               f"{school_a.key}`, or re-execute the run from the Dagster UI")
    assert not any(upn in outcome.message for upn in a_pupils + b_pupils)
    assert sorted(backend.school_rows("pupils", school_a.key)["upn"]) == sorted(a_pupils)  # last load kept
    assert backend.school_rows("pupils", school_b.key).equals(before_b)  # B untouched
    issue = backend.read("SELECT dataset, rule, severity, value, message FROM validation_issues "
                         "WHERE school_key = ? AND rule = 'extract_of_another_school'", [school_a.key])
    assert issue[["dataset", "severity", "value"]].values.tolist() == [["file", "error", school_b.key]]
    assert not any(upn in issue["message"].iloc[0] for upn in a_pupils + b_pupils)
    rolled = backend.read("SELECT upn FROM roll_history WHERE school_key = ?", [school_a.key])
    assert sorted(rolled["upn"]) == sorted(a_pupils)  # B's pupils did not join A's roll


def test_a_changed_roll_that_is_no_other_schools_loads(tmp_path, duck):
    home = tmp_path / "home"
    school = School(A, "School A", "files", source={"path": f"landing/{A}"})
    folder = folder_with(home / "landing" / A, pupils_csv(upns("2001", 4)))
    assert process_school(school, home=home, warehouse=duck, as_of=NIGHT1, views=False).status == "loaded"
    folder_with(folder, pupils_csv(upns("2001", 6, start=50)))  # a whole new roll (e.g. a new year's intake)
    assert process_school(school, home=home, warehouse=duck, as_of=NIGHT2, views=False).status == "loaded"


def test_a_first_load_is_not_compared(tmp_path, duck):
    home = tmp_path / "home"
    shared = upns("2002", 4)
    for laestab in (B, A):  # A's first load holds B's pupils: no previous load of A to compare with
        folder_with(home / "landing" / laestab, pupils_csv(shared))
        school = School(laestab, f"School {laestab}", "files", source={"path": f"landing/{laestab}"})
        assert process_school(school, home=home, warehouse=duck, as_of=NIGHT1, views=False).status == "loaded"


def test_a_folder_shared_with_several_entries_names_the_first():
    """Three entries on nested folders: each later one is named against the first entry it meets,
    whichever way the nesting goes (found by lookups, not by comparing every pair)."""
    from pathlib import Path

    from ncc_transfer.registry import School, shared_folder_problems

    home = Path("/srv/ncc")
    schools = [School("9262001", "A", "files", source={"path": "landing/x/y"}),
               School("9262002", "B", "files", source={"path": "landing/x"}),
               School("9262003", "C", "files", source={"path": "landing/x/y/z"}),
               School("9262004", "D", "files", source={"path": "landing/w"})]
    problems = shared_folder_problems(schools, home)
    assert [p.split(": source.path: ")[0] for p in problems] == ["school 2 (9262002)", "school 3 (9262003)"]
    assert "is nested with school 1 (9262001)'s" in problems[0] and "is nested with school 1 (9262001)'s" in problems[1]
