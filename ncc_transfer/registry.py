"""The schools registry: load, validate, and name partitions.

A school-and-MIS pair is one partition, keyed ``<laestab>-<mis>``. Data engineers add or
deactivate schools by editing the YAML file; nothing here needs to change.

``final_year`` (optional) is the school's final year group as an NC year 1-14 (6 for a primary, 4
for a first school, 11 or 13 for a secondary): pupils who complete it move on at the end of the
summer term, which the children-missing-education rule allows for (docs/cme.md). Without it the
rule infers the final year from the school's roll.

Given NCC_HOME (``home``), loading also checks that each files-route school has a landing folder of its
own: two entries whose folders resolve (``os.path.realpath``, so symbolic links are followed) to one
folder, or one inside the other, are a registry error, since either school's files would replace the
other's load.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .connectors.routes import MIS_ROUTES, ROUTES, setting_problems

LAESTAB_PATTERN = re.compile(r"^\d{7}$")
LA_CODE_PATTERN = re.compile(r"^\d{3}$")
URN_PATTERN = re.compile(r"^\d{6,7}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PARTITION_KEY_PATTERN = re.compile(r"^(\d{7})-([a-z_]+)$")

SCHOOL_FIELDS = {"laestab", "urn", "name", "mis", "source", "contact", "active", "final_year", "phase", "officer"}
# The school's phase (optional; else inferred from the NC years on roll): the targeting pack compares it with
# the LA and national averages for its phase (docs/targeting_pack.md).
PHASES = ("primary", "secondary", "special", "all-through", "alternative provision")
FINAL_YEARS = range(1, 15)  # NC years 1-14
REQUIRED_SOURCE_SETTINGS = {route: spec.required for route, spec in ROUTES.items()}


class RegistryError(Exception):
    """The registry cannot be used. Names the file, the school (by position and LAESTAB) and the field."""

    def __init__(self, problems: list[str], path: Path):
        self.problems = problems
        self.path = path
        super().__init__(f"{path}: " + "; ".join(problems) if len(problems) == 1 else
                         f"{path}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class School:
    laestab: str
    name: str
    mis: str
    source: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    urn: str | None = None
    contact: str | None = None
    active: bool = True
    final_year: int | None = None  # the school's final NC year group; None: inferred from its roll
    phase: str | None = None  # one of PHASES; None: inferred from the NC years on roll
    officer: str | None = None  # the school's LA attendance officer (email): told when its targeting pack is made

    @property
    def key(self) -> str:
        """The partition key, ``<laestab>-<mis>``."""
        return partition_key(self.laestab, self.mis)

    @property
    def la_code(self) -> str:
        return self.laestab[:3]

    def landing_folder(self, home: Path) -> Path:
        """Files route: the school's folder, relative paths taken from NCC_HOME."""
        folder = Path(str(self.source["path"])).expanduser()
        return folder if folder.is_absolute() else home / folder


@dataclass(frozen=True)
class Registry:
    path: Path
    la_code: str
    la_name: str
    schools: tuple[School, ...]

    @property
    def active_schools(self) -> tuple[School, ...]:
        return tuple(s for s in self.schools if s.active)

    def by_key(self) -> dict[str, School]:
        return {s.key: s for s in self.schools}

    def final_years(self) -> dict[str, int]:
        """School key -> final NC year, for the schools whose entry gives ``final_year``."""
        return {s.key: s.final_year for s in self.schools if s.final_year is not None}

    def school(self, key: str) -> School:
        try:
            return self.by_key()[key]
        except KeyError:
            raise KeyError(f"no school with partition key {key!r} in {self.path}") from None


def partition_key(laestab: str, mis: str) -> str:
    return f"{laestab}-{mis}"


def split_partition_key(key: str) -> tuple[str, str]:
    """``'9262001-files'`` -> ``('9262001', 'files')``; a malformed key raises ValueError."""
    match = PARTITION_KEY_PATTERN.match(key)
    if not match or match.group(2) not in MIS_ROUTES:
        raise ValueError(f"{key!r} is not a partition key of the form <laestab>-<mis>")
    return match.group(1), match.group(2)


