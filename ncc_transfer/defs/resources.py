"""Typed resources for everything a deployment configures: the registry and the warehouse (``ncc``),
mail, alerts, the raw archive (``archive``) and how many schools of a vendor route are fetched at once
(``route_concurrency``).

Each field left unset takes its NCC_* variable at run time (``ncc_transfer/config.py``; the table is
docs/configuration.md), so the same code location runs a demo home or a production LA; a deployment
may set fields instead (https://docs.dagster.io/guides/build/external-resources/configuring-resources).
Secrets that are not fields: the archive keys (``ArchiveResource`` says why).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ncc_transfer import config
from ncc_transfer.archive import ArchiveError, keys_from_env
from ncc_transfer.prefetch import FetchLimits, route_concurrency, vendor_fetch_threads
from ncc_transfer.registry import Registry, load_registry
from ncc_transfer.reports.email import SmtpSettings
from ncc_transfer.warehouse import Warehouse, open_warehouse


class NccSettings(dg.ConfigurableResource):
    """Where the data is: NCC_HOME, the registry (NCC_SCHOOLS_FILE) and the warehouse (NCC_WAREHOUSE_URL)."""

    home: str | None = None
    schools_file: str | None = None
    warehouse_url: str | None = None

    def home_path(self) -> Path:
        return Path(self.home).absolute() if self.home else config.ncc_home()

    def registry(self) -> Registry:
        return load_registry(Path(self.schools_file) if self.schools_file else config.schools_file(), home=self.home_path())

    def warehouse(self) -> Warehouse:
        return open_warehouse(self.warehouse_url or config.warehouse_url())


class MailResource(dg.ConfigurableResource):
    """SMTP for school reports and alerts (NCC_SMTP_*), and whether schools are emailed (NCC_EMAIL_SCHOOL_REPORTS)."""

    host: str | None = None
    port: int | None = None
    sender: str | None = None
    user: str | None = None
    password: str | None = None
    starttls: bool | None = None
    ssl: bool | None = None
    timeout_seconds: float | None = None
    email_school_reports: bool | None = None

    def smtp(self) -> SmtpSettings | None:
        """The SMTP settings (None: no host, delivery off), each field over its variable."""
        fields = {"NCC_SMTP_HOST": self.host, "NCC_SMTP_PORT": self.port, "NCC_SMTP_FROM": self.sender,
                  "NCC_SMTP_USER": self.user, "NCC_SMTP_PASSWORD": self.password, "NCC_SMTP_STARTTLS": self.starttls,
                  "NCC_SMTP_SSL": self.ssl, "NCC_SMTP_TIMEOUT": self.timeout_seconds}
        environ = dict(os.environ)
        environ.update({name: str(value).lower() if isinstance(value, bool) else str(value)
                        for name, value in fields.items() if value is not None})
        return SmtpSettings.from_env(environ)

    def school_reports_on(self) -> bool:
        if self.email_school_reports is not None:
            return self.email_school_reports
        return config.setting("NCC_EMAIL_SCHOOL_REPORTS").lower() in ("1", "true", "yes")


class AlertsResource(dg.ConfigurableResource):
    """Where a failed run is reported: NCC_ALERT_WEBHOOK_URL, NCC_ALERT_EMAIL_TO, NCC_DAGSTER_UI_URL for links."""

    webhook_url: str | None = None
    email_to: str | None = None
    ui_url: str | None = None

    def webhook(self) -> str | None:
        return self.webhook_url or config.setting("NCC_ALERT_WEBHOOK_URL") or None

    def recipients(self) -> list[str]:
        text = self.email_to if self.email_to is not None else config.setting("NCC_ALERT_EMAIL_TO")
        return [address.strip() for address in text.split(",") if address.strip()]

    def dagster_ui(self) -> str | None:
        return self.ui_url or config.setting("NCC_DAGSTER_UI_URL") or None


class ArchiveResource(dg.ConfigurableResource):
    """The encrypted raw archive of each night's extracts, for replay: on when NCC_ARCHIVE_KEY is set.

    The keys are not fields, on purpose: NCC_ARCHIVE_KEY and NCC_ARCHIVE_OLD_KEYS are read from the
    environment at the moment a file is encrypted or decrypted, by the process doing it (the step, its
    worker processes, a replay). A field's value is shown in the launchpad and kept with the run;
    ``dg.EnvVar`` keeps it out of both but fails when the variable is unset, and the archive may be
    off; and the worker processes that prepare files-route schools inherit the environment, not the
    step's resources. Dagster is only told whether the archive is on and the current key's id (the
    start of its SHA-256, written in clear in every archive file), never a key.

    ``required`` (NCC_ARCHIVE_REQUIRED, default false): when the archive is off or a key is malformed,
    the night fails before its first school instead of loading nights that cannot be replayed.
    """

    required: bool | None = None

    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return config.setting("NCC_ARCHIVE_REQUIRED").lower() in ("1", "true", "yes")

    def night_status(self) -> tuple[bool, str]:
        """(whether tonight's extracts are archived, a line saying so for the run's log).

        Raises ``ArchiveError`` (naming the variable, never a key) when ``required`` and they are not."""
        try:
            keys = keys_from_env()
        except ArchiveError as exc:
            on, status = False, f"raw archive unusable, tonight's extracts are not archived: {exc}"
        else:
            older = len(keys.by_id) - (keys.current is not None)
            on = keys.current is not None
            status = (f"raw archive on (key id {keys.current_id}; {older} earlier key(s) for reading)" if on else
                      "raw archive off (NCC_ARCHIVE_KEY is not set): tonight's extracts cannot be replayed")
        if not on and self.is_required():
            raise ArchiveError(f"{status}; the archive is required (NCC_ARCHIVE_REQUIRED)")
        return on, status


class RouteConcurrency(dg.ConfigurableResource):
    """How many vendor-route schools a run fetches at once (``ncc_transfer/prefetch.py``):
    ``vendor_fetch_threads`` in all (NCC_VENDOR_FETCH_THREADS; 0, the default: one after another) and
    at most ``per_route[route]`` of one route (NCC_ROUTE_CONCURRENCY, e.g. ``{"wonde": 2}``), so no
    vendor has more of the run's schools fetching together than its cap.

    The caps hold within one run. When NCC_SCHOOLS_PER_RUN splits the night and the run queue runs
    several of its runs at once, a vendor may have its cap from each: set the caps (or the queue's
    ``max_concurrent_runs``) for that.
    """

    vendor_fetch_threads: int | None = None
    per_route: dict[str, int] | None = None

    def limits(self) -> FetchLimits:
        """The limits, each field over its variable; a route that is not a vendor route, or a cap under 1,
        raises ValueError."""
        threads = vendor_fetch_threads() if self.vendor_fetch_threads is None else self.vendor_fetch_threads
        per_route = route_concurrency() if self.per_route is None else dict(self.per_route)
        return FetchLimits(threads=threads, per_route=per_route)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ncc": NccSettings(), "mail": MailResource(), "alerts": AlertsResource(),
                                     "archive": ArchiveResource(), "route_concurrency": RouteConcurrency()})
