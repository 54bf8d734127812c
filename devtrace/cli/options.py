"""Options that several command groups share, defined once so that they read alike."""

from typing import Annotated, Optional

import typer

from devtrace.errors import DevtraceError

PathOption = Annotated[
    Optional[str],
    typer.Option("--path", "-p", metavar="PATH", help="Store directory (default: $DEVTRACE_PATH, else ~/.devtrace)."),
]
CentralOption = Annotated[
    Optional[str],
    typer.Option("--central", help="Read the central database instead (SQLite file or postgresql://...): every machine's events."),
]
DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Central database: a SQLite file, or postgresql://user@host/db.", envvar="DEVTRACE_CENTRAL_DB"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def open_db(db: str | None):
    """The central database given by --db (or $DEVTRACE_CENTRAL_DB), migrated; a sentence if none is."""
    from devtrace.central.db import open_central

    if not db:
        raise DevtraceError("give the central database with --db FILE or --db postgresql://... ($DEVTRACE_CENTRAL_DB)")
    return open_central(db)
