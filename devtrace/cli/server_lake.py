"""`devtrace server flush|maintain|retention|erase`: the DuckLake tier under the central service."""

import json
from typing import Annotated, Optional

import typer

from devtrace.cli.options import DbOption, JsonOption, open_db
from devtrace.errors import DevtraceError

LakeDataOption = Annotated[
    Optional[str],
    typer.Option("--lake-data", help="Folder (or URL DuckDB writes, e.g. s3://...) for the lake's Parquet files; "
                                     "needed once, when the lake is created on PostgreSQL."),
]


def register(server_app: typer.Typer) -> None:
    server_app.command("flush")(flush)
    server_app.command("maintain")(maintain)
    server_app.command("retention")(retention)
    server_app.command("erase")(erase)


def _url(db: str | None) -> str:
    central = open_db(db)  # says which option is missing; migrates
    try:
        return central.url
    finally:
        central.close()


def flush(db: DbOption = None, lake_data: LakeDataOption = None, as_json: JsonOption = False) -> None:
    """Move newly ingested events, labels and central scores into the lake (creating it)."""
    from devtrace.central.lake import flush as lake_flush

    result = lake_flush.flush(_url(db), data_path=lake_data)
    if as_json:
        typer.echo(json.dumps(result._asdict()))
        return
    rate = f" ({result.events / result.seconds:,.0f} events/s)" if result.events and result.seconds else ""
    typer.echo(f"Flushed {result.events:,} events, {result.labels:,} labels and {result.scores:,} scores "
               f"into the lake in {result.seconds:.1f} s{rate}.")


def maintain(
    db: DbOption = None,
    keep_hours: Annotated[float, typer.Option("--keep-hours", min=0, help="Keep snapshots (and files) younger than this.")] = 1.0,
) -> None:
    """Merge small files, rewrite files with deleted rows, expire old snapshots, delete unread files."""
    from devtrace.central.lake import admin

    files = admin.maintain(_url(db), keep_hours=keep_hours)
    typer.echo(f"The lake's events are in {files['files_after']:,} data files (were {files['files_before']:,}).")


def retention(
    days: Annotated[int, typer.Option("--days", min=1, help="Keep this many UTC days before today.")],
    db: DbOption = None,
) -> None:
    """Drop every event older than --days UTC days (whole partitions), with its labels, everywhere."""
    from devtrace.central.lake import admin, ingest_tables

    removed = admin.retention(_url(db), days, actor=ingest_tables.cli_actor())
    typer.echo(f"Removed {removed.events:,} events and {removed.labels:,} labels older than {days} days.")


def erase(
    machine: Annotated[str, typer.Option("--machine", help="The machine (token name) whose data goes.")],
    db: DbOption = None,
) -> None:
    """Remove one machine's events and labels from the ingestion tables and the lake (audited)."""
    from devtrace.central.lake import admin, ingest_tables

    if not machine.strip():
        raise DevtraceError("--machine is empty")
    removed = admin.erase(_url(db), machine, actor=ingest_tables.cli_actor())
    typer.echo(f"Erased {removed.events:,} events and {removed.labels:,} labels of {machine}; the audit log records it.")
