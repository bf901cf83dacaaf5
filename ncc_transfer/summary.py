"""What the demo prints at the end: counts from the warehouse and where to look next."""

from __future__ import annotations


from .canonical import TABLES, VIEW_COLUMNS
from .config import dagster_home as configured_dagster_home, warehouse_url
from .next_steps import simulator_command, simulator_port
from .registry import load_registry
from .views import overview_by_school
from .warehouse import open_warehouse


def print_demo_summary(demo, result, seconds: float, packs=None) -> None:
    """``packs``: the demo's targeting packs (``targeting_all.AllPacks``), when it made them."""
    warehouse = open_warehouse(warehouse_url())
    try:
        _print(demo, result, seconds, warehouse, packs)
    finally:
        warehouse.close()


def _print(demo, result, seconds: float, warehouse, packs=None) -> None:
    print()
    print(f"Demo LA: {len(demo.schools)} schools in {demo.registry_path}, as of {demo.as_of}")
    print(f"Schools: {result.loaded} loaded, {result.failed} failed, {result.skipped} skipped (inactive)")
    print("Rows in the warehouse:")
    for table in TABLES:
        count = int(warehouse.read(f'SELECT count(*) AS n FROM "{table}"')["n"].iloc[0])
        print(f"  {table:<12} {count:>10,}")
    issues = warehouse.read(
        "SELECT rule, severity, CAST(sum(1 + coalesce(similar_records, 0)) AS BIGINT) AS n FROM validation_issues "
        "GROUP BY rule, severity ORDER BY severity, n DESC, rule")
    print(f"Validation issues for schools to fix ({int(issues['n'].sum()) if len(issues) else 0}):")
    for row in issues.itertuples():
        print(f"  {row.severity:<8} {row.rule:<32} {row.n:>6}")
    print(f"Statutory views as of {demo.as_of}:")
    for view in VIEW_COLUMNS:
        count = int(warehouse.read(f'SELECT count(*) AS n FROM "{view}"')["n"].iloc[0])
        print(f"  {view:<28} {count:>7,} rows")
    overview = overview_by_school(warehouse)
    if len(overview):
        print("By school (PA rate % of DfE-comparable enrolments; counts of pupils on each list):")
        print("  " + overview.to_string(index=False).replace("\n", "\n  "))
    reports = demo.home / "reports"
    print(f"Validation reports for schools (pupil data: owner-only files) under {reports}/:")
    for path in sorted(reports.glob("*/latest.html")):
        if path.parent.name != "la":
            print(f"  {path}")
    print(f"LA data-quality overview (counts only): {reports / 'la' / 'latest.html'}")
    if packs is not None and packs.la_page is not None:
        made = f" in {packs.seconds:.1f} s" if packs.seconds is not None else ""
        failed = f", {len(packs.failed)} failed" if packs.failed else ""
        print(f"Termly attendance targeting packs (docs/targeting_pack.md; pupil data: owner-only files): "
              f"{len(packs.packs)} schools{failed}{made}, under {demo.home / 'packs'}/<laestab>/{packs.la_page.folder.name}/")
        print(f"  LA targeting page (counts only): {packs.la_page.files[0]}")
    example = next((s for s in demo.schools if s.get("active", True)), None)
    if example is not None:
        print(f"  remake one: NCC_HOME={demo.home} uv run ncc-transfer pack --school "
              f"{example['laestab']}-{example.get('mis', 'files')} --as-of {demo.as_of} (or --all)")
    print()
    print(f"Warehouse:  {warehouse.describe()}")
    if warehouse.url.startswith("duckdb:"):
        print(f"  look:     uv run python -c \"import duckdb; print(duckdb.connect('{warehouse.describe()}', read_only=True)"
              f".sql('SELECT * FROM ten_day_absence LIMIT 5'))\"")
    dagster_home = configured_dagster_home() or ""
    print(f"Dagster UI: DAGSTER_HOME={dagster_home} NCC_HOME={demo.home} uv run dg dev")
    print("            then open http://127.0.0.1:3000 (Runs shows tonight's run; Assets > pupils > Partitions)")
    vendor = [s for s in load_registry(demo.registry_path).active_schools if s.mis != "files"]
    if vendor:
        # The port the registry's vendor schools point at (their base_url), which may not be the
        # default one: `demo` takes a free port when that one is in use.
        command = simulator_command(demo.home, simulator_port(s.source for s in vendor))
        print(f"Simulator:  schools on {', '.join(sorted({s.mis for s in vendor}))} are fetched from the built-in "
              "simulator; for runs")
        print(f"            from the UI, start it first, on the port the registry points at: {command}")
    print(f"Done in {seconds:.1f} s (nightly run {result.seconds:.1f} s, {result.runs_text()})")
