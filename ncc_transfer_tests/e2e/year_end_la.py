"""A small LA across the summer of 2026, written out by hand: three schools' extracts on three nights.

The schools (Norfolk, LA 926):

* ``9262101`` Ashby Primary, files route, ``final_year: 6`` in the registry.
* ``9262102`` Brooke Primary, Wonde route (served by the built-in simulator from its landing folder),
  no ``final_year``: inferred (6) from its roll.
* ``9264101`` Costessey High, files route, Years 7-11, no ``final_year``: inferred (11).

The calendar (England, 2025/26 then 2026/27), school days are Monday to Friday within a term, less
the half-terms, bank holidays and INSET days:

* autumn 2025: Thu 4 Sep - Fri 19 Dec 2025, half-term Mon 27 - Fri 31 Oct, INSET Fri 24 Oct: 71 days;
* spring 2026: Mon 5 Jan - Fri 27 Mar 2026, half-term Mon 16 - Fri 20 Feb, INSET Mon 5 Jan: 54 days;
* summer 2026: Mon 13 Apr - Wed 22 Jul 2026, INSET Mon 13 and Tue 14 Apr, May Day Mon 4 May, May
  half-term Mon 25 - Fri 29 May (spring bank holiday Mon 25 May): 27 days before the half-term, 20
  from Mon 1 Jun to Fri 26 Jun, 18 from Mon 29 Jun to Wed 22 Jul: 65 days. The year: 190 days.
* autumn 2026 starts Thu 3 Sep 2026: its first ten school days are 3, 4, 7, 8, 9, 10, 11, 14, 15 and
  16 September (the tenth: Wed 16 Sep 2026).

The nights (``ncc-transfer run --as-of``); each school's extract is taken the evening before, so its
marks run to the school day before the night:

* **Mon 17 Aug 2026** (summer holiday): the MIS have not rolled over. The extracts hold 2025/26: the
  leavers on roll with their leaving dates, and the year's marks to Wed 22 Jul 2026.
* **Mon 7 Sep 2026**: the MIS have rolled over into 2026/27: the leavers are gone from the extracts,
  pupils moved up a year, the new intakes joined on Thu 3 Sep 2026; marks for Thu 3 and Fri 4 Sep.
* **Wed 30 Sep 2026**: the same rolls; marks from Thu 3 to Tue 29 Sep 2026 (19 school days). A partial
  CTF from the Multiplication Tables Check lands in Ashby's folder after its MIS export.

The pupils (UPNs issued by the schools, LA 926):

=========  ======  ===========  =======================================================================
key        school  born         story
=========  ======  ===========  =======================================================================
A6         Ashby   20 Nov 2014  Year 6; left Wed 22 Jul 2026 (end of primary); starts at no school
A6b        Ashby   3 Jun 2015   Year 6; left Wed 22 Jul 2026; starts Year 7 at Costessey Thu 3 Sep 2026
A4         Ashby   5 May 2017   Year 4; left Wed 22 Jul 2026 with no destination: a CME case all along
A3         Ashby   12 Oct 2017  Year 3 in 2025/26, Year 4 in 2026/27
AR         Ashby   2 Feb 2021   Reception in 2025/26, Year 1 in 2026/27
ANR        Ashby   15 Jan 2022  joins Reception on the first day of 2026/27 (reg. 13(2) exempt)
AN3        Ashby   8 Jul 2019   joins Year 3 on the first day of 2026/27 (new-pupil return due);
                                ill (I) Fri 4 - Thu 10 Sep, Mon 14 - Fri 18 Sep, Tue 22 - Mon 28 Sep
B6         Brooke  2 Feb 2015   Year 6; left Wed 22 Jul 2026; starts at no school (Wonde route)
B5         Brooke  9 Mar 2016   Year 5 in 2025/26, Year 6 in 2026/27
C11        Costes  10 Mar 2010  Year 11 (15 at 31 Aug 2025); left Fri 26 Jun 2026 (last Friday of June);
                                present to the May half-term, then O every session Mon 1 - Fri 26 Jun
C10        Costes  10 Mar 2011  Year 10: the same marks to Fri 26 Jun, then present to Wed 22 Jul 2026
=========  ======  ===========  =======================================================================
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ncc_transfer.reference.upn import make_upn

ASHBY, BROOKE, COSTESSEY = "9262101", "9262102", "9264101"
NIGHTS = (date(2026, 8, 17), date(2026, 9, 7), date(2026, 9, 30))
LEAVING_DAY = date(2026, 7, 22)  # the last day of the 2025/26 summer term
Y11_LEAVING_DAY = date(2026, 6, 26)  # the last Friday of June 2026
NEW_YEAR_FIRST_DAY = date(2026, 9, 3)
WONDE_TOKEN_ENV = "YEAR_END_WONDE_TOKEN"


def _weekdays(first: date, last: date, closed: tuple[tuple[date, date], ...] = ()) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5 and not any(start <= day <= end for start, end in closed):
            days.append(day)
        day += timedelta(days=1)
    return days


SCHOOL_DAYS_2025_26 = (
    _weekdays(date(2025, 9, 4), date(2025, 12, 19), ((date(2025, 10, 24), date(2025, 10, 31)),))
    + _weekdays(date(2026, 1, 6), date(2026, 3, 27), ((date(2026, 2, 16), date(2026, 2, 20)),))
    + _weekdays(date(2026, 4, 15), date(2026, 7, 22), ((date(2026, 5, 4), date(2026, 5, 4)),
                                                       (date(2026, 5, 25), date(2026, 5, 29))))
)
SCHOOL_DAYS_2026_27 = _weekdays(NEW_YEAR_FIRST_DAY, date(2026, 10, 23))
assert len(SCHOOL_DAYS_2025_26) == 190 and SCHOOL_DAYS_2026_27[9] == date(2026, 9, 16)


@dataclass(frozen=True)
class Pupil:
    key: str
    upn: str
    surname: str
    forename: str
    dob: date
    sex: str


def _upn(estab: str, serial: int, year: int = 2015) -> str:
    return make_upn("926", estab[3:], year, serial)


PUPILS = {p.key: p for p in (
    Pupil("A6", _upn(ASHBY, 1), "Hollis", "Amber", date(2014, 11, 20), "F"),
    Pupil("A6b", _upn(ASHBY, 2), "Pryce", "Owen", date(2015, 6, 3), "M"),
    Pupil("A4", _upn(ASHBY, 3, 2017), "Sandoval", "Lena", date(2017, 5, 5), "F"),
    Pupil("A3", _upn(ASHBY, 4, 2018), "Whitlock", "Jasper", date(2017, 10, 12), "M"),
    Pupil("AR", _upn(ASHBY, 5, 2021), "Okafor", "Chidi", date(2021, 2, 2), "M"),
    Pupil("ANR", _upn(ASHBY, 6, 2026), "Marsh", "Poppy", date(2022, 1, 15), "F"),
    Pupil("AN3", _upn(ASHBY, 7, 2026), "Kowalski", "Filip", date(2019, 7, 8), "M"),
    Pupil("B6", _upn(BROOKE, 1), "Tennant", "Isla", date(2015, 2, 2), "F"),
    Pupil("B5", _upn(BROOKE, 2, 2016), "Rahman", "Zayn", date(2016, 3, 9), "M"),
    Pupil("C11", _upn(COSTESSEY, 1, 2014), "Barrow", "Kieran", date(2010, 3, 10), "M"),
    Pupil("C10", _upn(COSTESSEY, 2, 2015), "Fenwick", "Maya", date(2011, 3, 10), "F"),
)}


@dataclass(frozen=True)
class Enrolment:
    """A pupil on one school's extract: NC year, admission and leaving dates, and the marks' exceptions."""

    pupil: str
    nc_year: str
    entry: date
    leaving: date | None = None
    codes: tuple[tuple[date, date, str], ...] = ()  # (first, last, code): that code both sessions; else present


ILL_AN3 = ((date(2026, 9, 4), date(2026, 9, 10), "I"), (date(2026, 9, 14), date(2026, 9, 18), "I"),
           (date(2026, 9, 22), date(2026, 9, 28), "I"))
JUNE_TRUANCY = ((date(2026, 6, 1), date(2026, 6, 26), "O"),)

ROLLS_2025_26 = {
    ASHBY: [Enrolment("A6", "6", date(2019, 9, 5), LEAVING_DAY), Enrolment("A6b", "6", date(2019, 9, 5), LEAVING_DAY),
            Enrolment("A4", "4", date(2021, 9, 2), LEAVING_DAY), Enrolment("A3", "3", date(2022, 9, 6)),
            Enrolment("AR", "R", date(2025, 9, 4))],
    BROOKE: [Enrolment("B6", "6", date(2019, 9, 5), LEAVING_DAY), Enrolment("B5", "5", date(2020, 9, 3))],
    COSTESSEY: [Enrolment("C11", "11", date(2021, 9, 2), Y11_LEAVING_DAY, JUNE_TRUANCY),
                Enrolment("C10", "10", date(2022, 9, 5), None, JUNE_TRUANCY)],
}
ROLLS_2026_27 = {
    ASHBY: [Enrolment("A3", "4", date(2022, 9, 6)), Enrolment("AR", "1", date(2025, 9, 4)),
            Enrolment("ANR", "R", NEW_YEAR_FIRST_DAY), Enrolment("AN3", "3", NEW_YEAR_FIRST_DAY, None, ILL_AN3)],
    BROOKE: [Enrolment("B5", "6", date(2020, 9, 3))],
    COSTESSEY: [Enrolment("C10", "11", date(2022, 9, 5)), Enrolment("A6b", "7", NEW_YEAR_FIRST_DAY)],
}


def upn(key: str) -> str:
    return PUPILS[key].upn


def write_registry(home: Path, wonde_url: str) -> Path:
    path = home / "schools.yaml"
    path.write_text(f"""local_authority: {{code: "926", name: "Norfolk"}}
