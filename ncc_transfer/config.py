"""Configuration from the environment, read at call time, never at import time (so a test or the
CLI can set a variable before a night).

``SETTINGS`` is the one list of every variable, its default and its meaning; docs/configuration.md
shows it as a table (``ncc_transfer_tests/defs/test_asset_graph.py`` keeps the two in step). Dagster's
resources (``defs/resources.py``) default their fields from here: https://docs.dagster.io/guides/operate/configuration/using-environment-variables-and-secrets
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# How many example records a school's report (and ``validation_issues``) keeps per rule; the rest are
# counted exactly (``similar_records``). 200 fills a screen or two of the report: enough to see the pattern of
# a mistake and where it starts, few enough that one wrong export setting cannot make a report of
# gigabytes (docs/hardening.md, "Bounded cost per school").
DEFAULT_ISSUE_EXAMPLES_PER_RULE = 200

# The most rows one school's extract can hold, per dataset; more is a broken export, refused before
# validation. The largest English schools have about 3,000-4,000 pupils (DfE, "Schools, pupils and their
# characteristics", https://explore-education-statistics.service.gov.uk/find-statistics/school-pupils-and-their-characteristics);
# 10,000 leaves a wide margin. Marks: 10,000 pupils x 2 sessions x 250 days (a school year is 190 days
# of sessions; the margin covers pupils who joined and left during the year). Exclusions: 5 per pupil
# of the largest school, far above any school's suspension rate.
# The largest landing file read (NCC_MAX_FILE_MB); larger is refused before it is parsed.
DEFAULT_MAX_FILE_MB = 256

DEFAULT_MAX_ROWS = {"pupils": 10_000, "attendance": 5_000_000, "exclusions": 50_000}
MAX_ROWS_VARIABLES = {"pupils": "NCC_MAX_PUPILS", "attendance": "NCC_MAX_ATTENDANCE_MARKS",
                      "exclusions": "NCC_MAX_EXCLUSIONS"}


from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    description: str

    def get(self) -> str:
        """The variable's value now, or its default when unset or empty."""
        return os.environ.get(self.name, "").strip() or self.default


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("NCC_HOME", "./.ncc_transfer", "The data folder: registry, landing files, raw archive, reports, embedded warehouse."),
    Setting("NCC_SCHOOLS_FILE", "$NCC_HOME/schools.yaml", "The schools registry."),
    Setting("NCC_WAREHOUSE_URL", "duckdb:///$NCC_HOME/warehouse.duckdb", "`duckdb:///<path>` or `postgresql://user@host:port/db`."),
    Setting("NCC_RETENTION_FILE", "$NCC_HOME/retention.yaml", "The retention schedule the daily purge applies (without one, the documented defaults)."),
    Setting("NCC_TERM_DATES_FILE", "$NCC_HOME/term_dates.csv", "The LA's term dates, one row per half term (optional: "
            "without it breaks and terms are read from the data; docs/targeting_pack.md)."),
    Setting("NCC_NIGHTLY_CRON", "0 2 * * *", "When the nightly schedule fires (Europe/London)."),
    Setting("NCC_SCHOOLS_PER_RUN", "0", "Schools per nightly run; 0 = one run for every school."),
    Setting("NCC_RETRY_DELAY_SECONDS", "300", "Wait before retrying the schools with a temporary fault (doubling, with jitter; 2 retries)."),
    Setting("NCC_FRESHNESS_HOURS", "36", "A school whose last good load is older than this fails the `fresh` check (a warning)."),
    Setting("NCC_PREPARE_AHEAD", "1", "Prepare the next school in a worker process while one is written (0 = off)."),
    Setting("NCC_VENDOR_FETCH_THREADS", "4", "Vendor-route schools fetched at once, in threads (0 = one after another)."),
    Setting("NCC_ROUTE_CONCURRENCY", "", "Most schools of one vendor route fetched at once in a run, e.g. `wonde=2,arbor=1`; unset = up to NCC_VENDOR_FETCH_THREADS."),
    Setting("NCC_PART_WAIT_SECONDS", "60", "How long a file still being uploaded is waited for before the school fails."),
    Setting("NCC_FULL_REFRESH", "", "`1`: vendor routes that fetch only changes fetch everything."),
    Setting("NCC_MAX_FILE_MB", str(DEFAULT_MAX_FILE_MB), "The largest landing file read, in MB."),
    Setting("NCC_MAX_PUPILS", str(DEFAULT_MAX_ROWS["pupils"]), "The most pupil rows one school's extract may hold."),
    Setting("NCC_MAX_ATTENDANCE_MARKS", str(DEFAULT_MAX_ROWS["attendance"]), "The most attendance marks one school's extract may hold."),
    Setting("NCC_MAX_EXCLUSIONS", str(DEFAULT_MAX_ROWS["exclusions"]), "The most exclusion rows one school's extract may hold."),
    Setting("NCC_ISSUE_EXAMPLES_PER_RULE", str(DEFAULT_ISSUE_EXAMPLES_PER_RULE), "Example records kept per school and rule; the rest are counted."),
    Setting("NCC_ARCHIVE_KEY", "", "Key that encrypts the raw archive (none: nothing archived)."),
    Setting("NCC_ARCHIVE_OLD_KEYS", "", "Earlier archive keys, comma-separated, still accepted for reading."),
    Setting("NCC_ARCHIVE_REQUIRED", "", "`true`: a night fails before its first school when the archive key is unset or malformed."),
    Setting("NCC_PSEUDONYM_KEY", "", "Key for pseudonymised exports."),
    Setting("NCC_EMAIL_SCHOOL_REPORTS", "", "`true`: email each school its report when something is new."),
    Setting("NCC_PACK_EMAIL", "", "`true`: when a school's targeting pack is made, email its contact and officer a "
            "notice (counts and the folder, no pupil data; docs/targeting_pack.md)."),
    Setting("NCC_SMTP_HOST", "", "SMTP server for school reports and alerts; unset = no email."),
    Setting("NCC_SMTP_PORT", "25", "SMTP port."),
    Setting("NCC_SMTP_USER", "", "SMTP login (used only if set)."),
    Setting("NCC_SMTP_PASSWORD", "", "SMTP password."),
    Setting("NCC_SMTP_FROM", "", "Sender address (required with a host)."),
    Setting("NCC_SMTP_STARTTLS", "true on port 587", "Upgrade with STARTTLS."),
    Setting("NCC_SMTP_SSL", "true on port 465", "Implicit TLS (SMTPS)."),
    Setting("NCC_SMTP_TIMEOUT", "30", "SMTP timeout, seconds."),
    Setting("NCC_ALERT_EMAIL_TO", "", "Comma-separated addresses emailed when a run fails."),
    Setting("NCC_ALERT_WEBHOOK_URL", "", "URL posted to when a run fails."),
    Setting("NCC_DAGSTER_UI_URL", "", "The Dagster UI's address, for links in alerts."),
    Setting("NCC_SIMULATOR_PORT", "8765", "Port of the demo's simulated vendors (`ncc-transfer demo`)."),
    Setting("DAGSTER_HOME", "$NCC_HOME/dagster_home (CLI)", "Dagster's instance folder (runs, events, schedules)."),
    Setting("DAGSTER_PG_HOST", "", "PostgreSQL host of Dagster's storage (deploy/dagster.yaml)."),
    Setting("DAGSTER_PG_PORT", "", "PostgreSQL port of Dagster's storage."),
    Setting("DAGSTER_PG_USER", "", "PostgreSQL user of Dagster's storage."),
    Setting("DAGSTER_PG_PASSWORD", "", "PostgreSQL password of Dagster's storage."),
    Setting("DAGSTER_PG_DB", "", "PostgreSQL database of Dagster's storage."),
)}


