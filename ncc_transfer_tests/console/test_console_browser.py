"""The operator's console (the Dagster UI) in a real browser, over a real night.

What runs, with nothing mocked:

* **A demo LA** of four files-route schools plus the demo's inactive one, in a temporary
  ``NCC_HOME``, with the first school's CTF emptied; then one night, run as ``ncc-transfer run``
  runs it (``run_night``, in this process, recorded in the temporary Dagster instance): three
  schools load, the emptied one fails, so the night's run fails and that school's partitions show
  as failed.
* **Dagster's own processes**, as deployed (docs/operating.md) but on free ports: one code server
  (``dagster api grpc``), the webserver (``dagster-webserver``) and, from the first test that launches
  a run, the daemon (``dagster-daemon run``). The webserver and the daemon read a workspace file
  pointing at that one code server, so the definitions are loaded once, not once per process, and
  runs are launched by the instance's default run launcher through that code server. The daemon is
  needed: Dagster's default run coordinator queues every run launched from the UI or its GraphQL API
  and only the daemon dequeues it, and ``launchPartitionBackfill`` only records a backfill, which the
  daemon's backfill loop then submits as runs. The daemon starts just after the backfill is recorded,
  so its first pass (at start; then every 30 s) submits it at once. Before it starts, every sensor
  and schedule is switched off through the GraphQL mutations the UI's toggles call, so the only
  runs are the test's own (the ``after_the_night`` automation sensor would otherwise launch the LA-wide
  run alongside them, on the one DuckDB file). The instance is the repository's ``dagster.yaml``
  (SQLite) with the run queue read every second instead of every five (speed only). The test's
  runs set the in-process executor in their run config, as an operator can in the launchpad: the
  asset jobs' default executor would start a second process for the one step. Not ``dg dev``: it
  starts the daemon at once, sensors on, and each of its processes loads the definitions itself.
* **Headless Chromium** (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium, with
  explicit waits on what the React app renders (partition keys, run ids, messages), never fixed
  sleeps.

What an operator sees, checked in the browser:

* ``pupils`` › Partitions lists every school of the registry; its status filter counts 1 failed,
  3 materialised, 1 missing (the inactive school), and showing one status at a time lists exactly
  the failed school, exactly the loaded ones, exactly the inactive one;
* the failed school's partition names the night's run as failed; its link opens the run, marked
  Failure, whose event log, filtered on the school's key, shows the school's failure message;
* a backfill of three schools launched through the GraphQL API (``launchPartitionBackfill``, the
  school step's assets) runs as ONE run over the three schools' partition range
  (``BackfillPolicy.single_run``), which succeeds; the backfill's page lists the three schools and
  that run only; the Runs page shows the backfill (3 partitions) beside the night's run, and its
  run once "Show runs within backfills" is ticked;
* ``children_missing_education`` launched alone (``launchRun``, asset selection of that one asset)
  succeeds; its run's event log, filtered on materialisations, has that asset's and not the other
  LA-wide view's; the asset's Events tab shows that run's materialisation as its latest.

Not checked: the backfill's own status turning "Succeeded". The daemon's backfill loop records that
on its next pass, up to 30 s after the run ends; the test checks the run, not the bookkeeping.

Screenshots of each page go to ``docs/screenshots/console_*.png`` when ``NCC_UPDATE_SCREENSHOTS=1``
(to refresh the documentation's), otherwise to a temporary folder. Without Chromium, chromedriver or
Selenium the tests are skipped, with the reason; with ``NCC_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``)
they fail instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

import pytest
import requests

try:
    from selenium.webdriver.common.by import By
except ImportError:  # reported by _require_browser: skipped, or failed under NCC_REQUIRE_CHROMIUM
    By = None

from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env, skip_unless_required

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the project's environment: dagster, dagster-webserver, dagster-daemon
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
LOCATION = "ncc_transfer"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object
WAIT = 60  # seconds: every wait in the browser and on the processes
RUN_WAIT = 120  # seconds: a run, from launch (queue, run worker start, the step) to its end
WINDOW = (1400, 900)
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
AS_OF = DEMO_AS_OF.isoformat()


def _browser_problem() -> str | None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        return (f"{' and '.join(missing)} not installed: apt-get install chromium chromium-driver "
                "(.ci/run installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed: `uv sync` installs it (dev dependency group)"
    return None


def _require_browser() -> None:
    problem = _browser_problem()
    if problem:
        skip_unless_required("NCC_REQUIRE_CHROMIUM", problem)


# --- Dagster's processes ------------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on loopback (held together while chosen, so never the same twice)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class Service:
    """A Dagster process in its own process group (so stopping it stops what it started: run workers)."""

    name: str
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], logs: Path) -> "Service":
        log = logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        return cls(name, process, log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text[-lines:])

    def terminate(self) -> None:
        """SIGTERM to the process group."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, deadline: float) -> None:
        """After ``terminate``: wait until ``deadline`` (monotonic), then SIGKILL what is left of the group."""
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:  # anything left in the group (a run worker), even when the leader is gone
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(timeout=15)


