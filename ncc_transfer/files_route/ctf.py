"""Common Transfer File (CTF) → raw pupils and raw attendance frames.

Sources for the structure: the CTF specification on gov.uk ("Common transfer file 25: specification",
§4.3 XML message structure); the DfE's own writers, DFEAGILEDEVOPS/MTC
``admin/services/ctf-service/ctf.service.js`` and DFE-Digital/get-information-about-pupils
``XmlCtfFormatter`` (Header, pupil identity, ``Sex``/``Gender``); for ``Attendance/YearData/AttendSessions``
(``AttendanceStartDate``, ``AttendanceMarks``) EvgeniiTrofimov/aspenProject
``tool-source/src/main/procedures/com/x2dev/procedures/statereporting/uk/DfEAttendance.java`` and Arbor's
CTF import model (arbor-education/sis-sdk-php ``src/Arbor/Model/StudentOtherSchoolAttendanceRecord.php``).
Which CTFs reach this reader (only a school's full whole-school export) is decided in :mod:`.ctf_kinds`.

Cohort elements of a ``Pupil`` (canonical ``COHORT_COLUMNS``, meaning in :mod:`ncc_transfer.cohorts`), as
the DfE's writer DFE-Digital/get-information-about-pupils (``XmlCtfFormatter`` and its
``FsmInstanceEntryDto``: ``FSMhistory/FSMinstance`` with ``FSMstartDate``,
``FSMEligibilityVerificationDate``, ``FSMendDate``) and EvgeniiTrofimov/aspenProject
``…/statereporting/uk/DfEPupil.java``, ``DfEFSMInstance.java``, ``DfESENNeed.java`` and
``DfEExportManager.java`` (``LookedAfter/InCare``, ``SENhistory/SEN/StartDate``, ``SENprovision``) write them:

* ``FSMhistory/FSMinstance`` (``FSMstartDate``, ``FSMendDate``, yyyy-MM-dd): ``fsm_eligible`` and
  ``fsm_ever6`` are derived on the night's as-of date (``cohorts.fsm_flags``). An ``FSMhistory`` with no
  instance is false, false; no ``FSMhistory``, or an instance with a date that is not yyyy-MM-dd, null.
* ``LookedAfter/InCare`` (``true``/``false``): ``looked_after``, as supplied; absent, null.
* ``SENhistory/SEN`` (``StartDate``, ``SENprovision``): ``sen_provision`` of the SEN with the latest
  ``StartDate`` (the current one), as supplied; no ``SEN`` element, null.
* No CTF element for child in need or a child protection plan is known (none in the DfE writers, Aspen's
  writer or the CTF elements above): ``child_in_need`` and ``child_protection_plan`` are always null here.

Element local names are matched case-insensitively and namespaces are ignored (``CTFversion`` in the
DfE writers, ``CTFVersion`` in Capita One's help,
https://onepublications.com/oneeducation/mergedProjects/CTF/Supported_Versions.htm).
Values are returned as text exactly as the file holds them
(stripped of surrounding whitespace; empty → None): validation decides what is acceptable.

Attendance: only ``Attendance/YearData`` blocks of *this* school are read (the others are previous
schools' history). ``AttendanceMarks`` is positional: session *i* falls on
``AttendanceStartDate + i // 2`` days, AM when *i* is even. It is comma-separated when it holds a
comma (CTF 24+), otherwise one character per session. Every session becomes a row, ``#`` and ``-``
included. The expansion is vectorised with numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from .. import cohorts
from ..canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS
from ..extract import ExtractFileError
from .safe_xml import parse_xml_file

MIN_CTF_VERSION = 23

_VERSION_PATTERN = re.compile(r"^\d{1,3}(?:\.\d{1,3})?$")
_DATE_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T[0-9:.]+)?$")
_LAESTAB_PATTERN = re.compile(r"^\d{7}$")
_WHITESPACE = re.compile(r"\s")
_SESSIONS = np.array(["AM", "PM"], dtype=object)


@dataclass
class CtfContent:
    pupils: pd.DataFrame
    attendance: pd.DataFrame
    has_attendance: bool  # the file holds at least one Attendance container (of any school)


def _name(element) -> str:
    """Local name of an element, without namespace, lower case."""
    tag = element.tag
    if not isinstance(tag, str):  # comments, PIs, entities
        return ""
    if tag.startswith("{"):
        tag = tag.rsplit("}", 1)[1]
    return tag.lower()


def _display_name(element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[1] if tag.startswith("{") else tag


def _children(element, name: str) -> list:
    if element is None:
        return []
    return [child for child in element if _name(child) == name]


def _child(element, name: str):
    if element is None:
        return None
    for child in element:
        if _name(child) == name:
            return child
    return None


def _text(element) -> str | None:
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def _child_text(element, *names: str) -> str | None:
    """Text of the first child with any of the names (in order of preference)."""
    for name in names:
        value = _text(_child(element, name))
        if value is not None:
            return value
    return None


def _path(element) -> str:
    """An XPath-like location (/CTfile/CTFpupilData/Pupil[3]/DOB) from element names only."""
    parts = []
    node = element
    while node is not None:
        name = _display_name(node)
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if _name(c) == _name(node)]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def _location(element) -> str:
    line = element.sourceline
    return f"element {_path(element)}" + (f" (line {line})" if line else "")


def _school_id(element) -> str | None:
    lea = _child_text(element, "lea")
    estab = _child_text(element, "estab")
    if lea is None or estab is None:
        return None
    return lea + estab


def _check_header(root, file_name: str, laestab: str) -> None:
    header = _child(root, "header")
    if header is None:
        raise ExtractFileError(file_name, _location(root), "the CTF has no Header element: export it again")
    version_el = _child(header, "ctfversion")
    version = _text(version_el)
    if version is None:
        raise ExtractFileError(file_name, _location(header), "the CTF Header has no CTFversion: export it again")
    if not _VERSION_PATTERN.match(version):
        raise ExtractFileError(file_name, _location(version_el), "CTFversion is not a version number such as 25.0")
    if float(version) < MIN_CTF_VERSION:
        raise ExtractFileError(
            file_name,
            _location(version_el),
            f"CTF version {version} is not supported; send CTF {MIN_CTF_VERSION} or later",
        )
    source = _child(header, "sourceschool")
    source_id = _school_id(source) if source is not None else None
    if source_id is None:
        raise ExtractFileError(
            file_name, _location(header), "the CTF Header has no SourceSchool LEA and Estab: export it again"
        )
    if source_id != laestab:
        shown = f"school {source_id}" if _LAESTAB_PATTERN.match(source_id) else "another school"
        raise ExtractFileError(
            file_name,
            _location(source),
            f"this CTF is from {shown}, not this school's folder ({laestab})",
        )


def _history_entry(pupil, laestab: str):
    """This school's ``SchoolHistory/School`` (LEA+Estab match, else LastSchool=true), or None."""
    schools = _children(_child(pupil, "schoolhistory"), "school")
    ours = [s for s in schools if _school_id(s) == laestab]
    if not ours:
        ours = [s for s in schools if (_child_text(s, "lastschool") or "").lower() in ("true", "1")]
    if not ours:
        return None
    # Re-admissions give several entries for this school: the latest entry date is the current one.
    return max(ours, key=lambda s: _child_text(s, "entrydate") or "")


