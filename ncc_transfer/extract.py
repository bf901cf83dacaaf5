"""What every route hands the pipeline, and how a route fails: shared by the files route, the vendor
connectors and the pipeline, so none of them imports another for its types (docs/adding_a_route.md).

``RawExtract``: one school's raw tables (all-text columns named as in ``canonical.RAW_COLUMNS``, plus
``_source`` and ``_line``), whatever the route. ``ExtractFileError``: a file of the files route cannot be
used; ``ExtractWarning``: a problem that does not stop the load. ``VendorRouteError``: a vendor route
cannot be used as configured; ``TransientExtractError``: a temporary fault, worth retrying later
(``VendorHostUnreachable``: no connection to the vendor's host at all);
``RouteNotAvailable``: no connector for the route in this installation.

An exception's text ends up in logs, Dagster run failures and operator e-mails, so it must never
carry a pupil's data (UK GDPR Article 5(1)(c), data minimisation; ICO guide to the UK GDPR,
"Principle (c): Data minimisation"): only the file name, where in the file (a line number or an
element path), column names and the nature of the problem; a vendor error names the school, route,
endpoint and status, never a token. The same rule holds for :attr:`ExtractWarning.log_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


class ExtractFileError(Exception):
    """A school's landing file (or folder) cannot be read.

    ``file``: the file name relative to the school's folder (or the folder itself for folder-level
    problems); ``location``: "line 14", "element /CTfile/CTFpupilData/Pupil[3]/DOB" or None;
    ``problem``: plain English, what is wrong and what to do about it.
    """

    def __init__(self, file: str | None, location: str | None, problem: str) -> None:
        self.file = file
        self.location = location
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.location, self.problem) if part)

    def __reduce__(self):  # keep the three attributes when pickled (Dagster, multiprocessing)
        return (type(self), (self.file, self.location, self.problem))


@dataclass(frozen=True)
class ExtractWarning:
    """Something in an extract that was ignored or overridden; the rest was read.

    ``log_text`` goes to logs, Dagster's event and compute logs and metadata: file names, positions
    and counts only, never anything read from inside a file (a header cell can hold a UPN or a
    surname pasted there by mistake). ``report_text`` and ``value`` go only to the school's own
    report (one ``validation_issues`` row: ``report_text`` is its message and identifies it from night
    to night, so it holds no value either; ``value`` is shown in the report's value column).
    Warnings that share a ``log_text`` are logged once (one line per file, say, for many columns).
    """

    log_text: str
    report_text: str
    value: str | None = None

    @classmethod
    def plain(cls, text: str) -> "ExtractWarning":
        """A warning with nothing to keep out of logs (it names files only)."""
        return cls(text, text)


@dataclass
class RawExtract:
    """One school's raw extract, as any route reads it (validation and everything after is route-blind)."""

    tables: dict[str, pd.DataFrame]
    sources: dict[str, str]  # table -> file name (or vendor endpoint) used
    warnings: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)  # files not used, and why (whole sentences)
    fetch: dict | None = None  # vendor routes: how the extract was fetched (full/incremental, counts)


class VendorRouteError(Exception):
    """The school's MIS route cannot be used as configured (credentials, permissions, settings)."""


class TransientExtractError(Exception):
    """A temporary fault reaching the school's data (vendor API down, timeout): worth retrying later.

    Connectors raise it with a message that names the route and the problem, never pupil data.
    """


class VendorHostUnreachable(TransientExtractError):
    """No connection could be made to the vendor's host (``how``: "refused", "dns", "timeout" or
    "network"): a temporary fault, but one an operator can often fix at once (a service not started, a
    wrong ``base_url``), so the pipeline says what to do (``next_steps``)."""

    def __init__(self, message: str, *, host: str, port: int, how: str, detail: str) -> None:
        self.host, self.port, self.how, self.detail = host, port, how, detail
        super().__init__(message)

    def __reduce__(self):  # keep the parts when pickled (a school prepared in another process)
        return (_host_unreachable, (str(self), self.host, self.port, self.how, self.detail))


def _host_unreachable(message: str, host: str, port: int, how: str, detail: str) -> VendorHostUnreachable:
    return VendorHostUnreachable(message, host=host, port=port, how=how, detail=detail)


class RouteNotAvailable(Exception):
    """The school's MIS route has no connector in this installation."""
