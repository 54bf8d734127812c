"""The same views over the central store (`devtrace server`'s database) instead of a local one.

DuckDB attaches the central database read-only as `central_db`: a SQLite file through the
sqlite extension, PostgreSQL through the postgres_scanner extension, each loaded from its
pinned package (offline). An in-memory catalog named `store` then presents
`store.command_events` and `store.labels` shaped as a local store's tables, so every view of
sql/views answers unchanged for the whole organisation, with `machine` (the pushing token's
name), `received_at` and `key_fingerprint` as more columns.
"""

import atexit
import functools
import importlib.util
import os
import shutil
import tempfile
import tomllib
import urllib.parse

import duckdb

from devtrace import paths
from devtrace.analytics.sql_text import literal
from devtrace.errors import DevtraceError

CENTRAL_ALIAS = "central_db"
MEMORY_LIMIT = "1GB"
"""What DuckDB keeps in memory for a central query before it spills sorts and hash tables to a
private temporary folder: organisation-scale views (retry_loops sorts every event) would
otherwise grow with the history, on a machine the query shares with the central service."""
POSTGRES_PACKAGE = "duckdb_extension_postgres_scanner"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def libpq_parts(url: str) -> tuple[str, str | None]:
    """(libpq `key=value` connection string without the password, the password or None) of a
    postgresql:// URL. DuckDB lists an attached database's path (duckdb_databases(), PRAGMA
    database_list): the password goes into a DuckDB secret instead, which it never shows."""
    parts = urllib.parse.urlsplit(url)
    values = {"host": parts.hostname, "port": parts.port and str(parts.port),
              "dbname": urllib.parse.unquote(parts.path.lstrip("/")) or None,
              "user": urllib.parse.unquote(parts.username) if parts.username else None}
    values.update(urllib.parse.parse_qsl(parts.query))
    password = values.pop("password", None) or (urllib.parse.unquote(parts.password) if parts.password else None)
    conninfo = " ".join(f"{key}={_libpq_value(value)}" for key, value in values.items() if value)
    return conninfo, password


def _libpq_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def postgres_steps(url: str, literal) -> tuple[list[tuple[str, str]], str]:
    """(the statement that keeps the URL's password in DuckDB's default PostgreSQL secret, if it
    has one; the connection string to attach, without it)."""
    conninfo, password = libpq_parts(url)
    steps = []
    if password is not None:
        steps.append((f"CREATE OR REPLACE SECRET (TYPE postgres, PASSWORD {literal(password)});",
                      "cannot keep the database's password in a DuckDB secret"))
    return steps, conninfo


def names_central(path) -> bool:
    """A store is a folder; a postgresql:// URL or a file is a central database. (So the
    notebooks, which are handed one location, work on either.)"""
    text = os.fspath(path)
    return is_postgres(text) or os.path.isfile(os.path.expanduser(text))


def postgres_extension_path() -> str:
    """DuckDB's postgres_scanner as shipped by the duckdb-extension-postgres-scanner package."""
    spec = importlib.util.find_spec(POSTGRES_PACKAGE)
    wanted = f"duckdb-extension-postgres-scanner=={duckdb.__version__} (pip install 'devtrace[server]')"
    if spec is None or not spec.submodule_search_locations:
        raise DevtraceError(f"DuckDB's PostgreSQL extension is not installed: {wanted}")
    file = os.path.join(spec.submodule_search_locations[0], "extensions", f"v{duckdb.__version__}",
                        "postgres_scanner.duckdb_extension")
    if not os.path.isfile(file):
        raise DevtraceError(f"the installed PostgreSQL extension does not match duckdb {duckdb.__version__}: {wanted}")
    return file


LOCAL_ONLY_TABLES = """
CREATE TABLE store.command_identity (command_hash VARCHAR, current_hash VARCHAR, key_fingerprint VARCHAR,
    mapped_at DOUBLE);
CREATE TABLE store.session_identity (session_id VARCHAR, current_session_id VARCHAR, key_fingerprint VARCHAR,
    mapped_at DOUBLE);
"""
"""The re-keyed command and session identities never sync (they come from the command text, which
stays on its machine): the central views see these tables empty."""


