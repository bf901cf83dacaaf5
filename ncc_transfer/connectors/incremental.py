"""Incremental extraction: fetch only what changed since last night, and give the same tables as a full
fetch (issue #4).

Per school the last extract is kept as a *mirror* (``StateStore``: ``$NCC_HOME/state/<partition>/``,
folders 0700, files 0600): the vendor's records mapped to raw rows, keyed by vendor record id, with the
vendor's watermark (a timestamp, a changeset token, a revision). On an incremental night:

* **pupils**: the vendor lists the pupils changed since the watermark and the ones deleted
  (``connector.changed_pupils``); they are upserted into / removed from the mirror, with a deleted
  pupil's marks and exclusions;
* **attendance**: marks are re-read for a look-back window: from the ``lookback_school_days``-th
  (default 10) latest school day the mirror has marks for, to tonight. Registers amended inside the
  window are caught whether or not the vendor flags the change; older amendments wait for the
  periodic full refresh;
* **exclusions** and code lists are small and re-read in full, and so are the pupil columns a vendor
  keeps apart from its pupil records (``connector.refresh_pupils``: Arbor's cohort entities), set afresh
  on every pupil;
* what depends on the night rather than on the vendor's records (Wonde's cohort flags, counted on the
  as-of date from date ranges) is counted again for every pupil, re-read or not
  (``connector.on_night``), from what the mirror keeps for it (Wonde: the ranges, ``_cohort_periods``).

A full fetch replaces the mirror when there is none, every ``full_refresh_days`` (default 7), when the
academic year or the route settings (or the connector's mapping version) changed, when the mirror's
pupil rows lack a field the connector needs (``connector.mirror_fields``: a mirror written before the
route kept it), when ``NCC_FULL_REFRESH=1``, and for a night earlier than the mirror's (a backfill: the
mirror is then left as it is). The mirror is current pupil data: it is replaced nightly and deleted
with the school (``ncc-transfer purge``), and the audit log says which kind of fetch each night was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import flag
from ..rules.calendar import academic_year_start
from .records import Records
from .snapshot import STUDENT_KEY, Snapshot

log = logging.getLogger(__name__)

DEFAULT_FULL_REFRESH_DAYS = 7
DEFAULT_LOOKBACK_SCHOOL_DAYS = 10
STATE_VERSION = 1
TABLE_NAMES = ("pupils", "attendance", "exclusions")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Settings that do not change what the vendor returns (changing them keeps the mirror).
_NEUTRAL_SETTINGS = {"rate_per_second", "max_retries", "backoff_factor", "connect_timeout", "read_timeout",
                     "full_refresh_days", "lookback_school_days"}


@dataclass
class PupilChanges:
    """What the vendor says changed among the pupils since a watermark."""

    upserts: dict[str, dict] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    watermark: dict[str, Any] = field(default_factory=dict)


@dataclass
class Mirror:
    route: str
    options: str  # hash of the settings that shape the vendor's answers
    as_of: date  # the night it was last brought up to date
    full_at: date  # the night of the last full fetch
    snapshot: Snapshot
    last_kind: str = "full"  # "full" | "incremental"


# ------------------------------------------------------------------------------------------ storage


class StateStore:
    """Mirrors on disk under ``root`` (``$NCC_HOME/state``), one folder per partition key."""

    def __init__(self, root: Path, *, force_full: bool = False) -> None:
        self.root = Path(root)
        self.force_full = force_full  # tonight fetches everything (the operator asked for a full refresh)

    def folder(self, key: str) -> Path:
        if not re.fullmatch(r"\d{7}-[a-z_]+", key):
            raise ValueError(f"not a partition key: {key!r}")
        return self.root / key

    def load(self, key: str) -> Mirror | None:
        folder = self.folder(key)
        meta_file = folder / "meta.json"
        if not meta_file.is_file():
            return None
        try:
            meta = json.loads(meta_file.read_text())
            if meta.get("version") != STATE_VERSION:
                return None
            snapshot = Snapshot(sources=meta["sources"], watermark=meta["watermark"])
            for table in TABLE_NAMES:
                records = Records(pq.read_table(folder / f"{table}.parquet"))
                setattr(snapshot, table, records if table == "attendance" else records.rows())
            return Mirror(meta["route"], meta["options"], date.fromisoformat(meta["as_of"]),
                          date.fromisoformat(meta["full_at"]), snapshot, meta.get("last_kind", "full"))
        except (OSError, ValueError, KeyError) as exc:  # unreadable: a full fetch rebuilds it
            log.warning("%s: extract state unreadable (%s); a full fetch will rebuild it", key, type(exc).__name__)
            return None

    def save(self, key: str, mirror: Mirror) -> None:
        folder = self.folder(key)
        scratch = folder.with_name(folder.name + ".new")
        shutil.rmtree(scratch, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch.mkdir(mode=0o700)
        for table in TABLE_NAMES:
            path = scratch / f"{table}.parquet"
            columns = mirror.snapshot.records(table).table
            pq.write_table(columns.select(sorted(columns.column_names)).cast(
                pa.schema([(name, pa.string()) for name in sorted(columns.column_names)])), path)
            os.chmod(path, 0o600)
        meta = {"version": STATE_VERSION, "route": mirror.route, "options": mirror.options,
                "as_of": mirror.as_of.isoformat(), "full_at": mirror.full_at.isoformat(),
                "last_kind": mirror.last_kind, "sources": mirror.snapshot.sources,
                "watermark": mirror.snapshot.watermark}
        meta_path = scratch / "meta.json"
        meta_path.write_text(json.dumps(meta, sort_keys=True))
        os.chmod(meta_path, 0o600)
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        scratch.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    def delete(self, key: str) -> bool:
        folder = self.folder(key)
        existed = folder.exists()
        shutil.rmtree(folder, ignore_errors=True)
        return existed

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and re.fullmatch(r"\d{7}-[a-z_]+", p.name))


# ----------------------------------------------------------------------------------------- planning


def options_hash(connector: Any, settings: Any) -> str:
    shaping = {k: v for k, v in sorted(settings.school.source.items()) if k not in _NEUTRAL_SETTINGS}
    text = json.dumps([connector.route, connector.mapping_version, shaping], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def full_refresh_reason(mirror: Mirror | None, options: str, as_of: date, full_refresh_days: int,
                        needs: tuple[str, ...] = ()) -> str | None:
    """Why tonight must be a full fetch, or None for an incremental one (``needs``: the fields every pupil
    row of the mirror must hold, ``IncrementalConnector.mirror_fields``)."""
    if flag("NCC_FULL_REFRESH"):
        return "forced (NCC_FULL_REFRESH)"
    if mirror is None:
        return "no previous extract"
    if mirror.options != options:
        return "route settings or mapping changed"
    if as_of < mirror.as_of:
        return "a night before the last extract (backfill)"
    if academic_year_start(as_of) != academic_year_start(mirror.as_of):
        return "a new academic year"
    if (as_of - mirror.full_at).days >= full_refresh_days:
        return f"periodic full refresh (every {full_refresh_days} days)"
    if not mirror.snapshot.watermark:
        return "no watermark"
    if any(name not in row for row in mirror.snapshot.pupils.values() for name in needs):
        return "the extract state predates a field the route keeps"
    return None


def lookback_start(mirror: Mirror, school_days: int, as_of: date) -> date:
    """The first day of the look-back window: the ``school_days``-th latest day with marks in the mirror."""
    dates = pc.unique(mirror.snapshot.attendance.text("date").drop_null()).to_pylist()
    days = sorted((day for day in dates if _ISO.match(day) and day <= mirror.as_of.isoformat()), reverse=True)
    year_start = academic_year_start(as_of)
    if len(days) < school_days:
        return year_start
    return max(date.fromisoformat(days[school_days - 1]), year_start)


# ------------------------------------------------------------------------------------------ merging


def merge(previous: Snapshot, changes: PupilChanges, window_start: date, window: Records,
          exclusions: dict[str, dict], sources: dict[str, str]) -> Snapshot:
    """The mirror brought up to date; pure (``previous`` is not changed)."""
    pupils = dict(previous.pupils)
    deleted_upns = {pupils[p].get("upn") for p in changes.deleted if p in pupils} - {None}
    for pid in changes.deleted:
        pupils.pop(pid, None)
    pupils.update(changes.upserts)
    marks = previous.attendance
    day = marks.text("date")
    dated = pc.and_(pc.fill_null(pc.match_substring_regex(day, _ISO.pattern), False),
                    pc.fill_null(pc.less(day, window_start.isoformat()), False))  # older than the window
    # (marks with unreadable dates come with every range: re-read with the window)
    student = marks.text(STUDENT_KEY)
    deleted = pc.if_else(pc.is_valid(student), pc.is_in(student, pa.array(sorted(changes.deleted), pa.string())),
                         pc.is_in(marks.text("upn"), pa.array(sorted(deleted_upns), pa.string())))
    attendance = marks.where(pc.and_(dated, pc.invert(pc.fill_null(deleted, False)))).updated(window)
    return Snapshot(pupils=pupils, attendance=attendance, exclusions=dict(exclusions),
                    sources=dict(sources or previous.sources), watermark=dict(changes.watermark))


def incremental_snapshot(connector: Any, session: Any, settings: Any, *, as_of: date,
                         store: StateStore) -> Snapshot:
    """Tonight's snapshot for a connector that can list changes (see the module docstring)."""
    key = settings.school.key
    full_every = int(settings.get("full_refresh_days", DEFAULT_FULL_REFRESH_DAYS))
    lookback = int(settings.get("lookback_school_days", DEFAULT_LOOKBACK_SCHOOL_DAYS))
    options = options_hash(connector, settings)
    mirror = store.load(key)
    reason = "forced (full refresh asked for)" if store.force_full else \
        full_refresh_reason(mirror, options, as_of, full_every, connector.mirror_fields)
    if reason is not None:
        snapshot = connector.snapshot(session, settings, as_of=as_of)
        if mirror is None or as_of >= mirror.as_of:
            store.save(key, Mirror(connector.route, options, as_of, as_of, snapshot, "full"))
        connector.last_fetch = {"kind": "full", "reason": reason}
        log.info("%s: full extract (%s)", key, reason)
        return snapshot
    assert mirror is not None
    changes = connector.changed_pupils(session, settings, since=mirror.snapshot.watermark, as_of=as_of)
    start = lookback_start(mirror, lookback, as_of)
    window = connector.marks(session, settings, start=start, end=as_of)
    exclusions = connector.exclusions(session, settings, as_of=as_of)
    snapshot = merge(mirror.snapshot, changes, start, window, exclusions, connector.sources(settings))
    # columns the change list does not follow; then tonight's date reaches every pupil, not only the re-read
    snapshot.pupils = connector.refresh_pupils(session, settings, snapshot.pupils, as_of=as_of)
    snapshot = connector.on_night(snapshot, as_of)
    store.save(key, Mirror(connector.route, options, as_of, mirror.full_at, snapshot, "incremental"))
    connector.last_fetch = {"kind": "incremental", "since": mirror.as_of.isoformat(), "window_start": start.isoformat(),
                            "pupils_changed": len(changes.upserts), "pupils_deleted": len(changes.deleted),
                            "marks_read": len(window)}
    log.info("%s: incremental extract: %d pupils changed, %d deleted, %d marks re-read from %s", key,
             len(changes.upserts), len(changes.deleted), len(window), start)
    return snapshot
