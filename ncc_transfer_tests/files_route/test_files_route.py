"""The files route: CTF and CSV extracts in a school's landing folder → raw frames.

Fixture files are small hand-written strings written into tmp_path; expected rows are worked by hand.
The CTF Header follows the DfE writers' element order (DFEAGILEDEVOPS/MTC
``admin/services/ctf-service/ctf.service.js``; DFE-Digital/get-information-about-pupils ``XmlCtfFormatter``).
The kinds of CTF a folder can receive (partial, leavers', joiners', last year's) are in test_ctf_kinds.py.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from ncc_transfer.canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS
from ncc_transfer.files_route import ExtractFileError, RawExtract, read_school_folder
from ncc_transfer.files_route.csv_extracts import read_extract_csv
from ncc_transfer.files_route.ctf import parse_ctf

LAESTAB = "9262001"

# Pupil values used in fixtures: none of them may ever appear in an error message.
PUPIL_VALUES = ["A123456789012", "Zoë", "Renée", "Smith", "Jones", "2014-05-10", "NR1 1AA", "Rose Lane", "Norwich"]


def ctf(
    pupils: str,
    *,
    version_tag: str = "CTFversion",
    version: str = "25.0",
    lea: str = "926",
    estab: str = "2001",
    root_attrs: str = "",
    prolog: str = '<?xml version="1.0" encoding="utf-8"?>\n',
    created: str = "2025-09-12T16:04:31",
) -> str:
    return (
        f"{prolog}<CTfile{root_attrs}>\n"
        "  <Header>\n"
        "    <DocumentName>Common Transfer File</DocumentName>\n"
        f"    <{version_tag}>{version}</{version_tag}>\n"
        f"    <DateTime>{created}</DateTime>\n"
        "    <DocumentQualifier>full</DocumentQualifier>\n"
        f"    <SourceSchool><LEA>{lea}</LEA><Estab>{estab}</Estab><SchoolName>Example Primary</SchoolName>"
        "<AcademicYear>2025</AcademicYear></SourceSchool>\n"
        "    <DestSchool><LEA>926</LEA><Estab>2001</Estab></DestSchool>\n"
        "  </Header>\n"
        f"  <CTFpupilData>\n{pupils}  </CTFpupilData>\n"
        "</CTfile>\n"
    )


def year_data(start: str, marks: str, lea: str = "926", estab: str = "2001", year: str = "2024") -> str:
    return (
        f"<YearData><Year>{year}</Year><LEA>{lea}</LEA><Estab>{estab}</Estab><SchoolName>X</SchoolName>"
        "<SessionsPossible>0</SessionsPossible>"
        f"<AttendSessions><AttendanceStartDate>{start}</AttendanceStartDate>"
        f"<AttendanceMarks>{marks}</AttendanceMarks></AttendSessions></YearData>"
    )


def pupil(upn: str = "A123456789012", *, sex_tag: str = "Sex", extra: str = "", attendance: str = "") -> str:
    att = f"<Attendance>{attendance}</Attendance>" if attendance else ""
    return (
        "    <Pupil>\n"
        f"      <UPN>{upn}</UPN><Surname>Smith</Surname><Forename>Zoë</Forename><DOB>2014-05-10</DOB>"
        f"<{sex_tag}>F</{sex_tag}>\n"
        f"      {extra}{att}\n"
        "    </Pupil>\n"
    )


def write(folder: Path, name: str, text: str | bytes, mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def stamp(seconds: float) -> str:
    """A Header DateTime (naive local time, as an MIS writes it) for a moment given as a POSIX time."""
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%dT%H:%M:%S")


def rows(frame, columns=("date", "session", "code")) -> list[tuple]:
    return [tuple(r) for r in frame[list(columns)].itertuples(index=False, name=None)]


def assert_no_pupil_data(message: str) -> None:
    for value in PUPIL_VALUES:
        assert value not in message, f"pupil value {value!r} leaked into: {message}"


# --- CTF ---------------------------------------------------------------------------------------------

# Friday 2024-09-06's marks / and \ (present AM and PM), then the weekend's # (closed), in both CTF forms.
FRIDAY_TO_SUNDAY = [
    ("2024-09-06", "AM", "/"),
    ("2024-09-06", "PM", "\\"),
    ("2024-09-07", "AM", "#"),
    ("2024-09-07", "PM", "#"),
    ("2024-09-08", "AM", "#"),
    ("2024-09-08", "PM", "#"),
]


def test_ctf_single_character_marks_from_a_friday(tmp_path):
    # 2024-09-06 is a Friday: Fri / \, Sat # #, Sun # #, Mon 9th N -.
    path = write(tmp_path, "ctf.xml", ctf(pupil(attendance=year_data("2024-09-06", "/\\####N-"))))
    pupils, attendance = parse_ctf(path, LAESTAB)
    assert rows(attendance) == [
        *FRIDAY_TO_SUNDAY,
        ("2024-09-09", "AM", "N"),
        ("2024-09-09", "PM", "-"),
    ]
    assert list(attendance.columns) == RAW_COLUMNS["attendance"] + BOOKKEEPING_COLUMNS
    assert set(attendance["upn"]) == {"A123456789012"}
    assert set(attendance["_source"]) == {"ctf.xml"}
    assert all(type(v) is str for c in attendance.columns for v in attendance[c])
    assert pupils.loc[0, "sex"] == "F"


def test_ctf_comma_marks_gender_capital_version_and_namespace(tmp_path):
    # Friday start again; two-character codes only survive the comma form.
    marks = "/,\\,#,#,#,#,C1,C1,-,N"
    text = ctf(
        pupil(sex_tag="Gender", attendance=year_data("2024-09-06", marks)),
        version_tag="CTFVersion",
        root_attrs=' xmlns="http://www.example.org/ctf"',
    )
    pupils, attendance = parse_ctf(write(tmp_path, "ctf.xml", text), LAESTAB)
    assert rows(attendance) == [
        *FRIDAY_TO_SUNDAY,
        ("2024-09-09", "AM", "C1"),
        ("2024-09-09", "PM", "C1"),
        ("2024-09-10", "AM", "-"),
        ("2024-09-10", "PM", "N"),
    ]
    assert pupils.loc[0, "sex"] == "F"
    assert pupils.loc[0, "upn"] == "A123456789012"


def test_ctf_pupil_fields_and_missing_elements(tmp_path):
    extra = (
        "<BasicDetails><FormerUPN>B123456789012</FormerUPN><PreferredSurname>Smyth</PreferredSurname>"
        "<PreferredForename>Zo</PreferredForename><MiddleNames>Ann</MiddleNames><NCyearActual>5</NCyearActual>"
        "<EnrolStatus>C</EnrolStatus></BasicDetails>"
        "<Address><BS7666Address><PAON>12</PAON><Street>Rose Lane</Street><PostTown>Norwich</PostTown>"
        "</BS7666Address><PostCode>NR1 1AA</PostCode></Address>"
    )
    second = (
        "    <Pupil>\n      <UPN>C123456789012</UPN><Surname>Jones</Surname>"
        "<Address><AddressLines><AddressLine1>3 Oak Road</AddressLine1></AddressLines></Address>\n    </Pupil>\n"
    )
    pupils, attendance = parse_ctf(write(tmp_path, "x.xml", ctf(pupil(extra=extra) + second)), LAESTAB)
    assert list(pupils.columns) == RAW_COLUMNS["pupils"] + BOOKKEEPING_COLUMNS
    first = pupils.iloc[0].to_dict()
    assert first["former_upn"] == "B123456789012"
    assert (first["preferred_surname"], first["preferred_forename"], first["middle_names"]) == ("Smyth", "Zo", "Ann")
    assert (first["nc_year"], first["enrol_status"]) == ("5", "C")
    assert (first["address_line1"], first["town"], first["postcode"]) == ("12 Rose Lane", "Norwich", "NR1 1AA")
    assert first["_source"] == "x.xml"
    assert first["_line"].startswith("pupil 1 (line ")
    two = pupils.iloc[1].to_dict()
    assert two["_line"].startswith("pupil 2 (line ")
    assert two["address_line1"] == "3 Oak Road"
    for column in ("forename", "dob", "sex", "former_upn", "town", "postcode", "entry_date", "leaving_date"):
        assert two[column] is None
    assert attendance.empty


def test_ctf_leaver_history_and_previous_school_attendance_ignored(tmp_path):
    history = (
        "<SchoolHistory>"
        "<School><LEA>926</LEA><Estab>3005</Estab><SchoolName>Old</SchoolName>"
        "<EntryDate>2019-09-04</EntryDate><LeavingDate>2022-07-20</LeavingDate></School>"
        "<School><LEA>926</LEA><Estab>2001</Estab><SchoolName>Here</SchoolName>"
        "<EntryDate>2022-09-05</EntryDate><LeavingDate>2024-09-10</LeavingDate>"
        "<LeavingReason>MOV</LeavingReason><LastSchool>true</LastSchool></School>"
        "</SchoolHistory>"
    )
    attendance_xml = year_data("2022-06-01", "/\\/\\", estab="3005", year="2021") + year_data("2024-09-09", "/\\UU")
    text = ctf(pupil(extra=history, attendance=attendance_xml))
    pupils, attendance = parse_ctf(write(tmp_path, "leavers.xml", text), LAESTAB)
    assert (pupils.loc[0, "entry_date"], pupils.loc[0, "leaving_date"]) == ("2022-09-05", "2024-09-10")
    assert rows(attendance) == [
        ("2024-09-09", "AM", "/"),
        ("2024-09-09", "PM", "\\"),
        ("2024-09-10", "AM", "U"),
        ("2024-09-10", "PM", "U"),
    ]


def test_ctf_marks_edge_forms(tmp_path):
    # Spaces around comma-separated codes are layout; a trailing comma is not one more session;
    # an empty item is a blank (no mark). A pupil without a UPN keeps its marks (validation reports it).
    first = pupil(attendance=year_data("2024-09-09", " /, \\ ,,N, "))
    no_upn = pupil("", attendance=year_data("2024-09-09", "/\\"))
    pupils, attendance = parse_ctf(write(tmp_path, "x.xml", ctf(first + no_upn)), LAESTAB)
    assert rows(attendance, ("upn", "date", "session", "code")) == [
        ("A123456789012", "2024-09-09", "AM", "/"),
        ("A123456789012", "2024-09-09", "PM", "\\"),
        ("A123456789012", "2024-09-10", "AM", None),
        ("A123456789012", "2024-09-10", "PM", "N"),
        (None, "2024-09-09", "AM", "/"),
        (None, "2024-09-09", "PM", "\\"),
    ]
    assert list(attendance["_line"].str.split(" ").str[1]) == ["1"] * 4 + ["2"] * 2
    assert pupils.loc[1, "upn"] is None


def test_ctf_from_another_school_is_refused(tmp_path):
    path = write(tmp_path, "other.xml", ctf(pupil(), estab="9999"))
    with pytest.raises(ExtractFileError) as info:
        parse_ctf(path, LAESTAB)
    assert info.value.file == "other.xml"
    assert "this CTF is from school 9269999, not this school's folder (9262001)" in str(info.value)


def test_ctf_old_version_is_refused(tmp_path):
    path = write(tmp_path, "old.xml", ctf(pupil(), version="22.0"))
    with pytest.raises(ExtractFileError) as info:
        parse_ctf(path, LAESTAB)
    assert "CTF version 22.0 is not supported; send CTF 23 or later" in str(info.value)
    assert str(info.value).startswith("old.xml: element /CTfile/Header/CTFversion (line ")


def test_ctf_undatable_marks_name_the_element(tmp_path):
    path = write(tmp_path, "x.xml", ctf(pupil() + pupil("B123456789012", attendance=year_data("06/09/2024", "/\\"))))
    with pytest.raises(ExtractFileError) as info:
        parse_ctf(path, LAESTAB)
    assert "/CTfile/CTFpupilData/Pupil[2]/Attendance/YearData/AttendSessions/AttendanceStartDate" in str(info.value)
    assert "06/09/2024" not in str(info.value)


def test_ctf_expansion_is_vectorised_and_fast(tmp_path):
    marks = ",".join(["/", "\\"] * 190)
    body = "".join(pupil(f"A{n:012d}", attendance=year_data("2024-09-02", marks)) for n in range(2000))
    path = write(tmp_path, "big.xml", ctf(body))
    started = time.perf_counter()
    pupils, attendance = parse_ctf(path, LAESTAB)
    elapsed = time.perf_counter() - started
    assert len(pupils) == 2000 and len(attendance) == 2000 * 380
    last = attendance.iloc[-1]
    # session 379 of the last pupil: 2024-09-02 + 189 days, PM
    assert (last["upn"], last["date"], last["session"]) == ("A000000001999", "2025-03-10", "PM")
    assert elapsed < 3.0


# --- CSV ---------------------------------------------------------------------------------------------


def test_csv_bom_header_case_unknown_column_empty_values_and_lines(tmp_path):
    text = (
        "\ufeffSchool_Key, UPN ,Surname,forename,dob,sex,shoe_size,town\r\n"
        "9262001-files,A123456789012,Smith,Zoë,2014-05-10,F,5,\r\n"
        "\r\n"
        '9262001-files,C123456789012,"Jones\r\nJones",,2015-01-02,M,4,Norwich\r\n'
        "9262001-files,D123456789012,Brown,Ann,2015-03-04,F,3,Diss\r\n"
    )
    path = write(tmp_path, "pupils.csv", text.encode("utf-8"))
    frame, warnings = read_extract_csv(path, "pupils")
    assert list(frame.columns) == ["upn", "surname", "forename", "dob", "sex", "town", "_source", "_line"]
    assert [w.value for w in warnings] == ["shoe_size"]
    assert warnings[0].log_text == "pupils.csv: 1 unknown column ignored (listed in the school's report)"
    assert "shoe_size" not in warnings[0].report_text
    assert list(frame["_line"]) == ["2", "4", "6"]
    assert set(frame["_source"]) == {"pupils.csv"}
    assert frame.loc[0, "forename"] == "Zoë"
    assert frame.loc[0, "town"] is None
    assert frame.loc[1, "forename"] is None
    assert frame.loc[1, "surname"] == "Jones\r\nJones"


def test_csv_header_only_gives_no_rows(tmp_path):
    frame, warnings = read_extract_csv(write(tmp_path, "attendance.csv", "upn,date,session,code\n"), "attendance")
    assert frame.empty and list(frame.columns) == RAW_COLUMNS["attendance"] + BOOKKEEPING_COLUMNS
    assert warnings == []


@pytest.mark.parametrize(
    ("content", "location", "phrase"),
    [
        ("", None, "the file is empty"),
        ("\n\n  \n", None, "the file is empty"),
        ("A123456789012,Smith,Zoë,2014-05-10,F\n", "line 1", "not a header row"),
        ("upn,surname,forename,dob,sex\nA123456789012,Smith,Zoë,2014-05-10,F,Rose Lane\n", "line 2", "6 fields"),
        ("upn,surname,forename,dob,sex\nA123456789012,Smith,Zoë,2014-05-10\n", "line 2", "4 fields"),
        ("upn,surname,forename,dob,sex\nA123456789012,Smith,Zoë,2014-05-10,F\nA1,S,Z,2014-05-10,F,NR1 1AA\n",
         "line 3", "but the header has 5 columns"),
        ("upn,surname,upn,dob,sex\n", "line 1", "column 'upn' appears more than once"),
        ("upn,surname,forename,dob,sex\nA123456789012," + "Smith" * 3000 + ",Zoë,2014-05-10,F\n", "line 2",
         "column 'surname' is longer than 10,000 characters"),
    ],
)
def test_csv_unreadable(tmp_path, content, location, phrase):
    with pytest.raises(ExtractFileError) as info:
        read_extract_csv(write(tmp_path, "pupils.csv", content), "pupils")
    error = info.value
    assert error.file == "pupils.csv"
    assert error.location == location
    assert phrase in str(error)
    assert_no_pupil_data(str(error))


def test_csv_latin1_bytes_name_the_line(tmp_path):
    content = (
        "upn,surname,forename,dob,sex\n"
        "A123456789012,Smith,Zoe,2014-05-10,F\n"
        "B123456789012,Jones,Renée,2014-05-10,F\n"
    )
    with pytest.raises(ExtractFileError) as info:
        read_extract_csv(write(tmp_path, "pupils.csv", content.encode("latin-1")), "pupils")
    assert str(info.value) == "pupils.csv: line 3: not valid UTF-8 at line 3: save the file as UTF-8"


# --- the folder --------------------------------------------------------------------------------------

PUPILS_CSV = "upn,surname,forename,dob,sex\nB123456789012,Jones,Ann,2015-01-02,M\n"
ATTENDANCE_CSV = "upn,date,session,code\nB123456789012,2024-09-09,AM,/\n"


def test_folder_newest_file_wins_per_dataset(tmp_path):
    folder = tmp_path / LAESTAB
    now = time.time()
    write(folder, "older.xml", "<not even xml", mtime=now - 3000)  # a losing CTF is never parsed
    write(folder, "ctf.xml", ctf(pupil(attendance=year_data("2024-09-06", "/\\")), created=stamp(now - 2000)),
          mtime=now - 2000)
    write(folder, "pupils.csv", PUPILS_CSV, mtime=now - 1000)  # newer than the CTF: wins pupils
    write(folder, "attendance.csv", ATTENDANCE_CSV, mtime=now - 2500)  # older than the CTF: loses
    write(folder, "notes.txt", "ignored")
    extract = read_school_folder(folder, LAESTAB)
    assert isinstance(extract, RawExtract)
    assert extract.sources == {"pupils": "pupils.csv", "attendance": "ctf.xml"}
    assert list(extract.tables["pupils"]["upn"]) == ["B123456789012"]
    assert list(extract.tables["attendance"]["code"]) == ["/", "\\"]
    assert extract.tables["exclusions"].empty
    assert list(extract.tables["exclusions"].columns) == RAW_COLUMNS["exclusions"] + BOOKKEEPING_COLUMNS
    assert any("older.xml" in w for w in extract.warnings)

    os.utime(folder / "pupils.csv", (now - 2900, now - 2900))  # now the CTF is newest for pupils too
    extract = read_school_folder(folder, LAESTAB)
    assert extract.sources == {"pupils": "ctf.xml", "attendance": "ctf.xml"}
    assert list(extract.tables["pupils"]["upn"]) == ["A123456789012"]


def test_folder_csv_only_and_ctf_without_attendance(tmp_path):
    folder = tmp_path / LAESTAB
    now = time.time()
    write(folder, "attendance.csv", ATTENDANCE_CSV, mtime=now - 100)
    write(folder, "exclusions.csv", "upn,category,start_date,sessions\nB123456789012,SUSP,2024-10-01,2\n")
    write(folder, "ctf.XML", ctf(pupil(), created=stamp(now)), mtime=now)  # newer, but holds no Attendance container
    extract = read_school_folder(folder, LAESTAB)
    assert extract.sources == {"pupils": "ctf.XML", "attendance": "attendance.csv", "exclusions": "exclusions.csv"}
    assert list(extract.tables["attendance"]["_line"]) == ["2"]
    exclusions = extract.tables["exclusions"]
    assert list(exclusions.columns) == ["upn", "category", "start_date", "sessions", "_source", "_line"]


def test_folder_same_age_csv_wins_and_header_after_blank_lines(tmp_path):
    folder = tmp_path / LAESTAB
    write(folder, "ctf.xml", ctf(pupil(), created=stamp(1_700_000_000)), mtime=1_700_000_000)
    write(folder, "Pupils.CSV", "\n\n" + PUPILS_CSV, mtime=1_700_000_000)
    extract = read_school_folder(folder, LAESTAB)
    assert extract.sources == {"pupils": "Pupils.CSV"}  # the CTF holds no attendance: it supplies nothing
    assert list(extract.tables["pupils"]["_line"]) == ["4"]
    assert extract.tables["attendance"].empty


def test_folder_without_pupils_or_missing(tmp_path):
    folder = tmp_path / LAESTAB
    write(folder, "attendance.csv", ATTENDANCE_CSV)
    with pytest.raises(ExtractFileError, match=r"no pupil data: expected a CTF \(\*\.xml\) or pupils\.csv"):
        read_school_folder(folder, LAESTAB)
    with pytest.raises(ExtractFileError, match="landing folder does not exist"):
        read_school_folder(tmp_path / "nowhere", LAESTAB)


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE CTfile [\n <!ENTITY lol "lol">\n'
    ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
    ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
    ' <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">\n]>\n'
)


def _hostile_cases():
    good = ctf(pupil(attendance=year_data("2024-09-06", "/\\")))
    return {
        "truncated": ("ctf.xml", good[: good.index("<DOB>") + 7].encode(), "line 13", "not well-formed XML"),
        "billion_laughs": (
            "ctf.xml",
            ctf(pupil(extra="<Email>&lol4;</Email>"), prolog=BILLION_LAUGHS).encode(),
            None,
            "DTDs and entity declarations are not allowed in a CTF",
        ),
        "external_entity": (
            "ctf.xml",
            ctf(
                pupil(extra="<Email>&x;</Email>"),
                prolog='<?xml version="1.0"?>\n<!DOCTYPE CTfile [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
            ).encode(),
            None,
            "DTDs and entity declarations are not allowed in a CTF",
        ),
        "utf16_doctype": (
            "ctf.xml",
            ctf(pupil(), prolog='<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE CTfile>\n').encode("utf-16"),
            None,
            "DTDs and entity declarations are not allowed in a CTF",
        ),
        "latin1_xml": (
            "ctf.xml",
            good.replace("Zoë", "Renée").encode("latin-1"),
            "line 13",
            "encoding",
        ),
        "latin1_csv": ("pupils.csv", "upn,surname,forename,dob,sex\nA123456789012,Smith,Renée,2014-05-10,F\n".encode(
            "latin-1"), "line 2", "not valid UTF-8 at line 2"),
        "csv_too_many_fields": (
            "pupils.csv",
            "upn,surname,forename,dob,sex\nA123456789012,Smith,Zoë,2014-05-10,F,NR1 1AA\n".encode(),
            "line 2",
            "has 6 fields but the header has 5 columns",
        ),
        "not_a_ctf": ("ctf.xml", b"<Smith>Zo\xc3\xab</Smith>", "line 1", "does not look like a Common Transfer File"),
    }


@pytest.mark.parametrize("case", sorted(_hostile_cases()))
def test_folder_hostile_and_malformed_files(tmp_path, case):
    name, content, location, phrase = _hostile_cases()[case]
    folder = tmp_path / LAESTAB
    write(folder, name, content)
    started = time.perf_counter()
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(folder, LAESTAB)
    assert time.perf_counter() - started < 1.0
    error = info.value
    assert error.file == name
    assert error.location == location
    assert phrase in error.problem
    assert str(error).startswith(f"{name}: ")
    assert_no_pupil_data(str(error))
    assert "passwd" not in str(error) and "lol" not in str(error)


def test_folder_oversize_file(tmp_path, monkeypatch):
    folder = tmp_path / LAESTAB
    write(folder, "ctf.xml", ctf(pupil() * 20))
    monkeypatch.setenv("NCC_MAX_FILE_MB", "0.001")  # 1,048 bytes
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(folder, LAESTAB)
    assert info.value.file == "ctf.xml"
    assert "over the 1048 bytes limit (NCC_MAX_FILE_MB)" in str(info.value)
    monkeypatch.setenv("NCC_MAX_FILE_MB", "1")
    assert len(read_school_folder(folder, LAESTAB).tables["pupils"]) == 20


def test_folder_symlink_out_of_the_folder(tmp_path):
    outside = write(tmp_path / "elsewhere", "secret.csv", PUPILS_CSV)
    folder = tmp_path / LAESTAB
    folder.mkdir()
    (folder / "pupils.csv").symlink_to(outside)
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(folder, LAESTAB)
    assert info.value.file == "pupils.csv"
    assert "symbolic links are not allowed" in str(info.value)
    assert "elsewhere" not in str(info.value)


def test_error_text_format():
    assert str(ExtractFileError("a.csv", "line 3", "bad")) == "a.csv: line 3: bad"
    assert str(ExtractFileError("a.csv", None, "bad")) == "a.csv: bad"
