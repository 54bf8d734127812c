"""What keeps a DuckDB connection to the store from changing it or reaching past it.

`LOCK` runs once the store is attached and the views are defined: DuckDB then opens no other
file, no network and no extension, and no setting can be changed back. The extensions reach
past that lock on their own: the SQLite extension opens files itself (`ATTACH '…/devtrace.db'
AS w (TYPE sqlite)` would open the store for writing), the PostgreSQL extension's functions
connect anywhere and run any SQL in the central database (`postgres_execute`'s `COMMIT;` ends
its read-only transaction), and DuckLake's write the lake's files. The lock also lets a
central connection into the lake's data folder (its readers need it), and DuckDB lets in
for writing what it lets in for reading: `COPY … TO` or `EXPORT DATABASE` there would
overwrite the lake's Parquet files. And the central database attached under the views holds
the organisation's hash key and the token hashes. So the SQL DevTrace runs for its users first
goes through `refuse_outside_the_store`: no statement that writes a file, and no name of the
central database but through the views.
"""

import re

import duckdb

from devtrace.errors import DevtraceError

LOCK = (
    "SET enable_external_access = false;",  # no file but the attached store, no network, no LOAD/INSTALL
    "SET lock_configuration = true;",  # and no SET can undo that
)
_T = duckdb.StatementType
REFUSED_STATEMENTS = {_T.ATTACH, _T.DETACH, _T.COPY, _T.EXPORT, _T.COPY_DATABASE, _T.PREPARE, _T.EXECUTE}
"""Attaching, and every statement that writes files (PREPARE/EXECUTE: a prepared COPY)."""
WRITING_KEYWORDS = {"COPY", "EXPORT"}
"""Refused inside EXPLAIN too: EXPLAIN ANALYZE runs the statement it explains."""
HIDDEN_DATABASES = {"central_db"}
"""devtrace.analytics.central.CENTRAL_ALIAS: its tables are read through store.* only."""
SECRET = re.compile(r"\bsecret\b", re.IGNORECASE)
"""CREATE/DROP SECRET: the connection's one secret reads the lake's objects; no query brings
credentials of its own, or drops that one."""
EXTENSION_FUNCTIONS = re.compile(
    r"\b(sqlite_(attach|scan|query)|postgres_\w+|ducklake_\w+|query_table|json_execute_serialized_sql"
    r"|enable_logging|duckdb_logs\w*)\b", re.IGNORECASE)
"""The extensions' own functions (SQLite's, PostgreSQL's, DuckLake's), which act outside
DuckDB's lock, and the functions that run SQL or name tables given as strings, which could
call them under a name no text check sees (`query_table`, and `query`, found by
`_calls_query`). DevTrace's own view of the central tail calls postgres_query; a user's SQL
names that view, not the function. DuckDB's own log (`enable_logging`, `duckdb_logs`) is
refused too: its HTTP entries carry a lake's request headers, session token included."""
_WHY = "DevTrace queries read the store, attached as `store`, and nothing else"


def refuse_outside_the_store(text: str) -> None:
    """One sentence for SQL that attaches or detaches a database or calls an extension's
    functions (even inside a string: the check is on the text, and errs safe)."""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error:
        return  # SQL DuckDB cannot parse cannot run either: running it reports the error
    for statement in statements:
        if statement.type in REFUSED_STATEMENTS:
            raise DevtraceError(f"{statement.type.name.replace('_', ' ')} is refused: {_WHY}")
        if statement.type in (duckdb.StatementType.CREATE, duckdb.StatementType.DROP) and SECRET.search(statement.query):
            raise DevtraceError(f"{statement.type.name} SECRET is refused: {_WHY}")
    words = _words(text)
    for word, kind in words:
        if kind == duckdb.token_type.keyword and word.upper() in WRITING_KEYWORDS:
            raise DevtraceError(f"{word.upper()} is refused: {_WHY}")
        if kind == duckdb.token_type.identifier and word.strip('"').lower() in HIDDEN_DATABASES:
            raise DevtraceError(f"{word.strip(chr(34))} is refused: {_WHY} (read the organisation's events "
                                "through the views and store.*)")
    found = EXTENSION_FUNCTIONS.search(text)
    if found:
        raise DevtraceError(f"{found.group(0)} is refused: {_WHY}")
    if _calls_query(text):
        raise DevtraceError(f"query() is refused: {_WHY}")


def _words(text: str) -> list[tuple[str, object]]:
    """(text, kind) of DuckDB's tokens of `text`."""
    tokens = duckdb.tokenize(text)
    ends = [start for start, _ in tokens[1:]] + [len(text)]
    return [(text[start:end].strip(), kind) for (start, kind), end in zip(tokens, ends, strict=True)]


def _calls_query(text: str) -> bool:
    """Whether the SQL calls query('…'), which runs SQL assembled at run time
    (`query('… postgres' || '_execute(…)')`). By DuckDB's own tokens, so that a comment
    between the name and its parenthesis hides nothing and a column named query is no call."""
    tokens = duckdb.tokenize(text)
    for (start, kind), (after, _) in zip(tokens, tokens[1:], strict=False):
        word = re.match(r'"?(\w+)', text[start:after])
        if (kind in (duckdb.token_type.identifier, duckdb.token_type.keyword) and word
                and word.group(1).lower() == "query" and text[after] == "("):
            return True
    return False