def _address(pupil) -> tuple[str | None, str | None, str | None]:
    address = _child(pupil, "address")
    if address is None:
        return None, None, None
    postcode = _child_text(address, "postcode")
    lines = _child(address, "addresslines")
    line1 = _child_text(lines, "addressline1") if lines is not None else None
    town = None
    bs7666 = _child(address, "bs7666address")
    if bs7666 is not None:
        if line1 is None:
            parts = [p for p in (_child_text(bs7666, "paon"), _child_text(bs7666, "street")) if p]
            line1 = " ".join(parts) or None
        town = _child_text(bs7666, "town", "posttown")
    return line1, town, postcode


def _ctf_date(text: str | None) -> date | None:
    """A CTF date (yyyy-MM-dd, a time of day allowed after it) or None; ValueError if not such a date."""
    if text is None:
        return None
    match = _DATE_PATTERN.match(text)
    if not match:
        raise ValueError(text)
    return date.fromisoformat(match.group(1))


def _fsm_flags(pupil, as_of: date) -> tuple[str | None, str | None]:
    """(fsm_eligible, fsm_ever6) as raw text from ``FSMhistory``; (None, None) without it or with an
    instance dated unreadably (null: not supplied, rather than a guess)."""
    history = _child(pupil, "fsmhistory")
    if history is None:
        return None, None
    try:
        periods = [(_ctf_date(_child_text(i, "fsmstartdate")), _ctf_date(_child_text(i, "fsmenddate")))
                   for i in _children(history, "fsminstance")]
    except ValueError:
        return None, None
    eligible, ever6 = cohorts.fsm_flags(periods, as_of)
    return cohorts.flag_text(eligible), cohorts.flag_text(ever6)


