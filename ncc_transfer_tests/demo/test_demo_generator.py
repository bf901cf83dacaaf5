"""The synthetic demo LA (ncc_transfer.demo): files, determinism, realism, scenarios and errors.

The checks read the files back independently (lxml, csv via pandas) rather than trusting the
generator's own bookkeeping, and compare with the manifest where the two must agree.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from lxml import etree

from ncc_transfer.canonical import ATTENDANCE_COLUMNS, EXCLUSION_COLUMNS, PUPIL_COLUMNS
from ncc_transfer.demo import DemoLA, build_demo_la
from ncc_transfer.demo.calendar import academic_year_for, easter_sunday, la_calendar
from ncc_transfer.demo.generator import ERROR_KINDS, upn_strings
from ncc_transfer.reference.upn import has_recognised_la_code, is_valid, is_well_formed, make_upn

AS_OF = date(2026, 3, 18)  # spring term 2025/26: after a half-term, enough days for every scenario

# Categories of the 2024 code set (School Attendance (Pupil Registration) (England) Regulations 2024,
# SI 2024/208; DfE "Working together to improve school attendance"), kept independent of the generator's table
PRESENT = {"/", "\\", "L"}
AEA = {"K", "V", "P", "W", "B"}
AUTHORISED = {"C", "C1", "C2", "E", "I", "J1", "M", "R", "S", "T"}
UNAUTHORISED = {"G", "N", "O", "U"}
NOT_POSSIBLE = {"D", "X", "Q", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#"}
KNOWN = PRESENT | AEA | AUTHORISED | UNAUTHORISED | NOT_POSSIBLE | {"-"}
# Name pattern: allowed characters and at least one letter (as in https://github.com/quhack/dfeqa)
_L = "A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ȳɐ-ʭ"
_P = r"\d\-.,'’\"\+\*\(\)\[\]\ `_\/\\"
NAME_PATTERN = re.compile(f"^[{_P}{_L}]*[{_L}]+[{_P}{_L}]*$")


# ----------------------------------------------------------------------------------- fixtures
def _read_school(folder: Path) -> dict:
    """Everything in one landing folder, read back independently of the generator."""
    out: dict = {"ctf": [], "pupils": None, "attendance": None, "exclusions": None}
    for path in sorted(folder.glob("*.xml")):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.parse(str(path), parser).getroot()
        out["ctf"].append((path, root))
    for name in ("pupils", "attendance", "exclusions"):
        path = folder / f"{name}.csv"
        if path.exists():
            out[name] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return out


def _ctf_marks(root) -> list[dict]:
    """Per pupil: upn, start date, marks list, the file's own session counts."""
    version = float(root.findtext("Header/CTFversion"))
    pupils = []
    for p in root.iterfind("CTFpupilData/Pupil"):
        year = p.find("Attendance/YearData")
        if year is None:
            continue
        text = year.findtext("AttendSessions/AttendanceMarks")
        marks = text.split(",") if "," in text else list(text)
        pupils.append({
            "upn": p.findtext("UPN"),
            "start": date.fromisoformat(year.findtext("AttendSessions/AttendanceStartDate")),
            "marks": marks,
            "comma": "," in text,
            "version": version,
            "possible": int(year.findtext("SessionsPossible")),
            "entry": p.findtext("SchoolHistory/School[LastSchool='true']/EntryDate"),
        })
    return pupils


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoLA:
    started = time.perf_counter()
    built = build_demo_la(tmp_path_factory.mktemp("demo_a"), as_of=AS_OF)
    print(f"\ndemo LA built in {time.perf_counter() - started:.2f}s: {built.stats['totals']['pupils']} pupils, "
          f"{built.stats['totals']['session_marks']} session marks")
    return built


@pytest.fixture(scope="module")
def files(demo) -> dict[str, dict]:
    return {s["laestab"]: _read_school(demo.home / s["path"]) for s in demo.schools}


