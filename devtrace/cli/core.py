"""Core commands: init, events, export."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from devtrace.cli.options import PathOption


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("events")(events)
    app.command("export")(export)
    app.command("demo")(demo)


def init(path: PathOption = None) -> None:
    """Create the store (or migrate an existing one) and keep it out of version control."""
    from devtrace.paths import db_file
    from devtrace.store import create_store

    create_store(path).close()
    typer.echo(f"DevTrace store ready: {db_file(path)}")


def events(
    path: PathOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show the newest N events.")] = 20,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Only this agent's events.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array of full rows.")] = False,
) -> None:
    """List the newest events, oldest first."""
    from devtrace.analytics.connection import connect, event_rows
    from devtrace.analytics.likely_stuck import flag_likely_stuck
    from devtrace.cli.render import events_json, print_events
    from devtrace.ml.autoscore import score_before_reading

    score_before_reading(path)  # with an active model, events captured a moment ago show a score
    with connect(path, only=["events"]) as con:
        relation = event_rows(con, limit=limit, agent=agent)
        if not as_json:  # the JSON keeps the view's columns; the table says which sessions look stuck
            relation = flag_likely_stuck(relation)
        columns, types, rows = relation.columns, relation.types, relation.fetchall()
    if as_json:
        typer.echo(events_json(columns, rows))
    else:
        print_events(columns, types, rows)


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    fmt: Annotated[
        Optional[str], typer.Option("--format", "-f", help="csv, json, jsonl or parquet (default: from --out's suffix, else csv).")
    ] = None,
    path: PathOption = None,
    with_text: Annotated[bool, typer.Option("--with-text", help="Include the (redacted) command text; left out by default.")] = False,
) -> None:
    """Export every event, all columns, to csv, json, jsonl or parquet (the command text only with --with-text)."""
    from devtrace.analytics.export import export_events
    from devtrace.ml.autoscore import score_before_reading

    score_before_reading(path)  # as `devtrace events` does: an export right after a capture has its score
    rows = export_events(out, fmt, path=path, with_text=with_text)
    typer.echo(f"Wrote {rows} events to {out}")


def demo(
    workdir: Annotated[
        Optional[Path], typer.Option("--dir", help="Where to create the scratch repo and store (default: a temp dir).")
    ] = None,
) -> None:
    """Show DevTrace end to end on a scratch git repo and store."""
    from devtrace.cli.demo import run_demo

    if workdir is not None and workdir.exists():
        from devtrace.errors import DevtraceError

        if not workdir.is_dir():
            raise DevtraceError(f"{workdir} is a file; the demo needs a new or empty folder")
        if any(workdir.iterdir()):
            raise DevtraceError(f"{workdir} is not empty; the demo needs a new or empty folder")
    run_demo(workdir)
