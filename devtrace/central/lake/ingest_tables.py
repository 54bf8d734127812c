"""The lake's writes into the ingestion database: deletions for retention and erasure, and
the audit log. (Never while DuckDB has the embedded default's file attached in this process:
see devtrace.central.lake.job.)"""

import contextlib
import getpass
import time
from collections.abc import Iterator
from typing import NamedTuple

from devtrace.central.db import Tx, open_central


class Removed(NamedTuple):
    events: int
    labels: int


@contextlib.contextmanager
def transaction(db_url: str) -> Iterator[Tx]:
    db = open_central(db_url, create=False)
    try:
        with db.transaction() as tx:
            yield tx
    finally:
        db.close()


def delete_events(db_url: str, where: str, params: list, watermarks: tuple[int, int, int], *,
                  labels_by: str | None = None, cutoff: tuple[str, float, str] | None = None,
                  sessions: tuple[str, list] | None = None) -> Removed:
    """Delete the events matching `where` (with their labels and central scores, and the
    labels `labels_by` pushed) from the ingestion tables. Counts only what the lake did not
    hold yet (above its watermarks), so that lake + tail counts add up to distinct rows.
    `cutoff` (machine or '*', unix seconds, who) is recorded in the same transaction: events
    of that machine executed before it are refused from then on. `sessions` (where, params)
    picks the agent sessions' usage rows removed with them."""
    events_seq, labels_id, _ = watermarks
    # labels and scores name their event by (machine, id): `where` is read inside the subquery
    labels_where = (f"EXISTS (SELECT 1 FROM command_events AS e WHERE e.machine = labels.event_machine "
                    f"AND e.id = labels.event_id AND {where})") + (" OR machine = ?" if labels_by is not None else "")
    labels_params = [*params, labels_by] if labels_by is not None else list(params)
    with transaction(db_url) as tx:
        new_events = tx.execute(f"SELECT count(*) FROM command_events WHERE ({where}) AND seq > ?",
                                [*params, events_seq])[0][0]
        new_labels = tx.execute(f"SELECT count(*) FROM labels WHERE ({labels_where}) AND id > ?",
                                [*labels_params, labels_id])[0][0]
        tx.execute("DELETE FROM event_scores WHERE EXISTS (SELECT 1 FROM command_events AS e "
                   f"WHERE e.machine = event_scores.machine AND e.id = event_scores.event_id AND {where})", params)
        tx.execute(f"DELETE FROM labels WHERE {labels_where}", labels_params)
        tx.execute(f"DELETE FROM command_events WHERE {where}", params)
        if sessions is not None:
            tx.execute(f"DELETE FROM agent_session_usage WHERE {sessions[0]}", sessions[1])
        if cutoff is not None:
            set_cutoff(tx, *cutoff)
    return Removed(int(new_events), int(new_labels))


def set_cutoff(tx: Tx, machine: str, before_at: float, set_by: str) -> None:
    """Move a machine's (or every machine's: '*') cut-off forward to `before_at`."""
    rows = tx.execute("SELECT before_at FROM retention_cutoffs WHERE machine = ?", [machine])
    if not rows:
        tx.execute("INSERT INTO retention_cutoffs (machine, before_at, set_by, set_at) VALUES (?, ?, ?, ?)",
                   [machine, before_at, set_by, time.time()])
    elif rows[0][0] < before_at:
        tx.execute("UPDATE retention_cutoffs SET before_at = ?, set_by = ?, set_at = ? WHERE machine = ?",
                   [before_at, set_by, time.time(), machine])


def audit(db_url: str, action: str, target: str, actor: str, events: int, labels: int) -> None:
    with transaction(db_url) as tx:
        tx.execute("INSERT INTO audit_log (action, target, actor, at, events, labels) VALUES (?, ?, ?, ?, ?, ?)",
                   [action, target, actor, time.time(), events, labels])


def audit_rows(db_url: str) -> list[tuple]:
    """(action, target, actor, at, events, labels), oldest first."""
    with transaction(db_url) as tx:
        return tx.execute("SELECT action, target, actor, at, events, labels FROM audit_log ORDER BY id")


def cli_actor() -> str:
    """Who runs an admin command from the shell: the OS user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"