@pytest.fixture(scope="module")
def marks(demo, files) -> dict[str, dict[str, list[tuple[date, str, str]]]]:
    """laestab -> upn -> [(date, session, code)] over CTF and CSV schools alike."""
    out: dict[str, dict[str, list]] = {}
    for laestab, f in files.items():
        school: dict[str, list] = {}
        for _, root in f["ctf"]:
            for p in _ctf_marks(root):
                school[p["upn"]] = [
                    (p["start"] + timedelta(days=i // 2), "AM" if i % 2 == 0 else "PM", code) for i, code in enumerate(p["marks"])
                ]
        if f["attendance"] is not None:
            a = f["attendance"]
            for upn, group in a.groupby("upn", sort=False):
                school[upn] = [(date.fromisoformat(d), s, c) for d, s, c in zip(group["date"], group["session"], group["code"])]
        out[laestab] = school
    return out


def _rate(entries) -> tuple[int, int]:
    counts = Counter(code for _, _, code in entries)
    possible = sum(n for c, n in counts.items() if c in PRESENT | AEA | AUTHORISED | UNAUTHORISED)
    absent = sum(n for c, n in counts.items() if c in AUTHORISED | UNAUTHORISED)
    return absent, possible


# ---------------------------------------------------------------------------------- structure
def test_build_is_deterministic(demo, tmp_path):
    again = build_demo_la(tmp_path / "demo_b", as_of=AS_OF)
    first = sorted(p.relative_to(demo.home) for p in demo.home.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again.home) for p in again.home.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (demo.home / rel).read_bytes() == (again.home / rel).read_bytes(), rel
    assert again.scenarios == demo.scenarios and again.injected_errors == demo.injected_errors


def test_registry_yaml(demo):
    text = demo.registry_path.read_text(encoding="utf-8")
    assert text.startswith("#")
    registry = yaml.safe_load(text)
    assert registry["local_authority"] == {"code": "926", "name": "Norfolk (demo)"}
    schools = registry["schools"]
    assert len(schools) == 13
    assert len({s["laestab"] for s in schools}) == 13
    for s in schools:
        assert re.fullmatch(r"926\d{4}", s["laestab"])
        assert re.fullmatch(r"\d{6}", s["urn"])
        assert s["mis"] == "files" and s["name"]
        assert s["source"] == {"path": f"landing/{s['laestab']}"}
        assert (demo.home / s["source"]["path"]).is_dir()
        assert re.fullmatch(r"data\.manager@[a-z0-9.]+\.sch\.uk", s["contact"])
        assert isinstance(s["active"], bool)
    assert [s["active"] for s in schools].count(False) == 1
    phases = Counter(s["phase"] for s in demo.schools if s["active"])
    assert phases["primary"] >= 6 and phases["secondary"] >= 2 and phases["special"] + phases["all-through"] >= 1
    formats = Counter(s["format"] for s in demo.schools if s["active"])
    assert formats["ctf25"] >= 5 and formats["ctf23"] >= 2 and formats["csv"] >= 2
    assert 3000 <= sum(s["pupils"] for s in demo.active_schools) <= 5000


def test_manifest_matches(demo):
    manifest = json.loads(demo.manifest_path.read_text(encoding="utf-8"))
    assert manifest["as_of"] == AS_OF.isoformat()
    assert manifest["academic_year_start"] == "2025-09-01"
    assert manifest["injected_errors"] == demo.injected_errors
    assert {k: [tuple(x) for x in v] for k, v in manifest["scenarios"].items()} == demo.scenarios
    assert [s["laestab"] for s in manifest["schools"]] == [s["laestab"] for s in demo.schools]


def test_csv_headers_are_canonical(files):
    for laestab, f in files.items():
        assert list(f["exclusions"].columns) == EXCLUSION_COLUMNS, laestab
        if f["pupils"] is not None:
            assert list(f["pupils"].columns) == PUPIL_COLUMNS
            assert list(f["attendance"].columns) == ATTENDANCE_COLUMNS
            assert not f["ctf"], "a school delivers either a CTF or the CSVs, never both"
        else:
            assert len(f["ctf"]) == 1


def test_ctf_well_formed_and_mark_forms(files):
    forms = set()
    for laestab, f in files.items():
        for path, root in f["ctf"]:
            assert root.tag == "CTfile"
            version = float(root.findtext("Header/CTFversion"))
            src = root.find("Header/SourceSchool")
            assert src.findtext("LEA") + src.findtext("Estab") == laestab
            assert re.fullmatch(r"\d{6}", src.findtext("URN")) and src.findtext("SchoolName")
            assert src.findtext("AcademicYear") == "2025"
            sex_tag = "Sex" if version >= 25 else "Gender"
            for p in root.iterfind("CTFpupilData/Pupil"):
                for tag in ("UPN", "Surname", "Forename", "DOB", sex_tag, "BasicDetails/NCyearActual", "BasicDetails/EnrolStatus"):
                    assert p.find(tag) is not None, (path.name, tag)
                assert p.find("Gender" if sex_tag == "Sex" else "Sex") is None
                assert p.find("Address/BS7666Address") is not None or p.find("Address/AddressLines/AddressLine1") is not None
                assert p.find("SchoolHistory/School[LastSchool='true']/EntryDate") is not None
            for p in _ctf_marks(root):
                forms.add("comma" if p["comma"] else "single")
                if p["comma"]:
                    assert version >= 24, path.name
                else:  # old exporters: single-character codes only, and not the 2024-only K or Q
                    assert all(len(code) == 1 and code not in ("K", "Q") for code in p["marks"])
                possible = sum(1 for c in p["marks"] if c in PRESENT | AEA | AUTHORISED | UNAUTHORISED)
                assert possible == p["possible"], (path.name, p["upn"])
    assert forms == {"comma", "single"}


def test_codes_known_and_no_weekend_marks(demo, marks):
    error_upns = {(e["laestab"], e["upn"]) for e in demo.injected_errors if e["kind"] == "attendance_code_unknown"}
    for laestab, school in marks.items():
        for upn, entries in school.items():
            for day, _, code in entries:
                if day.weekday() >= 5:
                    assert code == "#", (laestab, upn, day, code)
                if (laestab, upn) not in error_upns:
                    assert code in KNOWN, (laestab, upn, day, code)


def test_csv_attendance_has_no_weekend_rows(files):
    for f in files.values():
        if f["attendance"] is not None:
            days = pd.to_datetime(f["attendance"]["date"], format="%Y-%m-%d")
            assert (days.dt.weekday < 5).all()
            assert set(f["attendance"]["session"]) == {"AM", "PM"}


def test_marks_stop_before_as_of(demo, marks):
    last = max(day for school in marks.values() for entries in school.values() for day, _, _ in entries)
    assert last == demo.last_mark_date == AS_OF - timedelta(days=1)
    first = min(day for school in marks.values() for entries in school.values() for day, _, _ in entries)
    assert first == date(2025, 9, 3)


def test_upns_valid_except_injected(demo, files):
    injected = demo.error_upns()
    seen: set[str] = set()
    for f in files.values():
        for _, root in f["ctf"]:
            seen.update(e.text for e in root.iter("UPN", "FormerUPN"))
        for name in ("pupils", "attendance", "exclusions"):
            frame = f[name]
            if frame is not None:
                seen.update(frame["upn"])
                if name == "pupils":
                    seen.update(u for u in frame["former_upn"] if u)
    assert len(seen) > 3000
    bad = sorted(u for u in seen - injected if not is_valid(u))
    assert bad == []
    # and every UPN the generator makes (temporary former UPNs included) carries a real LA number
    unknown_la = sorted(u for u in seen - injected if is_well_formed(u) and not has_recognised_la_code(u))
    assert unknown_la == []
    for e in demo.injected_errors:
        if e["kind"] == "upn_wrong_check_letter":
            assert is_well_formed(e["upn"]) and not is_valid(e["upn"])
        if e["kind"] == "upn_malformed":
            assert not is_well_formed(e["upn"])


def test_vectorised_upns_match_make_upn():
    la, estab, yy, serial = np.array([926, 935, 926]), np.array([2001, 1234, 7000]), np.array([2020, 2019, 2025]), np.array([1, 999, 42])
    assert list(upn_strings(la, estab, yy, serial)) == [make_upn(str(a), str(b), int(c), int(d)) for a, b, c, d in zip(la, estab, yy, serial)]


def test_names_valid_and_diverse(demo, files):
    injected = demo.error_upns()
    names: list[str] = []
    for f in files.values():
        for _, root in f["ctf"]:
            for p in root.iterfind("CTFpupilData/Pupil"):
                if p.findtext("UPN") not in injected:
                    names += [p.findtext("Surname"), p.findtext("Forename")]
        if f["pupils"] is not None:
            ok = f["pupils"][~f["pupils"]["upn"].isin(injected)]
            names += list(ok["surname"]) + list(ok["forename"])
    assert all(NAME_PATTERN.match(n) and n == n.strip() and "  " not in n for n in names)
    assert any("'" in n for n in names) and any("-" in n for n in names) and any(re.search("[À-ÿĀ-ſ]", n) for n in names)


# ------------------------------------------------------------------------------------ realism
def test_overall_absence_rate_in_range(demo, marks):
    absent = possible = 0
    for school in marks.values():
        for entries in school.values():
            a, p = _rate(entries)
            absent += a
            possible += p
    rate = absent / possible
    print(f"\noverall absence over all written marks: {rate:.2%} of {possible} possible sessions")
    assert 0.05 <= rate <= 0.09
    groups = demo.stats["by_phase_group"]
    assert 0.045 <= groups["primary"]["absence_rate"] <= 0.065
    assert 0.07 <= groups["secondary"]["absence_rate"] <= 0.10
    assert 0.08 <= groups["primary"]["persistent_absence_rate"] <= 0.2
    assert 0.17 <= groups["secondary"]["persistent_absence_rate"] <= 0.32
    assert 0.003 <= demo.stats["totals"]["severe_absence_rate"] <= 0.03


def test_code_variety(marks):
    codes = Counter(code for school in marks.values() for entries in school.values() for _, _, code in entries)
    for code in ("I", "M", "O", "G", "N", "U", "L", "V", "P", "B", "K", "C", "C2", "E", "D", "X", "-", "#"):
        assert codes[code] > 0, code
    assert codes["I"] > codes["O"] > codes["M"]


# ---------------------------------------------------------------------------------- scenarios
REQUIRED = (
    "ten_day_ongoing", "ten_day_across_half_term", "ten_day_exact", "nine_day_near_miss", "sickness_15", "gno_20",
    "rate_exactly_10", "rate_just_below_10", "rate_exactly_50", "mid_year_joiners", "leavers", "moved_between_schools",
    "cme_candidates", "dual_registration", "part_time_timetable", "la_provision", "back_to_back_suspensions",
    "permanent_exclusion", "lunchtime_exclusion", "suspended", "no_mark", "reception_not_required",
)


def test_every_scenario_present(demo):
    for name in REQUIRED:
        assert demo.scenarios.get(name), name
    assert demo.expected["skipped_scenarios"] == []
    assert 2 <= len(demo.scenarios["cme_candidates"]) <= 3
    assert 4 <= len(demo.scenarios["moved_between_schools"]) <= 6  # 2-3 pupils, one entry per school


def test_ten_day_ground_truth_is_the_planted_pupils(demo):
    runs = {(r["laestab"], r["upn"]): r for r in demo.expected["ten_day_absence"]}
    planted = {x for k in ("ten_day_ongoing", "ten_day_across_half_term", "ten_day_exact", "gno_20") for x in demo.scenarios[k]}
    assert set(runs) == planted
    assert not set(demo.scenarios["nine_day_near_miss"]) & set(runs)
    assert runs[demo.scenarios["ten_day_exact"][0]]["school_days"] == 10
    assert all(runs[x]["ongoing"] for x in demo.scenarios["ten_day_ongoing"] + demo.scenarios["gno_20"])
    crossing = runs[demo.scenarios["ten_day_across_half_term"][0]]
    first, last = date.fromisoformat(crossing["first_day"]), date.fromisoformat(crossing["last_day"])
    assert any(first < h.start and h.end < last for h in la_calendar(2025).holidays)
    assert {(r["laestab"], r["upn"]) for r in demo.expected["gno_20_days"]} == set(demo.scenarios["gno_20"])
    assert {(r["laestab"], r["upn"]) for r in demo.expected["sickness_15_days"]} == set(demo.scenarios["sickness_15"])


def test_ten_day_runs_in_the_files(demo, marks):
    """Walk the written marks for the planted pupils: the longest run of school days on which every
    possible session is unauthorised absence (ten such days make a pupil a CME candidate)."""
    def longest(entries):
        by_day: dict[date, list[str]] = {}
        for day, _, code in entries:
            by_day.setdefault(day, []).append(code)
        best = cur = 0
        for day in sorted(by_day):
            possible = [c for c in by_day[day] if c in PRESENT | AEA | AUTHORISED | UNAUTHORISED]
            if not possible:
                continue
            cur = cur + 1 if all(c in UNAUTHORISED for c in possible) else 0
            best = max(best, cur)
        return best

    for name, low, high in (("ten_day_exact", 10, 10), ("nine_day_near_miss", 9, 9), ("ten_day_across_half_term", 10, 12),
                            ("ten_day_ongoing", 10, 40), ("gno_20", 20, 40)):
        laestab, upn = demo.scenarios[name][0]
        assert low <= longest(marks[laestab][upn]) <= high, name


def test_exact_rates_in_the_files(demo, marks):
    for name, expected in (("rate_exactly_10", 0.1), ("rate_exactly_50", 0.5)):
        laestab, upn = demo.scenarios[name][0]
        absent, possible = _rate(marks[laestab][upn])
        assert absent / possible == expected, name
    laestab, upn = demo.scenarios["rate_just_below_10"][0]
    absent, possible = _rate(marks[laestab][upn])
    assert absent / possible < 0.1 <= (absent + 1) / possible


def test_pupils_on_two_rolls(demo, files, marks):
    movers = demo.expected["moved_between_schools"]
    assert 2 <= len(movers) <= 3
    for m in movers:
        left, joined = date.fromisoformat(m["left"]), date.fromisoformat(m["joined"])
        assert left < joined < AS_OF
        assert max(d for d, _, _ in marks[m["from_laestab"]][m["upn"]]) == left
        assert min(d for d, _, c in marks[m["to_laestab"]][m["upn"]] if c != "#") >= joined
    (main, upn), (sub, upn2) = sorted(demo.scenarios["dual_registration"])
    assert upn == upn2 and main != sub
    statuses = {}
    for laestab in (main, sub):
        f = files[laestab]
        if f["pupils"] is not None:
            statuses[laestab] = f["pupils"].set_index("upn").at[upn, "enrol_status"]
        else:
            statuses[laestab] = f["ctf"][0][1].findtext(f"CTFpupilData/Pupil[UPN='{upn}']/BasicDetails/EnrolStatus")
        assert any(c == "D" for _, _, c in marks[laestab][upn])
    assert sorted(statuses.values()) == ["M", "S"]
    # CME candidates: left in the past, on no other roll
    for laestab, upn in demo.scenarios["cme_candidates"]:
        assert [k for k, school in marks.items() if upn in school] == [laestab]
        assert max(d for d, _, _ in marks[laestab][upn]) < AS_OF - timedelta(days=7)  # left, marks stopped
        assert any(c["upn"] == upn and c["laestab"] == laestab for c in demo.expected["cme_candidates_by_rule"])


def test_exclusions_and_e_marks(demo, files, marks):
    injected = demo.error_upns()
    all_rows = pd.concat([f["exclusions"].assign(laestab=k) for k, f in files.items()], ignore_index=True)
    assert set(all_rows["category"]) >= {"SUSP", "PERM", "LNCH"}
    perm = all_rows[all_rows["category"] == "PERM"]
    assert len(perm) == 1 and perm.iloc[0]["sessions"] == "" and perm.iloc[0]["end_date"] == ""
    rows = all_rows[~all_rows["upn"].isin(injected) & all_rows["category"].isin(["SUSP", "PERM"])]
    for (laestab, upn), group in rows.groupby(["laestab", "upn"]):
        expected = sum(int(s) if s else 10 for s in group["sessions"])  # PERM: E for five school days
        assert sum(c == "E" for _, _, c in marks[laestab][upn]) == expected, (laestab, upn)
    b2b = demo.scenarios["back_to_back_suspensions"]
    assert len(b2b) >= 2
    for laestab, upn in b2b:
        assert (rows[(rows["laestab"] == laestab) & (rows["upn"] == upn)]["category"] == "SUSP").sum() == 2
    # 1-3% of secondary-age pupils suspended this year
    secondary = [s for s in demo.active_schools if s["phase"] == "secondary"]
    suspended = {x for x in demo.scenarios["suspended"] if x[0] in {s["laestab"] for s in secondary}}
    assert 0.008 <= len(suspended) / sum(s["pupils"] for s in secondary) <= 0.04


# ------------------------------------------------------------------------------------- errors
def test_injected_errors(demo, files):
    kinds = Counter(e["kind"] for e in demo.injected_errors)
    assert set(kinds) == {k for k, _, _ in ERROR_KINDS}
    assert all(n >= 2 for n in kinds.values()), kinds
    schools_with_errors = {e["laestab"] for e in demo.injected_errors}
    assert 2 <= len(schools_with_errors) <= 4 < len(demo.active_schools) - len(schools_with_errors)
    for e in demo.injected_errors:
        assert set(e) >= {"laestab", "dataset", "upn", "field", "kind"}
        f = files[e["laestab"]]
        if e["dataset"] != "pupils":
            continue
        if f["pupils"] is not None:
            row = f["pupils"][f["pupils"]["upn"] == e["upn"]]
            assert len(row) == 1 and row.iloc[0][e["field"]] == e["value"], e
        else:
            pupil = f["ctf"][0][1].find(f"CTFpupilData/Pupil[UPN='{e['upn']}']")
            assert pupil is not None, e
            path = {"dob": "DOB", "surname": "Surname", "postcode": "Address/PostCode", "enrol_status": "BasicDetails/EnrolStatus",
                    "upn": "UPN", "sex": "Sex" if pupil.find("Sex") is not None else "Gender"}[e["field"]]
            assert (pupil.findtext(path) or "") == e["value"], e


# ------------------------------------------------------------------------------- calendar, scale
def test_calendar_rules():
    assert easter_sunday(2026) == date(2026, 4, 5) and easter_sunday(2027) == date(2027, 3, 28)
    cal = la_calendar(2025)
    assert cal.term_start == date(2025, 9, 3) and cal.term_start.weekday() in (2, 3)
    assert [h.start.weekday() for h in cal.holidays] == [0] * 5
    assert 188 <= cal.school_days(cal.term_start, cal.term_end).sum() <= 196
    assert academic_year_for(date(2026, 8, 10)) == (la_calendar(2025), date(2026, 7, 22))  # summer holiday
    assert academic_year_for(date(2026, 9, 2))[0].year == 2025  # before any pupil's first day
    assert academic_year_for(date(2026, 11, 29)) == (la_calendar(2026), date(2026, 11, 28))


def test_default_demo_is_fast(tmp_path):
    started = time.perf_counter()
    built = build_demo_la(tmp_path / "default")
    elapsed = time.perf_counter() - started
    print(f"\ndefault demo (as of today): {elapsed:.2f}s, {built.stats['totals']['pupils']} pupils, "
          f"{built.stats['totals']['session_marks']} session marks")
    assert elapsed < 30


def test_scales_to_more_schools(tmp_path):
    built = build_demo_la(tmp_path / "county", schools=30, pupils_scale=0.25, as_of=date(2026, 11, 27), seed=7)
    registry = yaml.safe_load(built.registry_path.read_text(encoding="utf-8"))
    assert len(registry["schools"]) == 31
    assert {s["phase"] for s in built.active_schools} == {"primary", "secondary", "all-through", "special"}
    assert 1500 < sum(s["pupils"] for s in built.active_schools) < 4500
    for name in ("ten_day_ongoing", "ten_day_across_half_term", "gno_20", "moved_between_schools", "cme_candidates"):
        assert built.scenarios.get(name), name


def test_every_school_can_send_a_ctf(tmp_path):
    """``formats=("ctf25",)``: every active school's landing folder holds a CTF and no CSV extract of
    pupils or marks (the benchmark's independent script reads CTFs only); an unknown format is refused."""
    built = build_demo_la(tmp_path / "ctf", schools=6, pupils_scale=0.05, as_of=date(2026, 3, 20), formats=("ctf25",))
    for school in built.active_schools:
        folder = built.home / "landing" / school["laestab"]
        names = {path.name for path in folder.iterdir()}
        assert school["format"] == "ctf25" and any(name.endswith(".xml") for name in names), names
        assert not names & {"pupils.csv", "attendance.csv"}, names
    with pytest.raises(ValueError, match="unknown school file format.*ctf99"):
        build_demo_la(tmp_path / "bad", schools=2, formats=("ctf99",))


def test_the_demo_term_dates_file_is_its_calendar():
    """The demo's ``term_dates.csv`` (demo/calendar.py ``term_dates_csv``) reads and checks, and its half
    terms are the demo calendar's: 2025/26 autumn from Wed 3 Sep; October half term Mon 27 - Fri 31 Oct
    (autumn 1 ends Fri 24 Oct, autumn 2 starts Mon 3 Nov); Christmas from Mon 22 Dec (autumn 2 ends
    Fri 19 Dec); Easter Sunday 5 Apr 2026, holiday Mon 30 Mar - Fri 10 Apr (spring 2 ends Fri 27 Mar,
    summer 1 starts Mon 13 Apr); the summer term ends Wed 22 Jul 2026."""

    from ncc_transfer.demo.calendar import term_dates_csv
    from ncc_transfer.rules.term_dates import parse_term_dates

    dates = parse_term_dates(term_dates_csv([2025, 2026]), "term_dates.csv")
    got = {(h.term, h.half): (h.first_day, h.last_day) for h in dates.halves if h.year == 2025}
    assert got[("autumn", 1)] == (date(2025, 9, 3), date(2025, 10, 24))
    assert got[("autumn", 2)] == (date(2025, 11, 3), date(2025, 12, 19))
    assert got[("spring", 2)][1] == date(2026, 3, 27) and got[("summer", 1)][0] == date(2026, 4, 13)
    assert got[("summer", 2)][1] == date(2026, 7, 22)
    assert dates.years() == {2025, 2026}
