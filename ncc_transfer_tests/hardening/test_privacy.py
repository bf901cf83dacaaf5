"""Nothing pupil-identifying or secret in Dagster's event log, logs, run tags or metadata (UK GDPR
Article 5(1)(c), data minimisation; Article 32, security of processing): the demo night's own pupils,
and planted canaries (pupil values pasted into a CSV header, a secret written where a ``*_env``
variable name belongs) that must reach only the school's own report, or nothing at all.
See docs/hardening.md, "No values in messages"."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import dagster as dg
import yaml
from dagster._serdes import serialize_value

from ncc_transfer.cli import main
from ncc_transfer_tests.conftest import ncc_env

TOKEN = re.compile(r"[A-Za-z0-9À-ÿ'’\-]+")
TEXT_SUFFIXES = (".out", ".err", ".log", ".complete", ".txt", ".json")


def _dagster_texts(instance, dagster_home: Path, run_ids) -> list[str]:
    """Every run's tags and event records (through the instance API), and every text file Dagster
    wrote under ``dagster_home`` (the compute logs: captured stdout/stderr, under ``storage/``)."""
    texts = []
    for run_id in run_ids:
        texts.append(serialize_value(instance.get_run_by_id(run_id)))
        texts.extend(serialize_value(entry) for entry in instance.all_logs(run_id))
    for path in dagster_home.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


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
        texts = _dagster_texts(dg.DagsterInstance.get(), demo_night.home / "dagster_home", demo_night.result.run_ids)
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
        texts = _dagster_texts(dg.DagsterInstance.get(), demo_night.home / "dagster_home", demo_night.result.run_ids)
    blob = "\n".join(texts)
    assert "ASSET_MATERIALIZATION" in blob
    leaked = [name for name, value in DEMO_SECRETS.items() if value in blob]
    assert not leaked
    # the archive was written (the key was in use) and holds no plaintext
    archived = list((demo_night.home / "archive").rglob("*.enc"))
    assert archived
    some_upn = demo_night.warehouse().read("SELECT upn FROM pupils LIMIT 1")["upn"].iloc[0]
    assert not any(some_upn.encode() in path.read_bytes() for path in archived)


# ------------------------------------------------------------------------------------------ canaries

# Pupil values a school might paste into pupils.csv's header row: a UPN-shaped string, a surname and a
# postcode that appear nowhere else in the demo LA.
HEADER_CANARIES = ("K926777777777", "Zqxcanarysurname", "ZZ9 9ZZ")
SECRET_CANARY = "Zq8TOKENCANARY77x"  # a secret written where a *_env setting's variable NAME belongs


def _canary_hits(data: str | bytes, canaries) -> list[str]:
    """The canaries found in ``data`` (case-insensitive; a postcode also without its space)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.casefold()
    return [c for c in canaries if c.casefold() in text or c.replace(" ", "").casefold() in text]


def _plant_header_canaries(pupils_csv: Path) -> None:
    """Add one column per canary to pupils.csv: the canary in the header, blank in every record."""
    records = list(csv.reader(io.StringIO(pupils_csv.read_text(encoding="utf-8"), newline="")))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(records[0] + list(HEADER_CANARIES))
    writer.writerows(record + [""] * len(HEADER_CANARIES) for record in records[1:])
    pupils_csv.write_text(out.getvalue(), encoding="utf-8")


