"""The retention purge through its two entry points: `ncc-transfer purge` and the Dagster job."""

from __future__ import annotations

import dagster as dg

from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

LATER = "2033-03-20"  # seven years on: every leaver, old mark, archive night and report is past its date


def test_purge_command_dry_run_then_for_real(small_la, capsys):
    from ncc_transfer.cli import _load_registry, main, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    with ncc_env(home, NCC_ARCHIVE_KEY="Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXkhISE="):
        run_night(_load_registry(), as_of=DEMO_AS_OF)
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        before = int(warehouse.read("SELECT count(*) AS n FROM attendance")["n"].iloc[0])
        warehouse.close()
        assert main(["purge", "--dry-run", "--as-of", LATER]) == 0
        out = capsys.readouterr().out
        assert "dry run, nothing deleted" in out and "attendance" in out
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        assert int(warehouse.read("SELECT count(*) AS n FROM attendance")["n"].iloc[0]) == before
        assert warehouse.read("SELECT count(*) AS n FROM audit_log WHERE event = 'purge'")["n"].iloc[0] == 0
        warehouse.close()
        assert any((home / "archive").rglob("*.enc"))

        assert main(["purge", "--as-of", LATER]) == 0
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        assert int(warehouse.read("SELECT count(*) AS n FROM attendance")["n"].iloc[0]) == 0
        audit = warehouse.read("SELECT detail, message FROM audit_log WHERE event = 'purge' AND outcome = 'deleted'")
        upns = set(warehouse.read("SELECT upn FROM roll_history")["upn"]) | {"H801200001001"}
        warehouse.close()
        assert len(audit) > 0
        assert not any(upn in text for upn in upns for text in audit["detail"].tolist() + audit["message"].tolist())
        assert not any((home / "archive").rglob("*.enc"))


def test_purge_job_runs_in_dagster(small_la):
    from ncc_transfer.definitions import defs

    home, demo = small_la
    with ncc_env(home), dg.instance_for_test() as instance:
        job = defs().resolve_job_def("retention")
        result = job.execute_in_process(instance=instance, run_config={
            "ops": {"retention_purge": {"config": {"as_of": LATER, "dry_run": True}}}})
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("retention_purge")).asset_materialization
        assert event.metadata["dry_run"].value is True and "counts" in event.metadata
        schedule = defs().resolve_schedule_def("retention_schedule")
        assert schedule.cron_schedule == "30 4 * * *" and schedule.execution_timezone == "Europe/London"
