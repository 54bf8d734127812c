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


GIVEN_TO_GROUP: dict = {}
"""Options given to a command group before its subcommand (`devtrace server --db X token list`,
`devtrace sync --path P status`), kept by the group's callback for the subcommand (one
command per process)."""


def from_group(name: str, value):
    """The subcommand's own option, else the one given to its group."""
    return value if value is not None else GIVEN_TO_GROUP.get(name)


def open_db(db: str | None):
    """The central database given by --db (to the command or its group; or $DEVTRACE_CENTRAL_DB),
    migrated; a sentence if none is."""
    from devtrace.central.db import open_central

    db = from_group("db", db)
    if not db:
        raise DevtraceError("give the central database with --db FILE or --db postgresql://... ($DEVTRACE_CENTRAL_DB)")
    return open_central(db)
