"""The validation feedback outputs (issue 6): school report (HTML + CSV), LA overview, email.

Hand-made issue frames with the columns the warehouse stores (``VALIDATION_ISSUE_COLUMNS`` plus
``nights_seen``, ``status``, ``fixed_on``); real files in tmp_path, a real SMTP server on loopback
(aiosmtpd), and Debian's headless Chromium for rendering.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
import shutil
import socket
import stat
import subprocess
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS
from ncc_transfer.reports import (
    SmtpSettings,
    build_school_email,
    send_school_report,
    should_send,
    write_la_overview,
    write_school_report,
)
from ncc_transfer.reports.school_report import CSV_COLUMNS
from ncc_transfer_tests.conftest import skip_unless_required

AS_OF = date(2026, 11, 29)
SCHOOL_KEY, LAESTAB, SCHOOL_NAME, LA_NAME = "9262001-files", "9262001", "Example Primary School", "Norfolk"
UPN_PATTERN = re.compile(r"\b[A-Z]\d{11}[0-9A-Z]\b")
CHROMIUM = Path("/usr/bin/chromium")
SEEN = pd.Timestamp("2026-11-27 02:00:00")


def issue(upn, dataset, field, value, rule, severity, message, *, status="new", nights=1, fixed_on=None,
          location="pupils.csv line 2", record="", similar=None):
    return {"school_key": SCHOOL_KEY, "laestab": LAESTAB, "upn": upn, "dataset": dataset, "record": record,
            "location": location, "field": field, "value": value, "rule": rule, "severity": severity,
            "message": message, "first_seen": SEEN, "last_seen": pd.Timestamp("2026-11-29 02:00:00"),
            "nights_seen": nights, "status": status, "fixed_on": pd.Timestamp(fixed_on) if fixed_on else pd.NaT,
            "similar_records": similar}


def sample_issues() -> pd.DataFrame:
    rows = [
        issue("A926200110001", "pupils", "dob", "2031-02-30", "dob_not_a_date", "error",
              "Date of birth 2031-02-30 is not a real date — correct it in the pupil's record (Basic details)",
              location="pupils.csv line 14"),
        issue("B926200110002", "pupils", "dob", "2015-04-31", "dob_not_a_date", "error",
              "Date of birth 2015-04-31 is not a real date — correct it in the pupil's record (Basic details)",
              status="persisting", nights=3, location="pupils.csv line 15"),
        issue("C926200110003", "pupils", "surname", "Ga  rcía", "surname_spaces", "warning",
              "Surname 'Ga  rcía' has spaces at the start or end, or two spaces together — remove them",
              status="persisting", nights=2, location="pupils.csv line 16"),
        issue("D926200110004", "pupils", "surname", "<script>alert(1)</script>", "surname_characters", "warning",
              "Surname '<script>alert(1)</script>' contains characters a name cannot have",
              location="pupils.csv line 17"),
        issue("E926200110005", "attendance", "code", "H", "code_not_valid_on_date", "error",
              "1 session mark on 2026-11-02 uses code 'H', which is not a valid code since 19 August 2024",
              location="attendance.csv line 200", record="2026-11-02"),
        issue("F926200110006", "pupils", "postcode", "NRX 4AB", "postcode_invalid", "warning",
              "Postcode 'NRX 4AB' is not a valid UK postcode — correct it in the pupil's record (Address)",
              status="fixed", nights=4, fixed_on="2026-11-29", location="pupils.csv line 18"),
        issue("G926200110007", "exclusions", "category", "=HYPERLINK(\"http://x\")", "category_unknown", "error",
              "The exclusion has category '=HYPERLINK(\"http://x\")', which is not PERM, SUSP or LNCH",
              location="exclusions.csv line 3", record="2026-11-20"),
    ]
    return pd.DataFrame(rows)


def sample_pupils() -> pd.DataFrame:
    return pd.DataFrame({
        "upn": ["A926200110001", "B926200110002", "C926200110003", "D926200110004", "F926200110006", "Z926200110099"],
        "surname": ["Smith", "O'Brien", "Ga  rcía", "<script>alert(1)</script>", "Jones", "Elsewhere"],
        "forename": ["Amy", "Ben", "Carla", "Dan", "Fay", "Zed"],
    })


@pytest.fixture()
def report(tmp_path):
    return write_school_report(sample_issues(), school_key=SCHOOL_KEY, laestab=LAESTAB, school_name=SCHOOL_NAME,
                               la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path / "reports", pupils=sample_pupils())


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- school report ---------------------------------------------------------------------------------------


def test_report_files_are_private_and_named_by_laestab_and_date(report, tmp_path):
    folder = tmp_path / "reports" / LAESTAB
    assert report.html_path == folder / f"{LAESTAB}_validation_{AS_OF.isoformat()}.html"
    assert report.csv_path == folder / f"{LAESTAB}_validation_{AS_OF.isoformat()}.csv"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in (report.html_path, report.csv_path, folder / "latest.html", folder / "latest.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (folder / "latest.html").read_bytes() == report.html_path.read_bytes()
    assert (folder / "latest.csv").read_bytes() == report.csv_path.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [report.html_path.name, report.csv_path.name, "latest.html", "latest.csv"])  # no temporary files left
    assert report.counts == {"errors": 4, "warnings": 2, "new": 4, "persisting": 2, "fixed": 1, "open": 6, "rules": 5}


def test_html_lists_every_record_grouped_by_rule_errors_first(report):
    html = report.html_path.read_text(encoding="utf-8")
    assert f"Data check for {SCHOOL_NAME}" in html and "29 November 2026" in html
    for row in sample_issues().itertuples():
        assert row.upn in html, row.upn
    # names looked up from the pupils frame, UPN alone when there is none (E... has no pupil record)
    for name in ("Smith, Amy", "O&#39;Brien, Ben", "Jones, Fay"):
        assert name in html
    assert "Elsewhere" not in html
    # exact values (doubled space kept, shown pre-wrapped)
    assert "<code>2031-02-30</code>" in html and "<code>Ga  rcía</code>" in html and "<code>H</code>" in html
    # markers
    assert "PERSISTING (3 nights)" in html and "PERSISTING (2 nights)" in html and ">NEW<" in html
    # grouped by rule with plain-English headings; errors before warnings before fixed
    text = _text_of(html)
    start = text.index("We found 6 problems")
    for heading in ("Errors — these records were not loaded", "Date of birth is not a real date",
                    "Attendance code is not valid on that date", "Exclusion category is not recognised",
                    "Warnings — loaded, but please correct", "Surname has extra spaces",
                    "Fixed since last night — thank you"):
        start = text.index(heading, start)  # each one after the previous one
    dob_section = html[html.index('data-rule="dob_not_a_date"'):]
    dob_section = dob_section[:dob_section.index("</section>")]
    assert "A926200110001" in dob_section and "B926200110002" in dob_section and "C926200110003" not in dob_section
    assert "Where in your MIS:" in dob_section and "Basic details" in dob_section
    # the fixed issue is only in the thank-you section, marked FIXED
    fixed = html[html.index('id="fixed"'):]
    assert "F926200110006" in fixed and "FIXED" in fixed and "F926200110006" not in html[:html.index('id="fixed"')]
    # locations
    assert "pupils.csv line 14" in html and "attendance.csv line 200" in html


def test_html_escapes_untrusted_values_and_loads_nothing_external(report):
    html = report.html_path.read_text(encoding="utf-8")
    assert "<script>" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    assert "@media print" in html


def test_csv_has_one_row_per_issue_with_history_and_names(report):
    text = report.csv_path.read_bytes().decode("utf-8")
    assert not text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(sample_issues())
    assert list(rows[0].keys())[:len(CSV_COLUMNS)] == CSV_COLUMNS
    assert set(VALIDATION_ISSUE_COLUMNS) <= set(rows[0].keys())
    by_upn = {r["upn"]: r for r in rows}
    assert set(by_upn) == set(sample_issues()["upn"])
    assert by_upn["B926200110002"]["status"] == "persisting" and by_upn["B926200110002"]["nights_seen"] == "3"
    assert by_upn["B926200110002"]["pupil_name"] == "O'Brien, Ben"
    assert by_upn["E926200110005"]["pupil_name"] == ""
    assert by_upn["F926200110006"]["status"] == "fixed" and by_upn["F926200110006"]["fixed_on"] == "2026-11-29"
    assert by_upn["C926200110003"]["value"] == "Ga  rcía"
    assert by_upn["A926200110001"]["first_seen"] == "2026-11-27 02:00:00"
    # a formula from a school's file is neutralised for spreadsheets
    assert by_upn["G926200110007"]["value"] == "'=HYPERLINK(\"http://x\")"
    # errors first, fixed last
    assert [r["severity"] for r in rows[:4]] == ["error"] * 4 and rows[-1]["status"] == "fixed"


def test_clean_school_gets_a_short_report(tmp_path):
    empty = pd.DataFrame(columns=VALIDATION_ISSUE_COLUMNS + ["nights_seen", "status", "fixed_on"])
    report = write_school_report(empty, school_key=SCHOOL_KEY, laestab=LAESTAB, school_name=SCHOOL_NAME,
                                 la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    html = report.html_path.read_text(encoding="utf-8")
    assert "No problems found" in html and "<table" not in html
    assert report.clean and report.counts["open"] == 0
    assert list(csv.reader(io.StringIO(report.csv_path.read_text(encoding="utf-8")))) == [
        CSV_COLUMNS]
    # fixed-only: still clean, with the thank-you section
    fixed_only = sample_issues().query("status == 'fixed'")
    report = write_school_report(fixed_only, school_key=SCHOOL_KEY, laestab=LAESTAB, school_name=SCHOOL_NAME,
                                 la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    html = report.html_path.read_text(encoding="utf-8")
    assert "No problems found" in html and "Fixed since last night — thank you" in html and "F926200110006" in html


def test_report_refuses_other_schools_rows_and_bad_laestab(tmp_path):
    issues = sample_issues()
    issues.loc[0, "school_key"] = "9269999-files"
    with pytest.raises(ValueError, match="other schools"):
        write_school_report(issues, school_key=SCHOOL_KEY, laestab=LAESTAB, school_name=SCHOOL_NAME,
                            la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    with pytest.raises(ValueError, match="7 digits"):
        write_school_report(sample_issues(), school_key=SCHOOL_KEY, laestab="../etc", school_name=SCHOOL_NAME,
                            la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    assert not any(tmp_path.rglob("*.html"))


def test_issues_without_history_columns_are_new(tmp_path):
    bare = sample_issues()[VALIDATION_ISSUE_COLUMNS]
    report = write_school_report(bare, school_key=SCHOOL_KEY, laestab=LAESTAB, school_name=SCHOOL_NAME,
                                 la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    assert report.counts["new"] == len(bare) and report.counts["fixed"] == 0
    assert should_send(bare)


# --- overview --------------------------------------------------------------------------------------------


def overview_inputs():
    counts = pd.DataFrame([
        {"school_key": "9262001-files", "school_name": "Example Primary", "rule": "dob_not_a_date",
         "severity": "error", "count": 2, "nights_since_clean": 3},
        {"school_key": "9262001-files", "school_name": "Example Primary", "rule": "surname_spaces",
         "severity": "warning", "count": 5, "nights_since_clean": 3},
        {"school_key": "9262002-files", "school_name": "Second & <b>Academy</b>", "rule": "no_mark",
         "severity": "warning", "count": 8, "nights_since_clean": None},
        {"school_key": "9262003-files", "school_name": "Clean School", "rule": None, "severity": None,
         "count": 0, "nights_since_clean": 0},
    ])
    nights = pd.date_range(end=pd.Timestamp(AS_OF), periods=30, freq="D")
    trend = pd.DataFrame(
        [{"night": n.date(), "school_key": "9262001-files", "errors": i % 4, "warnings": 5}
         for i, n in enumerate(nights)]
        + [{"night": n.date(), "school_key": "9262002-files", "errors": 0, "warnings": 8} for n in nights[-10:]]
        + [{"night": date(2026, 9, 1), "school_key": "9262002-files", "errors": 99, "warnings": 99}])  # outside window
    return counts, trend


def test_overview_chart_page_and_markdown(tmp_path):
    counts, trend = overview_inputs()
    overview = write_la_overview(counts, trend, la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    png = overview.png_path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert overview.png_path.parent == tmp_path / "la"
    html = overview.html_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and f'href="{overview.png_path.name}"' in html
    assert "Second &amp; &lt;b&gt;Academy&lt;/b&gt;" in html and "<b>Academy" not in html
    assert "clean tonight" in html and "none on record" in html and "3 nights ago" in html
    assert "Date of birth is not a real date" in html
    assert overview.totals == {"schools": 3, "clean": 1, "errors": 2, "warnings": 13}
    assert "9262001-files" in overview.markdown and "2 errors" in overview.markdown
    assert not UPN_PATTERN.search(overview.markdown) and not UPN_PATTERN.search(html)
    assert overview.chart_markdown().startswith(overview.markdown)
    latest = (tmp_path / "la" / "latest.html").read_text(encoding="utf-8")
    assert 'href="latest.png"' in latest


def test_overview_with_no_history(tmp_path):
    counts, _ = overview_inputs()
    overview = write_la_overview(counts, pd.DataFrame(columns=["night", "school_key", "errors", "warnings"]),
                                 la_name=LA_NAME, as_of=AS_OF, reports_root=tmp_path)
    assert overview.png_path.read_bytes().startswith(b"\x89PNG")


# --- email -----------------------------------------------------------------------------------------------


def test_smtp_settings_from_env():
    assert SmtpSettings.from_env({}) is None
    settings = SmtpSettings.from_env({"NCC_SMTP_HOST": "smtp.example.org", "NCC_SMTP_PORT": "587",
                                      "NCC_SMTP_USER": "la", "NCC_SMTP_PASSWORD": "s3cret-value",
                                      "NCC_SMTP_FROM": "data@example.org"})
    assert settings.starttls and not settings.ssl and settings.port == 587
    assert "s3cret-value" not in repr(settings)
    assert SmtpSettings.from_env({"NCC_SMTP_HOST": "h", "NCC_SMTP_FROM": "a@b.c"}).port == 25
    assert SmtpSettings.from_env({"NCC_SMTP_HOST": "h", "NCC_SMTP_FROM": "a@b.c", "NCC_SMTP_PORT": "465"}).ssl
    with pytest.raises(ValueError, match="NCC_SMTP_FROM"):
        SmtpSettings.from_env({"NCC_SMTP_HOST": "h"})
    with pytest.raises(ValueError, match="unencrypted"):
        SmtpSettings.from_env({"NCC_SMTP_HOST": "smtp.example.org", "NCC_SMTP_FROM": "a@b.c", "NCC_SMTP_USER": "u",
                               "NCC_SMTP_STARTTLS": "false"})
    with pytest.raises(ValueError, match="NCC_SMTP_SSL"):
        SmtpSettings.from_env({"NCC_SMTP_HOST": "h", "NCC_SMTP_FROM": "a@b.c", "NCC_SMTP_SSL": "maybe"})


def test_should_send_only_when_something_is_new():
    issues = sample_issues()
    assert should_send(issues)
    assert not should_send(issues[issues["status"] != "new"])
    assert not should_send(issues.iloc[0:0])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_email_arrives_at_local_smtp_server_with_attachments(report):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        smtp = SmtpSettings.from_env({"NCC_SMTP_HOST": "127.0.0.1", "NCC_SMTP_PORT": str(controller.port),
                                      "NCC_SMTP_FROM": "data.team@norfolk.example"})
        send_school_report(report, to="data.manager@example.sch.uk", school_name=SCHOOL_NAME, la_name=LA_NAME,
                           new_count=report.counts["new"], smtp=smtp)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()

    assert len(received) == 1
    envelope = received[0]
    assert envelope.rcpt_tos == ["data.manager@example.sch.uk"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == f"Data check for {SCHOOL_NAME}: 29 November 2026"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "4 new problems" in body and "attached" in body
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {report.html_path.name, report.csv_path.name}
    assert attachments[report.html_path.name].get_content_type() == "text/html"
    assert attachments[report.html_path.name].get_payload(decode=True) == report.html_path.read_bytes()
    assert attachments[report.csv_path.name].get_payload(decode=True) == report.csv_path.read_bytes()
    assert attachments[report.csv_path.name].get_content_type() == "text/csv"
    # no pupil data outside the attachments
    pupil_strings = set(sample_issues()["upn"]) | set(sample_pupils()["surname"]) | {"Amy", "Ben", "2031-02-30"}
    for text in (message["Subject"], body):
        assert not UPN_PATTERN.search(text)
        assert not any(s in text for s in pupil_strings), text


def test_email_refuses_header_injection(report):
    with pytest.raises(ValueError):
        build_school_email(report, to="a@b.c\r\nBcc: x@y.z", school_name=SCHOOL_NAME, la_name=LA_NAME, new_count=1,
                           sender="d@e.f")


# --- rendering in a real browser ---------------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True, timeout=60, check=False)


def test_report_renders_in_headless_chromium(report, tmp_path):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        skip_unless_required("NCC_REQUIRE_CHROMIUM",
                             "Debian chromium not installed: apt-get install chromium (.ci/run installs it)")
    url = report.html_path.as_uri()
    screenshot = tmp_path / "report.png"
    shot = _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,2000", url)
    assert screenshot.exists(), shot.stderr.decode(errors="replace")[-2000:]
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000  # a rendered page, not a blank one

    dump = _chromium(tmp_path, "--dump-dom", url)
    dom = dump.stdout.decode("utf-8")
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")[-2000:]
    rows = re.findall(r'<tr class="issue (new|persisting|fixed)">(.*?)</tr>', dom, flags=re.DOTALL)
    assert len(rows) == len(sample_issues())
    rendered = {re.search(UPN_PATTERN, cells).group(0): (status, _text_of(cells)) for status, cells in rows}
    assert rendered["A926200110001"][0] == "new" and "Smith, Amy" in rendered["A926200110001"][1]
    assert "2031-02-30" in rendered["A926200110001"][1]
    assert "PERSISTING (3 nights)" in rendered["B926200110002"][1]
    assert rendered["F926200110006"][0] == "fixed"
    # the hostile surname is text in the rendered DOM, not an element
    assert "<script>alert" not in dom and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