def test_header_canaries_reach_only_the_schools_report(small_la, capfd, caplog):
    """Pupil values in a CSV header: counted in logs, named only in the school's report."""
    home, demo = small_la
    school = next(s for s in demo.schools if s["active"] and s["format"] == "csv")
    laestab = school["laestab"]
    _plant_header_canaries(home / "landing" / laestab / "pupils.csv")

    with ncc_env(home):
        assert main(["run", "--as-of", "2026-03-20"]) == 0
        instance = dg.DagsterInstance.get()
        run_ids = [record.dagster_run.run_id for record in instance.get_run_records()]
        texts = _dagster_texts(instance, home / "dagster_home", run_ids)
        events = sum(len(instance.all_logs(run_id)) for run_id in run_ids)
    captured = capfd.readouterr()

    # what was scanned, and that it was the real thing: the Python log (stderr outside pytest, so the
    # compute logs under a daemon), stdout/stderr, every run's event records and tags
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{laestab}-files: pupils.csv: 3 unknown columns ignored (listed in the school's report)" in logged
    assert run_ids and events > 50 and f"{laestab}-files" in captured.out
    for scanned in (logged, captured.out, captured.err, "\n".join(texts)):
        assert not _canary_hits(scanned, HEADER_CANARIES)
    # the Dagster instance's files byte for byte: event log and run storage (SQLite), compute logs
    files = [p for p in (home / "dagster_home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any("compute_logs" in p.parts for p in files)
    assert not [str(p) for p in files if _canary_hits(p.read_bytes(), HEADER_CANARIES)]

    # the warehouse: only validation_issues (the school's report) holds them, never audit_log
    from ncc_transfer.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        tables = warehouse.read("SELECT table_name FROM information_schema.tables")["table_name"]
        holding = {t for t in tables if _canary_hits(warehouse.read(f"SELECT * FROM {t}").to_csv(), HEADER_CANARIES)}
        assert "audit_log" in set(tables)
        issues = warehouse.read("SELECT value, message, record FROM validation_issues "
                                "WHERE laestab = ? AND rule = 'file_warning'", [laestab])
    finally:
        warehouse.close()
    assert holding == {"validation_issues"}
    assert sorted(issues["value"].dropna()) == sorted(HEADER_CANARIES)
    assert not _canary_hits(issues["message"].str.cat() + issues["record"].str.cat(), HEADER_CANARIES)

    # the school's own report names every unknown header cell, so the school can fix its export
    report = home / "reports" / laestab
    for name in ("latest.html", "latest.csv"):
        assert _canary_hits((report / name).read_text(encoding="utf-8"), HEADER_CANARIES) == list(HEADER_CANARIES)
    # ...and no other school's report does
    others = [p for p in (home / "reports").rglob("*") if p.is_file() and report not in p.parents]
    assert others and not [str(p) for p in others if _canary_hits(p.read_bytes(), HEADER_CANARIES)]


def test_secret_in_an_env_setting_is_refused_without_being_printed(small_la, capfd):
    """A secret where a variable NAME belongs: check-registry and run refuse it, naming school and field."""
    home, demo = small_la
    registry_file = home / "schools.yaml"
    registry = yaml.safe_load(registry_file.read_text())
    position, entry = next((i, s) for i, s in enumerate(registry["schools"], 1) if s["active"])
    entry.update(mis="wonde", source={"school_id": f"A{entry['laestab']}", "token_env": SECRET_CANARY,
                                      "base_url": "http://127.0.0.1:9/wonde"})
    registry_file.write_text(yaml.safe_dump(registry))

    with ncc_env(home):
        assert main(["check-registry"]) == 2
        first = capfd.readouterr()
        assert main(["run", "--as-of", "2026-03-20"]) == 2
        second = capfd.readouterr()
    assert (f"school {position} ({entry['laestab']}): source.token_env: must be the NAME of an environment "
            f"variable (uppercase letters, digits and underscores") in first.err
    for stream in (first.out, first.err, second.out, second.err):
        assert not _canary_hits(stream, [SECRET_CANARY])
    # nothing ran, so nothing reached Dagster or the warehouse
    files = [p for p in home.rglob("*") if p.is_file() and p != registry_file]
    assert files and not [str(p) for p in files if _canary_hits(p.read_bytes(), [SECRET_CANARY])]


# -- cohort fields (ncc_transfer.cohorts): special-category-adjacent, never in a log line or Dagster metadata --

COHORT_CANARY = "Zqcohortcanary7"  # an unreadable fsm_eligible value: reported to the school, loaded as null


def _plant_cohort_canary(pupils_csv: Path) -> str:
    """Put the canary in the first record's fsm_eligible (the demo's pupils.csv has the column); its UPN."""
    records = list(csv.reader(io.StringIO(pupils_csv.read_text(encoding="utf-8"), newline="")))
    column = records[0].index("fsm_eligible")
    records[1][column] = COHORT_CANARY
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    pupils_csv.write_text(out.getvalue(), encoding="utf-8")
    return records[1][records[0].index("upn")]


def test_event_log_names_no_cohort_field(demo_night):
    """The night loads cohort values, and no Dagster event, tag or log names a cohort field (a count per
    rule, ``pupils.<field>_invalid``, is the most that may appear: it holds no pupil's value)."""
    from ncc_transfer.canonical import COHORT_COLUMNS

    loaded = demo_night.warehouse().read("SELECT count(sen_provision) AS sen, count(fsm_eligible) AS fsm, "
                                         "count(looked_after) AS lac FROM pupils")
    assert (loaded.iloc[0] > 100).all()
    with demo_night.env():
        texts = _dagster_texts(dg.DagsterInstance.get(), demo_night.home / "dagster_home", demo_night.result.run_ids)
    blob = "\n".join(texts)
    assert "ASSET_MATERIALIZATION" in blob
    for column in COHORT_COLUMNS:
        assert column not in blob.replace(f"{column}_invalid", ""), column
    from ncc_transfer.connectors.wonde.connector import PERIODS_KEY  # the date ranges a Wonde mirror keeps
    assert PERIODS_KEY not in blob


def test_a_cohort_value_reaches_only_the_warehouse_and_the_schools_report(small_la, capfd, caplog):
    home, demo = small_la
    school = next(s for s in demo.schools if s["active"] and s["format"] == "csv")
    laestab = school["laestab"]
    upn = _plant_cohort_canary(home / "landing" / laestab / "pupils.csv")

    with ncc_env(home):
        assert main(["run", "--as-of", "2026-03-20"]) == 0
        instance = dg.DagsterInstance.get()
        run_ids = [record.dagster_run.run_id for record in instance.get_run_records()]
        texts = _dagster_texts(instance, home / "dagster_home", run_ids)
    captured = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert run_ids and f"{laestab}-files" in captured.out
    for scanned in (logged, captured.out, captured.err, "\n".join(texts)):
        assert not _canary_hits(scanned, [COHORT_CANARY])
    files = [p for p in (home / "dagster_home").rglob("*") if p.is_file()]
    assert not [str(p) for p in files if _canary_hits(p.read_bytes(), [COHORT_CANARY])]

    from ncc_transfer.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        tables = warehouse.read("SELECT table_name FROM information_schema.tables")["table_name"]
        holding = {t for t in tables if _canary_hits(warehouse.read(f"SELECT * FROM {t}").to_csv(), [COHORT_CANARY])}
        pupil = warehouse.read("SELECT fsm_eligible FROM pupils WHERE upn = ?", [upn])
    finally:
        warehouse.close()
    assert holding == {"validation_issues"}  # the finding; the pupil is loaded with the field null
    assert len(pupil) == 1 and pupil["fsm_eligible"].isna().all()
    report = home / "reports" / laestab
    assert _canary_hits((report / "latest.csv").read_text(encoding="utf-8"), [COHORT_CANARY])
