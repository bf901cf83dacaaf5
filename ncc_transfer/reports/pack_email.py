"""Telling a school and its LA officer that its termly targeting pack is made: a notice, no pupil data.

Off by default: sent only when ``NCC_PACK_EMAIL`` is true and SMTP is configured (``NCC_SMTP_*``,
``reports/email.py``), to the registry's ``contact`` and ``officer`` of the school.

What is sent, and why not the pack itself: the school's validation report is emailed with its HTML and
CSV attached (``reports/email.py``), because it lists the school's own records to correct and the data
manager needs it in hand. The targeting pack is a different kind of file: named pupils with their
attendance, absence codes, and whether each is looked after, a child in need or on a child protection
plan: much of it special category or safeguarding data. Under UK GDPR Article 5(1)(f) (integrity and
confidentiality) and 5(1)(c) (data minimisation), and the DfE's *Data protection in schools* guidance
on keeping personal data secure (https://www.gov.uk/guidance/data-protection-in-schools), the LA's
choice here is that such a list does not travel as an email attachment, which can be forwarded,
misaddressed or kept in a mailbox beyond the pack's retention. The
notice holds the school's name, the pack's date and term, counts (severely and persistently absent
pupils, pupils for early identification, open statutory items) and the pack's folder on the LA's
server; the officer brings or shares the pack by the LA's secure route for the termly targeting
support meeting (DfE, *Working together to improve school attendance*, 2024,
https://www.gov.uk/government/publications/working-together-to-improve-school-attendance).
Each notice sent is recorded in ``audit_log`` (event ``pack_notice_sent``, counts only).
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ncc_transfer.config import flag
from ncc_transfer.registry import School
from ncc_transfer.reports.email import SmtpSettings, send_and_record
from ncc_transfer.reports.targeting_pack import WrittenPack
from ncc_transfer.warehouse import Warehouse


PACK_EMAIL_VAR = "NCC_PACK_EMAIL"


def pack_email_enabled() -> bool:
    """NCC_PACK_EMAIL (default off)."""
    return flag(PACK_EMAIL_VAR)


def recipients(school: School) -> list[str]:
    """The school's contact and its LA officer, each once (either may be absent)."""
    return list(dict.fromkeys(a for a in (school.contact, school.officer) if a))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def build_pack_notice(written: WrittenPack, *, school: School, la_name: str, as_of: date, sender: str) -> EmailMessage:
    """The notice: counts and the folder, no attachment, no pupil name or UPN."""
    to = recipients(school)
    if not to or any(any(c in a for c in "\r\n") or "@" not in a for a in to):
        raise ValueError("the school has no contact or officer email address")
    counts = written.counts
    open_items = sum(v for k, v in counts.items() if k.startswith("open_"))
    message = EmailMessage()
    message["Subject"] = f"Attendance targeting pack for {school.name}: {as_of.day} {as_of:%B %Y}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834
    lines = [
        "Hello,",
        "",
        f"{la_name} has made {school.name}'s attendance targeting support pack for this term's meeting, "
        f"from the data loaded up to {as_of.day} {as_of:%B %Y} ({written.folder.name}).",
        "",
        "It lists:",
        f"  - {_plural(counts.get('severe', 0), 'severely absent pupil')} (50% or more of sessions missed),",
        f"  - {_plural(counts.get('persistent_not_severe', 0), 'persistently absent pupil')} who are not severely "
        "absent (10% or more),",
        f"  - {_plural(counts.get('early_identification', 0), 'pupil')} whose attendance has dropped by 10 points "
        "or more over the last six school weeks,",
        f"  - {_plural(open_items, 'open statutory item')} (10-day absences, absence triggers, exclusions, "
        "children missing education).",
        "",
        "The pack names pupils, so it is not attached: it is kept on the LA's secure server, in",
        f"  {written.folder}",
        "and your LA attendance officer will share it with you by the LA's secure route before the meeting.",
        "",
        f"{la_name} attendance team",
        "(This message was sent automatically.)",
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def maybe_send_pack_notice(warehouse: Warehouse, school: School, written: WrittenPack, *, la_name: str,
                           as_of: date, run_id: str | None = None, enabled: bool | None = None,
                           smtp: SmtpSettings | None | object = ...) -> str:
    """Send the notice when enabled (``NCC_PACK_EMAIL``) and SMTP is set; record it. Returns what happened
    (a short phrase, no address: safe for logs and Dagster metadata)."""
    if not (pack_email_enabled() if enabled is None else enabled):
        return "email off"
    if not recipients(school):
        return "no contact or officer in the registry"
    return send_and_record(
        warehouse, school, lambda settings: settings.send(build_pack_notice(
            written, school=school, la_name=la_name, as_of=as_of, sender=settings.sender)),
        smtp=smtp, run_id=run_id, event="pack_notice_sent", what="targeting pack notice", detail=dict(written.counts),
        message="targeting pack notice emailed to the registry contact and officer")
