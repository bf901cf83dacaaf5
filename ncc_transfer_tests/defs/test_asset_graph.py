"""A snapshot of the whole asset graph (keys, step, partitions, groups, owners, deps, checks with their
partitions, automation) built from the code location's ``Definitions``, compared with the committed
``snapshots/asset_graph.json``. A change to the graph is a change to this file, reviewed as such.
Regenerate with ``NCC_UPDATE_SNAPSHOT=1 uv run pytest ncc_transfer_tests/defs/test_asset_graph.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ncc_transfer import config
from ncc_transfer.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def graph_snapshot() -> dict:
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        assets[key.to_user_string()] = {
            "step": node.assets_def.node_def.name,
            "partitions": _partitions(node),
            "backfill_policy": str(node.backfill_policy.policy_type.value) if node.backfill_policy else None,
            "group": node.group_name,
            "owners": list(node.owners),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            # each check with its partitioning (the school step's checks are partitioned by school)
            "checks": {k.name: _partitions(graph.get(k)) for k in sorted(node.check_keys, key=lambda k: k.name)},
            "automation": condition.get_label() if condition else None,
        }
    jobs = {job.name: sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys)
            for job in (definitions.resolve_job_def(n) for n in ("nightly", "school_reports", "la_wide", "night_end"))}
    return {"assets": assets, "jobs": jobs}


def _partitions(node) -> str | None:
    return node.partitions_def.name if node.partitions_def else None


def test_asset_graph_matches_the_snapshot():
    current = graph_snapshot()
    if os.environ.get("NCC_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_the_school_step_the_report_and_the_la_wide_assets_are_separate_steps():
    assets = graph_snapshot()["assets"]
    steps = {name: a["step"] for name, a in assets.items()}
    assert steps["pupils"] == steps["absence_summary"] == "school_extract"
    assert len({steps["pupils"], steps["school_report"], steps["children_missing_education"],
                steps["validation_overview"]}) == 4
    assert assets["school_report"]["partitions"] == assets["pupils"]["partitions"] == "schools"
    assert assets["children_missing_education"]["partitions"] is None
    assert set(assets["children_missing_education"]["deps"]) == {"pupils", "attendance", "exclusions"}


def test_configuration_doc_lists_every_setting():
    assert config.markdown_table() in DOCS.read_text(encoding="utf-8")
