"""The retention purge: a daily job that deletes what is past its date in every store (issue #7)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from ncc_transfer.retention import execute_purge, load_retention

from ncc_transfer.defs.resources import NccSettings

LONDON = ZoneInfo("Europe/London")


class PurgeConfig(dg.Config):
    as_of: str | None = None
    """Purge as of this date (YYYY-MM-DD); default today in Europe/London."""
    dry_run: bool = False
    """Count what would go and delete nothing."""


@dg.asset(group_name="data_protection", kinds={"python"},
          description="Deletes what the retention schedule says is past its date: warehouse rows (both backends), "
                      "the raw archive, reports (dated, and latest.* not rewritten since the cut-off) and old "
                      "Dagster runs, then rewrites the warehouse's storage so deleted and replaced rows leave "
                      "no bytes behind. Audited in audit_log, counts only.")
def retention_purge(context: dg.AssetExecutionContext, config: PurgeConfig, ncc: NccSettings) -> dg.MaterializeResult:
    as_of = date.fromisoformat(config.as_of) if config.as_of else datetime.now(LONDON).date()
    warehouse = ncc.warehouse()
    try:
        result = execute_purge(load_retention(), warehouse=warehouse, home=ncc.home_path(), instance=context.instance,
                               as_of=as_of, dry_run=config.dry_run, run_id=context.run_id)
    finally:
        warehouse.close()
    for line in result.lines(schools=False):
        context.log.info(line)
    return dg.MaterializeResult(metadata={"as_of": as_of.isoformat(), "dry_run": config.dry_run,
                                          "deleted": result.total, "counts": dg.MetadataValue.json(result.counts())})


retention_job = dg.define_asset_job("retention", selection=[retention_purge],
                                    description="The retention purge (daily at 04:30 Europe/London).")


@dg.schedule(job=retention_job, cron_schedule="30 4 * * *", execution_timezone="Europe/London",
             default_status=dg.DefaultScheduleStatus.RUNNING, description="Daily retention purge, after the night's load.")
def retention_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"retention:{day}")
