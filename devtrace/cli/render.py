"""Human output of query results on the terminal. Machines use --json / --format instead.

Rows come as DuckDB returns them (column names and Python values), so `devtrace events` and
`devtrace sql` print without loading Polars; `events` prints plain text, without rich either.
"""

import datetime as dt
import json
import math
import os
import shutil
import sys
from typing import NamedTuple

from devtrace.readable import MISSING, duration, local_time, truncate, value

GAP = "  "
_NUMBERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}
FLEXIBLE_MIN = 24
"""The flexible column (a command) keeps at least this many characters before optional
columns are dropped to make room."""


def output_width() -> int:
    """$COLUMNS, else the terminal's width; no limit when standard output is not a terminal."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return sys.maxsize


class Column(NamedTuple):
    header: str
    right: bool = False  # a number: right-aligned
    flexible: bool = False  # takes the room left on the line, cut with "…" (one per table)
    optional: bool = False  # dropped, last listed first, when the line is too narrow


def plain_table(columns: list[Column], cells: list[list[str]], width: int | None = None) -> str:
    """Rows of text cells as aligned plain text in `width` characters (default: $COLUMNS, else
    the terminal's width): optional columns go first, then the flexible one is cut. Written to a
    pipe or a file with no $COLUMNS, every column is kept whole (`| grep` finds an event's id)."""
    width = width or output_width()
    keep = list(range(len(columns)))
    natural = [max([len(columns[j].header), *(len(line[j]) for line in cells)]) for j in keep]

    def needed(kept: list[int]) -> int:
        return sum(min(natural[j], FLEXIBLE_MIN) if columns[j].flexible else natural[j] for j in kept) + len(GAP) * (len(kept) - 1)

    while needed(keep) > width and any(columns[j].optional for j in keep):
        keep.remove(max(j for j in keep if columns[j].optional))
    widths = {j: natural[j] for j in keep}
    flexible = [j for j in keep if columns[j].flexible]
    if flexible:
        rest = width - sum(natural[j] for j in keep if j != flexible[0]) - len(GAP) * (len(keep) - 1)
        widths[flexible[0]] = max(min(natural[flexible[0]], rest), min(natural[flexible[0]], 8))

    def line(texts: list[str]) -> str:
        parts = []
        for j in keep:
            text = truncate(texts[j], widths[j]) if columns[j].flexible else texts[j]
            parts.append(text.rjust(widths[j]) if columns[j].right else text.ljust(widths[j]))
        return GAP.join(parts).rstrip()

    header = line([c.header for c in columns])
    rule = GAP.join("─" * widths[j] for j in keep)
    return "\n".join([header, rule, *map(line, cells)])


EVENT_COLUMNS = [
    Column("when"),
    Column("command", flexible=True),
    Column("exit", right=True),
    Column("took", right=True),
    Column("event", optional=True),
    Column("who", optional=True),
    Column("score", right=True, optional=True),
    Column("flag", optional=True),
    Column("model", optional=True),
    Column("changed", right=True, optional=True),
    Column("top reason", optional=True),
]
"""What `devtrace events` shows, in the order someone reading their recent commands needs it:
when, which command, how it ended and how long it took; then, as room allows, the id to label
it by, who ran it, the score, whether its session is likely stuck (see
analytics.likely_stuck), the model that gave the score, the lines it changed
(this command's own change to the working tree: a commit changes none, it records them) and
why it scored so."""


def print_events(columns: list[str], types: list, rows: list[tuple], width: int | None = None) -> None:
    """The events as plain text, one line per event, fitted to `width` (see plain_table)."""
    if not rows:
        print("No events yet. Capture one with: devtrace run -- <command>")
        return
    at = {name: i for i, name in enumerate(columns)}

    def get(row, name):
        return row[at[name]] if name in at else None

    cells = []
    for row in rows:
        added, deleted = get(row, "delta_lines_added"), get(row, "delta_lines_deleted")
        cells.append([
            local_time(get(row, "executed_at"), seconds=False),
            _command_cell(get(row, "command"), get(row, "line_count")),
            value(get(row, "exit_code")),
            duration(get(row, "duration_ms")),
            value(get(row, "id")),
            value(get(row, "agent_id") or get(row, "author_kind")),
            value(get(row, "predicted_productivity"), 1),
            get(row, "flag") or "",
            value(get(row, "model_ref")),
            MISSING if added is None else f"+{added} −{deleted}",
            value(get(row, "top_contribution_feature")),
        ])
    print(plain_table(EVENT_COLUMNS, cells, width))


def _command_cell(command, line_count) -> str:
    """The command as the table shows it: a shell's line of several lines that ran as one event
    (a paste in zsh or fish) says so first, where cutting the cell to the line keeps it."""
    command = command or MISSING
    return f"({line_count} lines) {command}" if line_count else command


def events_json(columns: list[str], rows: list[tuple]) -> str:
    """The rows of the `events` view as a JSON array of objects, written as Polars writes a
    frame: timestamps as "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC), NaN and infinities as null."""
    return json.dumps(
        [dict(zip(columns, map(_json_value, row), strict=True)) for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
    )


LOW_VALUE = ("command_hash", "recorded_command_hash", "key_fingerprint", "command_key", "repo_id", "session_id",
             "recorded_session_id", "model_ref")
"""Columns a narrow terminal drops first (full hashes and keyed ids), before epoch numbers and
before any useful column is cut."""


def print_table(columns: list[str], types: list, rows: list[tuple], title: str | None = None, console=None) -> None:
    """A bordered table (rich) of a result; numbers (by their DuckDB type) right-aligned. Too
    wide for the terminal, it leaves out full hashes and keyed ids, then epoch numbers, and
    says which; only then does rich cut the remaining cells."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    cells = [[_cell(v) for v in row] for row in rows]
    keep = _fitting(columns, types, rows, cells, console.width)
    table = Table(title=title)
    natural = [max([len(columns[j]), *(len(line[j]) for line in cells)]) for j in keep]
    cap = _cap(natural, console.width - 3 * len(keep) - 1)
    for j, need in zip(keep, natural, strict=True):
        # One line per row: only the widest columns give way, their cells cut with "…".
        table.add_column(columns[j], justify="right" if _is_number(types[j]) else "left", no_wrap=True,
                         overflow="ellipsis", max_width=cap if need > cap else None)
    for line in cells:
        table.add_row(*(escape(line[j]) for j in keep))  # a value is text, never rich markup
    console.print(table)
    left_out = [columns[j] for j in range(len(columns)) if j not in keep]
    if left_out:
        console.print(f"(left out to fit {console.width} columns: {', '.join(left_out)}; --format csv shows every column)",
                      markup=False, highlight=False)


def _cap(widths: list[int], room: int) -> int:
    """The largest width c with sum(min(w, c)) <= room: capping the widest columns at c fits
    the rest whole (at least 4: below that, nothing reads anyway)."""
    cap = max(widths, default=0)
    while cap > 4 and sum(min(w, cap) for w in widths) > room:
        cap -= 1
    return cap


def _fitting(columns: list[str], types: list, rows: list[tuple], cells: list[list[str]], width: int) -> list[int]:
    keep = list(range(len(columns)))
    natural = [max([len(columns[j]), *(len(line[j]) for line in cells)]) for j in keep]

    def wide(kept: list[int]) -> bool:
        return sum(natural[j] + 3 for j in kept) + 1 > width

    epoch = [j for j in keep if str(types[j]) == "DOUBLE" and columns[j].endswith("_at")
             and any(isinstance(row[j], float) and row[j] > 1e8 for row in rows)]
    for j in [*(columns.index(name) for name in LOW_VALUE if name in columns), *epoch]:
        if not wide(keep) or len(keep) == 1:
            break
        keep.remove(j)
    return keep


def print_frame(frame, title: str | None = None, console=None) -> None:
    """A bordered table of a Polars frame."""
    types = ["DOUBLE" if dtype.is_numeric() else "VARCHAR" for dtype in frame.dtypes]
    print_table(frame.columns, types, frame.rows(), title, console)


def _is_number(kind) -> bool:
    """Whether a DuckDB type (or its name) is a number's: numbers are right-aligned."""
    return str(kind).partition("(")[0] in _NUMBERS


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        naive = value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
        if naive in _INFINITIES:  # DuckDB hands its +-infinity over as the extreme Python values
            return _INFINITIES[naive]
        if isinstance(value, dt.datetime):
            return local_time(value)
    return str(value)


_INFINITIES = {dt.datetime.max: "infinity", dt.datetime.min: "-infinity", dt.date.max: "infinity", dt.date.min: "-infinity"}


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):  # a datetime: its str() is the form Polars writes
        return str(value)
    return value
