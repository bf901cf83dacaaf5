"""Every active school's targeting pack and the LA page, made automatically once per half term.

Thin wiring over pure rules (docs/targeting_pack.md, "Made automatically"). Each tick reads the latest
loaded night's date from the warehouse, then one of two ways:

* **With the LA's term dates file** (``$NCC_HOME/term_dates.csv``, ``rules.term_dates``) holding the
  night's academic year: ``half_term_state``. As soon as the night after a half term's last day has
  loaded (a night is dated by its run and holds the MIS extracts of the evening before, so that is the
  first night with the last day's marks), and until the next half term begins: one run of
  ``targeting_packs`` for every active school's partition and the LA page, as of that last day. A file
  that cannot be used: the tick skips, naming the file, line and field (the nightly load does not read
  the file).
* **Without the file** (or for a night in an academic year it does not hold):
  ``rules.breaks.last_school_day_before_break`` over the LA's school days: once the data shows a break
  (at least 5 weekdays without a school day of the LA), as of the last school day before it.

The run key names that day, so a half term gets its packs once however many ticks see it (Dagster skips
a run key it has already run, https://docs.dagster.io/guides/automate/sensors#idempotence-and-cursors);
the cursor keeps it too. The skip reasons say which way the tick worked.
Sensors: https://docs.dagster.io/guides/automate/sensors
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from ncc_transfer import config
from ncc_transfer.defs.operations.nightly import night_batches, range_tags
from ncc_transfer.defs.reports.targeting import LA_PAGE_ASSET, PACK_ASSET
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.registry import load_registry
from ncc_transfer.rules.breaks import last_school_day_before_break
from ncc_transfer.rules.term_dates import TermDates, TermDatesError, half_term_state, night_covers_through
from ncc_transfer.targeting import la_school_days, latest_night
from ncc_transfer.term_dates import load_term_dates
from ncc_transfer.warehouse import open_warehouse

PACKS_TAG = "ncc/targeting_packs_for"
LOOK_BACK_DAYS = 60  # school days read before the latest night: longer than any holiday but the summer's

targeting_packs_job = dg.define_asset_job(
    "targeting_packs", selection=dg.AssetSelection.assets(PACK_ASSET, LA_PAGE_ASSET),
    description="Every active school's targeting support pack and the LA page, as of one date (one run).")


def break_to_pack(warehouse, night: date | None = None) -> date | None:
    """Without term dates: the last school day before the break the loaded data shows, if it shows one
    (else None). ``night``: the latest night's date (read when not given)."""
    night = latest_night(warehouse) if night is None else night
    if night is None:
        return None
    through = night_covers_through(night)  # the night holds marks to the day before its date
    days = la_school_days(warehouse, through - timedelta(days=LOOK_BACK_DAYS), through)
    return last_school_day_before_break(days, through)


def day_to_pack(warehouse, term_dates: TermDates | None) -> tuple[date | None, str]:
    """(the day to pack as of, or None; why, for the skip reason): by the term dates file when it holds
    the latest night's academic year, else by the breaks the data shows."""
    night = latest_night(warehouse)
    if night is None:
        return None, "no night has loaded yet"
    if term_dates is not None and term_dates.covers(night):
        state = half_term_state(term_dates, night)
        if state.ended is not None:
            return state.ended.last_day, (f"by the term dates file: {state.ended.name()} ended on "
                                          f"{state.ended.last_day:%a %d %b %Y}")
        current = state.current
        first_night = current.last_day + timedelta(days=1)  # the first night holding the last day's marks
        return None, (f"by the term dates file ({term_dates.source}): {current.name()} ends on "
                      f"{current.last_day:%a %d %b %Y}, its packs due once the night of {first_night:%a %d %b %Y} "
                      f"has loaded; the latest loaded night is {night:%a %d %b %Y}")
    day = break_to_pack(warehouse, night)
    why = ("read from the data (no term dates file)" if term_dates is None else
           f"read from the data (the term dates file {term_dates.source} has no dates for the academic year of "
           f"{night.isoformat()}: add them)")
    if day is None:
        return None, f"the loaded nights show no break after the last school day yet; breaks {why}"
    return day, f"a break after {day:%a %d %b %Y}, {why}"


def pack_run_request(day: date, partition_keys: list[str], registry) -> dg.RunRequest | None:
    """One run: every active school's partition (one range) and the LA page, as of ``day``."""
    batches = night_batches(partition_keys, registry, 0)
    if not batches:
        return None
    (first, last), = batches
    as_of = {"config": {"as_of": day.isoformat()}}
    return dg.RunRequest(run_key=f"targeting_packs:{day.isoformat()}", job_name=targeting_packs_job.name,
                         run_config={"ops": {PACK_ASSET: as_of, LA_PAGE_ASSET: as_of}},
                         tags={**range_tags(first, last), PACKS_TAG: day.isoformat()})


@dg.sensor(job=targeting_packs_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After the last school day of each half term: every active school's targeting pack and the "
                       "LA page, as of that day, once per half term. With the LA's term dates file "
                       "($NCC_HOME/term_dates.csv): as soon as the night after a half term's last day has loaded "
                       "(the first holding that day's marks). "
                       "Without it: once the loaded data shows 5 weekdays without school after the last school day.")
def targeting_packs_after_break(context: dg.SensorEvaluationContext):
    try:
        term_dates = load_term_dates()
    except TermDatesError as exc:  # the LA's file is wrong: no packs until it is corrected (the nights go on)
        return dg.SkipReason(f"the term dates file cannot be used, so no packs are requested until it is "
                             f"corrected (or removed, to read breaks from the data): {exc}")
    try:
        warehouse = open_warehouse(config.warehouse_url())
    except Exception as exc:  # noqa: BLE001 - a night holds DuckDB's lock, or PostgreSQL is down: the next tick
        return dg.SkipReason(f"the warehouse cannot be read now ({type(exc).__name__}); the next tick tries again")
    try:
        day, why = day_to_pack(warehouse, term_dates)
    finally:
        warehouse.close()
    if day is None:
        return dg.SkipReason(why)
    if context.cursor == day.isoformat():
        return dg.SkipReason(f"the packs as of {day.isoformat()} were already requested ({why})")
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    request = pack_run_request(day, list(context.instance.get_dynamic_partitions(school_partitions.name)), registry)
    if request is None:
        return dg.SkipReason("no active school has a partition yet")
    context.update_cursor(day.isoformat())
    return request
