"""The school step's failure, in words an operator acts on: how many of the run's schools failed and
what became of the others, then one line per failed school (its key, name, problem and next step),
and the same as a Markdown table in the failure's metadata (the run page shows it)."""

from __future__ import annotations

from ncc_transfer.pipeline import FAILED, SchoolOutcome


def failure_description(total: int, loaded: int, failed: list[SchoolOutcome], failed_before: list[str],
                        schools: dict, *, temporary: int = 0, retry_number: int = 0, max_retries: int = 2) -> str:
    """The step's failure text: how many of the run's schools failed and what became of the others
    (only what is true: no "other schools" when there are none), whether a retry follows, then one line
    per failed school with its name, its problem and the next step."""
    count = len(failed) + len(failed_before)
    others = total - count
    text = f"{count} of {total} school{'s' if total != 1 else ''} in this run failed"
    if others:
        skipped = others - loaded
        text += (f"; the other {others} loaded" if not skipped else
                 f"; of the other {others}, {loaded} loaded and {skipped} "
                 f"{'was' if skipped == 1 else 'were'} skipped (inactive in the registry)")
    text += ". " + ("The failed school kept its previous load." if count == 1 else "Each failed school kept its previous load.")
    if temporary:
        text += (f" The {temporary} with a temporary fault will be tried again (retry {retry_number + 1} of "
                 f"{max_retries})." if retry_number < max_retries else
                 f" The {temporary} with a temporary fault failed on every try ({max_retries} retries).")
    lines = [f"- {named(o.school_key, schools)}: {o.message}" for o in failed]
    lines += [f"- {named(key, schools)}: failed on an earlier try of this run (its message is in that try's log)"
              for key in failed_before]
    shown = lines[:MAX_FAILURE_LINES]
    if len(lines) > len(shown):
        shown.append(f"- and {len(lines) - len(shown)} more: see the failures table in this failure's metadata")
    return text + "\n" + "\n".join(shown)


MAX_FAILURE_LINES = 20


def failure_table(outcomes: list[SchoolOutcome], schools: dict) -> str:
    """A Markdown table of this try's failed schools: school, name, LAESTAB, route, problem and next step."""
    rows = ["| school | name | LAESTAB | route | problem and next step |", "|---|---|---|---|---|"]
    for o in outcomes:
        if o.status == FAILED:
            name = schools[o.school_key].name if o.school_key in schools else "(not in the registry)"
            rows.append("| " + " | ".join(_cell(v) for v in (o.school_key, name, o.laestab, o.route, o.message or "")) + " |")
    return "\n".join(rows)


def _cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def named(key: str, schools: dict) -> str:
    """``9262001-wonde (Oak Primary)``: the school's partition key (LAESTAB and route) and its name."""
    school = schools.get(key)
    return f"{key} ({school.name})" if school is not None else key
