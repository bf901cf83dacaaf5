"""Operations: retry of temporary faults, freshness, run-failure alerts (SMTP and webhook on loopback)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env


def test_temporary_fault_is_retried_for_that_school_only(small_la, monkeypatch):
    """A retry of the step re-fetches only the school with a temporary fault: not those that loaded,
    and not one that failed for good (its problem would be sent again, e.g. a refused password)."""
    from ncc_transfer import pipeline
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    with ncc_env(home):
        registry = _load_registry()
        flaky, broken = registry.active_schools[0], registry.active_schools[1]
        for path in broken.landing_folder(home).iterdir():
            path.write_bytes(b"\xff\xfe garbage")  # a permanent fault: the file cannot be read
        real_extract = pipeline.extract_raw

        def extract(school, *args, **kwargs):
            if school.key == flaky.key:
                raise pipeline.TransientExtractError("simulated vendor API down (HTTP 503)")
            return real_extract(school, *args, **kwargs)

        monkeypatch.setattr(pipeline, "extract_raw", extract)
        result = run_night(registry, as_of=DEMO_AS_OF)
        assert result.failed == 2 and result.loaded == len(registry.active_schools) - 2
        line = next(line for line in result.lines if line.startswith(flaky.key))
        assert "temporary fault" in line and "HTTP 503" in line
        instance = dg.DagsterInstance.get()
        retries = instance.get_records_for_run(result.run_ids[0], of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
        assert len(retries) == 2  # the RetryPolicy's two retries
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        audit = warehouse.read("SELECT school_key, outcome, count(*) AS n FROM audit_log WHERE run_id = ? GROUP BY 1, 2",
                               [result.run_ids[0]])
        warehouse.close()
        attempts = {(r.school_key, r.outcome): r.n for r in audit.itertuples()}
        assert attempts[(flaky.key, "failed")] == 3  # first try and two retries
        assert attempts[(broken.key, "failed")] == 1  # a permanent fault is not tried again
        assert all(attempts[(s.key, "loaded")] == 1 for s in registry.active_schools[2:])  # not fetched again


def test_upload_still_being_written_fails_that_school_without_step_retries(small_la):
    """A leftover ``.part`` is waited for once (NCC_PART_WAIT_SECONDS), then only that school fails."""
    from ncc_transfer.cli import _load_registry, run_night

    home, demo = small_la
    with ncc_env(home, NCC_PART_WAIT_SECONDS="0.2"):
        registry = _load_registry()
        flaky = registry.active_schools[0]
        (flaky.landing_folder(home) / "pupils.csv.part").write_bytes(b"half an upl")
        result = run_night(registry, as_of=DEMO_AS_OF)
        assert result.failed == 1 and result.loaded == len(registry.active_schools) - 1
        line = next(line for line in result.lines if line.startswith(flaky.key))
        assert "pupils.csv.part" in line and "still being written after a 0.2 s wait" in line, line
        instance = dg.DagsterInstance.get()
        assert not instance.get_records_for_run(result.run_ids[0],
                                                of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records


def night_with_one_school_broken(home, content: bytes):
    """The night after the first school's landing files were overwritten with ``content`` (in ``ncc_env``):
    (the registry, that school, the night's result)."""
    from ncc_transfer.cli import _load_registry, run_night

    registry = _load_registry()
    broken = registry.active_schools[0]
    for path in broken.landing_folder(home).iterdir():
        path.write_bytes(content)
    return registry, broken, run_night(registry, as_of=DEMO_AS_OF)


def test_freshness_check_flags_a_school_without_a_recent_load(small_la):
    home, demo = small_la
    with ncc_env(home, NCC_FRESHNESS_HOURS="0.0001"):
        registry, broken, result = night_with_one_school_broken(home, b"<CTfile")
        instance = dg.DagsterInstance.get()
        evaluations = [r.event_log_entry.dagster_event.event_specific_data
                       for r in instance.get_records_for_run(
                           result.run_ids[0],
                           of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records]
        fresh = {e.partition: e.passed for e in evaluations if e.check_name == "fresh"}
        assert fresh[broken.key] is False  # never loaded
        assert set(fresh) == {s.key for s in registry.active_schools}


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def test_failed_night_alerts_by_webhook_and_email(small_la, webhook, smtp_server, monkeypatch):
    from ncc_transfer.defs.operations.alerts import nightly_failure_alert
    from ncc_transfer.defs.resources import AlertsResource, MailResource

    url, posts = webhook
    host, port, mails = smtp_server
    home, demo = small_la
    with ncc_env(home, NCC_ALERT_WEBHOOK_URL=url, NCC_ALERT_EMAIL_TO="data.team@la.example",
                 NCC_SMTP_HOST=host, NCC_SMTP_PORT=str(port), NCC_SMTP_FROM="ncc@la.example"):
        _, broken, result = night_with_one_school_broken(home, b"not a ctf")
        instance = dg.DagsterInstance.get()
        run = instance.get_run_by_id(result.run_ids[0])
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
        context = dg.build_run_status_sensor_context(
            sensor_name="nightly_failure_alert", dagster_instance=instance, dagster_run=run,
            dagster_event=failure.event_log_entry.dagster_event,
            resources={"alerts": AlertsResource(), "mail": MailResource()}).for_run_failure()
        nightly_failure_alert(context)

    assert len(posts) == 1 and posts[0]["failed_schools"] == [broken.key] and posts[0]["run_id"] == run.run_id
    assert broken.key in posts[0]["text"]
    assert len(mails) == 1
    assert mails[0]["To"] == "data.team@la.example" and broken.key in mails[0].get_content()