schools:
  - laestab: "{ASHBY}"
    name: "Ashby Primary School"
    mis: files
    source: {{path: landing/{ASHBY}}}
    final_year: 6
  - laestab: "{BROOKE}"
    name: "Brooke Primary School"
    mis: wonde
    source: {{school_id: "A{BROOKE}", token_env: {WONDE_TOKEN_ENV}, base_url: "{wonde_url}", rate_per_second: 0}}
  - laestab: "{COSTESSEY}"
    name: "Costessey High School"
    mis: files
    source: {{path: landing/{COSTESSEY}}}
""", encoding="utf-8")
    return path


def write_extracts(home: Path, night: date) -> None:
    """Every school's extract as its MIS would give it the evening before ``night``."""
    rolls, days = (ROLLS_2025_26, SCHOOL_DAYS_2025_26) if night.month == 8 else (ROLLS_2026_27, SCHOOL_DAYS_2026_27)
    marked_days = [d for d in days if d < night]
    for laestab, roll in rolls.items():
        folder = home / "landing" / laestab
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        _write_csv(folder / "pupils.csv", ["upn", "surname", "forename", "dob", "sex", "nc_year", "enrol_status",
                                           "entry_date", "leaving_date"],
                   [[upn(e.pupil), PUPILS[e.pupil].surname, PUPILS[e.pupil].forename, PUPILS[e.pupil].dob.isoformat(),
                     PUPILS[e.pupil].sex, e.nc_year, "C", e.entry.isoformat(),
                     e.leaving.isoformat() if e.leaving else ""] for e in roll])
        _write_csv(folder / "attendance.csv", ["upn", "date", "session", "code"],
                   [row for e in roll for row in _marks(e, marked_days)])


