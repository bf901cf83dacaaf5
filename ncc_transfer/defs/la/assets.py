"""The LA-wide assets: the two statutory views over every school and the LA's data-quality overview.

Unpartitioned, downstream of every school partition. Each night they are materialised once after the
night's school runs: ``ncc-transfer run`` runs the ``la_wide`` job after its batches, and under the
daemon ``AFTER_THE_NIGHT`` requests them once no school run is in progress
(https://docs.dagster.io/guides/automate/declarative-automation). Either way they are computed over
every school's latest load, however the night was split (NCC_SCHOOLS_PER_RUN).
"""

import dagster as dg

from ncc_transfer.canonical import LA_VIEWS, TABLES
from ncc_transfer.defs.resources import NccSettings
from ncc_transfer.defs.schools.assets import ISSUES_ASSET, NightConfig
from ncc_transfer.feedback import la_overview
from ncc_transfer.timing import section
from ncc_transfer.views import la_headline, la_view_counts, markdown_table, overview_by_school, refresh_la_views

OVERVIEW_ASSET = "validation_overview"

# Once a school table was updated since these were last requested or materialised, and no school
# run is queued or running: after the night's last school run, whatever its batches.
AFTER_THE_NIGHT = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after the night's school runs")

VIEW_DESCRIPTIONS = {
    "children_missing_education": "Of compulsory school age, left a roll (or vanished from an extract) and on no "
                                  "other roll in the LA; final-year leavers only if on no roll by the tenth school "
                                  "day of the next school year (not_started_next_phase).",
    "pupil_movements": "Joined and left events per school this year; new entrants within 5 school days marked "
                       "(not those exempt under reg 13(2): most junior year group, starting on the first day "
                       "of the school year); new_entrant_return_deadline = joining date + 5 days (reg 13(1)).",
}


@dg.multi_asset(
    name="la_views",
    specs=[dg.AssetSpec(view, skippable=True, kinds={"duckdb", "pandas"}, description=VIEW_DESCRIPTIONS[view],
                        deps=list(TABLES), automation_condition=AFTER_THE_NIGHT)
           for view in LA_VIEWS],
    can_subset=True,
)
def la_views(context: dg.AssetExecutionContext, config: NightConfig, ncc: NccSettings):
    """Recompute the LA-wide views over every school's latest load; counts and a table by school only."""
    as_of = config.as_of_date()
    registry = ncc.registry()
    warehouse = ncc.warehouse()
    try:
        with section("la_views"):
            views = refresh_la_views(warehouse, as_of, registry.final_years())
            by_school = markdown_table(overview_by_school(warehouse))
            totals = la_headline(warehouse)
    finally:
        warehouse.close()
    for view, frame in views.items():
        if dg.AssetKey(view) in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=view, metadata={
                "as_of": as_of.isoformat(), "dagster/row_count": len(frame),
                "counts": dg.MetadataValue.json(la_view_counts(view, frame)),
                "la_totals": dg.MetadataValue.json(totals),
                "by_school": dg.MetadataValue.md(by_school)})


@dg.asset(name=OVERVIEW_ASSET, deps=[ISSUES_ASSET], kinds={"html", "png"}, automation_condition=AFTER_THE_NIGHT,
          description="The LA's data-quality overview: issues by school and rule, nights since a clean extract, "
                      "30-night trend chart. Counts only.")
def validation_overview(config: NightConfig, ncc: NccSettings) -> dg.MaterializeResult:
    as_of = config.as_of_date()
    registry = ncc.registry()
    warehouse = ncc.warehouse()
    try:
        with section("overview"):
            overview = la_overview(warehouse, registry, as_of=as_of, home=ncc.home_path())
    finally:
        warehouse.close()
    return dg.MaterializeResult(metadata={
        "overview": dg.MetadataValue.path(str(overview.html_path)),
        "summary": dg.MetadataValue.md(overview.chart_markdown()),
        "totals": dg.MetadataValue.json(overview.totals)})