def _sen_provision(pupil) -> str | None:
    """``SENprovision`` of the ``SENhistory/SEN`` with the latest ``StartDate`` (as supplied)."""
    sens = _children(_child(pupil, "senhistory"), "sen")
    if not sens:
        return None
    current = max(sens, key=lambda s: _child_text(s, "startdate") or "")
    return _child_text(current, "senprovision")


def _cohort_fields(pupil, as_of: date) -> dict[str, str | None]:
    fsm_eligible, fsm_ever6 = _fsm_flags(pupil, as_of)
    return {
        "sen_provision": _sen_provision(pupil),
        "fsm_eligible": fsm_eligible,
        "fsm_ever6": fsm_ever6,
        "looked_after": _child_text(_child(pupil, "lookedafter"), "incare"),
        "child_in_need": None,  # no CTF element (module docstring)
        "child_protection_plan": None,
    }


def _file_date(root) -> date:
    """When the CTF was made (Header/DateTime), else today: the as-of date of a reader outside a night."""
    try:
        made = _ctf_date(_child_text(_child(root, "header"), "datetime"))
    except ValueError:
        made = None
    return made or date.today()


def _marks(text: str | None) -> list[str | None]:
    if text is None:
        return []
    if "," in text:
        codes = text.split(",")
        if _WHITESPACE.search(text):
            codes = [c.strip() for c in codes]
        if codes[-1] == "":  # a trailing separator is not one more session
            codes.pop()
        return [c or None for c in codes] if "" in codes else codes
    if _WHITESPACE.search(text):
        return [None if c.isspace() else c for c in text]
    return list(text)


def _start_date(element, file_name: str) -> np.datetime64:
    text = _text(element)
    match = _DATE_PATTERN.match(text) if text else None
    if match:
        try:
            return np.datetime64(match.group(1), "D")
        except ValueError:
            pass
    where = _location(element) if element is not None else None
    raise ExtractFileError(
        file_name,
        where,
        "AttendanceMarks without a valid AttendanceStartDate (yyyy-MM-dd): the marks cannot be dated; "
        "export the CTF again",
    )


