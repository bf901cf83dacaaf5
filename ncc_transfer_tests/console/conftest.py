"""The console tests' failure report: what the browser showed and the Dagster processes' log tails."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    console = funcargs.get("console")
    if console is None:
        return
    try:
        text = console.diagnostics(funcargs.get("browser"))
    except Exception as exc:  # noqa: BLE001 - a report must never hide the test's own failure
        text = f"(diagnostics unavailable: {type(exc).__name__}: {exc})"
    report.sections.append(("console diagnostics", text))
