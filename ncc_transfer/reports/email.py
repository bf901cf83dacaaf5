"""Delivery of a school's report by email, through SMTP configured by environment variables.

Delivery is optional: with ``NCC_SMTP_HOST`` unset, ``SmtpSettings.from_env()`` returns None and
nothing is sent. Pupil data travels only in the attachments; the subject and body hold the school's
name, the date and counts. The password is read from the environment and never logged or shown in
a repr. TLS (implicit or STARTTLS) verifies the server's certificate.

| variable | meaning | default |
|---|---|---|
| ``NCC_SMTP_HOST`` | SMTP server; unset = no email | unset |
| ``NCC_SMTP_PORT`` | port | 25 |
| ``NCC_SMTP_USER`` / ``NCC_SMTP_PASSWORD`` | login (only if the user is set) | none |
| ``NCC_SMTP_FROM`` | sender address (required with a host) | none |
| ``NCC_SMTP_STARTTLS`` | upgrade with STARTTLS | true on port 587 |
| ``NCC_SMTP_SSL`` | implicit TLS (SMTPS) | true on port 465 |
"""

from __future__ import annotations

import ipaddress
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pandas as pd

from ncc_transfer.reports.school_report import NEW, SchoolReport

log = logging.getLogger(__name__)

HOST_VAR = "NCC_SMTP_HOST"
PORT_VAR = "NCC_SMTP_PORT"
USER_VAR = "NCC_SMTP_USER"
PASSWORD_VAR = "NCC_SMTP_PASSWORD"
FROM_VAR = "NCC_SMTP_FROM"
STARTTLS_VAR = "NCC_SMTP_STARTTLS"
SSL_VAR = "NCC_SMTP_SSL"
TIMEOUT_VAR = "NCC_SMTP_TIMEOUT"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = ""
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.sender or "@" not in self.sender:
            raise ValueError(f"{FROM_VAR} must be set to the sender's email address when {HOST_VAR} is set")
        if self.starttls and self.ssl:
            raise ValueError(f"{STARTTLS_VAR} and {SSL_VAR} cannot both be true: pick one")
        if self.user and not (self.starttls or self.ssl) and not _is_loopback(self.host):
            raise ValueError(f"{USER_VAR} is set but neither {STARTTLS_VAR} nor {SSL_VAR} is on: the password would "
                             f"cross the network unencrypted")

    def send(self, message: EmailMessage) -> None:
        """Deliver one message (TLS certificates verified). Raises smtplib / OSError on failure."""
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if self.starttls:
                client.starttls(context=context)
                client.ehlo()
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The settings from the environment; None when ``NCC_SMTP_HOST`` is unset (delivery off)."""
        env = os.environ if environ is None else environ
        host = env.get(HOST_VAR, "").strip()
        if not host:
            return None
        raw_port = env.get(PORT_VAR, "").strip() or "25"
        try:
            port = int(raw_port)
        except ValueError:
            raise ValueError(f"{PORT_VAR} must be a port number, got {raw_port!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"{PORT_VAR} must be a port number, got {raw_port!r}")
        raw_timeout = env.get(TIMEOUT_VAR, "").strip() or "30"
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise ValueError(f"{TIMEOUT_VAR} must be a number of seconds, got {raw_timeout!r}") from None
        return cls(
            host=host,
            port=port,
            sender=env.get(FROM_VAR, "").strip(),
            user=env.get(USER_VAR, "").strip() or None,
            password=env.get(PASSWORD_VAR) or None,
            starttls=_flag(env, STARTTLS_VAR, port == 587),
            ssl=_flag(env, SSL_VAR, port == 465),
            timeout=timeout,
        )


def should_send(issues: pd.DataFrame) -> bool:
    """Email a school only when something is new tonight (a row without history counts as new)."""
    if issues is None or len(issues) == 0:
        return False
    if "status" not in issues.columns:
        return True
    return bool(issues["status"].astype(object).fillna(NEW).astype(str).str.strip().str.lower().eq(NEW).any())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def build_school_email(report: SchoolReport, *, to: str, school_name: str, la_name: str, new_count: int,
                       sender: str) -> EmailMessage:
    """The message: plain-English body with counts only; the HTML report and CSV attached."""
    if not to or "@" not in to or any(c in to for c in "\r\n"):
        raise ValueError("the school's contact is not an email address")
    as_of = report.as_of or date.today()
    counts = report.counts
    message = EmailMessage()
    message["Subject"] = f"Data check for {school_name}: {as_of.day} {as_of:%B %Y}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies

    if new_count:
        headline = (f"Last night's check of the data sent from {school_name}'s MIS to {la_name} found "
                    f"{_plural(new_count, 'new problem')}.")
    else:
        headline = f"Last night's check of the data sent from {school_name}'s MIS to {la_name} found no new problems."
    total = counts.get("open", 0)
    lines = [
        "Dear data manager,",
        "",
        headline,
    ]
    if total:
        lines += [
            f"In all, {_plural(total, 'problem')} need{'s' if total == 1 else ''} fixing: "
            f"{counts.get('errors', 0)} stop records being loaded and {counts.get('warnings', 0)} "
            f"{'was' if counts.get('warnings', 0) == 1 else 'were'} loaded but need correcting.",
        ]
    if counts.get("fixed"):
        lines += [f"Thank you: {_plural(counts['fixed'], 'problem')} from earlier nights "
                  f"{'is' if counts['fixed'] == 1 else 'are'} now fixed."]
    lines += [
        "",
        f"The report is attached ({Path(report.html_path).name}). Open it in a web browser: it lists each "
        "record, what is wrong and where to correct it in your MIS. The CSV file attached has the same "
        "list for a spreadsheet.",
        "",
        "Changes made in your MIS today are picked up by tonight's extract.",
        "",
        "The attachments contain pupil data: keep them secure and delete them once the changes are made.",
        "",
        f"{la_name} data team",
        "(This message was sent automatically.)",
    ]
    message.set_content("\n".join(lines) + "\n")

    message.add_attachment(Path(report.html_path).read_bytes(), maintype="text", subtype="html",
                           filename=Path(report.html_path).name, params={"charset": "utf-8"})
    message.add_attachment(Path(report.csv_path).read_bytes(), maintype="text", subtype="csv",
                           filename=Path(report.csv_path).name, params={"charset": "utf-8"})
    return message


def send_school_report(report: SchoolReport, *, to: str, school_name: str, la_name: str, new_count: int,
                       smtp: SmtpSettings) -> None:
    """Send the report to the school's contact. Raises on failure (smtplib / OSError)."""
    message = build_school_email(report, to=to, school_name=school_name, la_name=la_name, new_count=new_count,
                                 sender=smtp.sender)
    smtp.send(message)
    log.info("validation report for %s emailed (%d new)", report.school_key or "school", new_count)


def send_and_record(warehouse, school, send: Callable[[SmtpSettings], None], *, smtp: SmtpSettings | None | object,
                    run_id: str | None, event: str, what: str, message: str, detail: dict) -> str:
    """Send with ``send(smtp)`` and, once sent, record ``event`` for the school in audit_log. ``smtp``: the
    delivery settings (None: off; ``...``: from the environment). Returns what happened, a short phrase
    with no address (safe for logs and Dagster metadata); a failure is logged by its type only."""
    if smtp is ...:
        smtp = SmtpSettings.from_env()
    if smtp is None:
        return "NCC_SMTP_HOST not set"
    try:
        send(smtp)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("%s: %s failed (%s)", school.key, what, type(exc).__name__)
        return f"email failed ({type(exc).__name__})"
    warehouse.append_audit([{"logged_at": datetime.now(timezone.utc).replace(tzinfo=None), "event": event,
                             "school_key": school.key, "route": school.mis, "run_id": run_id, "outcome": "sent",
                             "detail": detail, "message": message}])
    return "emailed"
