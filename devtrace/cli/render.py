"""Human output of query results on the terminal. Machines use --json / --format instead.

Rows come as DuckDB returns them (column names and Python values), so `devtrace events` and
`devtrace sql` print without loading Polars; `events` prints plain text, without rich either.
"""

import datetime as dt
import json
import math
import shutil

# The columns `devtrace events` shows, in the order someone reading their recent commands
# needs them: when and who, what ran, how it ended and how long it took, the score, the id to
# label it by, the model that gave the score, whether its session is likely stuck, then why it
# scored so and what it changed. A narrow terminal drops the last ones.
EVENT_COLUMNS = {
    "executed_at": "when",
    "agent_id": "agent",
    "program": "program",
    "exit_code": "exit",
    "duration_ms": "ms",
    "predicted_productivity": "score",
    "id": "event",
    "model_ref": "model",
    "flag": "flag",
    "top_contribution_feature": "top reason",
    "delta_lines_added": "+",
    "delta_lines_deleted": "-",
    "delta_files": "files",
}
GAP = "  "
_NUMBERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}


def print_events(columns: list[str], types: list, rows: list[tuple], width: int | None = None) -> None:
    """The events as plain text: the EVENT_COLUMNS that fit in `width` characters (default:
    the terminal's width, else $COLUMNS, else 80), one line per event."""
    if not rows:
        print("No events yet. Capture one with: devtrace run -- <command>")
        return
    width = width or shutil.get_terminal_size().columns
    names = [name for name in EVENT_COLUMNS if name in columns]
    cells = [[_event_cell(name, row[columns.index(name)]) for name in names] for row in rows]
    numeric = [_is_number(types[columns.index(name)]) for name in names]
    widths, used = [], -len(GAP)
    for j, name in enumerate(names):
        need = max(len(EVENT_COLUMNS[name]), *(len(line[j]) for line in cells))
        if widths and used + len(GAP) + need > width:
            break
        widths.append(need)
        used += len(GAP) + need

    def line(texts: list[str]) -> str:
        return GAP.join(
            text.rjust(w) if right else text.ljust(w) for text, w, right in zip(texts, widths, numeric, strict=False)
        ).rstrip()

    header = line([EVENT_COLUMNS[name] for name in names])
    print("\n".join([header, GAP.join("─" * w for w in widths), *map(line, cells)]))


def events_json(columns: list[str], rows: list[tuple]) -> str:
    """The rows of the `events` view as a JSON array of objects, written as Polars writes a
    frame: timestamps as "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC), NaN and infinities as null."""
    return json.dumps(
        [dict(zip(columns, map(_json_value, row), strict=True)) for row in rows],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def print_table(columns: list[str], types: list, rows: list[tuple], title: str | None = None, console=None) -> None:
    """A bordered table (rich) of a result; numbers (by their DuckDB type) right-aligned."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for name, kind in zip(columns, types, strict=True):
        table.add_column(name, justify="right" if _is_number(kind) else "left")
    for row in rows:
        table.add_row(*(escape(_cell(v)) for v in row))  # a value is text, never rich markup
    (console or Console()).print(table)


def print_frame(frame, title: str | None = None, console=None) -> None:
    """A bordered table of a Polars frame."""
    types = ["DOUBLE" if dtype.is_numeric() else "VARCHAR" for dtype in frame.dtypes]
    print_table(frame.columns, types, frame.rows(), title, console)


def _is_number(kind) -> bool:
    """Whether a DuckDB type (or its name) is a number's: numbers are right-aligned."""
    return str(kind).partition("(")[0] in _NUMBERS


def _event_cell(name: str, value) -> str:
    if name == "executed_at" and value is not None:
        return value.strftime("%m-%d %H:%M:%S")
    return _cell(value)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        naive = value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
        if naive in _INFINITIES:  # DuckDB hands its +-infinity over as the extreme Python values
            return _INFINITIES[naive]
    return str(value)


_INFINITIES = {dt.datetime.max: "infinity", dt.datetime.min: "-infinity", dt.date.max: "infinity", dt.date.min: "-infinity"}


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat"):  # a datetime: its str() is the form Polars writes
        return str(value)
    return value