def load_registry(path: Path, home: Path | None = None) -> Registry:
    """Read and validate the registry; every problem found is reported at once.

    With ``home`` (NCC_HOME, where relative landing folders are) the files-route schools' folders are
    checked too (:func:`shared_folder_problems`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(["file not found (set NCC_SCHOOLS_FILE or NCC_HOME, or run `ncc-transfer demo`)"], path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([f"cannot be read: {exc.__class__.__name__}"], path) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RegistryError([f"{where}not valid YAML ({getattr(exc, 'problem', None) or exc})"], path) from None
    return parse_registry(document, path, home)


def parse_registry(document: Any, path: Path, home: Path | None = None) -> Registry:
    problems: list[str] = []
    if not isinstance(document, dict):
        raise RegistryError(["the file must be a mapping with `local_authority` and `schools`"], path)
    la = document.get("local_authority")
    la_code, la_name = "", ""
    if not isinstance(la, dict):
        problems.append("local_authority: missing; expected {code: \"926\", name: \"...\"}")
    else:
        la_code, la_name = str(la.get("code", "")).strip(), str(la.get("name", "")).strip()
        if not LA_CODE_PATTERN.match(la_code):
            problems.append(f"local_authority.code: {la_code!r} is not a 3-digit LA number")
        if not la_name:
            problems.append("local_authority.name: missing")
    entries = document.get("schools")
    if not isinstance(entries, list) or not entries:
        problems.append("schools: missing or empty; expected a list of schools")
        entries = []
    schools: list[School] = []
    seen: dict[str, str] = {}
    for position, entry in enumerate(entries, start=1):
        school, entry_problems = _parse_school(entry, position, la_code)
        problems.extend(entry_problems)
        if school is None:
            continue
        where = _describe(position, school.laestab)
        if school.key in seen:
            problems.append(f"{where}: duplicate key {school.key} (also {seen[school.key]})")
        else:
            seen[school.key] = where
        schools.append(school)
    if home is not None and not problems:
        problems += shared_folder_problems(schools, Path(home))
    if problems:
        raise RegistryError(problems, path)
    return Registry(path=path, la_code=la_code, la_name=la_name, schools=tuple(schools))


def shared_folder_problems(schools: list[School], home: Path) -> list[str]:
    """One problem per files-route school whose landing folder resolves to another entry's folder or
    inside it (a symbolic link to another school's folder, the same path twice, or a nested folder),
    naming the first such entry before it.

    Each folder is looked up, not compared with every other: the entries seen so far by their folder
    and by each folder above theirs, so a registry of thousands of schools costs a few lookups a
    school (every run parses the registry)."""
    folders: dict[Path, tuple[int, str]] = {}  # an earlier entry's real folder -> (position, where)
    above: dict[Path, tuple[int, str]] = {}  # a folder above an earlier entry's -> the first such entry
    problems = []
    for position, school in enumerate(schools, start=1):
        if not ROUTES[school.mis].reads_folder:
            continue
        where = _describe(position, school.laestab)
        folder = Path(os.path.realpath(school.landing_folder(home)))
        candidates = [(folders[folder], "is the same folder as")] if folder in folders else []
        candidates += [(folders[parent], "is nested with") for parent in folder.parents if parent in folders]
        if folder in above:
            candidates.append((above[folder], "is nested with"))
        if candidates:
            (_, other), relation = min(candidates)
            problems.append(f"{where}: source.path: {relation} {other}'s landing folder once symbolic links are "
                            "followed; each school needs a folder of its own, or one school's files replace the other's load")
        folders.setdefault(folder, (position, where))
        for parent in folder.parents:
            above.setdefault(parent, (position, where))
    return problems


def _describe(position: int, laestab: Any) -> str:
    return f"school {position} ({laestab})" if laestab else f"school {position}"


def _parse_school(entry: Any, position: int, la_code: str) -> tuple[School | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"school {position}: expected a mapping of laestab, name, mis, source"]
    laestab = str(entry.get("laestab", "") or "").strip()
    where = _describe(position, laestab)
    problems = [f"{where}: unknown field {name!r}" for name in sorted(set(entry) - SCHOOL_FIELDS)]
    if not laestab:
        problems.append(f"{where}: laestab: missing")
    elif not LAESTAB_PATTERN.match(laestab):
        problems.append(f"{where}: laestab: {laestab!r} is not 7 digits (3-digit LA number + 4-digit establishment number)")
    elif la_code and not laestab.startswith(la_code):
        problems.append(f"{where}: laestab: {laestab} does not start with the LA number {la_code}")
    name = str(entry.get("name", "") or "").strip()
    if not name:
        problems.append(f"{where}: name: missing")
    mis = str(entry.get("mis", "") or "").strip()
    if mis not in MIS_ROUTES:
        problems.append(f"{where}: mis: {mis!r} is not one of {', '.join(MIS_ROUTES)}")
    source = entry.get("source") or {}
    if not isinstance(source, dict):
        problems.append(f"{where}: source: expected a mapping of route settings")
        source = {}
    problems += [f"{where}: {problem}" for problem in setting_problems(mis, source)]
    urn = entry.get("urn")
    urn = None if urn in (None, "") else str(urn).strip()
    if urn is not None and not URN_PATTERN.match(urn):
        problems.append(f"{where}: urn: {urn!r} is not a 6-digit URN")
    contact = entry.get("contact")
    contact = None if contact in (None, "") else str(contact).strip()
    if contact is not None and not EMAIL_PATTERN.match(contact):
        problems.append(f"{where}: contact: {contact!r} is not an email address")
    officer = entry.get("officer")
    officer = None if officer in (None, "") else str(officer).strip()
    if officer is not None and not EMAIL_PATTERN.match(officer):
        problems.append(f"{where}: officer: {officer!r} is not an email address")
    active = entry.get("active", True)
    if not isinstance(active, bool):
        problems.append(f"{where}: active: expected true or false, got {active!r}")
        active = True
    final_year = entry.get("final_year")
    if final_year is not None and (isinstance(final_year, bool) or not isinstance(final_year, int)
                                   or final_year not in FINAL_YEARS):
        problems.append(f"{where}: final_year: expected an NC year 1-14 as a whole number (e.g. 6), got {final_year!r}")
        final_year = None
    phase = entry.get("phase")
    if phase is not None and phase not in PHASES:
        problems.append(f"{where}: phase: expected one of {', '.join(PHASES)}, got {phase!r}")
        phase = None
    if problems:
        return None, problems
    return School(laestab=laestab, name=name, mis=mis, source=dict(source), urn=urn, contact=contact, active=active,
                  final_year=final_year, phase=phase, officer=officer), []
