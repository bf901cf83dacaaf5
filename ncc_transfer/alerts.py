"""Alerts to the LA's data team when a night goes wrong: by email (SMTP) and/or a webhook.

Configured by environment variables, both optional:

* ``NCC_ALERT_EMAIL_TO``: comma-separated addresses; sent through the SMTP settings of the school
  reports (``NCC_SMTP_HOST`` ...).
* ``NCC_ALERT_WEBHOOK_URL``: a URL that receives a JSON POST (Teams/Slack-style incoming webhooks
  accept the ``text`` field).

An alert names the run, the job and the failed schools (partition keys) with the reason Dagster
recorded: never pupil data (the messages it carries are already free of it: docs/hardening.md,
"No values in messages").
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests

from .config import setting

log = logging.getLogger(__name__)


@dataclass
class Alert:
    subject: str
    text: str
    run_id: str
    job: str
    failed_schools: list[str] = field(default_factory=list)
    ui_url: str | None = None

    def payload(self) -> dict:
        return {"text": f"{self.subject}\n{self.text}", "run_id": self.run_id, "job": self.job,
                "failed_schools": self.failed_schools, "ui_url": self.ui_url}


def build_alert(run_id: str, job: str, error: str | None, failed_schools: list[str], ui: str | None = None) -> Alert:
    """The alert for a failed run; ``ui``: the Dagster UI's address (default NCC_DAGSTER_UI_URL)."""
    ui = ui or setting("NCC_DAGSTER_UI_URL")
    ui_url = f"{ui.rstrip('/')}/runs/{run_id}" if ui else None
    schools = ", ".join(failed_schools) if failed_schools else "none recorded (the run itself failed)"
    text = (f"Dagster run {run_id} of job '{job}' failed.\n"
            f"Schools that failed: {schools}.\n"
            f"Reason: {error or 'see the run in the Dagster UI'}\n"
            "Every other school in the run loaded; a failed school keeps its previous load.")
    if ui_url:
        text += f"\nOpen the run: {ui_url}"
    subject = f"ncc-transfer: nightly run failed ({len(failed_schools)} school(s))"
    return Alert(subject=subject, text=text, run_id=run_id, job=job, failed_schools=failed_schools, ui_url=ui_url)


def send_alert(alert: Alert, webhook: str | None = None, recipients: list[str] | None = None,
               smtp=...) -> list[str]:
    """Send by every configured channel; returns the channels used. A channel's failure is logged.
    Each channel defaults to the environment (NCC_ALERT_WEBHOOK_URL, NCC_ALERT_EMAIL_TO, NCC_SMTP_*)."""
    sent = []
    webhook = webhook or setting("NCC_ALERT_WEBHOOK_URL")
    if webhook:
        try:
            response = requests.post(webhook, json=alert.payload(), timeout=(5, 20))
            response.raise_for_status()
            sent.append("webhook")
        except requests.RequestException as exc:
            log.error("alert webhook failed: %s", type(exc).__name__)
    if recipients is None:
        recipients = [a.strip() for a in setting("NCC_ALERT_EMAIL_TO").split(",") if a.strip()]
    if recipients:
        from .reports.email import SmtpSettings

        settings = SmtpSettings.from_env() if smtp is ... else smtp
        if settings is None:
            log.error("NCC_ALERT_EMAIL_TO is set but NCC_SMTP_HOST is not: no alert email sent")
        else:
            try:
                _send_email(settings, recipients, alert)
                sent.append("email")
            except (OSError, smtplib.SMTPException) as exc:
                log.error("alert email failed: %s", type(exc).__name__)
    return sent


def _send_email(settings, recipients: list[str], alert: Alert) -> None:
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text)
    settings.send(message)