def _stop_all(services: list[Service], grace: float = 15) -> None:
    for service in services:
        service.terminate()
    deadline = time.monotonic() + grace
    for service in services:
        service.stop(deadline)


@dataclass
class Console:
    """The running console over the demo night, and what the night did."""

    url: str
    env: dict[str, str]
    workspace: Path
    logs: Path
    keys: list[str]  # every school's partition key, in the registry's order
    broken: str  # the school whose CTF was emptied: failed
    broken_name: str  # its name in the registry
    loaded: list[str]  # the schools the night loaded
    inactive: list[str]  # the registry's inactive schools: never extracted
    failure_message: str  # what the night said about the broken school
    night_run_id: str
    services: dict[str, Service] = field(default_factory=dict)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 timeout=60)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def start_daemon(self) -> None:
        """Start the daemon (once): it dequeues runs and submits backfills."""
        if "daemon" not in self.services:
            self.services["daemon"] = Service.start(
                "daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace), "--log-level", "info"],
                self.env, self.logs)

    def run(self, run_id: str) -> dict:
        data = self.graphql("""query ($id: ID!) { runOrError(runId: $id) { __typename
            ... on Run { id status jobName tags { key value } assetSelection { path } }
            ... on Error { message } } }""", {"id": run_id})
        return data["runOrError"]

    def diagnostics(self, driver=None) -> str:
        parts = []
        if driver is not None:
            try:
                parts.append(f"browser at {driver.current_url}")
                text = driver.find_element(By.TAG_NAME, "body").text
                parts.append(f"visible text ({len(text)} chars), last 3000:\n{text[-3000:]}")
                source = driver.page_source
                body = max(source.find("<body"), 0)
                parts.append(f"page source from <body>, 2000 chars:\n{source[body:body + 2000]}")
            except Exception as exc:  # noqa: BLE001
                parts.append(f"(browser state unavailable: {type(exc).__name__}: {exc})")
        for name, service in self.services.items():
            state = "running" if service.alive() else f"exited {service.process.returncode}"
            parts.append(f"--- {name} ({state}), last lines of {service.log}:\n{service.tail()}")
        return "\n\n".join(parts)


def _write_instance_and_workspace(dagster_home: Path, workspace: Path, grpc_port: int) -> None:
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    (dagster_home / "dagster.yaml").write_text(
        settings + "\n# Test only: the daemon reads the run queue every second (default 5).\n"
                   "run_queue:\n  dequeue_interval_seconds: 1\n", encoding="utf-8")
    workspace.write_text(
        "load_from:\n"
        f"  - grpc_server: {{host: 127.0.0.1, port: {grpc_port}, location_name: {LOCATION}}}\n",
        encoding="utf-8")


def _night(home: Path) -> dict:
    """Build the demo LA, empty the first school's CTF, run one night; what the night did."""
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.demo.generator import build_demo_la

    # Schools at a tenth of full size (was 0.3): the night, the backfill and the CME run each load them,
    # and what the console shows (partitions, statuses, runs, messages) does not depend on their size.
    build_demo_la(home, seed=7, schools=4, as_of=DEMO_AS_OF, pupils_scale=0.1)
    registry = _load_registry()
    active = registry.active_schools
    assert len(active) == 4, [s.key for s in registry.schools]
    broken = active[0]  # first, so the three others are contiguous partitions: one backfill range
    folder = broken.landing_folder(home)
    ctfs = sorted(folder.glob("*.xml"))
    assert ctfs, f"the demo school {broken.key} has no CTF in {folder}: {sorted(p.name for p in folder.iterdir())}"
    for ctf in ctfs:
        ctf.write_bytes(b"")  # an empty CTF, as a failed MIS export leaves it
    result = run_night(registry, as_of=DEMO_AS_OF)
    outcome = {line.split()[0]: line for line in result.lines}
    assert result.failed == 1 and result.loaded == 3 and len(result.run_ids) == 1, result.lines
    assert "FAILED" in outcome[broken.key], result.lines
    return {
        "keys": [s.key for s in registry.schools],
        "broken": broken.key,
        "broken_name": broken.name,
        "loaded": [s.key for s in active[1:]],
        "inactive": [s.key for s in registry.schools if not s.active],
        "failure_message": outcome[broken.key].split("FAILED", 1)[1].strip(),
        "night_run_id": result.run_ids[0],
    }


