"""Each kind of CTF a school's folder can receive, and what the files route does with it.

The fixtures are hand-written CTFs shaped exactly like the real writers' output, Header elements in
their order and with their values:

* a full MIS export: Header as both DfE writers order it (DocumentName, CTFversion, DateTime,
  DocumentQualifier, SupplierID, SourceSchool/LEA, Estab, URN, SchoolName, AcademicYear, DestSchool),
  pupils with BasicDetails, Attendance/YearData and SchoolHistory;
* the Multiplication Tables Check download: DFEAGILEDEVOPS/MTC ``admin/services/ctf-service/ctf.service.js``
  (``buildXmlString``): CTFversion 20.0, DocumentQualifier ``partial``, SupplierID "Multiplication Tables
  Check", DestSchool = the school itself (LEA, Estab, URN), pupils with UPN, Surname, Forename (upper
  case), DOB, Gender and one KS2 MTC StageAssessment;
* Get Information about Pupils: DFE-Digital/get-information-about-pupils, classes ``CtfHeaderBuilder``
  (SourceSchool ``XXX``/``XXXX`` "Get Information About Pupils", DocumentQualifier ``partial``,
  DataDescriptor, SupplierID ``GIAP``, DestSchool = the user's establishment) and ``XmlCtfFormatter``
  (element order; its tests ``XmlCtfFormatterTests`` write ``DateTime`` as ``2024-02-01T10:30:00``).

The nights below are in the 2026/27 academic year (AcademicYear 2026) unless a test says otherwise;
dates and expected rows are worked by hand in each test.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest

from ncc_transfer.files_route import ExtractFileError, read_school_folder
from ncc_transfer_tests.conftest import ncc_env

LAESTAB = "9262001"
NIGHT = date(2027, 6, 15)  # academic year 2026/27 (starts 1 September 2026)
UPN_A, UPN_B, UPN_C = "A123456789012", "B123456789012", "C123456789012"
PUPIL_VALUES = [UPN_A, UPN_B, UPN_C, "Quill", "Ada", "Bell", "Ben", "QUILL", "2015-05-10", "2016-02-01"]


def full_export(created: str, academic_year: str = "2026", *, dest: tuple[str, str] | None = ("926", "2001"),
                source: tuple[str, str] = ("926", "2001"), pupils: str | None = None) -> str:
    """A whole-school export from the MIS: two pupils, each with four sessions from Monday 2027-06-14."""
    dest_xml = (f"    <DestSchool>\n      <LEA>{dest[0]}</LEA>\n      <Estab>{dest[1]}</Estab>\n    </DestSchool>\n"
                if dest else "")
    if pupils is None:
        pupils = _mis_pupil(UPN_A, "Quill", "Ada", "/\\/N") + _mis_pupil(UPN_B, "Bell", "Ben", "//\\\\")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<CTfile>\n  <Header>\n'
        "    <DocumentName>Common Transfer File</DocumentName>\n    <CTFversion>26.0</CTFversion>\n"
        f"    <DateTime>{created}</DateTime>\n    <DocumentQualifier>full</DocumentQualifier>\n"
        "    <SupplierID>Example MIS</SupplierID>\n"
        f"    <SourceSchool>\n      <LEA>{source[0]}</LEA>\n      <Estab>{source[1]}</Estab>\n      <URN>120001</URN>\n"
        f"      <SchoolName>Example Primary</SchoolName>\n      <AcademicYear>{academic_year}</AcademicYear>\n"
        f"    </SourceSchool>\n{dest_xml}  </Header>\n  <CTFpupilData>\n{pupils}  </CTFpupilData>\n</CTfile>\n"
    )


def _mis_pupil(upn: str, surname: str, forename: str, marks: str) -> str:
    return (
        f"    <Pupil>\n      <UPN>{upn}</UPN>\n      <Surname>{surname}</Surname>\n"
        f"      <Forename>{forename}</Forename>\n"
        "      <DOB>2015-05-10</DOB>\n      <Sex>F</Sex>\n"
        "      <BasicDetails><NCyearActual>6</NCyearActual><EnrolStatus>C</EnrolStatus></BasicDetails>\n"
        "      <Attendance><YearData><Year>2026</Year><LEA>926</LEA><Estab>2001</Estab>"
        "<AttendSessions><AttendanceStartDate>2027-06-14</AttendanceStartDate>"
        f"<AttendanceMarks>{marks}</AttendanceMarks></AttendSessions></YearData></Attendance>\n"
        "      <SchoolHistory><School><LEA>926</LEA><Estab>2001</Estab><EntryDate>2020-09-03</EntryDate>"
        "</School></SchoolHistory>\n    </Pupil>\n"
    )


def mtc_partial(created: str, academic_year: str = "2026") -> str:
    """The MTC results download for this school: one pupil (UPN_A, already on the roll), KS2 MTC 21."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<CTfile>\n  <Header>\n'
        "    <DocumentName>Common Transfer File</DocumentName>\n    <CTFversion>20.0</CTFversion>\n"
        f"    <DateTime>{created}</DateTime>\n    <DocumentQualifier>partial</DocumentQualifier>\n"
        "    <SupplierID>Multiplication Tables Check</SupplierID>\n"
        "    <SourceSchool>\n      <LEA>926</LEA>\n      <Estab>2001</Estab>\n      <URN>120001</URN>\n"
        f"      <SchoolName>Example Primary</SchoolName>\n      <AcademicYear>{academic_year}</AcademicYear>\n"
        "    </SourceSchool>\n"
        "    <DestSchool>\n      <LEA>926</LEA>\n      <Estab>2001</Estab>\n      <URN>120001</URN>\n"
        "    </DestSchool>\n"
        "  </Header>\n  <CTFpupilData>\n"
        f"    <Pupil>\n      <UPN>{UPN_A}</UPN>\n      <Surname>QUILL</Surname>\n      <Forename>ADA</Forename>\n"
        "      <DOB>2015-05-10</DOB>\n      <Gender>F</Gender>\n      <StageAssessments>\n        <KeyStage>\n"
        "          <Stage>KS2</Stage>\n          <StageAssessment>\n            <Locale>ENG</Locale>\n"
        "            <Year>2027</Year>\n            <Subject>MAT</Subject>\n            <Method>TT</Method>\n"
        "            <Component>MTC</Component>\n            <ResultStatus>R</ResultStatus>\n"
        "            <ResultQualifier>MT</ResultQualifier>\n            <Result>21</Result>\n"
        "          </StageAssessment>\n        </KeyStage>\n      </StageAssessments>\n    </Pupil>\n"
        "  </CTFpupilData>\n</CTfile>\n"
    )


