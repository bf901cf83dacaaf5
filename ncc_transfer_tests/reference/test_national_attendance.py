"""National attendance reference figures (reference/national_attendance.py) and ``ncc-transfer reference-refresh``."""

from __future__ import annotations

from datetime import date

from ncc_transfer.cli import main
from ncc_transfer.reference import national_attendance as national

# The DfE's year-to-date file, as shipped in dfe-analytical-services/attendance-data-dashboard
# (data/EES_ytd_data.csv): the real header (first columns and the ones read), quoted as the DfE quotes it,
# one Local authority row (ignored), the four National rows, and a row that is not an academic year.
HEADER = ('"time_period","geographic_level","country_code","country_name","region_code","region_name",'
          '"new_la_code","la_name","old_la_code","education_phase","num_schools","enrolments",'
          '"attendance_perc","overall_absence_perc","pa_perc","time_identifier"')
DFE_FILE = "\n".join([
    HEADER,
    '"203031","Local authority","E92000001","England","E12000006","East of England","E10000020","Norfolk","926",'
    '"Primary",346,"62529","94.5","5.5","13.5","Academic year"',
    '"203031","National","E92000001","England","","","","","","Primary",16038,"3556801","94.72331946",'
    '"5.27668054","13.77256653","Academic year"',
    '"203031","National","E92000001","England","","","","","","Secondary",3288,"3009455","91.5102181",'
    '"8.4897819","23.76803427","Academic year"',
    '"203031","National","E92000001","England","","","","","","Special",1065,"144433","86.83085507",'
    '"13.16914493","36.06167784","Academic year"',
    '"203031","National","E92000001","England","","","","","","Total",20392,"6710690","93.11675186",'
    '"6.88324814","18.78176046","Academic year"',
    '"203031","National","E92000001","England","","","","","","Total",20392,"6710690","90","10","30","Spring term"',
]) + "\n"


def test_shipped_figures_are_the_dfe_national_rows():
    figures = national.load()
    by_key = {(f.academic_year, f.phase): f for f in figures}
    # 2024/25, the DfE's end-of-year release (dashboard commit f9c6744, 7 Aug 2025).
    assert by_key[("2024/25", "primary")].attendance_rate == 94.7527
    assert by_key[("2024/25", "secondary")].pa_rate == 24.318
    assert all(f.sa_rate is None for f in figures)  # the DfE's file has no severe absence rate
    assert {f.phase for f in figures} == {"primary", "secondary", "special", "total"}
    assert national.figure_for("all-through", date(2025, 3, 1)).phase == "total"
    # A year not shipped yet: the latest earlier year.
    assert national.figure_for("primary", date(2040, 1, 1)).academic_year == max(f.academic_year for f in figures)


def test_reference_refresh_rebuilds_the_file_from_the_dfe_layout(tmp_path, capsys):
    shipped = tmp_path / "national_attendance.csv"
    shipped.write_text(national.SHIPPED.read_text())
    before = national.load(shipped)
    source = tmp_path / "EES_ytd_data.csv"
    source.write_text(DFE_FILE)
    assert main(["reference-refresh", "--from", str(source), "--out", str(shipped), "--published", "2031-07-24",
                 "--source-url", "https://example.org/ytd.csv"]) == 0
    assert "4 national figures for 2030/31" in capsys.readouterr().out
    after = national.load(shipped)
    new = [f for f in after if f.academic_year == "2030/31"]
    assert [(f.phase, f.attendance_rate, f.pa_rate) for f in new] == [
        ("primary", 94.7233, 13.7726), ("secondary", 91.5102, 23.768), ("special", 86.8309, 36.0617),
        ("total", 93.1168, 18.7818)]
    assert {f.published for f in new} == {"2031-07-24"} and {f.source_url for f in new} == {"https://example.org/ytd.csv"}
    assert [f for f in after if f.academic_year != "2030/31"] == before  # other years kept as they were
    # Refreshing again with the same file changes nothing.
    assert main(["reference-refresh", "--from", str(source), "--out", str(shipped), "--published", "2031-07-24",
                 "--source-url", "https://example.org/ytd.csv"]) == 0
    assert national.load(shipped) == after


def test_reference_refresh_refuses_another_layout(tmp_path, capsys):
    source = tmp_path / "other.csv"
    source.write_text("year,phase,rate\n2030,Primary,94\n")
    assert main(["reference-refresh", "--from", str(source), "--out", str(tmp_path / "out.csv")]) == 2
    assert "not the DfE's year-to-date attendance layout" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