def _wait_until(predicate: Callable[[], object], timeout: float, what: str, console: Console | None = None):
    """Poll ``predicate`` (every 0.25 s) until it returns something truthy; fail with diagnostics, at
    once if one of the console's processes has exited."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        exited = [name for name, service in (console.services.items() if console else ()) if not service.alive()]
        if exited:
            pytest.fail(f"{', '.join(exited)} exited while waiting for {what}\n\n{console.diagnostics()}",
                        pytrace=False)
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, AssertionError, KeyError, TypeError) as exc:
            last_error = exc
        time.sleep(0.25)
    detail = f" (last error: {last_error!r})" if last_error else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}\n\n"
                f"{console.diagnostics() if console else ''}", pytrace=False)


def _location_loaded(console: Console) -> bool:
    data = console.graphql("""{ workspaceOrError { __typename ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
    entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
    entry = entries[LOCATION]
    if entry["loadStatus"] == "LOADING":
        return False
    if (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation":
        return True
    # the webserver asked before the code server was listening: ask it to load the location again
    console.graphql("""mutation ($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
        __typename } }""", {"name": LOCATION})
    return False


def _switch_automation_off(console: Console) -> None:
    """Stop every sensor and schedule, as the UI's toggles do (the mutations they call)."""
    data = console.graphql("""{ repositoriesOrError { ... on RepositoryConnection { nodes {
        sensors { name sensorState { id status } } schedules { name scheduleState { id status } } } } } }""")
    (repository,) = data["repositoriesOrError"]["nodes"]
    for sensor in repository["sensors"]:
        result = console.graphql("""mutation ($id: String!) { stopSensor(id: $id) { __typename
            ... on StopSensorMutationResult { instigationState { status } } ... on Error { message } } }""",
                                 {"id": sensor["sensorState"]["id"]})["stopSensor"]
        assert result.get("instigationState", {}).get("status") == "STOPPED", (sensor["name"], result)
    for schedule in repository["schedules"]:
        result = console.graphql("""mutation ($id: String!) { stopRunningSchedule(id: $id) { __typename
            ... on ScheduleStateResult { scheduleState { status } } ... on Error { message } } }""",
                                 {"id": schedule["scheduleState"]["id"]})["stopRunningSchedule"]
        assert result.get("scheduleState", {}).get("status") == "STOPPED", (schedule["name"], result)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """The demo night, and the code server, webserver (and later the daemon) over it; stopped at the end."""
    _require_browser()
    home = tmp_path_factory.mktemp("console_la")
    logs = tmp_path_factory.mktemp("console_logs")
    workspace = logs / "workspace.yaml"
    grpc_port, web_port = _free_ports(2)
    _write_instance_and_workspace(home / "dagster_home", workspace, grpc_port)
    services: dict[str, Service] = {}
    try:
        with ncc_env(home, NCC_RETRY_DELAY_SECONDS="0.5"):
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
            import dagster as dg

            # The instance's SQLite files (runs, event-log index, schedules) made here, before any
            # other process opens the instance: two processes creating one at once can both stamp
            # its schema version, and the file is then unusable.
            instance = dg.DagsterInstance.get()
            instance.get_runs(limit=1)
            instance.get_dynamic_partitions("schools")
            instance.all_instigator_state()
            # The code server loads the definitions and the webserver starts while this process
            # builds the LA and runs the night.
            services["code_server"] = Service.start("code_server", [
                str(BIN / "dagster"), "api", "grpc", "-m", "ncc_transfer.definitions", "-h", "127.0.0.1",
                "-p", str(grpc_port), "--location-name", LOCATION, "--use-python-environment-entry-point",
                "--log-level", "warning"], env, logs)
            services["webserver"] = Service.start("webserver", [
                str(BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)],
                env, logs)
            night = _night(home)
        console = Console(url=f"http://127.0.0.1:{web_port}", env=env, workspace=workspace, logs=logs,
                          services=services, **night)

        _wait_until(lambda: requests.get(f"{console.url}/server_info", timeout=5).ok, WAIT,
                    "the webserver's /server_info", console)
        _wait_until(lambda: _location_loaded(console), WAIT, f"the code location {LOCATION} to load", console)
        console.graphql("mutation { setNuxSeen }")  # the UI's one-off "join the community" dialog: seen
        _switch_automation_off(console)
        yield console
    finally:
        _stop_all(list(services.values()))


# --- the browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(console):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=DriverService(str(CHROMEDRIVER)), options=options)
    try:
        # the page itself 1400x900, whatever the browser's own frame takes
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: the documentation's folder with NCC_UPDATE_SCREENSHOTS=1, else a temporary one."""
    if os.environ.get("NCC_UPDATE_SCREENSHOTS", "") not in ("", "0"):
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("console_screenshots")


def _text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _wait(driver, condition: Callable, what: str, timeout: float = WAIT):
    """WebDriverWait on ``condition(driver)``; on timeout, fail saying what was awaited."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} at {driver.current_url}", pytrace=False)


def _wait_for_text(driver, *texts: str, timeout: float = WAIT) -> None:
    _wait(driver, lambda d: all(t in _text(d) for t in texts), f"the page to show {texts!r}", timeout)


def _listed(driver, keys: list[str]) -> set[str]:
    """The partition keys shown as lines of the page's visible text."""
    lines = set(_text(driver).splitlines())
    return {key for key in keys if key in lines}


def _status_filter(driver, status: str):
    """The status filter's checkbox label on a Partitions page ("Failed (1)", "Materialized (3)", ...)."""
    return driver.find_element(By.XPATH, f"//label[starts-with(normalize-space(), '{status} (')]")


def _show_only(driver, wanted: str, statuses: tuple[str, ...]) -> None:
    for status in statuses:
        label = _status_filter(driver, status)
        if label.find_element(By.TAG_NAME, "input").is_selected() != (status == wanted):
            label.click()


def _filter_log(driver, text: str) -> None:
    """Type ``text`` into a run page's event-log filter (free text: events whose message has it)."""
    from selenium.webdriver.common.keys import Keys

    field = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[placeholder='Filter…']"),
                  "the event log's filter")
    field.send_keys(text, Keys.ENTER)


def _screenshot(driver, folder: Path, name: str) -> None:
    path = folder / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 20_000, f"{path} is too small to be a rendered page"
    if folder == DOCS_SCREENSHOTS:
        path.chmod(0o644)  # documentation, not data: readable like the rest of the checkout


def _wait_for_run_end(console: Console, run_id: str) -> dict:
    return _wait_until(lambda: (run := console.run(run_id)).get("status") in FINISHED and run,
                       RUN_WAIT, f"run {run_id} to finish", console)


# --- the tests ----------------------------------------------------------------------------------------


STATUSES = ("Failed", "Materialized", "Missing")


def test_pupils_partitions_list_every_school_with_its_status(console, browser, shots):
    browser.get(f"{console.url}/assets/pupils?view=partitions")
    _wait(browser, lambda d: _listed(d, console.keys) == set(console.keys),
          f"every school's partition ({', '.join(console.keys)})")
    _wait_for_text(browser, "Failed (1)", f"Materialized ({len(console.loaded)})",
                   f"Missing ({len(console.inactive)})")
    _screenshot(browser, shots, "console_partitions.png")

    expected = {"Failed": {console.broken}, "Materialized": set(console.loaded), "Missing": set(console.inactive)}
    for status, keys in expected.items():
        _show_only(browser, status, STATUSES)
        _wait(browser, lambda d: _listed(d, console.keys) == keys, f"only the {status.lower()} schools {sorted(keys)}")
    for status in STATUSES:  # every status shown again
        if not _status_filter(browser, status).find_element(By.TAG_NAME, "input").is_selected():
            _status_filter(browser, status).click()
    _wait(browser, lambda d: _listed(d, console.keys) == set(console.keys), "every school listed again")


def test_failed_school_shows_its_failure_message_from_its_partition(console, browser, shots):
    short = console.night_run_id[:8]
    browser.get(f"{console.url}/assets/pupils?view=partitions&partition={quote(console.broken)}")
    _wait_for_text(browser, f"Run {short} failed, and did not materialize this asset.")
    link = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f"a[href='/runs/{console.night_run_id}']"),
                 "the link to the night's run")
    link.click()
    _wait(browser, lambda d: d.current_url.split("?")[0].endswith(f"/runs/{console.night_run_id}"),
          "the night's run page")
    _wait_for_text(browser, "Failure")
    _filter_log(browser, console.broken)
    _wait_for_text(browser, f"{console.broken} ({console.broken_name}): {console.failure_message}")
    _screenshot(browser, shots, "console_failed_school.png")