def giap_partial(created: str) -> str:
    """A GIAP download by this school: two pupils (one not on the roll), identity and a KS1 result."""
    pupils = "".join(
        f"    <Pupil>\n      <UPN>{upn}</UPN>\n      <Surname>Bell</Surname>\n      <Forename>Ben</Forename>\n"
        "      <DOB>2016-02-01</DOB>\n      <Sex>M</Sex>\n      <StageAssessments>\n        <KeyStage>\n"
        "          <Stage>KS1</Stage>\n          <StageAssessment>\n            <Locale>ENG</Locale>\n"
        "            <Year>2023</Year>\n            <Subject>MAT</Subject>\n            <Method>TA</Method>\n"
        "            <Component>MAT</Component>\n            <ResultStatus>R</ResultStatus>\n"
        "            <ResultQualifier>MT</ResultQualifier>\n            <Result>EXS</Result>\n"
        "          </StageAssessment>\n        </KeyStage>\n      </StageAssessments>\n    </Pupil>\n"
        for upn in (UPN_B, UPN_C))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<CTfile>\n  <Header>\n'
        "    <DocumentName>Common Transfer File</DocumentName>\n    <CTFversion>26.0</CTFversion>\n"
        f"    <DateTime>{created}</DateTime>\n    <DocumentQualifier>partial</DocumentQualifier>\n"
        "    <DataDescriptor>This attainment data was obtained via the Searchable pupil data option of Get "
        "Information About Pupils</DataDescriptor>\n    <SupplierID>GIAP</SupplierID>\n"
        "    <SourceSchool>\n      <LEA>XXX</LEA>\n      <Estab>XXXX</Estab>\n"
        "      <SchoolName>Get Information About Pupils</SchoolName>\n      <AcademicYear>2026</AcademicYear>\n"
        "    </SourceSchool>\n    <DestSchool>\n      <LEA>926</LEA>\n      <Estab>2001</Estab>\n    </DestSchool>\n"
        f"  </Header>\n  <CTFpupilData>\n{pupils}  </CTFpupilData>\n</CTfile>\n"
    )