def _marks(enrolment: Enrolment, days: list[date]) -> list[list[str]]:
    rows = []
    for day in days:
        if day < enrolment.entry or (enrolment.leaving and day > enrolment.leaving):
            continue
        code = next((c for first, last, c in enrolment.codes if first <= day <= last), None)
        rows.append([upn(enrolment.pupil), day.isoformat(), "AM", code or "/"])
        rows.append([upn(enrolment.pupil), day.isoformat(), "PM", code or "\\"])
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_mtc_partial_ctf(folder: Path, pupils: list[str], created: str) -> Path:
    """A partial CTF as the Multiplication Tables Check writes one (DFEAGILEDEVOPS/MTC,
    ``admin/services/ctf-service/ctf.service.js``): header with ``DocumentQualifier`` ``partial``,
    the school as source, identity and the check's result only; no attendance, no school history."""
    body = "".join(f"""
    <Pupil>
      <UPN>{upn(key)}</UPN>
      <Surname>{PUPILS[key].surname.upper()}</Surname>
      <Forename>{PUPILS[key].forename.upper()}</Forename>
      <DOB>{PUPILS[key].dob.isoformat()}</DOB>
      <Sex>{PUPILS[key].sex}</Sex>
      <StageAssessments>
        <KeyStage>
          <Stage>KS2</Stage>
          <StageAssessment>
            <Locale>ENG</Locale>
            <Year>2027</Year>
            <Method>TT</Method>
            <Component>MTC</Component>
            <ResultStatus>R</ResultStatus>
            <ResultQualifier>NU</ResultQualifier>
            <Result>21</Result>
            <ResultDate>{created[:10]}</ResultDate>
          </StageAssessment>
        </KeyStage>
      </StageAssessments>
    </Pupil>""" for key in pupils)
    path = folder / f"{ASHBY}_KS2_{ASHBY}_001.XML"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<CTfile>
  <Header>
    <DocumentName>Common Transfer File</DocumentName>
    <CTFversion>20.0</CTFversion>
    <DateTime>{created}</DateTime>
    <DocumentQualifier>partial</DocumentQualifier>
    <SupplierID>Multiplication Tables Check</SupplierID>
    <SourceSchool>
      <LEA>926</LEA>
      <Estab>2101</Estab>
      <URN>121001</URN>
      <SchoolName>Ashby Primary School</SchoolName>
      <AcademicYear>2026</AcademicYear>
    </SourceSchool>
    <DestSchool>
      <LEA>926</LEA>
      <Estab>2101</Estab>
    </DestSchool>
  </Header>
  <CTFpupilData>{body}
  </CTFpupilData>
</CTfile>
""", encoding="utf-8")
    return path
