"""Human output of frames on the terminal (rich). Machines use --json / --format instead."""

import polars as pl
from rich.console import Console
from rich.table import Table

_EVENT_COLUMNS = {
    "id": "event",
    "executed_at": "when",
    "agent_id": "agent",
    "program": "program",
    "exit_code": "exit",
    "duration_ms": "ms",
    "files_touched_count": "files",
    "lines_added": "+",
    "lines_deleted": "-",
    "delta_files": "Δfiles",
    "predicted_productivity": "score",
    "top_contribution_feature": "top reason",
}


def print_frame(frame: pl.DataFrame, title: str | None = None, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=title, show_lines=False)
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def print_events(frame: pl.DataFrame, console: Console | None = None) -> None:
    console = console or Console()
    if frame.is_empty():
        console.print("No events yet. Capture one with: devtrace run -- <command>")
        return
    shown = [c for c in _EVENT_COLUMNS if c in frame.columns]
    view = frame.select(shown).rename({c: _EVENT_COLUMNS[c] for c in shown})
    if "when" in view.columns and view.schema["when"] == pl.Datetime:
        view = view.with_columns(pl.col("when").dt.strftime("%Y-%m-%d %H:%M:%S"))
    print_frame(view, console=console)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
