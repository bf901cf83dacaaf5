"""The LA's term dates file, read from disk: ``$NCC_HOME/term_dates.csv`` (or ``NCC_TERM_DATES_FILE``).

Optional: without the file, ``load_term_dates`` returns None and breaks and terms are read from the
data as before. A file that cannot be used raises ``rules.term_dates.TermDatesError`` naming the file,
the line and the field; the break sensor turns that into its skip reason (the nightly load never reads
it). The layout and the checks: ``rules.term_dates`` and docs/targeting_pack.md.
"""

from __future__ import annotations

from pathlib import Path

from . import config
from .rules.term_dates import TermDates, TermDatesError, parse_term_dates


def load_term_dates(path: Path | None = None) -> TermDates | None:
    """The checked term dates of ``path`` (default ``config.term_dates_file()``); None when there is no file."""
    path = Path(path) if path is not None else config.term_dates_file()
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise TermDatesError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
    return parse_term_dates(text, str(path))
