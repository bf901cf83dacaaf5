"""What the operator reads: failures that say what happened and what to do next, checks per school,
and run, help and registry messages that say only what is true.

Real parts throughout: the demo LA's files, a vendor school whose registry ``base_url`` points at a
closed port on loopback (a real refused connection), real Dagster runs in a real instance, the real
command line.
"""

from __future__ import annotations

import socket
from collections import Counter

import dagster as dg
import pytest
import requests
import yaml
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from ncc_transfer.cli import main
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

TOKEN_ENV = "TEST_WONDE_TOKEN"
CHECKS = [("pupils", "structure"), ("pupils", "records"), ("pupils", "fresh"), ("attendance", "structure"),
          ("attendance", "records"), ("exclusions", "structure"), ("exclusions", "records")]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _step_failure(instance, run_id: str):
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert len(records) == 1
    return records[0].event_log_entry.dagster_event.step_failure_data.user_failure_data


def _check_evaluations(instance, run_ids: list[str]) -> list:
    evaluations = []
    for run_id in run_ids:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        evaluations += [r.event_log_entry.dagster_event.event_specific_data for r in records]
    return evaluations


@pytest.fixture(scope="module")
def unreachable_la(tmp_path_factory):
    """A small demo LA whose first active school is on the wonde route at a closed loopback port, and
    three nights: the whole LA; that school alone; one files-route school alone (a run that succeeds)."""
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path_factory.mktemp("operator") / "la"
    port = _closed_port()
    with ncc_env(home, **{TOKEN_ENV: "token-for-tests-only"}):
        # Schools at a tenth of full size (was 0.3): three nights run on this LA, and what is checked
        # (the lines, the run's failure, which checks ran for which school, with what metadata) does not
        # depend on how many pupils a school has.
        demo = build_demo_la(home, seed=7, schools=3, as_of=DEMO_AS_OF, pupils_scale=0.1)
        document = yaml.safe_load((home / "schools.yaml").read_text())
        vendor = next(entry for entry in document["schools"] if entry["active"])
        vendor.update(mis="wonde", source={"school_id": f"A{vendor['laestab']}", "token_env": TOKEN_ENV,
                                           "base_url": f"http://127.0.0.1:{port}/wonde", "max_retries": 0})
        (home / "schools.yaml").write_text(yaml.safe_dump(document))
        registry = _load_registry()
        vendor_school = registry.school(f"{vendor['laestab']}-wonde")
        files_schools = [s for s in registry.active_schools if s.mis == "files"]
        whole = run_night(registry, as_of=DEMO_AS_OF)
        alone = run_night(registry, schools=[vendor_school.key], as_of=DEMO_AS_OF)
        good = run_night(registry, schools=[files_schools[0].key], as_of=DEMO_AS_OF)
    return {"home": home, "port": port, "demo": demo, "registry": registry, "vendor": vendor_school,
            "files": files_schools, "whole": whole, "alone": alone, "good": good}


def test_unreachable_vendor_host_says_so_and_what_to_do(unreachable_la):
    home, port, school = unreachable_la["home"], unreachable_la["port"], unreachable_la["vendor"]
    result = unreachable_la["whole"]
    assert result.failed == 1 and result.loaded == len(unreachable_la["files"])
    line = next(line for line in result.lines if line.startswith(school.key))
    assert line == (
        f"{school.key:<20} FAILED   wonde route: vendor host unreachable: 127.0.0.1:{port} refused the connection "
        f"[GET /wonde/v1.0/schools/A{school.laestab}/students]; a temporary fault, previous load kept. "
        f"Next: start the vendor simulator where this demo's registry points: "
        f"NCC_HOME={home} uv run ncc-transfer simulator --port {port} (leave it running), then run the school "
        f"again: `ncc-transfer run --school {school.key}`, or re-execute the run from the Dagster UI")
    assert "timed out" not in line and "NewConnectionError" not in line