def _expand_attendance(
    file_name: str,
    upns: list[str | None],
    labels: list[str],
    starts: list[np.datetime64],
    code_lists: list[list[str | None]],
) -> pd.DataFrame:
    """One row per session: session i of a block falls on start + i // 2 days, AM when i is even."""
    columns = RAW_COLUMNS["attendance"] + BOOKKEEPING_COLUMNS
    lengths = np.fromiter((len(c) for c in code_lists), dtype=np.int64, count=len(code_lists))
    total = int(lengths.sum())
    if total == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    offsets = np.cumsum(lengths) - lengths
    index = np.arange(total, dtype=np.int64) - np.repeat(offsets, lengths)
    dates = np.repeat(np.array(starts, dtype="datetime64[D]"), lengths) + (index // 2)
    # A school year has a few hundred distinct dates: format each once, then index.
    unique_dates, date_codes = np.unique(dates, return_inverse=True)
    date_text = np.empty(len(unique_dates), dtype=object)
    date_text[:] = [str(d) for d in np.datetime_as_string(unique_dates, unit="D")]
    codes = np.empty(total, dtype=object)
    codes[:] = list(chain.from_iterable(code_lists))
    upn_array = np.empty(len(upns), dtype=object)
    upn_array[:] = upns
    label_array = np.empty(len(labels), dtype=object)
    label_array[:] = labels
    return pd.DataFrame(
        {
            "upn": np.repeat(upn_array, lengths),
            "date": date_text[date_codes],
            "session": _SESSIONS[index % 2],
            "code": codes,
            "_source": np.full(total, file_name, dtype=object),
            "_line": np.repeat(label_array, lengths),
        },
        columns=columns,
    )


def read_ctf(path: Path, laestab: str, file_name: str | None = None, as_of: date | None = None) -> CtfContent:
    """Parse a CTF into raw frames, noting whether it holds any attendance at all.

    ``as_of``: the night, for the FSM flags; None (a reader outside a night) takes the day the file was
    made (``Header/DateTime``), else today."""
    file_name = file_name or path.name
    tree = parse_xml_file(path, file_name)
    root = tree.getroot()
    if _name(root) != "ctfile":
        raise ExtractFileError(
            file_name,
            f"line {root.sourceline or 1}",
            "the root element is not CTfile: this does not look like a Common Transfer File",
        )
    _check_header(root, file_name, laestab)
    as_of = as_of or _file_date(root)
    pupil_data = _child(root, "ctfpupildata")
    if pupil_data is None:
        raise ExtractFileError(file_name, _location(root), "the CTF has no CTFpupilData element: export it again")

    pupil_rows: list[dict] = []
    att_upns: list[str | None] = []
    att_labels: list[str] = []
    att_starts: list[np.datetime64] = []
    att_codes: list[list[str | None]] = []
    has_attendance = False

    for number, pupil in enumerate(_children(pupil_data, "pupil"), start=1):
        line = pupil.sourceline
        label = f"pupil {number}" + (f" (line {line})" if line else "")
        basic = _child(pupil, "basicdetails")

        def field(name: str, _pupil=pupil, _basic=basic) -> str | None:
            value = _child_text(_basic, name) if _basic is not None else None
            return value if value is not None else _child_text(_pupil, name)

        history = _history_entry(pupil, laestab)
        address_line1, town, postcode = _address(pupil)
        upn = _child_text(pupil, "upn")
        pupil_rows.append(
            {
                "upn": upn,
                "former_upn": field("formerupn"),
                "surname": _child_text(pupil, "surname"),
                "forename": _child_text(pupil, "forename"),
                "middle_names": field("middlenames"),
                "preferred_surname": field("preferredsurname"),
                "preferred_forename": field("preferredforename"),
                "dob": _child_text(pupil, "dob"),
                "sex": _child_text(pupil, "sex", "gender"),
                "nc_year": field("ncyearactual"),
                "enrol_status": field("enrolstatus"),
                "entry_date": _child_text(history, "entrydate") if history is not None else None,
                "leaving_date": _child_text(history, "leavingdate") if history is not None else None,
                "address_line1": address_line1,
                "town": town,
                "postcode": postcode,
                **_cohort_fields(pupil, as_of),
                "_source": file_name,
                "_line": label,
            }
        )

        for attendance in _children(pupil, "attendance"):
            has_attendance = True
            for year in _children(attendance, "yeardata"):
                if _school_id(year) != laestab:
                    continue  # a previous school's history
                for sessions in _children(year, "attendsessions"):
                    codes = _marks(_child_text(sessions, "attendancemarks"))
                    if not codes:
                        continue
                    att_starts.append(_start_date(_child(sessions, "attendancestartdate"), file_name))
                    att_upns.append(upn)
                    att_labels.append(label)
                    att_codes.append(codes)

    pupil_columns = RAW_COLUMNS["pupils"] + BOOKKEEPING_COLUMNS
    pupils = pd.DataFrame(pupil_rows, columns=pupil_columns, dtype=object)
    attendance_frame = _expand_attendance(file_name, att_upns, att_labels, att_starts, att_codes)
    return CtfContent(pupils=pupils, attendance=attendance_frame, has_attendance=has_attendance)


def count_pupils(path: Path, file_name: str) -> int | None:
    """How many ``Pupil`` elements a CTF holds (for messages about a file set aside), None if unreadable."""
    try:
        root = parse_xml_file(path, file_name).getroot()
    except ExtractFileError:
        return None
    return len(_children(_child(root, "ctfpupildata"), "pupil"))


def parse_ctf(path: Path, laestab: str, as_of: date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw pupils and raw attendance frames from one CTF (all text, plus ``_source`` and ``_line``)."""
    content = read_ctf(path, laestab, as_of=as_of)
    return content.pupils, content.attendance
