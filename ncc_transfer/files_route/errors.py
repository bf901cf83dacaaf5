"""The one exception the files route raises for a file it cannot use.

Its text ends up in logs, Dagster run failures and operator e-mails, so it must never carry a
pupil's data (design §4): only the file name, where in the file (a line number or an element
path), column names and the nature of the problem. Every ``raise`` in this package builds the
message from those parts alone, never from a field value.
"""

from __future__ import annotations


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