def test_unreachable_school_gets_no_structure_or_records_evaluation(unreachable_la):
    school = unreachable_la["vendor"]
    with ncc_env(unreachable_la["home"]):
        instance = dg.DagsterInstance.get()
        evaluations = _check_evaluations(instance, unreachable_la["whole"].run_ids)
        mine = Counter((e.asset_key.to_user_string(), e.check_name) for e in evaluations if e.partition == school.key)
        # Only freshness ran for it (its last good load: never), once per try: the first and two retries.
        assert mine == {("pupils", "fresh"): 3}
        for table, check in CHECKS:
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(table), check), limit=50)
            statuses = {h.partition: h.status.value for h in history if h.run_id == unreachable_la["whole"].run_ids[0]}
            if check != "fresh":  # planned for the school, never evaluated: the UI shows "execution failed"
                assert statuses[school.key] == "PLANNED", (table, check)
            assert None not in statuses, "no partition-less planned row"
            for other in unreachable_la["files"]:
                assert statuses[other.key] in ("SUCCEEDED", "FAILED"), (table, check, other.key)
        failure = _step_failure(instance, unreachable_la["whole"].run_ids[0])
    others = len(unreachable_la["files"])
    assert failure.description.startswith(
        f"1 of {others + 1} schools in this run failed; the other {others} loaded. The failed school kept its "
        f"previous load. The 1 with a temporary fault failed on every try (2 retries).\n"
        f"- {school.key} ({school.name}): wonde route: vendor host unreachable: 127.0.0.1:{unreachable_la['port']} "
        "refused the connection")
    assert failure.metadata["failed_schools"].value == [school.key]
    table = failure.metadata["failures"].value.splitlines()
    assert table[0] == "| school | name | LAESTAB | route | problem and next step |"
    assert table[2].startswith(f"| {school.key} | {school.name} | {school.laestab} | wonde | wonde route: vendor host "
                               f"unreachable: 127.0.0.1:{unreachable_la['port']} refused the connection")


def test_one_of_one_failed_does_not_speak_of_other_schools(unreachable_la):
    school = unreachable_la["vendor"]
    result = unreachable_la["alone"]
    assert (result.failed, result.loaded, result.skipped) == (1, 0, 0)
    with ncc_env(unreachable_la["home"]):
        failure = _step_failure(dg.DagsterInstance.get(), result.run_ids[0])
    first, second = failure.description.splitlines()[:2]
    assert first == ("1 of 1 school in this run failed. The failed school kept its previous load. "
                     "The 1 with a temporary fault failed on every try (2 retries).")
    assert second.startswith(f"- {school.key} ({school.name}): wonde route: vendor host unreachable: ")
    assert "other" not in failure.description.lower()


def test_each_check_evaluation_is_against_its_school_with_name_and_laestab(unreachable_la):
    registry = unreachable_la["registry"]
    with ncc_env(unreachable_la["home"]):
        evaluations = _check_evaluations(dg.DagsterInstance.get(), unreachable_la["whole"].run_ids)
    for school in unreachable_la["files"]:
        mine = [e for e in evaluations if e.partition == school.key]
        # Loaded on the first try: structure and records once; freshness on every try of the step.
        assert Counter((e.asset_key.to_user_string(), e.check_name) for e in mine) == {
            check: (3 if check == ("pupils", "fresh") else 1) for check in CHECKS}
        for evaluation in mine:
            metadata = {k: v.value for k, v in evaluation.metadata.items()}
            assert metadata["school"] == school.key
            assert metadata["school_name"] == registry.school(school.key).name
            assert metadata["laestab"] == school.laestab and metadata["route"] == "files"
            if evaluation.check_name == "records":
                by_rule = metadata["issues_by_rule"]
                assert metadata["issues"] == sum(by_rule.values()) and evaluation.passed == (not by_rule)
                assert all(isinstance(rule, str) and isinstance(n, int) for rule, n in by_rule.items())
    assert all(e.partition for e in evaluations), "every evaluation is against a school's partition"


