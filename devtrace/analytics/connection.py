"""The read side: DuckDB over the SQLite store, through the views in sql/views, as Polars frames.

Nothing is ever downloaded. DuckDB's SQLite extension is loaded from the
duckdb-extension-sqlite-scanner package (its version must equal DuckDB's), and extension
auto-install and auto-load are off, so a missing piece fails instead of reaching the network.
The store is attached read-only, so a query through `store` cannot change it (SQL that
attaches the file again for writing still meets the store's triggers: events are never
deleted, and only their score columns can change).
"""

import importlib.util
import os
from typing import NamedTuple

import duckdb
import polars as pl

from devtrace import paths
from devtrace.analytics.central import attach_steps as central_steps
from devtrace.analytics.central import names_central
from devtrace.errors import DevtraceError
from devtrace.store import open_store

STORE_ALIAS = "store"
"""The name the SQLite store is attached under; the view files read `store.<table>`."""

OFFLINE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class View(NamedTuple):
    name: str
    description: str
    file: str


def views() -> list[View]:
    """The views of sql/views in creation order. Files are `NN_<view>.sql`: NN orders the
    dependencies (00 = over the store's tables, 10 = over those views)."""
    folder = os.path.join(paths.sql_dir(), "views")
    found = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".sql"):
            continue
        file = os.path.join(folder, name)
        with open(file, encoding="utf-8") as f:
            first = f.readline()
        found.append(View(name.removesuffix(".sql").partition("_")[2], first.removeprefix("--").strip(), file))
    return found


def view(name: str) -> View:
    known = views()
    for candidate in known:
        if candidate.name == name:
            return candidate
    raise DevtraceError(f"unknown view {name!r} (views: {', '.join(v.name for v in known)})")


def extension_path() -> str:
    """DuckDB's SQLite extension as shipped by the duckdb-extension-sqlite-scanner package."""
    return extension_file("sqlite_scanner")


def extension_file(name: str) -> str:
    """A DuckDB extension (sqlite_scanner, postgres_scanner, ducklake) as shipped by its
    duckdb-extension-<name> package, built for exactly this DuckDB."""
    package = f"duckdb_extension_{name}"
    wanted = f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DevtraceError(f"DuckDB's {name} extension is not installed (pip install {wanted})")
    file = os.path.join(spec.submodule_search_locations[0], "extensions", f"v{duckdb.__version__}", f"{name}.duckdb_extension")
    if not os.path.isfile(file):
        raise DevtraceError(f"the installed {name} extension does not match duckdb {duckdb.__version__} (pip install {wanted})")
    return file


def init_script(path: str | os.PathLike | None = None) -> str:
    """What `connect` runs, as one script for the DuckDB command line (`duckdb -init script.sql`)."""
    return "\n\n".join(statement.strip() for statement, _ in _setup(os.path.abspath(paths.db_file(path)))) + "\n"


def connect(path: str | os.PathLike | None = None, *, central: str | None = None,
            lake: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the store attached read-only as `store` and every
    view defined. Each query reads the file afresh, so it sees events captured a moment ago.

    With `central` (a central database: SQLite file or postgresql:// URL), the views answer
    over every machine's events instead (see devtrace.analytics.central): from its lake and the
    not-yet-flushed ingestion tail where it has a lake (devtrace.analytics.lake), unless lake=False.
    A `path` that names a central database rather than a store folder counts as `central`."""
    if central is None and path is not None and names_central(path):
        central = os.fspath(path)
    if central:
        setup = _setup(None, central=central)
    else:
        open_store(path).close()  # a missing, foreign, corrupt or newer store fails here; older ones migrate
        setup = _setup(paths.db_file(path))
    con = duckdb.connect(config=OFFLINE_CONFIG)
    try:
        for statement, failure in setup:
            try:
                con.execute(statement)
            except duckdb.Error as exc:
                raise DevtraceError(f"{failure}: {one_line(exc)}") from None
        if central and lake:
            from devtrace.analytics import lake as central_lake  # it imports filters, which import this module

            try:
                central_lake.present(con, central, extension_file("ducklake"))
            except duckdb.Error as exc:
                raise DevtraceError(f"cannot read the central lake: {one_line(exc)}") from None
    except BaseException:
        con.close()
        raise
    return con


def _setup(db: str | None, central: str | None = None) -> list[tuple[str, str]]:
    """(statement, what its failure means): load the extension, attach the store, define the views."""
    extension = extension_path()
    if central:
        steps = central_steps(central, extension, sql_literal)
    else:
        steps = [
            (f"LOAD {sql_literal(extension)};", f"cannot load DuckDB's SQLite extension from {extension}"),
            (f"ATTACH {sql_literal(db)} AS {STORE_ALIAS} (TYPE sqlite, READ_ONLY);", f"cannot attach {db}"),
        ]
    for v in views():
        with open(v.file, encoding="utf-8") as f:
            steps.append((f.read(), f"view {v.name} ({v.file}) cannot be defined"))
    return steps


def query(con: duckdb.DuckDBPyConnection, text: str, params: list | None = None) -> pl.DataFrame:
    """Run SQL (several statements allowed: the last one's result is returned) as a frame."""
    if not text.strip():
        raise DevtraceError("the query is empty")
    try:
        relation = con.sql(text, params=params)
        return relation.pl() if relation is not None else pl.DataFrame()
    except duckdb.Error as exc:
        raise DevtraceError(one_line(exc)) from None


def sql(text: str, path: str | os.PathLike | None = None, *, central: str | None = None) -> pl.DataFrame:
    """The result of a query over the store's views (and `store.<table>`) as a Polars frame."""
    with connect(path, central=central) as con:
        return query(con, text)


def events(
    path: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    agent: str | None = None,
    session: str | None = None,
    central: str | None = None,
) -> pl.DataFrame:
    """The `events` view, oldest first; with `limit`, only the newest `limit` events."""
    conditions, params = [], []
    if agent is not None:
        conditions.append("agent_id = ?")
        params.append(agent)
    if session is not None:
        conditions.append("session_id = ?")
        params.append(session)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    text = f"SELECT * FROM events {where} ORDER BY executed_at, id"
    if limit is not None:
        if limit < 0:
            raise DevtraceError(f"limit must be 0 or more, not {limit}")
        newest = f"SELECT * FROM events {where} ORDER BY executed_at DESC, id DESC LIMIT {int(limit)}"
        text = f"SELECT * FROM ({newest}) ORDER BY executed_at, id"
    with connect(path, central=central) as con:
        return query(con, text, params)


def one_line(exc: Exception) -> str:
    """DuckDB's message without the echoed query and caret lines that follow it."""
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)


def sql_literal(text: str) -> str:
    """`text` as a SQL string literal, for the few statements that cannot take parameters."""
    return "'" + str(text).replace("'", "''") + "'"
