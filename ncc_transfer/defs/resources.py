"""Typed resources for everything a deployment configures: the registry, the warehouse, mail and alerts.

Each field left unset takes its NCC_* variable at run time (``ncc_transfer/config.py``; the table is
docs/configuration.md), so the same code location runs a demo home or a production LA; a deployment
may set fields instead (https://docs.dagster.io/guides/build/external-resources/configuring-resources).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ncc_transfer import config
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


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ncc": NccSettings(), "mail": MailResource(), "alerts": AlertsResource()})
