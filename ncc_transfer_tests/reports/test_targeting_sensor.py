"""The targeting packs made automatically after the last school day before a break: the sensor
(defs/reports/targeting_sensor.py) on a real Dagster instance over a demo LA loaded by real nights.

The demo calendar (demo/calendar.py) has the October half term in the week of the last Monday of
October: Mon 27 - Fri 31 Oct 2025, the last school day before it Fri 24 Oct 2025.
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
        demo = build_demo_la(home, seed=7, schools=3, as_of=date(2025, 10, 31), pupils_scale=0.3)
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
        # The night of Thu 30 Oct: four weekdays of half term loaded, not yet a break.
        assert main(["run", "--as-of", "2025-10-30"]) == 0
        context, result = _tick()
        assert isinstance(result, dg.SkipReason) and "no break" in result.skip_message

        # The night of Fri 31 Oct: five weekdays without school: the packs as of Fri 24 Oct.
        assert main(["run", "--as-of", "2025-10-31"]) == 0
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
