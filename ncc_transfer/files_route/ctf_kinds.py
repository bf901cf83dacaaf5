"""What kind of Common Transfer File (CTF) a file in a school's folder is, read from its Header alone.

A school's folder receives more than its MIS's whole-school export. The Header says which kind a file is:

``DocumentQualifier``
    ``full`` or ``partial``. A *partial* CTF holds a few pupils and only some containers: the DfE's
    Multiplication Tables Check writes one per school with identity and the MTC result only
    (DFEAGILEDEVOPS/MTC ``admin/services/ctf-service/ctf.service.js``, ``buildXmlString``:
    ``DocumentQualifier`` ``partial``); Get Information about Pupils writes identity, FSM history and
    assessments only (DFE-Digital/get-information-about-pupils, classes ``CtfHeaderBuilder`` and
    ``XmlCtfFormatter``: ``DocumentQualifier = "partial"``). A missing qualifier is read as ``full``
    (older exports and the project's demo writer omit nothing, but hand-made files may).
``DateTime``
    When the file was created, ``yyyy-MM-ddTHH:mm:ss`` (both writers above). MIS exports write the
    school's local time. GIAP writes UTC (``DateTime.UtcNow``), but a GIAP file is never a roll.
    A value with a UTC offset is converted to local time; the result is always naive local time.
``SourceSchool``
    ``LEA`` + ``Estab`` of the sender, and ``AcademicYear``: the *start* year of the academic year
    (MTC ``getAcademicYear``: September onwards is that year; GIAP ``CalculateAcademicYear``, the
    same). MIS exports move ``AcademicYear`` on 1 August, a month before the year starts (Capita One,
    https://onepublications.com/oneeducation/mergedProjects/CTF/Supported_Versions.htm: "Files
    exported on or after the 1st August 2024 - the <AcademicYear> is exported as 2024"). GIAP writes
    ``XXX``/``XXXX`` as its source: the file comes from a DfE service, not a school.
``DestSchool``
    ``LEA`` + ``Estab`` of the receiver. The CTF specification (gov.uk, "Common transfer file 25:
    specification", §2.4 "File names for CTF": to another school, destination not known, to the local
    authority, to a school outside the publicly funded sector) and the DfE's School to School guide
    ("using XXX for the destination LA and XXXX as the destination school number" when the destination
    is not known, quoted at https://www.whatdotheyknow.com/request/pupil_data_the_lost_pupil_databa)
    give placeholder codes (one letter repeated, such as ``XXX``/``XXXX``) for destinations that are
    not a school in England. MTC addresses a school's own download to the school itself.

The kinds (:func:`ctf_kind`), in the order they are decided:

``wrong_folder``
    From another school (a 7-digit SourceSchool that is not this school) and not addressed to this
    school: it is in the wrong folder and the school fails, as before (another school's pupils must
    not sit unnoticed in this school's folder).
``partial``
    ``DocumentQualifier`` is anything but ``full``: set aside. It never removes a pupil, a mark or an
    enrolment: the MIS export stays the authority.
``incoming``
    A full CTF from another school (or a service) addressed to this school: pupils joining, to be
    imported into the MIS; set aside with a note, the night goes on.
``outgoing``
    A full CTF from this school addressed elsewhere: another school (3-digit LEA and 4-digit Estab that
    are not this school), an unknown destination or one outside the sector (placeholder codes). It
    holds the leavers only (e.g. Year 6 to their secondary), so it is set aside.
``roll``
    A full CTF from this school with no DestSchool, addressed to this school itself, or to this
    school's LA without a school number (LEA = the school's LA, Estab empty or not a school number):
    a whole-school export. Only these can be the school's roll.

A Header without a SourceSchool is treated as a ``roll`` candidate, so that reading it fails with the
existing "no SourceSchool" message when it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from ..extract import ExtractFileError
from .safe_xml import declares_dtd, read_start, safe_pull_parser

HEADER_BYTES = 64 * 1024  # a Header is well under 1 KB; it is the first child of CTfile

ROLL, PARTIAL, OUTGOING, INCOMING, WRONG_FOLDER = "roll", "partial", "outgoing", "incoming", "wrong_folder"

_LAESTAB = re.compile(r"^\d{7}$")
_LEA = re.compile(r"^\d{3}$")
_ESTAB = re.compile(r"^\d{4}$")
_PLACEHOLDER = re.compile(r"^([A-Za-z])\1*$")  # XXX, XXXX, MMM, MMMM: not a school in England
_YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class CtfHeader:
    """The Header values that decide what a CTF is for (text as written, stripped; absent → None)."""

    qualifier: str | None  # DocumentQualifier, lower case
    created_text: str | None  # DateTime as written
    created: datetime | None  # DateTime as naive local time, None when absent or unparseable
    source_lea: str | None
    source_estab: str | None
    academic_year_text: str | None
    dest_lea: str | None
    dest_estab: str | None

    @property
    def source(self) -> str | None:
        return _laestab(self.source_lea, self.source_estab)

    @property
    def dest(self) -> str | None:
        return _laestab(self.dest_lea, self.dest_estab)

    @property
    def academic_year(self) -> int | None:
        """SourceSchool/AcademicYear as a start year (2025 for 2025/26), None when absent or not a year."""
        text = self.academic_year_text
        return int(text) if text and _YEAR.match(text) else None

    @property
    def is_full(self) -> bool:
        return self.qualifier in (None, "full")


def _laestab(lea: str | None, estab: str | None) -> str | None:
    return lea + estab if lea is not None and estab is not None else None


def _local_name(element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child(element, name: str):
    if element is None:
        return None
    return next((c for c in element if _local_name(c) == name), None)


def _text(element) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def parse_created(text: str | None) -> datetime | None:
    """A Header DateTime as naive local time; None when absent or not an ISO date-time."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value


