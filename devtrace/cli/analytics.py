"""Analytics commands: `devtrace sql` and `devtrace views` (DuckDB loads on use, Polars only to write a file)."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from devtrace.cli.options import CentralOption, PathOption
from devtrace.errors import DevtraceError

TABLE_ROWS = 100
"""`--format table` shows at most this many rows; the other formats write every row."""


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
    app.command("views")(views)


def sql(
    query: Annotated[Optional[str], typer.Argument(help="The SQL to run (or use --file).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="Read the SQL from this file.")] = None,
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", help="table, csv, json, jsonl or parquet (default: from --out's suffix, else table)."),
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the result to this file.")] = None,
    path: PathOption = None,
    central: CentralOption = None,
) -> None:
    """Query the store with SQL over the DevTrace views (`devtrace views` lists them)."""
    from devtrace import analytics

    text = _query_text(query, file)
    fmt = _output_format(fmt, out)
    if fmt != "table":
        _write(analytics.sql(text, path=path, central=central), fmt, out)
        return
    with analytics.connect(path, central=central) as con:
        relation = analytics.run(con, text)
        if relation is None:  # SET, CREATE ...: nothing to show
            columns, types, rows, total = [], [], [], 0
        else:
            columns, types = relation.columns, relation.types
            rows = relation.fetchmany(TABLE_ROWS + 1)
            total = relation.aggregate("count(*)").fetchone()[0] if len(rows) > TABLE_ROWS else len(rows)
    _print_table(columns, types, rows[:TABLE_ROWS], total)


def views(
    name: Annotated[Optional[str], typer.Argument(help="Print this view's SQL.")] = None,
    script: Annotated[
        bool, typer.Option("--script", help="Print a DuckDB script that attaches the store and defines every view.")
    ] = False,
    path: PathOption = None,
) -> None:
    """List the views with what each answers, print one's SQL, or print the DuckDB CLI script."""
    from devtrace import analytics

    if script:
        from devtrace.store import open_store

        open_store(path).close()
        typer.echo(analytics.init_script(path), nl=False)
    elif name is not None:
        with open(analytics.view(name).file, encoding="utf-8") as f:
            typer.echo(f.read(), nl=False)
    else:
        from devtrace.cli.render import print_table

        print_table(["view", "answers"], ["VARCHAR", "VARCHAR"], [(v.name, v.description) for v in analytics.views()])


def _query_text(query: str | None, file: Path | None) -> str:
    if query is not None and file is not None:
        raise DevtraceError("give a query or --file, not both")
    if query is None and file is None:
        raise DevtraceError('give a query, e.g. devtrace sql "SELECT * FROM daily_activity", or --file FILE')
    if file is None:
        return query
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DevtraceError(f"cannot read {file}: {exc.strerror}") from None


def _output_format(fmt: str | None, out: Path | None) -> str:
    if fmt is None and out is None or fmt == "table":
        if out is not None:
            raise DevtraceError("--format table prints to the terminal; use csv, json, jsonl or parquet with --out")
        return "table"
    from devtrace.analytics.formats import format_of

    fmt = format_of(out, fmt)
    if fmt == "parquet" and out is None:
        raise DevtraceError("parquet is binary: give --out FILE")
    if out is not None and not out.parent.is_dir():
        raise DevtraceError(f"cannot write {out}: folder {out.parent} does not exist")
    return fmt


def _print_table(columns: list[str], types: list, rows: list[tuple], total: int) -> None:
    from rich.console import Console

    from devtrace.cli.render import print_table

    console = Console()
    print_table(columns, types, rows, console=console)
    counted = f"{total} row{'' if total == 1 else 's'}"
    console.print(counted if len(rows) == total else f"{counted}, first {len(rows)} shown (--format csv for all)")


def _write(frame, fmt: str, out: Path | None) -> None:
    from devtrace.analytics.formats import frame_bytes, write_frame

    if out is None:
        text = frame_bytes(frame, fmt).decode("utf-8")
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        write_frame(frame, out, fmt)
        typer.echo(f"Wrote {frame.height} rows to {out}")
