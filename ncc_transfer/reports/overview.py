"""The LA's data-quality overview: per school, issue counts by severity and rule, nights since the
last clean extract, and a 30-night trend chart. Counts only: no pupil data goes in, none comes out.

Pure: takes two count frames and writes ``reports_root/la/``: a PNG chart (matplotlib's Agg canvas
directly, no pyplot, so no global backend state and safe in a threaded Dagster process), an HTML page
that embeds the chart inline (base64, so it survives being mailed) and links the PNG file beside it,
and returns a short markdown summary for Dagster metadata.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ncc_transfer.reports.files import private_dir, write_private
from ncc_transfer.reports.guide import guide
from ncc_transfer.reports.templating import render

TREND_NIGHTS = 30
TOP_SCHOOLS = 5
TOP_RULES = 3
ERROR_COLOUR, WARNING_COLOUR = "#a4161a", "#e0a526"
COUNTS_COLUMNS = ["school_key", "school_name", "rule", "severity", "count", "nights_since_clean"]
TREND_COLUMNS = ["night", "school_key", "errors", "warnings"]


@dataclass(frozen=True)
class Overview:
    html_path: Path  # <reports_root>/la/la_overview_<as_of>.html
    png_path: Path  # the chart, for MetadataValue.path
    markdown: str  # counts only, for MetadataValue.md
    latest_html_path: Path | None = None  # stable copies: latest.html (links latest.png)
    latest_png_path: Path | None = None
    totals: dict[str, int] = field(default_factory=dict)  # schools, clean, errors, warnings

    def chart_markdown(self) -> str:
        """The markdown summary with the chart inline (a data: URI), which the Dagster UI renders."""
        encoded = base64.b64encode(Path(self.png_path).read_bytes()).decode("ascii")
        return f"{self.markdown}\n\n![validation issues, last {TREND_NIGHTS} nights](data:image/png;base64,{encoded})\n"


def write_la_overview(counts: pd.DataFrame, trend: pd.DataFrame, *, la_name: str, as_of: date,
                      reports_root: Path, generated_at: datetime | None = None) -> Overview:
    """Write the overview for the night ``as_of``.

    ``counts``: one row per (school, rule, severity) with ``count``; ``nights_since_clean`` per
    school (0 = clean tonight, None = no clean extract on record). A clean school appears with a
    null rule or a count of 0. ``trend``: one row per (night, school) with ``errors`` and
    ``warnings``; nights before ``as_of`` - 29 are ignored.
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    schools = school_summary(counts)
    nights = night_totals(trend, as_of)
    folder = private_dir(Path(reports_root) / "la")
    stem = f"la_overview_{as_of.isoformat()}"

    png = chart_png(nights, school_trend(trend, schools, as_of), la_name=la_name, as_of=as_of)
    png_path = write_private(folder / f"{stem}.png", png)
    latest_png = write_private(folder / "latest.png", png)

    totals = {
        "schools": int(len(schools)),
        "clean": int(sum(1 for s in schools if s["errors"] == 0 and s["warnings"] == 0)),
        "errors": int(sum(s["errors"] for s in schools)),
        "warnings": int(sum(s["warnings"] for s in schools)),
    }
    context = dict(la_name=la_name, as_of=as_of, schools=schools, totals=totals, nights=TREND_NIGHTS,
                   chart_base64=base64.b64encode(png).decode("ascii"),
                   generated_at=generated_at or datetime.now().replace(microsecond=0),
                   top_rules=top_rules(counts))
    html_path = write_private(folder / f"{stem}.html",
                              render("la_overview.html.j2", png_name=png_path.name, **context).encode("utf-8"))
    latest_html = write_private(folder / "latest.html",
                                render("la_overview.html.j2", png_name=latest_png.name, **context).encode("utf-8"))
    return Overview(html_path=html_path, png_path=png_path, markdown=overview_markdown(schools, totals, la_name, as_of),
                    latest_html_path=latest_html, latest_png_path=latest_png, totals=totals)


# --- tables ----------------------------------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    try:
        if value is None or pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return int(value)