def header_from_element(header) -> CtfHeader:
    source, dest = _child(header, "sourceschool"), _child(header, "destschool")
    qualifier = _text(_child(header, "documentqualifier"))
    created_text = _text(_child(header, "datetime"))
    return CtfHeader(
        qualifier=qualifier.lower() if qualifier else None,
        created_text=created_text,
        created=parse_created(created_text),
        source_lea=_text(_child(source, "lea")),
        source_estab=_text(_child(source, "estab")),
        academic_year_text=_text(_child(source, "academicyear")),
        dest_lea=_text(_child(dest, "lea")),
        dest_estab=_text(_child(dest, "estab")),
    )


def read_ctf_header(path: Path, file_name: str) -> CtfHeader | None:
    """The Header of a CTF from the start of the file, or None when it cannot be read from there.

    Only the first :data:`HEADER_BYTES` are read, with the same protections as a full parse. A file
    whose Header cannot be read this way (damaged, not a CTF, a DTD) is left to the full parse, which
    reports the problem with its location if the file is used.
    """
    try:
        start = read_start(path, file_name, HEADER_BYTES)
    except ExtractFileError:
        return None
    if declares_dtd(start):
        return None
    parser = safe_pull_parser()
    try:
        parser.feed(start)
        for _event, element in parser.read_events():
            if _local_name(element) == "header":
                parent = element.getparent()
                if parent is None or _local_name(parent) != "ctfile":
                    return None
                return header_from_element(element)
    except (etree.XMLSyntaxError, ValueError, etree.LxmlError):
        return None
    return None


def _to_school_or_its_la(header: CtfHeader, laestab: str) -> bool:
    """DestSchool absent, this school itself, or this school's LA with no school number."""
    lea, estab = header.dest_lea, header.dest_estab
    if lea is None and estab is None:
        return True
    if header.dest == laestab:
        return True
    return lea == laestab[:3] and (estab is None or not (_ESTAB.match(estab) or _PLACEHOLDER.match(estab)))


def ctf_kind(header: CtfHeader | None, laestab: str) -> str:
    """One of ROLL, PARTIAL, OUTGOING, INCOMING, WRONG_FOLDER (see the module docstring)."""
    if header is None or header.source is None:
        return ROLL  # unreadable: the full parse reports why, if the file is used
    from_this_school = header.source == laestab
    to_this_school = header.dest == laestab
    from_a_service = not _LAESTAB.match(header.source)  # GIAP: SourceSchool XXX/XXXX
    if not (from_this_school or to_this_school or from_a_service):
        return WRONG_FOLDER
    if not header.is_full:
        return PARTIAL
    if not from_this_school:
        return INCOMING
    return ROLL if _to_school_or_its_la(header, laestab) else OUTGOING


def destination_text(header: CtfHeader) -> str:
    """How a DestSchool reads in a message (codes only: no names)."""
    lea, estab = header.dest_lea or "", header.dest_estab or ""
    if _PLACEHOLDER.match(lea or "-") or _PLACEHOLDER.match(estab or "-"):
        return f"an unknown destination or one outside the sector (DestSchool {lea}/{estab})"
    if _LEA.match(lea) and _ESTAB.match(estab):
        return f"school {lea}{estab}"
    return f"DestSchool {lea or '-'}/{estab or '-'}"
