"""Nothing pupil-identifying in Dagster's event log, logs, run tags or metadata (design §4)."""

from __future__ import annotations

import re

import dagster as dg
from dagster._serdes import serialize_value

TOKEN = re.compile(r"[A-Za-z0-9À-ÿ'’\-]+")


def _pupil_identifiers(warehouse) -> dict[str, set[str]]:
    pupils = warehouse.read("SELECT upn, surname, postcode, CAST(dob AS VARCHAR) AS dob FROM pupils")
    issues = warehouse.read("SELECT DISTINCT upn FROM validation_issues WHERE upn IS NOT NULL")
    surnames = {s.strip() for s in pupils["surname"].dropna() if len(s.strip()) >= 3}
    return {
        "upn": set(pupils["upn"].dropna()) | set(issues["upn"].dropna()),
        "surname": surnames,
        "postcode": {p for p in pupils["postcode"].dropna() if " " in p},
        "dob": set(pupils["dob"].dropna()),
    }


def test_event_log_holds_no_pupil_data(demo_night):
    identifiers = _pupil_identifiers(demo_night.warehouse())
    assert len(identifiers["upn"]) > 500 and len(identifiers["surname"]) > 50
    with demo_night.env():
        instance = dg.DagsterInstance.get()
        texts = []
        for run_id in demo_night.result.run_ids:
            run = instance.get_run_by_id(run_id)
            texts.append(serialize_value(run.tags))
            texts.extend(serialize_value(entry) for entry in instance.all_logs(run_id))
        # captured stdout/stderr of the runs (compute logs) and anything else Dagster wrote as text
        for path in (demo_night.home / "dagster_home").rglob("*"):
            if path.is_file() and path.suffix in (".out", ".err", ".log", ".complete", ".txt", ".json"):
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
    blob = "\n".join(texts)
    assert "ASSET_MATERIALIZATION" in blob and "ASSET_CHECK_EVALUATION" in blob  # we did scan the real events
    tokens = set(TOKEN.findall(blob))
    assert not identifiers["upn"] & tokens
    assert not identifiers["surname"] & tokens, sorted(identifiers["surname"] & tokens)[:10]
    assert not any(postcode in blob for postcode in identifiers["postcode"])
    assert not any(dob in blob for dob in identifiers["dob"])


def test_no_secret_in_event_log_or_logs(demo_night):
    from ncc_transfer_tests.conftest import DEMO_SECRETS

    with demo_night.env():
        instance = dg.DagsterInstance.get()
        texts = [serialize_value(entry) for run_id in demo_night.result.run_ids for entry in instance.all_logs(run_id)]
        texts += [serialize_value(instance.get_run_by_id(run_id)) for run_id in demo_night.result.run_ids]
    for path in (demo_night.home / "dagster_home").rglob("*"):
        if path.is_file() and path.suffix in (".out", ".err", ".log", ".complete", ".txt", ".json"):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    blob = "\n".join(texts)
    assert "ASSET_MATERIALIZATION" in blob
    leaked = [name for name, value in DEMO_SECRETS.items() if value in blob]
    assert not leaked
    # the archive was written (the key was in use) and holds no plaintext
    archived = list((demo_night.home / "archive").rglob("*.enc"))
    assert archived
    some_upn = demo_night.warehouse().read("SELECT upn FROM pupils LIMIT 1")["upn"].iloc[0]
    assert not any(some_upn.encode() in path.read_bytes() for path in archived)
