"""The read side: DuckDB over the SQLite store, through the views in sql/views.

Results are Polars frames for the Python API and the notebooks; the CLI's reads take DuckDB's
rows directly (`run`, `event_rows`), which spares them loading Polars and PyArrow.

Nothing is ever downloaded. DuckDB's SQLite extension is loaded from the
duckdb-extension-sqlite-scanner package (its version must equal DuckDB's), and extension
auto-install and auto-load are off, so a missing piece fails instead of reaching the network.
The store is attached read-only, then the connection is locked, and `run`/`query` (how
`devtrace sql`, `devtrace.sql` and the notebooks run SQL) refuse what the lock cannot stop:
see devtrace.analytics.guard. Frames come through devtrace.analytics.results, which names a
column Polars cannot hold. A store DevTrace may not write to is read from a private copy
(devtrace.store.reading).
"""

import importlib.util
import os

import duckdb

from devtrace import paths
from devtrace.analytics import lake_reader
from devtrace.analytics.central import attach_steps as central_steps
from devtrace.analytics.central import names_central
from devtrace.analytics.guard import LOCK, refuse_outside_the_store
from devtrace.analytics.sql_text import identifier, literal
from devtrace.analytics.view_files import views
from devtrace.errors import DevtraceError
from devtrace.store.reading import readable_file

STORE_ALIAS = "store"
"""The name the SQLite store is attached under; the view files read `store.<table>`."""

OFFLINE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # DuckDB checks a signed extension by hashing the whole file on every LOAD: for the 34 MB
    # SQLite extension that is 100-150 ms of every read command here. The file comes from a
    # pip-installed package beside DuckDB's own, so the check proves nothing pip did not.
    "allow_unsigned_extensions": True,
    # A lake on object storage gets its credentials as a secret in the connection
    # (devtrace.analytics.object_storage); no persistent secret is read from ~/.duckdb or
    # written anywhere: their folder is one that cannot exist. (allow_persistent_secrets =
    # false would do it too, but then DuckDB 1.5.5's postgres ATTACH fails looking them up.)
    "secret_directory": "/dev/null/devtrace-keeps-no-secrets",
}


def extension_path() -> str:
    """DuckDB's SQLite extension as shipped by the duckdb-extension-sqlite-scanner package."""
    return extension_file("sqlite_scanner")


def extension_file(name: str) -> str:
    """A DuckDB extension (sqlite_scanner, postgres_scanner, ducklake, httpfs) as shipped by its
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


def connect(
    path: str | os.PathLike | None = None,
    only: list[str] | None = None,
    *,
    central: str | None = None,
    lake: bool = True,
    locked: bool = True,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the store attached read-only as `store` and every
    view defined (only the views named in `only`, if given: each with the views it reads),
    then locked (see the module's doc). Each query reads the file afresh, so it sees events
    captured a moment ago (a store DevTrace may not write to: as it was when the connection
    opened).

    With `central` (a central database: SQLite file or postgresql:// URL), the views answer
    over every machine's events instead (see devtrace.analytics.central): from its lake and the
    not-yet-flushed ingestion tail where it has a lake (devtrace.analytics.lake_reader), unless lake=False.
    A `path` that names a central database rather than a store folder counts as `central`.
    `locked=False` is for DevTrace's own jobs that write elsewhere (central scoring), never
    for SQL a user types."""
    if central is None and path is not None and names_central(path):
        central = os.fspath(path)
    if central:
        setup = _setup(None, only, central=central)
    else:
        db = readable_file(path)  # a missing, foreign, corrupt or newer store fails here; older ones migrate
        setup = _setup(db, only)
    con = duckdb.connect(config=OFFLINE_CONFIG)
    try:
        _execute_steps(con, setup)
        if central and lake:
            try:
                files = lake_reader.present(con, central, extension_file)
                if files is not None:  # the lock below lets the lake's readers into these files only
                    con.execute(f"SET allowed_paths = [{', '.join(literal(f) for f in files)}]")
            except duckdb.Error as exc:
                raise DevtraceError(f"cannot read the central lake: {one_line(exc)}") from None
        if locked:
            _execute_steps(con, [(statement, "cannot lock the DuckDB connection") for statement in LOCK])
    except BaseException:
        con.close()
        raise
    return con


def _execute_steps(con: duckdb.DuckDBPyConnection, steps: list[tuple[str, str]]) -> None:
    for statement, failure in steps:
        try:
            con.execute(statement)
        except duckdb.Error as exc:
            raise DevtraceError(f"{failure}: {one_line(exc)}") from None


def _setup(db: str | None, only: list[str] | None = None, central: str | None = None) -> list[tuple[str, str]]:
    """(statement, what its failure means): load the extension, attach the store (or the
    central database), define the views (those in `only`, if given)."""
    extension = extension_path()
    if central:
        steps = central_steps(central, extension)
    else:
        steps = [
            (f"LOAD {literal(extension)};", f"cannot load DuckDB's SQLite extension from {extension}"),
            (f"ATTACH {literal(db)} AS {STORE_ALIAS} (TYPE sqlite, READ_ONLY);", f"cannot attach {db}"),
        ]
    for v in views():
        if only is not None and v.name not in only:
            continue
        with open(v.file, encoding="utf-8") as f:
            steps.append((f.read(), f"view {v.name} ({v.file}) cannot be defined"))
    return steps


