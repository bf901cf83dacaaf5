"""The termly targeting support pack on a small demo LA: the Dagster assets, ``ncc-transfer pack``, and
the pack and the LA page rendered in headless Chromium (docs/targeting_pack.md)."""

from __future__ import annotations

import os
import re
import shutil
import stat
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from ncc_transfer.cli import main
from ncc_transfer.defs.reports.targeting import PACK_ASSET, targeting_la_page, targeting_pack
from ncc_transfer.defs.resources import MailResource, NccSettings
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env, skip_unless_required
from ncc_transfer_tests.reports.test_reports import CHROMIUM, UPN_PATTERN, _chromium

AS_OF = DEMO_AS_OF  # Fri 20 Mar 2026: spring term 2025/26
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOT_NAMES = {"school": "targeting_pack.png", "la": "la_targeting.png"}


@pytest.fixture(scope="module")
def loaded_la(tmp_path_factory):
    """A demo LA of 3 schools (files route) loaded by one night, with one school's pack written by the CLI."""
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path_factory.mktemp("targeting") / "la"
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=AS_OF, pupils_scale=0.3)
        assert main(["run", "--as-of", AS_OF.isoformat()]) == 0
    keys = [f"{s['laestab']}-files" for s in demo.schools if s["active"]]
    return home, demo, keys