def setting(name: str) -> str:
    """The value of the ``SETTINGS`` variable ``name`` now (its default when unset)."""
    return SETTINGS[name].get()


def flag(name: str) -> bool:
    """A yes/no ``SETTINGS`` variable: ``1``, ``true``, ``yes`` or ``on`` (any case) is yes."""
    return setting(name).lower() in ("1", "true", "yes", "on")


def secret(name: str) -> str:
    """A key or password variable's value now (empty when unset). Callers never log or show it."""
    return setting(name)


def nightly_cron() -> str:
    return setting("NCC_NIGHTLY_CRON")


def schools_per_run() -> int:
    """NCC_SCHOOLS_PER_RUN splits the night into several runs (0, the default: one run for all)."""
    return max(0, int(setting("NCC_SCHOOLS_PER_RUN") or 0))


def retry_delay_seconds() -> float:
    return float(setting("NCC_RETRY_DELAY_SECONDS"))


def freshness_hours() -> float:
    """NCC_FRESHNESS_HOURS: a school whose last good load is older than this is flagged (default 36)."""
    return float(setting("NCC_FRESHNESS_HOURS"))


def markdown_table() -> str:
    """``SETTINGS`` as the table of docs/configuration.md."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {f'`{s.default}`' if s.default else '(unset)'} | {s.description} |" for s in SETTINGS.values()]
    return "\n".join(rows) + "\n"


def ncc_home() -> Path:
    """The data folder: registry, landing files, raw archive, reports, embedded warehouse."""
    return Path(os.environ.get("NCC_HOME", "./.ncc_transfer")).expanduser().absolute()


def schools_file() -> Path:
    """The schools registry."""
    configured = os.environ.get("NCC_SCHOOLS_FILE")
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "schools.yaml"


def dagster_home() -> Path | None:
    """``DAGSTER_HOME`` when set (the command line sets it to ``$NCC_HOME/dagster_home`` when unset)."""
    configured = os.environ.get("DAGSTER_HOME", "").strip()
    return Path(configured).expanduser().absolute() if configured else None


def retention_file() -> Path:
    """``NCC_RETENTION_FILE``, else ``$NCC_HOME/retention.yaml``."""
    configured = os.environ.get("NCC_RETENTION_FILE", "").strip()
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "retention.yaml"


def term_dates_file() -> Path:
    """``NCC_TERM_DATES_FILE``, else ``$NCC_HOME/term_dates.csv`` (optional: it need not exist)."""
    configured = os.environ.get("NCC_TERM_DATES_FILE", "").strip()
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "term_dates.csv"


def simulator_port() -> int:
    """``NCC_SIMULATOR_PORT``: the demo simulator's port (default 8765)."""
    return int(setting("NCC_SIMULATOR_PORT"))


