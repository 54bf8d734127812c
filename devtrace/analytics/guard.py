"""What keeps a DuckDB connection to the store from changing it or reaching past it.

`LOCK` runs once the store is attached and the views are defined: DuckDB then opens no other
file, no network and no extension, and no setting can be changed back. DuckDB's SQLite
extension opens files itself, outside that lock (`ATTACH '…/devtrace.db' AS w (TYPE
sqlite)` would open the store for writing), so the SQL DevTrace runs for its users first
goes through `refuse_outside_the_store`.
"""

import re

import duckdb

from devtrace.errors import DevtraceError

LOCK = (
    "SET enable_external_access = false;",  # no file but the attached store, no network, no LOAD/INSTALL
    "SET lock_configuration = true;",  # and no SET can undo that
)
REFUSED_STATEMENTS = {duckdb.StatementType.ATTACH, duckdb.StatementType.DETACH}
SQLITE_FUNCTIONS = re.compile(r"\bsqlite_(attach|scan|query)\b", re.IGNORECASE)
"""The SQLite extension's own functions, which open any SQLite file outside DuckDB's lock."""
_WHY = "DevTrace queries read the store, attached as `store`, and nothing else"


def refuse_outside_the_store(text: str) -> None:
    """One sentence for SQL that attaches or detaches a database or calls the SQLite
    extension's functions (even inside a string: the check is on the text, and errs safe)."""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error:
        return  # SQL DuckDB cannot parse cannot run either: running it reports the error
    for statement in statements:
        if statement.type in REFUSED_STATEMENTS:
            raise DevtraceError(f"{statement.type.name} is refused: {_WHY}")
    found = SQLITE_FUNCTIONS.search(text)
    if found:
        raise DevtraceError(f"{found.group(0)} is refused: {_WHY}")