def test_pack_command_writes_the_pack_owner_only(loaded_la, capsys):
    home, demo, keys = loaded_la
    with ncc_env(home):
        assert main(["pack", "--school", keys[0], "--as-of", AS_OF.isoformat()]) == 0
    printed = capsys.readouterr().out.splitlines()
    folder = home / "packs" / keys[0][:7] / "2025-26-spring"
    assert printed[0] == str(folder)
    names = {p.name for p in folder.iterdir()}
    assert names == {"targeting_pack.html", "sa_pa_pupils.csv", "early_identification.csv"}
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    html = (folder / "targeting_pack.html").read_text()
    for heading in ("This school year to date", "Week by week", "Severely absent pupils", "Persistently absent pupils",
                    "Early identification", "By cohort, against the LA", "By year group, against the LA",
                    "Open statutory items"):
        assert heading in html
    assert "<svg" in html and "<script" not in html and "src=" not in html and "<link" not in html
    assert "phase: primary (inferred from the roll)" in html or "phase: secondary" in html or "all-through" in html
    header = (folder / "sa_pa_pupils.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("upn,surname,forename,nc_year,sen_provision,fsm_eligible")

    with ncc_env(home):
        assert main(["pack", "--school", "9269999-files"]) == 2
    assert "no school with key 9269999-files" in capsys.readouterr().err


def test_assets_materialise_a_school_pack_and_the_la_page_with_counts_only(loaded_la):
    home, demo, keys = loaded_la
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    with ncc_env(home), dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(school_partitions.name, keys)
        config = {"ops": {"targeting_pack": {"config": {"as_of": AS_OF.isoformat()}}}, **quiet}
        result = dg.materialize([targeting_pack], partition_key=keys[1], instance=instance,
                                resources={"ncc": NccSettings(), "mail": MailResource()}, run_config=config)
        assert result.success
        events = result.asset_materializations_for_node(PACK_ASSET)
        assert [e.partition for e in events] == [keys[1]]
        metadata = events[0].metadata
        counts = metadata["counts"].value
        assert set(counts) >= {"severe", "persistent_not_severe", "early_identification", "open_ten_day_absence"}
        assert metadata["email"].value == "email off"  # NCC_PACK_EMAIL is off by default
        assert all(isinstance(v, int) for v in counts.values())
        assert not UPN_PATTERN.search(str(metadata))  # no pupil in the metadata
        assert (home / "packs" / keys[1][:7] / "2025-26-spring" / "targeting_pack.html").exists()

        la = dg.materialize([targeting_la_page], instance=instance, resources={"ncc": NccSettings()},
                            run_config={"ops": {"targeting_la_page": {"config": {"as_of": AS_OF.isoformat()}}}, **quiet})
        assert la.success
    page = (home / "packs" / "la" / "2025-26-spring" / "la_targeting.html").read_text()
    assert "By phase" in page and "Schools furthest below" in page and "Cohort gaps" in page
    assert not UPN_PATTERN.search(page)  # counts only: no UPN
    assert "<script" not in page


@pytest.mark.parametrize("page", ["school", "la"])
def test_pack_and_la_page_render_in_headless_chromium(loaded_la, tmp_path, page):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        skip_unless_required("NCC_REQUIRE_CHROMIUM",
                             "Debian chromium not installed: apt-get install chromium (.ci/run installs it)")
    home, demo, keys = loaded_la
    with ncc_env(home):
        if page == "school":
            assert main(["pack", "--school", keys[0], "--as-of", AS_OF.isoformat()]) == 0
            path = home / "packs" / keys[0][:7] / "2025-26-spring" / "targeting_pack.html"
        else:
            assert main(["pack", "--la", "--as-of", AS_OF.isoformat()]) == 0
            path = home / "packs" / "la" / "2025-26-spring" / "la_targeting.html"
    # NCC_UPDATE_SCREENSHOTS=1 (as the console's browser test): the documentation's screenshots are replaced.
    update = os.environ.get("NCC_UPDATE_SCREENSHOTS", "") not in ("", "0")
    screenshot = (DOCS_SCREENSHOTS / SHOT_NAMES[page]) if update else tmp_path / f"{page}.png"
    shot = _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2400", path.as_uri())
    assert screenshot.exists(), shot.stderr.decode(errors="replace")[-2000:]
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000
    dump = _chromium(tmp_path, "--dump-dom", path.as_uri())
    dom = dump.stdout.decode("utf-8")
    assert dump.returncode == 0
    if page == "school":
        assert re.search(r"<svg[^>]*class=\"chart\"", dom) and "<polyline" in dom
    else:
        assert "<td>primary</td>" in dom or "<td>secondary</td>" in dom


def test_hostile_names_are_text_in_the_html_and_not_formulas_in_the_csv(tmp_path):
    """A name from the MIS is untrusted: escaped in the page, and a CSV cell that a spreadsheet would read
    as a formula is written as text."""
    import pandas as pd

    from ncc_transfer.reports.targeting_pack import SchoolPack, write_school_pack
    from ncc_transfer.rules.absence import absence_summary
    from ncc_transfer.rules import targeting as rules
    from ncc_transfer_tests.rules.test_rules_targeting import SCHOOL, TWO_WEEKS, absent_first, attendance, marks, pupils

    roll = pupils([{"upn": "H1", "surname": "<script>alert(1)</script>", "forename": "=HYPERLINK(\"http://x\")"}])
    marks_ = attendance(marks("H1", TWO_WEEKS, absent_first(TWO_WEEKS, 12, "O")))
    as_of = date(2026, 9, 18)
    summary = absence_summary(roll, marks_, as_of)
    term, last = rules.term_of(marks_, SCHOOL, as_of)
    pack = SchoolPack(
        school_key=SCHOOL, laestab=SCHOOL[:7], school_name="A & B School", la_name="Norfolk", as_of=as_of,
        term_label=term.label(), term=term, last_term=last, phase="primary", phase_source="registry",
        rates=rules.school_rates(summary), la_rates=rules.school_rates(summary), national=None,
        weekly=rules.weekly_series(roll, marks_, SCHOOL, as_of),
        pupils=rules.pupil_lists(roll, marks_, summary, SCHOOL, as_of),
        early=pd.DataFrame(columns=["upn", "surname", "forename", "nc_year", "rate_before", "rate_recent",
                                    "drop_points", "rate_ytd"]),
        cohorts=rules.with_la(rules.cohort_rates(summary, roll), rules.cohort_rates(summary, roll), ["cohort", "group"]),
        year_groups=rules.with_la(rules.year_group_rates(summary, roll), rules.year_group_rates(summary, roll), ["group"]),
        open_items={name: pd.DataFrame() for name in rules.OPEN_ITEM_VIEWS})
    written = write_school_pack(pack, tmp_path / "packs")
    assert written.folder == tmp_path / "packs" / "9262001" / "2026-27-autumn"
    assert written.counts["severe"] == 1  # 12 of 20 sessions missed
    html = (written.folder / "targeting_pack.html").read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &amp; B School" in html
    csv_text = (written.folder / "sa_pa_pupils.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text


def test_the_pack_from_either_warehouse_matches_the_hand_worked_case(backend, tmp_path):
    """The four pupils of the rules' tests (rules/test_rules_targeting.py), loaded into DuckDB or PostgreSQL
    with their views: the pack reads the same figures back, cohorts included (the warehouse stores the
    pupils' cohort columns, and null stays "not recorded")."""
    from pathlib import Path

    import pandas as pd

    from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS, coerce_types
    from ncc_transfer.registry import Registry, School
    from ncc_transfer.targeting import build_school_pack, write_pack
    from ncc_transfer.views import compute_school_views
    from ncc_transfer_tests.rules.test_rules_targeting import AS_OF as RULES_AS_OF, SCHOOL, four_pupils, rates_of

    roll, marks_, _ = four_pupils()
    pupils = coerce_types("pupils", roll.assign(sex="F"))
    views = compute_school_views(pupils, marks_, coerce_types("exclusions", pd.DataFrame()), RULES_AS_OF)
    backend.replace_school(SCHOOL, {"pupils": pupils, "attendance": marks_},
                           pd.DataFrame({c: pd.Series(dtype=object) for c in VALIDATION_ISSUE_COLUMNS}),
                           night=RULES_AS_OF, views=views)
    school = School(SCHOOL[:7], "Example Primary", "files", source={"path": "landing/x"})
    registry = Registry(Path("schools.yaml"), "926", "Norfolk", (school,))
    pack = build_school_pack(backend, registry, school, RULES_AS_OF)
    assert (pack.phase, pack.phase_source) == ("primary", "inferred from the roll")
    assert pack.rates["attendance_rate"] == pytest.approx(0.80) and pack.rates["pa_rate"] == pytest.approx(0.75)
    assert list(zip(pack.pupils["upn"], pack.pupils["list"])) == [("P3", "SA"), ("P4", "PA"), ("P2", "PA")]
    # As worked in test_school_rates_and_rates_by_cohort_on_four_pupils_over_two_weeks, read back.
    assert rates_of(pack.cohorts, "sen_provision") == {
        "K (SEN support)": (2, 0.95, 0.5, 0.0), "N (no SEN)": (1, 0.8, 1.0, 0.0), "not recorded": (1, 0.5, 1.0, 1.0)}
    assert rates_of(pack.cohorts, "fsm_eligible") == {
        "yes": (2, 0.9, 0.5, 0.0), "no": (1, 0.9, 1.0, 0.0), "not recorded": (1, 0.5, 1.0, 1.0)}
    assert rates_of(pack.cohorts, "looked_after") == {"not recorded": (4, 0.8, 0.75, 0.25)}
    assert [(r.group, r.pupils) for r in pack.year_groups.itertuples()] == [("5", 2), ("6", 2)]
    assert list(pack.weekly["week_number"]) == [2, 3]  # weeks of Mon 7 and Mon 14 Sep 2026
    # Another date than the stored views': computed from the marks, the same figures.
    later = build_school_pack(backend, registry, school, date(2026, 9, 21))
    assert later.rates == pack.rates
    written = write_pack(backend, registry, school, as_of=RULES_AS_OF, home=tmp_path)
    assert written.counts["severe"] == 1 and written.counts["persistent_not_severe"] == 2
    # What the break sensor reads, on either warehouse: the night's date and the LA's school days.
    from ncc_transfer.rules.calendar import school_days
    from ncc_transfer.targeting import la_school_days, latest_night

    assert latest_night(backend) == RULES_AS_OF
    expected = [d.date() for d in school_days(marks_)["date"]]
    assert la_school_days(backend, date(2026, 9, 1), RULES_AS_OF) == expected and len(expected) == 10


def _assert_same_pack(alone, together):
    import pandas as pd

    for name in ("school_key", "laestab", "term_label", "term", "last_term", "phase", "phase_source", "rates",
                 "la_rates", "national", "views_as_of"):
        assert getattr(alone, name) == getattr(together, name), name
    for name in ("weekly", "pupils", "early", "cohorts", "year_groups"):
        pd.testing.assert_frame_equal(getattr(alone, name).reset_index(drop=True),
                                      getattr(together, name).reset_index(drop=True), obj=name)
    assert alone.open_items.keys() == together.open_items.keys()
    for name in alone.open_items:
        pd.testing.assert_frame_equal(alone.open_items[name].reset_index(drop=True),
                                      together.open_items[name].reset_index(drop=True), obj=name)


@pytest.mark.parametrize("as_of", [AS_OF, date(2026, 2, 6)], ids=["stored views' date", "another date"])
def test_every_pack_built_together_is_the_pack_built_alone(loaded_la, tmp_path, monkeypatch, as_of):
    """The all-schools build (the LA read once, its phase figures computed once, packs written in a process
    pool) gives each school the pack it gets alone: frame by frame, and file by file."""
    import pandas as pd

    from ncc_transfer import targeting, targeting_all
    from ncc_transfer.config import ncc_home, schools_file, warehouse_url
    from ncc_transfer.registry import load_registry
    from ncc_transfer.targeting import assemble_pack, build_school_pack, read_la, school_inputs, write_pack
    from ncc_transfer.warehouse import open_warehouse

    home, demo, keys = loaded_la
    monkeypatch.setattr(targeting_all, "MIN_SCHOOLS", 1)  # 3 schools: use the pool all the same
    with ncc_env(home):
        registry = load_registry(schools_file(), home=ncc_home())
        warehouse = open_warehouse(warehouse_url())
        try:
            la = read_la(warehouse, registry, as_of)
            # The year summary computed a school at a time is the one computed for all at once.
            keys_all = sorted(la.phases)
            monkeypatch.setattr(targeting, "SUMMARY_BATCH", 1)
            one_at_a_time = targeting.year_summary(warehouse, la.pupils, keys_all, as_of)
            monkeypatch.setattr(targeting, "SUMMARY_BATCH", 100)
            pd.testing.assert_frame_equal(one_at_a_time, targeting.year_summary(warehouse, la.pupils, keys_all, as_of))
            for school in registry.active_schools:
                _assert_same_pack(build_school_pack(warehouse, registry, school, as_of),
                                  assemble_pack(school_inputs(warehouse, la, school)))
            alone = {s.key: write_pack(warehouse, registry, s, as_of=as_of, home=tmp_path / "alone")
                     for s in registry.active_schools}
            together = targeting_all.write_all_packs(warehouse, registry, as_of=as_of, home=tmp_path / "all",
                                                     workers=2)
        finally:
            warehouse.close()
    assert set(together.packs) == set(alone) == set(keys) and not together.failed
    for key, written in alone.items():
        assert together.packs[key].counts == written.counts
        for path in written.files:
            assert (together.packs[key].folder / path.name).read_bytes() == path.read_bytes(), path.name
    assert together.la_page.files[0].name == "la_targeting.html"


def test_pack_all_command_writes_every_active_school_and_the_la_page(loaded_la, capsys):
    home, demo, keys = loaded_la
    with ncc_env(home):
        assert main(["pack", "--all", "--as-of", AS_OF.isoformat()]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(home / "packs" / "la" / "2025-26-spring" / "la_targeting.html"),
                       f"{len(keys)} school packs under {home / 'packs'}"]
    for key in keys:
        assert (home / "packs" / key[:7] / "2025-26-spring" / "targeting_pack.html").exists()


def test_pack_notice_goes_to_contact_and_officer_without_pupil_data_only_when_on(loaded_la, smtp_server, capsys):
    """NCC_PACK_EMAIL on and SMTP set: each school's contact and officer get one notice through a real SMTP
    server on loopback: counts and the folder, no attachment, no pupil. Off (the default): nothing is sent."""
    from ncc_transfer.config import warehouse_url
    from ncc_transfer.warehouse import open_warehouse

    home, demo, keys = loaded_la
    host, port, mails = smtp_server
    registry = home / "schools.yaml"
    text = registry.read_text()
    if "officer:" not in text:
        registry.write_text(re.sub(r"(\n( +)contact: [^\n]+)", r"\1\n\2officer: attendance.officer@norfolk.gov.uk", text))
    smtp = {"NCC_SMTP_HOST": host, "NCC_SMTP_PORT": str(port), "NCC_SMTP_FROM": "attendance@norfolk.gov.uk"}
    with ncc_env(home, **smtp):
        assert main(["pack", "--all", "--as-of", AS_OF.isoformat()]) == 0
    assert mails == []  # off by default
    with ncc_env(home, NCC_PACK_EMAIL="true", **smtp):
        assert main(["pack", "--all", "--as-of", AS_OF.isoformat()]) == 0
        warehouse = open_warehouse(warehouse_url())
        try:
            audit = warehouse.read("SELECT school_key, detail FROM audit_log WHERE event = 'pack_notice_sent'")
        finally:
            warehouse.close()
    assert f"pack notices: emailed {len(keys)}" in capsys.readouterr().err
    assert len(mails) == len(keys) and sorted(audit["school_key"]) == sorted(keys)
    for mail in mails:
        recipients = [a.strip() for a in mail["To"].split(",")]
        assert len(recipients) == 2 and recipients[1] == "attendance.officer@norfolk.gov.uk"
        assert recipients[0].startswith("data.manager@")
        subject = str(mail["Subject"]).strip()
        assert subject.startswith("Attendance targeting pack for ") and subject.endswith(": 20 March 2026")
        assert not mail.is_multipart() and not list(mail.iter_attachments())
        body = mail.get_content()
        assert str(home / "packs") in body and "2025-26-spring" in body and "not attached" in body
        assert "severely absent pupil" in body
        assert not UPN_PATTERN.search(body)  # no pupil


def test_a_stop_signal_in_a_schools_duckdb_query_stops_the_packs_instead_of_failing_that_school(loaded_la, monkeypatch):
    """As in the night (test_failfast.py): DuckDB replaces the stop signal's exception with its own
    RuntimeError("Query interrupted"); under ``interrupts_noted`` the packs stop with the signal's own
    exception instead of recording the school's pack as failed and going on to the next."""
    import duckdb

    from ncc_transfer import targeting_all
    from ncc_transfer.config import schools_file, warehouse_url
    from ncc_transfer.night_guard import NightInterrupted, interrupts_noted, signals_interrupt
    from ncc_transfer.registry import load_registry
    from ncc_transfer.warehouse import open_warehouse
    from ncc_transfer_tests.hardening.test_failfast import SLOW_QUERY, _signal_soon

    home, _, _ = loaded_la
    monkeypatch.setattr(targeting_all, "school_inputs",
                        lambda *args, **kwargs: duckdb.connect().execute(SLOW_QUERY).fetchall())
    with ncc_env(home):
        registry = load_registry(schools_file())
        warehouse = open_warehouse(warehouse_url())
        try:
            with signals_interrupt(), interrupts_noted():
                timer = _signal_soon()
                with pytest.raises(NightInterrupted):
                    targeting_all.write_all_packs(warehouse, registry, as_of=AS_OF, home=home, la_page=False, workers=0)
                timer.join()
        finally:
            warehouse.close()


def test_the_packs_terms_come_from_the_term_dates_file(loaded_la, tmp_path):
    """A pack made in the Easter holiday, before the data shows that break. The demo LA's term dates file
    (``term_dates.csv``, its calendar): spring 2 2025/26 ends Fri 27 Mar 2026, summer 1 starts Mon 13 Apr
    (Easter Sunday 5 Apr). The night of 20 Mar holds marks to 19 Mar. As of Wed 8 Apr 2026, by the file
    the pack is the spring term's (Mon 5 Jan - Fri 27 Mar; last term autumn, Wed 3 Sep - Fri 19 Dec);
    without the file the terms are read from the data, which shows no Easter break yet, so summer starts
    on the Tuesday after Easter Monday (7 Apr) and the pack would be filed under the summer term."""
    from ncc_transfer.config import ncc_home, schools_file, warehouse_url
    from ncc_transfer.registry import load_registry
    from ncc_transfer.rules.term_dates import Term
    from ncc_transfer.targeting import build_la_page, build_school_pack
    from ncc_transfer.warehouse import open_warehouse

    home, _, keys = loaded_la
    on = date(2026, 4, 8)

    def packs(**env):
        with ncc_env(home, **env):
            registry = load_registry(schools_file(), home=ncc_home())
            warehouse = open_warehouse(warehouse_url())
            try:
                school = build_school_pack(warehouse, registry, registry.by_key()[keys[0]], on)
                return school, build_la_page(warehouse, registry, on)
            finally:
                warehouse.close()

    assert "2025/26,spring,2,2026-02-23,2026-03-27" in (home / "term_dates.csv").read_text().splitlines()
    school, la = packs()
    assert school.term == Term("spring", date(2026, 1, 5), date(2026, 3, 27))
    assert school.last_term == Term("autumn", date(2025, 9, 3), date(2025, 12, 19))
    assert school.term_label == la.term_label == "2025-26-spring"

    school, la = packs(NCC_TERM_DATES_FILE=str(tmp_path / "none.csv"))  # no file: as before
    assert school.term == Term("summer", date(2026, 4, 7), date(2026, 8, 31))
    assert school.term_label == la.term_label == "2025-26-summer"