def warehouse_url() -> str:
    """`duckdb:///<path>` or `postgresql://user@host:port/db`."""
    return os.environ.get("NCC_WAREHOUSE_URL") or f"duckdb:///{ncc_home() / 'warehouse.duckdb'}"


def issue_examples_per_rule() -> int:
    """``NCC_ISSUE_EXAMPLES_PER_RULE``: example records kept per (school, rule); at least 1."""
    return max(1, _positive_int("NCC_ISSUE_EXAMPLES_PER_RULE", DEFAULT_ISSUE_EXAMPLES_PER_RULE))


def max_rows(table: str) -> int:
    """The most rows a school's ``table`` extract may hold (``NCC_MAX_PUPILS`` and the like)."""
    return _positive_int(MAX_ROWS_VARIABLES[table], DEFAULT_MAX_ROWS[table])


def _positive_int(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{variable} must not be negative")
    return value


DEMO_SECRETS_FILE = "demo_secrets.env"
_ENV_LINE = re.compile(r"^([A-Z_][A-Z0-9_]*)=(.*)$")


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an env file (others ignored); empty if there is no file."""
    if not Path(path).is_file():
        return {}
    matches = (_ENV_LINE.match(line.strip()) for line in Path(path).read_text(encoding="utf-8").splitlines())
    return {m.group(1): m.group(2) for m in matches if m}


def load_env_file(home: Path) -> int:
    """On a demo home (one with ``demo_manifest.json``) only, put ``$NCC_HOME/demo_secrets.env`` in the
    environment, never overriding a set variable; a production NCC_HOME is never touched. Returns how
    many variables it set."""
    if not (Path(home) / "demo_manifest.json").is_file():
        return 0
    values = {k: v for k, v in read_env_file(Path(home) / DEMO_SECRETS_FILE).items() if k not in os.environ}
    os.environ.update(values)
    return len(values)


@contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """The environment variables ``names`` put back as they were (set or not) when the block ends, whatever
    it set them to: a test or a benchmark pointing a night at a home of its own."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