def query(con: duckdb.DuckDBPyConnection, text: str, params: list | None = None):
    """Run SQL (several statements allowed: the last one's result is returned) as a Polars frame."""
    import polars as pl

    relation = run(con, text, params)
    return _frame(relation) if relation is not None else pl.DataFrame()


def run(con: duckdb.DuckDBPyConnection, text: str, params: list | None = None) -> duckdb.DuckDBPyRelation | None:
    """Run SQL (several statements allowed); the last statement's result, None if it has none
    (SET, CREATE ...). A query that DuckDB or the guard refuses is one sentence."""
    if not text.strip():
        raise DevtraceError("the query is empty")
    refuse_outside_the_store(text)
    return _execute(con, text, params)


def _execute(con: duckdb.DuckDBPyConnection, text: str, params: list | None = None) -> duckdb.DuckDBPyRelation | None:
    """`run` for DevTrace's own SQL (which may call sqlite_query on the attached store)."""
    try:
        return con.sql(text, params=params)
    except duckdb.PermissionException as exc:
        raise DevtraceError(f"{one_line(exc)} (DevTrace queries read the store and nothing else)") from None
    except duckdb.Error as exc:
        raise DevtraceError(one_line(exc)) from None


def sql(text: str, path: str | os.PathLike | None = None, *, central: str | None = None):
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
):
    """The `events` view as a Polars frame, oldest first; with `limit`, only the newest `limit` events."""
    local = not central and (path is None or not names_central(path))
    with connect(path, only=["events"], central=central) as con:
        return _frame(event_rows(con, limit=limit, agent=agent, session=session, local=local))


def event_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    limit: int | None = None,
    agent: str | None = None,
    session: str | None = None,
    local: bool = True,
) -> duckdb.DuckDBPyRelation:
    """The `events` view's rows, oldest first, on a connection where it is defined.

    With `limit`, SQLite itself finds the newest `limit` events (through its executed_at
    index) and their labels, and the view's one definition, the `events_of` macro, is applied
    to those rows alone: DuckDB's SQLite scanner pushes neither the filter nor the ORDER BY
    and LIMIT down, so through the view it reads every event of the store to find them.
    A central connection (`local` false) reads the view itself.
    """
    conditions = {"agent_id": agent, "session_id": session}
    conditions = {column: value for column, value in conditions.items() if value is not None}
    values = list(conditions.values())
    if limit is not None and limit < 0:
        raise DevtraceError(f"limit must be 0 or more, not {limit}")
    if limit is None or not local:
        where = " AND ".join(f"{column} = ?" for column in conditions) or "true"
        text = f"SELECT * FROM events WHERE {where} ORDER BY executed_at DESC, id DESC"
        if limit is not None:
            text += f" LIMIT {int(limit)}"
        return run(con, f"SELECT * FROM ({text}) ORDER BY executed_at, id", values)
    # A session's events recorded under an older key carry its old id (store.session_identity).
    tests = [f"{column} = ?" if column != "session_id" else
             "(session_id = ? OR session_id IN (SELECT session_id FROM session_identity WHERE current_session_id = ?))"
             for column in conditions]
    if session is not None:
        values.append(session)
    where = " AND ".join(tests) or "1"
    newest = f"SELECT id FROM command_events WHERE {where} ORDER BY executed_at DESC, id DESC LIMIT {int(limit)}"
    _read_rows(con, "newest_events", "command_events", f"id IN ({newest})", values)
    _read_rows(con, "newest_labels", "labels", f"event_id IN ({newest})", values)
    return run(con, "SELECT * FROM events_of('newest_events', 'newest_labels') ORDER BY executed_at, id")


def _read_rows(con: duckdb.DuckDBPyConnection, name: str, table: str, where: str, params: list) -> None:
    """The temporary table `name`: the rows of the store's `table` that SQLite finds with
    `where` (SQLite's SQL, `?` for `params`), typed as DuckDB types that table when it scans it.

    sqlite_query hands every value over as text; a REAL goes as 17 significant digits (SQLite's
    own text form keeps 15 and would lose a timestamp's microseconds) and is cast back exactly.
    """
    scanned = con.sql(f"FROM {STORE_ALIAS}.{table} LIMIT 0")
    picked, typed = [], []
    for column, kind in zip(scanned.columns, scanned.types, strict=True):
        quoted = identifier(column)
        exact = f"iif({quoted} IS NULL, NULL, printf('%!.17g', {quoted}))" if str(kind) == "DOUBLE" else quoted
        picked.append(f"{exact} AS {quoted}")
        typed.append(f"CAST({quoted} AS {kind}) AS {quoted}")
    text = f"SELECT {', '.join(picked)} FROM {table} WHERE {where}"
    arguments = ", params := {" + ", ".join(f"'p{i}': ?" for i in range(len(params))) + "}" if params else ""
    _execute(
        con,
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {', '.join(typed)} "
        f"FROM sqlite_query({literal(STORE_ALIAS)}, {literal(text)}{arguments})",
        params or None,
    )


def _frame(relation: duckdb.DuckDBPyRelation):
    from devtrace.analytics.results import frame_of  # Polars loads here, not for the CLI's reads

    try:
        return frame_of(relation)
    except duckdb.Error as exc:
        raise DevtraceError(one_line(exc)) from None


def one_line(exc: Exception) -> str:
    """DuckDB's message without the echoed query and caret lines that follow it."""
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)
