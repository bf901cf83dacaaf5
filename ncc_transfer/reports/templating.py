"""The Jinja environment of the reports: package templates, autoescaping always on.

Every value shown in a report comes from a school's extract (untrusted), so autoescape is forced on
for every template whatever its file name, and undefined variables are errors, not blanks.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined


def long_date(value: date) -> str:
    """``date(2026, 11, 29)`` -> ``'Sunday 29 November 2026'``."""
    return f"{value:%A} {value.day} {value:%B %Y}"


def short_date(value: date) -> str:
    """``date(2026, 11, 29)`` -> ``'29 Nov 2026'``."""
    return f"{value.day} {value:%b %Y}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, 'problem')`` -> ``'1 problem'``; ``plural(3, 'problem')`` -> ``'3 problems'``;
    thousands separated: ``'1,000,000 problems'``."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("ncc_transfer.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["long_date"] = long_date
    env.filters["short_date"] = short_date
    env.globals["plural"] = plural
    env.filters["num"] = lambda count: f"{count:,}"  # 1,000,000
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
