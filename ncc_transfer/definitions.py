"""The Dagster code location: every definition under ``defs/`` (the dg project layout,
https://docs.dagster.io/guides/build/projects/project-structure), with the project's policy applied
once, here: group names by area, owners, the stage tag, and the executor.

The executor: every run of this code location executes in its run's own process (Dagster's
in-process executor), whoever starts it: the nightly schedule, ``ncc-transfer run``, "Materialize"
or a backfill in the UI, the automation sensor. It is the ``Definitions``' executor, which Dagster
gives every job that names none of its own, the implicit asset job ``__ASSET_JOB`` included (the one
the UI's Materialize, backfills and automation sensors launch; ``repository_data_builder``'s
``_process_resolved_job`` and ``get_base_asset_job_lambda(executor_def=default_executor_def)``), so no
job names one. Without it, runs launched from the UI would use the multiprocess executor: a
process per step, and its own retry loop.

Importing this module sets the process umask to 0o077 (``files_at_rest``): ``workspace.yaml`` and
``[tool.dg]`` load it in every process that runs our code (``dagster dev``'s and the webserver's
code servers, the daemon's, and each run worker), so what they write is owner-only. Loading the
definitions also makes ``NCC_HOME`` and ``DAGSTER_HOME`` 0o700, and, on a demo home only, loads the
simulated vendors' credentials from ``$NCC_HOME/demo_secrets.env`` (``config.load_env_file``).
"""

import warnings
from pathlib import Path

import dagster as dg

from .files_at_rest import restrict_umask, tighten_homes

restrict_umask()  # at import: before Dagster opens its storage or captures a compute log in this process

OWNERS = ["team:la-data"]
# Asset group per area (defs/<area>/): what the UI shows as the asset graph's groups.
GROUPS = {
    "pupils": "school_data", "attendance": "school_data", "exclusions": "school_data",
    "validation_issues": "school_data",
    "absence_summary": "statutory_views", "ten_day_absence": "statutory_views", "absence_triggers": "statutory_views",
    "exclusion_provision": "statutory_views",
    "children_missing_education": "la_views", "pupil_movements": "la_views",
    "school_report": "school_feedback", "validation_overview": "school_feedback",
    "retention_purge": "data_protection",
    "targeting_pack": "attendance_support", "targeting_la_page": "attendance_support",
}
STAGES = {"school_data": "extract", "statutory_views": "extract", "school_feedback": "report",
          "la_views": "la", "data_protection": "retention", "attendance_support": "report"}


def _policy(spec: dg.AssetSpec) -> dg.AssetSpec:
    group = GROUPS[spec.key.to_user_string()]
    return spec.replace_attributes(group_name=group, owners=OWNERS).merge_attributes(tags={"ncc/stage": STAGES[group]})


@dg.definitions
def defs() -> dg.Definitions:
    from .config import load_env_file, ncc_home

    tighten_homes()
    load_env_file(ncc_home())
    loaded = dg.Definitions.merge(dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
                                  dg.Definitions(executor=dg.in_process_executor))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # map_resolved_asset_specs is in preview
        return loaded.map_resolved_asset_specs(func=_policy)
