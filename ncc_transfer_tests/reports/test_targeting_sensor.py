"""The targeting packs made automatically after the last school day of each half term: the sensor
(defs/reports/targeting_sensor.py) on a real Dagster instance over a demo LA loaded by real nights.

The demo calendar (demo/calendar.py) has the October half term in the week of the last Monday of
October: Mon 27 - Fri 31 Oct 2025, the last school day before it Fri 24 Oct 2025; the demo writes the
same as its LA's term dates file (``term_dates.csv``: autumn 1 2025/26 from Wed 3 Sep to Fri 24 Oct
2025). A night is dated by its run (02:00) and holds the extracts of the evening before. With the file
the packs are due on the night of Sat 25 Oct, the first holding Fri 24 Oct's marks; without it
(removed), once the data shows the break: on the night of Sat 1 Nov, the first holding Fri 31 Oct's
marks (the break's fifth weekday).
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from ncc_transfer.cli import main
from ncc_transfer_tests.conftest import ncc_env


@pytest.fixture(scope="module")
def half_term_la(tmp_path_factory):
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path_factory.mktemp("break") / "la"
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=date(2025, 11, 1), pupils_scale=0.3)
    (home / "term_dates.csv").unlink()  # no term dates file: breaks read from the data, as before the file
    return home, demo


@pytest.fixture(scope="module")
def term_dates_la(tmp_path_factory):
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path_factory.mktemp("term_dates") / "la"
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=date(2025, 10, 25), pupils_scale=0.3)
    return home, demo


def _tick(cursor=None):
    from ncc_transfer.defs.reports.targeting_sensor import targeting_packs_after_break
    from ncc_transfer.night import dagster_instance

    context = dg.build_sensor_context(instance=dagster_instance(), cursor=cursor)
    return context, targeting_packs_after_break(context)


def test_the_sensor_requests_the_packs_once_the_half_term_shows(half_term_la):
    from ncc_transfer.defs.reports.targeting import LA_PAGE_ASSET, PACK_ASSET
    from ncc_transfer.definitions import defs
    from ncc_transfer.defs.schools.partitions import school_partitions

    home, demo = half_term_la
    keys = [f"{s['laestab']}-files" for s in demo.schools if s["active"]]
    with ncc_env(home):
        # The night of Fri 31 Oct (02:00 Friday, marks to Thu 30 Oct): four weekdays of half term loaded,
        # not yet a break.
        assert main(["run", "--as-of", "2025-10-31"]) == 0
        context, result = _tick()
        assert isinstance(result, dg.SkipReason) and "no break" in result.skip_message
        assert "read from the data (no term dates file)" in result.skip_message

        # The night of Sat 1 Nov (marks to Fri 31 Oct): five weekdays without school: the packs as of Fri 24 Oct.
        assert main(["run", "--as-of", "2025-11-01"]) == 0
        context, request = _tick()
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == "targeting_packs:2025-10-24"
        assert request.job_name == "targeting_packs"
        assert request.run_config["ops"][PACK_ASSET]["config"]["as_of"] == "2025-10-24"
        assert request.run_config["ops"][LA_PAGE_ASSET]["config"]["as_of"] == "2025-10-24"
        in_order = [k for k in context.instance.get_dynamic_partitions(school_partitions.name) if k in keys]
        assert (request.tags["dagster/asset_partition_range_start"],
                request.tags["dagster/asset_partition_range_end"]) == (in_order[0], in_order[-1])
        assert context.cursor == "2025-10-24"

        # A later tick of the same break asks for nothing more (the cursor; the run key too).
        again_context, again = _tick(cursor=context.cursor)
        assert isinstance(again, dg.SkipReason) and "already requested" in again.skip_message

        # The requested run, executed on the real instance: every active school's pack and the LA page.
        job = defs().get_job_def("targeting_packs")
        run = job.execute_in_process(instance=again_context.instance, run_config=request.run_config,
                                     tags=request.tags)
        assert run.success
        packs = {e.partition for e in run.asset_materializations_for_node(PACK_ASSET)}
        assert packs == set(keys)
    for key in keys:
        assert (home / "packs" / key[:7] / "2025-26-autumn" / "targeting_pack.html").exists()
    assert (home / "packs" / "la" / "2025-26-autumn" / "la_targeting.html").exists()


def test_with_the_term_dates_file_the_packs_are_due_the_night_of_the_last_day(term_dates_la):
    from ncc_transfer.defs.reports.targeting import LA_PAGE_ASSET, PACK_ASSET
    from ncc_transfer.definitions import defs

    home, demo = term_dates_la
    keys = [f"{s['laestab']}-files" for s in demo.schools if s["active"]]
    assert "2025/26,autumn,1,2025-09-03,2025-10-24" in (home / "term_dates.csv").read_text().splitlines()
    with ncc_env(home):
        # The night of Fri 24 Oct (02:00 Friday): Friday's marks are not in it yet.
        assert main(["run", "--as-of", "2025-10-24"]) == 0
        _, result = _tick()
        assert isinstance(result, dg.SkipReason)
        assert "by the term dates file" in result.skip_message
        assert ("autumn 1 2025/26 ends on Fri 24 Oct 2025, its packs due once the night of Sat 25 Oct 2025 has "
                "loaded; the latest loaded night is Fri 24 Oct 2025") in result.skip_message

        # The night of Sat 25 Oct, the first with the half term's last day: the packs as of that day, at once.
        assert main(["run", "--as-of", "2025-10-25"]) == 0
        context, request = _tick()
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == "targeting_packs:2025-10-24"
        assert request.run_config["ops"][PACK_ASSET]["config"]["as_of"] == "2025-10-24"
        assert request.run_config["ops"][LA_PAGE_ASSET]["config"]["as_of"] == "2025-10-24"
        assert context.cursor == "2025-10-24"
        again_context, again = _tick(cursor=context.cursor)
        assert isinstance(again, dg.SkipReason) and "already requested" in again.skip_message
        assert "autumn 1 2025/26 ended on Fri 24 Oct 2025" in again.skip_message

        run = defs().get_job_def("targeting_packs").execute_in_process(
            instance=again_context.instance, run_config=request.run_config, tags=request.tags)
        assert run.success
        assert {e.partition for e in run.asset_materializations_for_node(PACK_ASSET)} == set(keys)
    for key in keys:  # the term from the file: autumn 2025/26
        assert (home / "packs" / key[:7] / "2025-26-autumn" / "targeting_pack.html").exists()
    assert (home / "packs" / "la" / "2025-26-autumn" / "la_targeting.html").exists()


def test_a_bad_term_dates_file_skips_the_packs_not_the_night(term_dates_la, capsys):
    home, _ = term_dates_la
    good = (home / "term_dates.csv").read_text()
    bad = good.replace("2025/26,autumn,2,", "2025/26,autum,2,")
    line = bad.splitlines().index(next(l for l in bad.splitlines() if ",autum,2," in l)) + 1
    try:
        (home / "term_dates.csv").write_text(bad)
        with ncc_env(home):
            assert main(["run", "--as-of", "2025-10-25"]) == 0  # the nightly load does not read the file
            _, result = _tick()
        assert isinstance(result, dg.SkipReason)
        assert "the term dates file cannot be used" in result.skip_message
        assert f"term_dates.csv, line {line}, term 'autum': not autumn, spring or summer" in result.skip_message
        with ncc_env(home):  # a pack asked for by hand stops in one line, before any pack is filed
            assert main(["pack", "--la", "--as-of", "2025-10-24"]) == 2
        err = capsys.readouterr().err
        assert f"term_dates.csv, line {line}, term 'autum'" in err and "Traceback" not in err
    finally:
        (home / "term_dates.csv").write_text(good)


def test_a_night_the_term_dates_file_does_not_hold_reads_breaks_from_the_data(term_dates_la):
    home, _ = term_dates_la
    good = (home / "term_dates.csv").read_text()
    later = "\n".join(l for l in good.splitlines() if not l.startswith("2025/26")) + "\n"  # 2026/27 only
    try:
        (home / "term_dates.csv").write_text(later)
        with ncc_env(home):
            _, result = _tick()
        assert isinstance(result, dg.SkipReason) and "no break" in result.skip_message
        assert "has no dates for the academic year of 2025-10-25: add them" in result.skip_message
    finally:
        (home / "term_dates.csv").write_text(good)


def test_the_sensor_skips_while_the_warehouse_cannot_be_read(tmp_path):
    """A night holds DuckDB's write lock (another process): a tick then skips, and the next one tries again."""
    import subprocess
    import sys

    home = tmp_path / "la"
    home.mkdir()
    hold = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", hold, str(home / "warehouse.duckdb")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with ncc_env(home):
            _, result = _tick()
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(result, dg.SkipReason) and "cannot be read now" in result.skip_message