def agent_tables(usage: str) -> str:
    """`store.agent_session_usage` over `usage` (the rows every machine pushed, with `machine`;
    central schema 8), and `store.agent_prices`: DevTrace's shipped price table, the same for
    the whole organisation (a machine's own [prices] in its config price its local view only)."""
    with open(os.path.join(paths.sql_dir(), "prices.toml"), "rb") as f:
        shipped = tomllib.load(f)
    rows = ", ".join(
        f"({literal(model)}, {float(p['input'])}, {float(p['output'])}, {float(p['cache_read'])}, "
        f"{float(p['cache_write'])}, {literal(str(shipped['date']))}, 'shipped')" for model, p in shipped["models"].items())
    return (f"CREATE OR REPLACE VIEW store.agent_session_usage AS SELECT * EXCLUDE (received_at) FROM {usage};\n"
            "CREATE OR REPLACE TABLE store.agent_prices (model VARCHAR, input DOUBLE, output DOUBLE, cache_read DOUBLE, "
            "cache_write DOUBLE, price_date VARCHAR, source VARCHAR);\n"
            + (f"INSERT INTO store.agent_prices VALUES {rows};" if rows else ""))


def attach_steps(url: str, sqlite_extension: str) -> list[tuple[str, str]]:
    """(statement, what its failure means) that make `store.*` the central tables."""
    if is_postgres(url):
        shown = url.split("@")[-1]
        extension = postgres_extension_path()
        secret, conninfo = postgres_steps(url, literal)
        steps = [(f"LOAD {literal(extension)};", f"cannot load DuckDB's PostgreSQL extension from {extension}"),
                 *secret,
                 (f"ATTACH {literal(conninfo)} AS {CENTRAL_ALIAS} (TYPE postgres, READ_ONLY);",
                  f"cannot attach the central database at {shown}")]
    else:
        file = os.path.abspath(os.path.expanduser(url))
        if not os.path.isfile(file):
            raise DevtraceError(f"no central database at {file} (a SQLite file, or postgresql://...)")
        steps = [(f"LOAD {literal(sqlite_extension)};", f"cannot load DuckDB's SQLite extension from {sqlite_extension}"),
                 (f"ATTACH {literal(file)} AS {CENTRAL_ALIAS} (TYPE sqlite, READ_ONLY);",
                  f"cannot attach the central database {file}")]
    spill = tempfile.mkdtemp(dir=_spill_root())  # one per connection: DuckDB names its files alike
    return steps + [
        (f"SET memory_limit = {literal(MEMORY_LIMIT)};", "cannot bound DuckDB's memory"),
        (f"SET temp_directory = {literal(spill)};", f"cannot spill to {spill}"),
        ("ATTACH ':memory:' AS store;", "cannot create the store catalog"),
        (events_view(f"{CENTRAL_ALIAS}.command_events"),
         f"{url.split('@')[-1]} is not a DevTrace central database (no command_events table)"),
        (labels_view(f"{CENTRAL_ALIAS}.labels"), "the central database has no labels table"),
        (LOCAL_ONLY_TABLES, "cannot create the (empty) local-only tables"),
        (agent_tables(f"{CENTRAL_ALIAS}.agent_session_usage"), "the central database has no agent_session_usage table"),
    ]


@functools.cache
def _spill_root() -> str:
    """This process's folder (0700) for DuckDB's spill files, under $TMPDIR (which should be a
    disk, not a tmpfs, where spilling is to spare memory), removed when the process exits.
    A process killed with SIGKILL leaves it behind."""
    root = tempfile.mkdtemp(prefix="devtrace-spill-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def events_view(source: str) -> str:
    """`store.command_events` over `source` (the central table, or the lake and its tail)."""
    return (f"CREATE OR REPLACE VIEW store.command_events AS SELECT * EXCLUDE (seq) REPLACE ("
            f"make_timestamp(CAST(received_at * 1e6 AS BIGINT)) AS received_at), "
            f"NULL::VARCHAR AS head_hash FROM {source};")  # local only (sql/migrations/0010)


def labels_view(source: str) -> str:
    """`store.labels` over `source`: a label names its event by (event_machine, event_id), the
    event's central identity (a label flushed before central schema 7 has no event_machine:
    its event is on the machine that pushed it, or it was an admin's and ambiguous then)."""
    return (f"CREATE OR REPLACE VIEW store.labels AS SELECT * EXCLUDE (client_label_id, machine, received_at) "
            f"REPLACE (coalesce(event_machine, machine) AS event_machine) FROM {source};")
