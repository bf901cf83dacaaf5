"""The one exception the files route raises for a file it cannot use, and the warning for a problem
that does not stop the load.

An exception's text ends up in logs, Dagster run failures and operator e-mails, so it must never
carry a pupil's data (UK GDPR Article 5(1)(c), data minimisation; ICO guide to the UK GDPR,
"Principle (c): Data minimisation"): only the file name, where in the file (a line number or an
element path), column names and the nature of the problem. Every ``raise`` in this package builds
the message from those parts alone, never from a field value. The same rule holds for
:attr:`ExtractWarning.log_text`.
"""

from __future__ import annotations

from dataclasses import dataclass


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