def test_the_uis_check_status_is_per_school(unreachable_la):
    """What the asset's Checks tab shows (the ``AssetCheckState`` the UI's GraphQL reads): each check's
    status per school; the unreachable school's structure and records "execution failed" (planned, the
    run failed), never a failed check."""
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus as Status

    from ncc_transfer.defs.schools.partitions import school_partitions

    school, files = unreachable_la["vendor"], {s.key for s in unreachable_la["files"]}
    with ncc_env(unreachable_la["home"]):
        instance = dg.DagsterInstance.get()
        keys = [dg.AssetCheckKey(dg.AssetKey(table), check) for table, check in CHECKS]
        with partition_loading_context(dynamic_partitions_store=instance):
            states = instance.event_log_storage.get_asset_check_state([(key, school_partitions) for key in keys])
            statuses = {key: {status: set(subset.get_partition_keys()) for status, subset in
                              ((status, states[key].subsets[status].subset_value) for status in Status)
                              if subset.get_partition_keys()} for key in keys}
    for key in keys:
        if key.name == "fresh":  # it ran for every active school: never loaded, so not fresh
            assert statuses[key][Status.FAILED] == {school.key} and statuses[key][Status.SUCCEEDED] == files
        else:
            assert statuses[key][Status.EXECUTION_FAILED] == {school.key}, key
            assert Status.FAILED not in statuses[key] or school.key not in statuses[key][Status.FAILED]
            assert set().union(*(statuses[key].get(s, set()) for s in (Status.SUCCEEDED, Status.FAILED))) == files
        if key.name == "structure":
            assert statuses[key][Status.SUCCEEDED] == files


def test_a_run_that_succeeds_logs_no_missing_outputs_and_plans_checks_per_school(unreachable_la):
    result = unreachable_la["good"]
    school = unreachable_la["files"][0]
    assert (result.failed, result.loaded) == (0, 1)
    with ncc_env(unreachable_la["home"]):
        instance = dg.DagsterInstance.get()
        (run_id,) = result.run_ids
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        messages = [entry.user_message for entry in instance.all_logs(run_id)]
        assert not [m for m in messages if "did not yield or return expected outputs" in m]
        planned = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED).records
        assert len(planned) == len(CHECKS)
        for record in planned:
            subset = record.event_log_entry.dagster_event.event_specific_data.partitions_subset
            assert subset is not None and set(subset.get_partition_keys()) == {school.key}
        for table, check in CHECKS:
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(table), check), limit=50)
            assert [(h.partition, h.status.value in ("SUCCEEDED", "FAILED")) for h in history if h.run_id == run_id] == [
                (school.key, True)]


def test_run_of_inactive_schools_only_says_there_was_no_dagster_run(unreachable_la, capsys):
    inactive = [s for s in unreachable_la["registry"].schools if not s.active]
    assert inactive
    with ncc_env(unreachable_la["home"]):
        code = main(["run", "--school", inactive[0].key, "--as-of", DEMO_AS_OF.isoformat()])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == f"{inactive[0].key:<20} skipped  inactive in the registry (active: false)"
    assert out[1].startswith("0 loaded, 0 failed, 1 skipped in ")
    assert out[1].endswith(" s (no Dagster run: no active school to load)")
    assert "run none" not in "\n".join(out)


def test_unreachable_how_refused_dns_and_timeout():
    """Each way of not reaching a host says which, with the host and port: a refused connection and a
    failed DNS lookup for real; a connect timeout as urllib3 raises it (nothing on loopback times out)."""
    from ncc_transfer.connectors.http import make_session
    from ncc_transfer.connectors.http.errors import VendorUnreachable, unreachable

    port = _closed_port()
    with pytest.raises(VendorUnreachable) as refused:
        make_session(f"http://127.0.0.1:{port}/", None, connect_timeout=2, max_retries=0, route="wonde").get_json(
            "v1.0/schools?key=not-in-messages")
    assert (refused.value.how, refused.value.transient) == ("refused", True)
    assert str(refused.value) == f"wonde: vendor host unreachable: 127.0.0.1:{port} refused the connection [GET /v1.0/schools]"

    with pytest.raises(VendorUnreachable) as lookup:
        make_session("https://no-such-vendor.invalid/api/", None, connect_timeout=2, max_retries=0,
                     route="arbor").get_json("x")
    assert str(lookup.value) == ("arbor: vendor host unreachable: no-such-vendor.invalid:443 could not be resolved "
                                 "(DNS lookup failed) [GET /api/x]")

    timeout = requests.exceptions.ConnectTimeout(MaxRetryError(None, "/x", ConnectTimeoutError(None, "timed out")))
    slow = unreachable("sims", timeout, "https://api.vendor.example:8443/x?token=secret", connect_timeout=10,
                       method="GET")
    assert (slow.how, str(slow)) == ("timeout", "sims: vendor host unreachable: api.vendor.example:8443 did not "
                                                "accept the connection within 10 s (timed out) [GET /x]")
    read_timeout = requests.exceptions.ReadTimeout("read timed out")
    assert unreachable("sims", read_timeout, "https://api.vendor.example/x") is None  # connected: not unreachable