def school_summary(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per school: errors, warnings, top rules, nights since clean; worst schools first."""
    frame = counts.reindex(columns=COUNTS_COLUMNS + [c for c in counts.columns if c not in COUNTS_COLUMNS]).copy()
    frame["count"] = pd.to_numeric(frame["count"], errors="coerce").fillna(0).astype(int)
    frame["severity"] = frame["severity"].astype(object).fillna("").astype(str).str.lower()
    dataset = frame["dataset"] if "dataset" in frame.columns else pd.Series(None, index=frame.index)
    summary = []
    for school_key, rows in frame.groupby(frame["school_key"].astype(str), sort=False):
        issues = rows[rows["rule"].notna() & (rows["count"] > 0)]
        by_rule = (issues.assign(_dataset=dataset.loc[issues.index]).groupby(["rule", "severity"], dropna=False)
                   .agg(count=("count", "sum"), dataset=("_dataset", "first")).reset_index()
                   .sort_values(["count", "rule"], ascending=[False, True]))
        names = rows["school_name"].dropna()
        nights = [n for n in (_int_or_none(v) for v in rows["nights_since_clean"]) if n is not None]
        has_nights_value = rows["nights_since_clean"].notna().any()
        summary.append({
            "school_key": school_key,
            "school_name": str(names.iloc[0]) if len(names) else school_key,
            "errors": int(issues.loc[issues["severity"] == "error", "count"].sum()),
            "warnings": int(issues.loc[issues["severity"] != "error", "count"].sum()),
            "top_rules": [{"rule": r.rule,
                           "title": guide(r.dataset if isinstance(r.dataset, str) else None, r.rule).title,
                           "severity": r.severity, "count": int(r.count)}
                          for r in by_rule.head(TOP_RULES).itertuples()],
            "more_rules": max(0, len(by_rule) - TOP_RULES),
            "nights_since_clean": min(nights) if has_nights_value and nights else None,
        })
    summary.sort(key=lambda s: (-s["errors"], -s["warnings"], s["school_name"].casefold()))
    return summary


def top_rules(counts: pd.DataFrame, limit: int = 8) -> list[dict[str, Any]]:
    """The rules with the most issues across the LA, and how many schools each affects."""
    frame = counts[counts["rule"].notna()].copy()
    frame["count"] = pd.to_numeric(frame["count"], errors="coerce").fillna(0).astype(int)
    frame = frame[frame["count"] > 0]
    if frame.empty:
        return []
    if "dataset" not in frame.columns:
        frame["dataset"] = None
    grouped = (frame.groupby(["rule", "severity"], dropna=False)
               .agg(count=("count", "sum"), schools=("school_key", "nunique"), dataset=("dataset", "first"))
               .reset_index().sort_values(["count", "rule"], ascending=[False, True]).head(limit))
    return [{"rule": r.rule, "severity": str(r.severity).lower(), "count": int(r.count), "schools": int(r.schools),
             "title": guide(r.dataset if isinstance(r.dataset, str) else None, r.rule).title}
            for r in grouped.itertuples()]


def _window(as_of: date) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(as_of) - pd.Timedelta(days=TREND_NIGHTS - 1), pd.Timestamp(as_of), freq="D")


def _trend_frame(trend: pd.DataFrame, as_of: date) -> pd.DataFrame:
    frame = trend.reindex(columns=TREND_COLUMNS).copy()
    frame["night"] = pd.to_datetime(frame["night"], errors="coerce").dt.normalize()
    for column in ("errors", "warnings"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
    window = _window(as_of)
    return frame[frame["night"].between(window[0], window[-1])]


def night_totals(trend: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """LA totals per night over the window (index: every night; nights with no record are NaN)."""
    frame = _trend_frame(trend, as_of)
    totals = frame.groupby("night")[["errors", "warnings"]].sum()
    return totals.reindex(_window(as_of))


def school_trend(trend: pd.DataFrame, schools: list[dict[str, Any]], as_of: date) -> dict[str, pd.Series]:
    """Issues (errors + warnings) per night for the schools with the most issues tonight."""
    frame = _trend_frame(trend, as_of)
    names = {s["school_key"]: s["school_name"] for s in schools}
    worst = [s["school_key"] for s in schools if s["errors"] + s["warnings"] > 0][:TOP_SCHOOLS]
    if not worst:  # no current counts: pick from the trend's last night
        last = frame[frame["night"] == frame["night"].max()] if len(frame) else frame
        worst = list(last.assign(t=last["errors"] + last["warnings"]).sort_values("t", ascending=False)
                     .query("t > 0")["school_key"].astype(str).head(TOP_SCHOOLS))
    series = {}
    for key in worst:
        rows = frame[frame["school_key"].astype(str) == key]
        total = (rows["errors"] + rows["warnings"]).groupby(rows["night"]).sum()
        label = names.get(key, key)
        series[label if len(label) <= 40 else label[:39] + "…"] = total.reindex(_window(as_of))
    return series


# --- chart -----------------------------------------------------------------------------------------------


def chart_png(nights: pd.DataFrame, schools: dict[str, pd.Series], *, la_name: str, as_of: date) -> bytes:
    """Two panels: LA-wide errors and warnings per night (stacked bars); issues per night of the
    schools with the most issues tonight (lines). Counts only.

    Matplotlib is imported here, when a chart is drawn: it takes most of a second, which every process
    that imports the reports (the command line, each run worker) would otherwise pay."""
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    x = nights.index
    errors = nights["errors"].fillna(0).to_numpy()
    warnings = nights["warnings"].fillna(0).to_numpy()
    width = 0.8
    top.bar(x, errors, width=width, color=ERROR_COLOUR, label="errors (records not loaded)")
    top.bar(x, warnings, width=width, bottom=errors, color=WARNING_COLOUR, label="warnings (loaded, need fixing)")
    if nights["errors"].isna().all():
        top.text(0.5, 0.5, "No nights recorded yet", transform=top.transAxes, ha="center", va="center",
                 color="#555", fontsize=13)
    missing = nights.index[nights["errors"].isna()]
    if len(missing) and not nights["errors"].isna().all():
        top.plot(missing, [0] * len(missing), linestyle="none", marker="x", color="#888",
                 label="no extract recorded")
    top.set_ylabel("issues across the LA")
    figure.suptitle(f"{la_name}: validation issues per night, {TREND_NIGHTS} nights to {as_of:%d %b %Y}", x=0.01,
                    ha="left", fontsize=13)
    top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False, fontsize=9)
    top.grid(axis="y", alpha=0.3)
    top.set_ylim(bottom=0)

    if schools:
        for label, series in schools.items():
            bottom.plot(series.index, series.to_numpy(dtype=float), marker="o", markersize=3, linewidth=1.6,
                        label=label)
        bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, frameon=False, fontsize=8)
    else:
        bottom.text(0.5, 0.5, "No school has issues tonight", transform=bottom.transAxes, ha="center", va="center",
                    color="#555", fontsize=12)
    bottom.set_ylabel("issues per school")
    bottom.set_title(f"Schools with the most issues tonight (top {TOP_SCHOOLS}): errors + warnings", loc="left",
                     fontsize=10)
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_ylim(bottom=0)
    bottom.set_xlim(x[0] - pd.Timedelta(hours=18), x[-1] + pd.Timedelta(hours=18))
    for axis in (top, bottom):
        axis.yaxis.get_major_locator().set_params(integer=True)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    bottom.xaxis.set_major_locator(mdates.DayLocator(interval=3))
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


# --- markdown --------------------------------------------------------------------------------------------


def _nights_text(nights: int | None) -> str:
    if nights is None:
        return "none on record"
    if nights == 0:
        return "clean tonight"
    return f"{nights} night{'s' if nights != 1 else ''}"


def overview_markdown(schools: list[dict[str, Any]], totals: dict[str, int], la_name: str, as_of: date,
                      limit: int = 10) -> str:
    """A short summary for Dagster metadata: totals and the schools with most issues, by school key."""
    lines = [
        f"**{_md(la_name)}, {as_of.isoformat()}**: {totals['schools']} schools, {totals['errors']} errors, "
        f"{totals['warnings']} warnings; {totals['clean']} clean tonight.",
    ]
    worst = [s for s in schools if s["errors"] + s["warnings"] > 0][:limit]
    if worst:
        lines += ["", "| school | errors | warnings | top rule | nights since clean |", "|---|---:|---:|---|---:|"]
        for s in worst:
            rule = s["top_rules"][0]["rule"] if s["top_rules"] else ""
            lines.append(f"| {_md(s['school_key'])} | {s['errors']} | {s['warnings']} | {_md(rule)} | "
                         f"{_nights_text(s['nights_since_clean'])} |")
        if len(schools) - totals["clean"] > len(worst):
            lines.append(f"\n…and {len(schools) - totals['clean'] - len(worst)} more schools with issues.")
    return "\n".join(lines)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


__all__ = ["Overview", "write_la_overview", "school_summary", "top_rules", "night_totals", "chart_png",
           "overview_markdown"]