def write(folder: Path, name: str, text: str, modified: str) -> None:
    """Write a file and set its modification time (naive local time, like the Header DateTime)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    seconds = datetime.fromisoformat(modified).timestamp()
    os.utime(folder / name, (seconds, seconds))


def roll(extract) -> list[str]:
    return sorted(extract.tables["pupils"]["upn"])


def marks(extract) -> list[tuple]:
    frame = extract.tables["attendance"]
    return sorted(zip(frame["upn"], frame["date"], frame["session"], frame["code"]))


# Monday 2027-06-14 and Tuesday 2027-06-15, AM then PM, from the marks "/\\/N" and "//\\\\".
FULL_MARKS = [
    (UPN_A, "2027-06-14", "AM", "/"), (UPN_A, "2027-06-14", "PM", "\\"),
    (UPN_A, "2027-06-15", "AM", "/"), (UPN_A, "2027-06-15", "PM", "N"),
    (UPN_B, "2027-06-14", "AM", "/"), (UPN_B, "2027-06-14", "PM", "/"),
    (UPN_B, "2027-06-15", "AM", "\\"), (UPN_B, "2027-06-15", "PM", "\\"),
]


def assert_no_pupil_data(messages: list[str]) -> None:
    for message in messages:
        for value in PUPIL_VALUES:
            assert value not in message, f"pupil value {value!r} leaked into: {message}"


def test_full_mis_export_is_the_roll(tmp_path):
    write(tmp_path, "export.xml", full_export("2027-06-14T18:00:00"), modified="2027-06-14T18:00:05")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "export.xml", "attendance": "export.xml"}
    assert roll(extract) == [UPN_A, UPN_B]
    assert marks(extract) == FULL_MARKS
    assert list(extract.tables["pupils"]["enrol_status"]) == ["C", "C"]
    assert extract.warnings == [] and extract.set_aside == []


def test_mtc_partial_dropped_after_the_full_export_removes_nothing(tmp_path):
    # The MIS export at 18:00 on Sunday 13 June; the MTC download made and dropped on Monday 14 June, 10:30.
    write(tmp_path, "export.xml", full_export("2027-06-13T18:00:00"), modified="2027-06-13T18:00:05")
    write(tmp_path, "mtc_results.xml", mtc_partial("2027-06-14T10:30:00"), modified="2027-06-14T10:31:00")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "export.xml", "attendance": "export.xml"}
    assert roll(extract) == [UPN_A, UPN_B]  # B is not in the MTC file and has not vanished
    assert marks(extract) == FULL_MARKS
    assert list(extract.tables["pupils"]["enrol_status"]) == ["C", "C"]
    assert extract.set_aside == [
        "mtc_results.xml: a partial CTF (DocumentQualifier 'partial', 1 pupil, created 2027-06-14 10:30) carries "
        "only some pupils and some of their details, so it was not used for the school's roll; nothing was "
        "removed. Keep sending the full export from your MIS."
    ]
    assert extract.warnings == []
    assert_no_pupil_data(extract.set_aside)


def test_giap_partial_is_set_aside_and_alone_supplies_no_roll(tmp_path):
    write(tmp_path, "export.xml", full_export("2027-06-13T18:00:00"), modified="2027-06-13T18:00:05")
    write(tmp_path, "giap.xml", giap_partial("2027-06-14T09:15:00"), modified="2027-06-14T09:20:00")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert roll(extract) == [UPN_A, UPN_B]  # C, only in the GIAP file, is not added either
    assert marks(extract) == FULL_MARKS
    assert extract.set_aside == [
        "giap.xml: a partial CTF (DocumentQualifier 'partial', 2 pupils, created 2027-06-14 09:15) carries "
        "only some pupils and some of their details, so it was not used for the school's roll; nothing was "
        "removed. Keep sending the full export from your MIS."
    ]
    assert_no_pupil_data(extract.set_aside)

    (tmp_path / "export.xml").unlink()
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert str(info.value) == (
        f"{tmp_path.name}: no pupil data: expected a CTF (*.xml) or pupils.csv; 1 CTF was set aside because "
        "none is a full export of this school's roll: send the full export from your MIS")


def test_outgoing_leavers_ctf_is_never_the_roll(tmp_path):
    # Year 6 leavers' CTF to secondary school 9264001, made after the export; and a lost pupil's (XXX/XXXX).
    leaver = _mis_pupil(UPN_B, "Bell", "Ben", "//")
    write(tmp_path, "export.xml", full_export("2027-06-13T18:00:00"), modified="2027-06-13T18:00:05")
    write(tmp_path, "to_secondary.xml", full_export("2027-06-14T11:00:00", dest=("926", "4001"), pupils=leaver),
          modified="2027-06-14T11:00:30")
    write(tmp_path, "lost.xml", full_export("2027-06-14T11:05:00", dest=("XXX", "XXXX"), pupils=leaver),
          modified="2027-06-14T11:05:30")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "export.xml", "attendance": "export.xml"}
    assert roll(extract) == [UPN_A, UPN_B]
    assert marks(extract) == FULL_MARKS
    assert extract.set_aside == [
        "lost.xml: a CTF for pupils leaving, addressed to an unknown destination or one outside the sector "
        "(DestSchool XXX/XXXX) (1 pupil, created 2027-06-14 11:05), holds only those pupils, so it was not used "
        "for the school's roll; nothing was removed. Send it through School to School (S2S); keep sending the "
        "full export from your MIS here.",
        "to_secondary.xml: a CTF for pupils leaving, addressed to school 9264001 (1 pupil, created 2027-06-14 "
        "11:00), holds only those pupils, so it was not used for the school's roll; nothing was removed. Send "
        "it through School to School (S2S); keep sending the full export from your MIS here.",
    ]
    assert_no_pupil_data(extract.set_aside)


def test_export_to_the_la_or_without_destination_is_a_roll(tmp_path):
    write(tmp_path, "to_la.xml", full_export("2027-06-14T18:00:00", dest=("926", "")), modified="2027-06-14T18:00:05")
    assert read_school_folder(tmp_path, LAESTAB, as_of=NIGHT).sources["pupils"] == "to_la.xml"
    write(tmp_path, "no_dest.xml", full_export("2027-06-14T19:00:00", dest=None), modified="2027-06-14T19:00:05")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources["pupils"] == "no_dest.xml"
    assert extract.warnings == ["to_la.xml: an older CTF than no_dest.xml; not used"]


def test_incoming_ctf_from_another_school_is_set_aside_not_failed(tmp_path):
    joiner = _mis_pupil(UPN_C, "Bell", "Ben", "//")
    write(tmp_path, "export.xml", full_export("2027-06-13T18:00:00"), modified="2027-06-13T18:00:05")
    write(tmp_path, "from_9262002.xml", full_export("2027-06-14T12:00:00", source=("926", "2002"), pupils=joiner),
          modified="2027-06-14T12:00:30")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert roll(extract) == [UPN_A, UPN_B]
    assert extract.set_aside == [
        "from_9262002.xml: a CTF from school 9262002 addressed to this school (1 pupil, created 2027-06-14 "
        "12:00) is for importing into your MIS, so it was not used for the school's roll; nothing was removed. "
        "Once imported, those pupils reach us in your next full export."
    ]
    assert_no_pupil_data(extract.set_aside)

    # From another school to a third school: in the wrong folder, and the school fails as before.
    write(tmp_path, "misfiled.xml", full_export("2027-06-14T12:30:00", source=("926", "2002"), dest=("926", "4001")),
          modified="2027-06-14T12:30:30")
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert info.value.file == "misfiled.xml"
    assert "this CTF is from school 9262002, not this school's folder (9262001)" in str(info.value)


def test_last_years_full_ctf_beside_this_years_is_refused(tmp_path):
    # 2025/26's export (AcademicYear 2025) was copied in last, and even made last: 2026/27's is still used.
    write(tmp_path, "export_2026.xml", full_export("2027-06-13T18:00:00", "2026"), modified="2027-06-13T18:00:05")
    write(tmp_path, "export_2025.xml", full_export("2027-06-14T08:00:00", "2025"), modified="2027-06-14T08:00:05")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "export_2026.xml", "attendance": "export_2026.xml"}
    assert marks(extract) == FULL_MARKS
    assert extract.set_aside == [
        "export_2025.xml: a full CTF for academic year 2025/26, but export_2026.xml is for 2026/27: the earlier "
        "year's export is not used; nothing was removed."
    ]
    assert extract.warnings == []


def test_academic_year_rule_against_the_night(tmp_path):
    write(tmp_path, "export.xml", full_export("2027-06-14T18:00:00", "2025"), modified="2027-06-14T18:00:05")
    # 2027-06-15 is in 2026/27: 2025/26 with nothing newer is one year behind → used, with a warning.
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources["pupils"] == "export.xml"
    assert extract.warnings == [
        "export.xml: a CTF for academic year 2025/26, the year before tonight's (2026/27); it was used, but your "
        "MIS may not have moved to the new academic year yet"]
    # 2027-09-06 is in 2027/28: 2025/26 is two years behind → refused, and nothing else supplies pupils.
    with pytest.raises(ExtractFileError) as info:
        read_school_folder(tmp_path, LAESTAB, as_of=date(2027, 9, 6))
    assert str(info.value) == (
        "export.xml: element /CTfile/Header/SourceSchool/AcademicYear: a full CTF for academic year 2025/26, two "
        "or more years before tonight's academic year 2027/28: export it again from your MIS for the current "
        "academic year. Nothing else in the folder supplies pupils")
    # 2026-08-10 is still in 2025/26, but MIS exports move AcademicYear on 1 August: 2026/27 is accepted.
    write(tmp_path, "export.xml", full_export("2026-08-10T18:00:00", "2026"), modified="2026-08-10T18:00:05")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=date(2026, 8, 10))
    assert extract.sources["pupils"] == "export.xml" and extract.warnings == []


def test_header_datetime_not_file_time_decides_the_newest(tmp_path):
    # Copied in the reverse order: the file made on 14 June has the older file time.
    write(tmp_path, "monday.xml", full_export("2027-06-14T18:00:00", pupils=_mis_pupil(UPN_A, "Quill", "Ada", "//")),
          modified="2027-06-14T20:00:00")
    write(tmp_path, "sunday.xml", full_export("2027-06-13T18:00:00"), modified="2027-06-14T21:00:00")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "monday.xml", "attendance": "monday.xml"}
    assert roll(extract) == [UPN_A]
    assert extract.warnings == ["sunday.xml: an older CTF than monday.xml; not used"]

    # Without a usable DateTime the file time (21:00 on the 14th, after monday.xml's 18:00) is used, and said.
    write(tmp_path, "sunday.xml", full_export("not a date"), modified="2027-06-14T21:00:00")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources["pupils"] == "sunday.xml"
    assert extract.warnings == [
        "monday.xml: an older CTF than sunday.xml; not used",
        "sunday.xml: the CTF Header has no usable DateTime (when the file was made), so its file time "
        "(2027-06-14 21:00) was used to decide which file is newest",
    ]


def test_csv_file_time_is_compared_with_the_ctf_header_time(tmp_path):
    # pupils.csv saved at 19:00 on the 14th; the CTF was made at 18:00 but copied in at 22:00.
    write(tmp_path, "export.xml", full_export("2027-06-14T18:00:00"), modified="2027-06-14T22:00:00")
    write(tmp_path, "pupils.csv", "upn,surname,forename,dob,sex\nC123456789012,Bell,Ben,2016-02-01,M\n",
          modified="2027-06-14T19:00:00")
    extract = read_school_folder(tmp_path, LAESTAB, as_of=NIGHT)
    assert extract.sources == {"pupils": "pupils.csv", "attendance": "export.xml"}
    assert extract.warnings == ["export.xml: older than pupils.csv, which supplies pupils"]


def test_pipeline_keeps_the_roll_and_attendance_when_a_partial_ctf_lands_last(small_la):
    """A demo files-route school loads its full CTF on 2026-03-20; the MTC download (made 2026-03-21 07:30,
    after the export of 2026-03-19 18:xx) lands before the night of 2026-03-23: that night loads the same
    roll, enrolment statuses and attendance, and the school's report explains the file set aside."""
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, _demo = small_la
    first, second = date(2026, 3, 20), date(2026, 3, 23)
    with ncc_env(home):
        registry = _load_registry()
        school = next(s for s in registry.active_schools if any(s.landing_folder(home).glob("*.xml")))
        folder = school.landing_folder(home)

        def loaded(night: date):
            result = run_night(registry, schools=[school.key], as_of=night)
            assert result.loaded == 1 and result.failed == 0
            warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
            try:
                pupils = warehouse.read("SELECT upn, enrol_status FROM pupils WHERE school_key = ? ORDER BY upn",
                                        [school.key])
                attendance = warehouse.read("SELECT upn, date, session, code FROM attendance WHERE school_key = ? "
                                            "ORDER BY upn, date, session", [school.key])
                last_seen = warehouse.read("SELECT DISTINCT last_seen FROM roll_history WHERE school_key = ?",
                                           [school.key])
                notes = warehouse.read("SELECT rule, severity, dataset, message FROM validation_issues "
                                       "WHERE school_key = ? AND dataset = 'file'", [school.key])
            finally:
                warehouse.close()
            return pupils, attendance, last_seen, notes

        pupils_1, attendance_1, _, notes_1 = loaded(first)
        assert len(pupils_1) > 1 and len(attendance_1) > 0 and notes_1.empty

        lea, estab = school.laestab[:3], school.laestab[3:]
        mtc = (mtc_partial("2026-03-21T07:30:00", academic_year="2025")
               .replace("<LEA>926</LEA>", f"<LEA>{lea}</LEA>").replace("<Estab>2001</Estab>", f"<Estab>{estab}</Estab>")
               .replace(UPN_A, pupils_1["upn"].iloc[0]))
        write(folder, "mtc_results.xml", mtc, modified="2026-03-21T07:31:00")

        pupils_2, attendance_2, last_seen_2, notes_2 = loaded(second)
        assert pupils_2.equals(pupils_1)
        assert attendance_2.equals(attendance_1)
        assert [str(d)[:10] for d in last_seen_2["last_seen"]] == ["2026-03-23"]  # nobody vanished
        assert notes_2[["rule", "severity", "dataset"]].values.tolist() == [["file_set_aside", "warning", "file"]]
        message = notes_2["message"].iloc[0]
        assert message == (
            "mtc_results.xml: a partial CTF (DocumentQualifier 'partial', 1 pupil, created 2026-03-21 07:30) "
            "carries only some pupils and some of their details, so it was not used for the school's roll; "
            "nothing was removed. Keep sending the full export from your MIS.")
        assert pupils_1["upn"].iloc[0] not in message
        report = (home / "reports" / school.laestab / "latest.html").read_text()
        assert "A file in your folder was set aside, not used for your roll" in report
        assert "mtc_results.xml: a partial CTF" in report
