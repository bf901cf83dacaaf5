"""The school's validation report: one partition per school, written after the school's load.

Like the school step it runs once for a range of schools (``BackfillPolicy.single_run``) and reports
each school's materialisation as an event:
https://docs.dagster.io/guides/build/partitions-and-backfills/backfilling-data#single-run-backfills
The step is a generator that yields those events and no output: an output (even ``None`` returned)
would materialise every partition of the range again, a school whose report failed included.
"""

import dagster as dg

from ncc_transfer.defs.la.assets import AFTER_THE_NIGHT
from ncc_transfer.defs.resources import MailResource, NccSettings
from ncc_transfer.defs.schools import rejected_names
from ncc_transfer.defs.schools.assets import ISSUES_ASSET, NightConfig
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.feedback import maybe_email, school_report as write_report
from ncc_transfer.night_guard import interrupts_noted, raise_if_interrupted
from ncc_transfer.timing import section

REPORT_ASSET = "school_report"


@dg.asset(
    name=REPORT_ASSET,
    partitions_def=school_partitions,
    deps=[ISSUES_ASSET, "pupils"],
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"html", "csv"},
    output_required=False,
    # A run of its own after the schools' run (a failed school step would skip it in the same run):
    # ``ncc-transfer run`` runs it after each batch; under the daemon, the automation sensor.
    automation_condition=AFTER_THE_NIGHT,
    description="The school's validation report (HTML and CSV, under $NCC_HOME/reports/<laestab>/), "
                "emailed to its contact when something is new (NCC_EMAIL_SCHOOL_REPORTS).",
)
def school_report(context: dg.AssetExecutionContext, config: NightConfig, ncc: NccSettings, mail: MailResource):
    """Write (and maybe email) each active school's report; one school's failure never stops the others."""
    registry = ncc.registry()
    schools = registry.by_key()
    as_of = config.as_of_date()
    warehouse = ncc.warehouse()
    try:
        for key in context.partition_keys:
            school = schools.get(key)
            if school is None or not school.active:
                continue
            with section("school_reports"), interrupts_noted():
                materialisation = _one(context, school, registry.la_name, ncc, mail, warehouse, as_of)
            if materialisation is not None:
                yield materialisation
    finally:
        warehouse.close()


def _one(context, school, la_name: str, ncc: NccSettings, mail: MailResource, warehouse,
         as_of) -> dg.AssetMaterialization | None:
    try:
        report = write_report(warehouse, school, la_name=la_name, as_of=as_of, home=ncc.home_path(),
                              extra_names=rejected_names.take(school.key))
        enabled = mail.school_reports_on()
        delivery = maybe_email(warehouse, school, report, la_name=la_name, run_id=context.run_id, enabled=enabled,
                               smtp=mail.smtp() if enabled else None)
    except Exception as exc:  # noqa: BLE001 - reported; the other schools' reports go on
        raise_if_interrupted()  # a stop signal DuckDB turned into its own error stops the step
        context.log.error(f"{school.key}: the validation report could not be written ({type(exc).__name__})")
        return None
    return dg.AssetMaterialization(asset_key=REPORT_ASSET, partition=school.key, metadata={
        "report": dg.MetadataValue.path(str(report.html_path)), "csv": dg.MetadataValue.path(str(report.csv_path)),
        "counts": dg.MetadataValue.json(report.counts), "email": delivery})