def test_next_step_off_a_demo_home_names_the_registry_setting(tmp_path):
    from ncc_transfer import next_steps

    assert next_steps.unreachable("9262001-wonde", "api.wonde.com", 443, "refused", tmp_path) == (
        "check that api.wonde.com:443 is the vendor's API address (source.base_url for 9262001-wonde in the "
        "registry) and that the service there is up; the step tries the school again, and so does the next night")
    assert next_steps.unreachable("9262001-wonde", "api.wonde.com", 443, "dns", tmp_path).startswith(
        "check the host name in source.base_url for 9262001-wonde in the registry, and this server's DNS")
    (tmp_path / "demo_manifest.json").write_text("{}")
    assert next_steps.unreachable("9262001-wonde", "127.0.0.1", 9123, "refused", tmp_path).startswith(
        f"start the vendor simulator where this demo's registry points: NCC_HOME={tmp_path} uv run ncc-transfer "
        "simulator --port 9123 (leave it running)")


def test_demo_summary_prints_the_simulator_command_with_the_registrys_port(tmp_path, capsys):
    from ncc_transfer.demo.generator import build_demo_la
    from ncc_transfer.night import NightResult
    from ncc_transfer.summary import print_demo_summary

    home, port = tmp_path / "demo", _closed_port()
    with ncc_env(home):
        demo = build_demo_la(home, seed=3, schools=2, as_of=DEMO_AS_OF, pupils_scale=0.1,
                             simulator_url=f"http://127.0.0.1:{port}")
        print_demo_summary(demo, NightResult([], [], 0, 0, 0, 0.0), seconds=1.0)
    out = capsys.readouterr().out.splitlines()
    hint = next(i for i, line in enumerate(out) if line.startswith("Simulator:"))
    assert out[hint + 1] == (f"            from the UI, start it first, on the port the registry points at: "
                             f"NCC_HOME={home} uv run ncc-transfer simulator --port {port}")
    assert out[-1] == "Done in 1.0 s (nightly run 0.0 s, no Dagster run: no active school to load)"


def test_help_states_commands_exit_codes_and_environment(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "demo", "simulator", "report", "export", "purge", "pack", "reference-refresh",
                    "check-registry"):
        assert f"\n    {command} " in out
    for line in (
        "exit codes:",
        "  0    done: every school loaded (run), or the command did what it was asked",
        "  1    run: at least one school failed (a failed school keeps its previous load;",
        "  2    usage or registry error: nothing was loaded (`check-registry` says what is wrong)",
        "  130  stopped by SIGTERM or SIGINT: its Dagster run is marked failed",
        "environment:",
        "  NCC_HOME           the data folder: registry, landing files, raw archive, reports,",
        "  NCC_SCHOOLS_FILE   the schools registry (default $NCC_HOME/schools.yaml)",
        "  NCC_WAREHOUSE_URL  duckdb:///<path> or postgresql://user@host:port/db",
        "  DAGSTER_HOME       Dagster's instance folder: runs, events, schedules",
    ):
        assert line in out.splitlines(), line
    assert "§" not in out and "design" not in out.lower() and '"Command line"' not in out


def test_check_registry_refuses_a_secret_where_a_variable_name_belongs(tmp_path, capsys):
    secret = "sk_live_51HxQ2aLkT0p9ZrBv"
    (tmp_path / "schools.yaml").write_text(yaml.safe_dump({
        "local_authority": {"code": "926", "name": "Test"},
        "schools": [{"laestab": "9262001", "name": "A School", "mis": "files", "source": {"path": "a"}},
                    {"laestab": "9262002", "name": "B School", "mis": "wonde",
                     "source": {"school_id": "A1", "token_env": secret}}]}))
    with ncc_env(tmp_path):
        code = main(["check-registry"])
    captured = capsys.readouterr()
    assert code == 2
    assert ("school 2 (9262002): source.token_env: must be the NAME of an environment variable (uppercase letters, "
            "digits and underscores, not starting with a digit) holding the secret, never the secret") in captured.err
    assert secret not in captured.out + captured.err