def test_backfill_of_three_schools_is_one_run(console, browser, shots):
    from ncc_transfer.canonical import SCHOOL_VIEWS, TABLES
    from ncc_transfer.defs.schools.assets import ISSUES_ASSET

    schools = console.loaded  # three contiguous partitions (the broken school is the first)
    data = console.graphql("""mutation ($params: LaunchBackfillParams!) {
        launchPartitionBackfill(backfillParams: $params) { __typename
            ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }""", {"params": {
        "assetSelection": [{"path": [name]} for name in (*TABLES, ISSUES_ASSET, *SCHOOL_VIEWS)],
        "partitionNames": schools,
        "runConfigData": {"ops": {"school_extract": {"config": {"as_of": AS_OF}}}},
        "title": "three schools again",
    }})["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    backfill_id = data["backfillId"]
    console.start_daemon()  # its backfill loop's first pass, at start, submits the backfill

    def backfill_runs() -> list[dict]:
        return console.graphql("""query ($tags: [ExecutionTag!]) { runsOrError(filter: {tags: $tags}) {
            ... on Runs { results { id status tags { key value } } } } }""",
                               {"tags": [{"key": "dagster/backfill", "value": backfill_id}]})["runsOrError"]["results"]

    (run,) = _wait_until(backfill_runs, RUN_WAIT, f"backfill {backfill_id} to submit its run", console)
    finished = _wait_for_run_end(console, run["id"])
    assert finished["status"] == "SUCCESS", console.diagnostics()
    tags = {t["key"]: t["value"] for t in finished["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == \
        (schools[0], schools[-1]), tags
    assert len(backfill_runs()) == 1  # one run for the three schools, still
    short = run["id"][:8]

    # The backfill's page: the three schools, and that one run, successful.
    browser.get(f"{console.url}/runs/b/{backfill_id}?tab=runs")
    _wait_for_text(browser, short, "Success", *schools)
    others = [r["id"][:8] for r in console.graphql("{ runsOrError { ... on Runs { results { id } } } }")
              ["runsOrError"]["results"] if r["id"] != run["id"]]
    assert not [o for o in others if o in _text(browser)], "the backfill's page lists its run only"
    _screenshot(browser, shots, "console_backfill.png")

    # The Runs page: the backfill (three partitions) with the night's runs; its run within it on request.
    browser.get(f"{console.url}/runs")
    _wait_for_text(browser, backfill_id, "3 partitions", console.night_run_id[:8])
    _screenshot(browser, shots, "console_runs.png")
    assert short not in _text(browser)  # runs within backfills are folded into the backfill's row
    _wait(browser, lambda d: d.find_element(By.XPATH, "//label[normalize-space()='Show runs within backfills']"),
          "the 'Show runs within backfills' switch").click()
    _wait_for_text(browser, short)


def test_cme_materialised_alone_shows_on_its_asset_page(console, browser, shots):
    console.start_daemon()  # it dequeues the run
    data = console.graphql("""mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
        __typename ... on LaunchRunSuccess { run { id } } ... on Error { message } } }""", {"params": {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": "__ASSET_JOB",
                     "assetSelection": [{"path": ["children_missing_education"]}]},
        "runConfigData": {"ops": {"la_views": {"config": {"as_of": AS_OF}}}},
    }})["launchRun"]
    assert data["__typename"] == "LaunchRunSuccess", data
    run_id = data["run"]["id"]
    finished = _wait_for_run_end(console, run_id)
    assert finished["status"] == "SUCCESS", console.diagnostics()
    assert finished["assetSelection"] == [{"path": ["children_missing_education"]}]

    # The run's page: successful; its event log, filtered on materialisations, has that asset's only.
    browser.get(f"{console.url}/runs/{run_id}")
    _wait_for_text(browser, "Success", "children_missing_education")
    _filter_log(browser, "Materialized")
    _wait_for_text(browser, "Materialized value children_missing_education.")
    assert "Materialized value pupil_movements." not in _text(browser)  # the step's other view: left alone

    # The asset's Events: its latest materialisation is that run's.
    browser.get(f"{console.url}/assets/children_missing_education?view=events")
    _wait_for_text(browser, f"Materialized in run {run_id[:8]}", "cme_candidates")
    _screenshot(browser, shots, "console_cme.png")
