"""Human output of frames on the terminal (rich). Machines use --json / --format instead."""

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

# Event columns as shown, most important first: on a narrow terminal the last ones go.
_EVENT_COLUMNS = {
    "id": "event",
    "exit_code": "exit",
    "duration_ms": "ms",
    "program": "program",
    "predicted_productivity": "score",
    "top_contribution_feature": "top reason",
    "files_touched_count": "files",
    "lines_added": "+",
    "lines_deleted": "-",
    "delta_files": "Δ files",
    "agent_id": "agent",
    "executed_at": "when",
}


def print_frame(
    frame: pl.DataFrame, title: str | None = None, console: Console | None = None, compact: bool = False
) -> None:
    """A table of the frame; `compact`: one line per row, no borders (the caller fits the width)."""
    console = console or Console()
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False) if compact else Table(title=title)
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left", no_wrap=compact)
    for row in frame.iter_rows():
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def print_events(frame: pl.DataFrame, console: Console | None = None) -> None:
    console = console or Console()
    if frame.is_empty():
        console.print("No events yet. Capture one with: devtrace run -- <command>")
        return
    view = frame.select([c for c in _EVENT_COLUMNS if c in frame.columns])
    if "executed_at" in view.columns and view.schema["executed_at"] == pl.Datetime:
        view = view.with_columns(pl.col("executed_at").dt.strftime("%m-%d %H:%M:%S"))
    view = view.rename({c: _EVENT_COLUMNS[c] for c in view.columns})
    print_frame(_fit(view, console.width), console=console, compact=True)


def _fit(frame: pl.DataFrame, width: int) -> pl.DataFrame:
    """Keep the leading columns that fit in `width` characters."""
    kept, used = [], 0
    for name in frame.columns:
        cells = [len(_cell(v)) for v in frame[name].to_list()]
        need = max([len(name), *cells]) + 3  # padding on both sides and the column divider
        if kept and used + need > width:
            break
        kept.append(name)
        used += need
    return frame.select(kept)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
