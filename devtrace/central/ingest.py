"""Storing validated batches: one transaction per batch, idempotent by identity.

Events: PostgreSQL copies the batch (binary COPY) into a temporary stage table, which each
pooled connection creates once (`ON COMMIT DELETE ROWS` empties it), then moves it with
`INSERT ... SELECT ... ON CONFLICT (machine, id) DO NOTHING`; SQLite inserts with `ON CONFLICT
DO NOTHING`. Either way the rows inserted are the accepted ones and the rest are duplicates.
The final INSERT runs under the ingest lock, so `seq` follows commit order. A batch costs
PostgreSQL five round trips: BEGIN, the machine's cut-off, COPY, lock and INSERT, COMMIT.
"""

import operator
import time

from devtrace.central.db import INGEST_LOCK
from devtrace.central.payloads import EVENT_COLUMNS, LABEL_COLUMNS, SESSION_COLUMNS, AgentSession

DAY = 86400.0
_EVENT_COLUMNS = (*EVENT_COLUMNS, "machine", "received_at")
_LABEL_COLUMNS = (*LABEL_COLUMNS, "machine", "received_at")


def window_reason(at: float, now: float, max_age_days: float, what: str) -> str | None:
    """Why a client time is refused, or None: more than a day ahead, or older than allowed."""
    if at > now + DAY:
        return f"{what} is {(at - now) / 3600:.0f} h in the future by the server's clock (is the client's clock right?)"
    if at < now - max_age_days * DAY:
        return f"{what} is older than {max_age_days:g} days, the server's limit"
    return None


_stored = operator.attrgetter(*EVENT_COLUMNS)


def store_events(db, machine: str, events: list, rejected: list[dict], max_age_days: float) -> dict:
    now = time.time()
    oldest, newest = now - max_age_days * DAY, now + DAY
    if all(oldest <= event.executed_at <= newest for event in events):  # the common case, without a call per event
        inside = events
    else:
        inside = []
        for event in events:
            reason = window_reason(event.executed_at, now, max_age_days, "executed_at")
            if reason:
                rejected.append({"id": event.id, "reason": reason})
            else:
                inside.append(event)
    unique: dict[str, object] = {}
    for event in inside:
        unique.setdefault(event.id, event)  # the first of each id in the batch
    duplicates = len(inside) - len(unique)
    rows = [(*_stored(event), machine, now) for event in unique.values()]
    accepted = 0
    if rows:
        with db.transaction() as tx:
            rows = _after_cutoff(tx, machine, rows, rejected)
            if rows:
                accepted = _insert_events_pg(tx, rows) if db.dialect == "postgresql" else _insert_events_sqlite(tx, rows)
    return {"accepted": accepted, "duplicates": duplicates + len(rows) - accepted, "rejected": rejected,
            "received_at": now}


_EXECUTED_AT = _EVENT_COLUMNS.index("executed_at")


def _after_cutoff(tx, machine: str, rows: list[tuple], rejected: list[dict]) -> list[tuple]:
    """The rows executed after the machine's retention/erasure cut-off; the others are
    refused for good (what was removed does not come back)."""
    cutoff = tx.execute("SELECT max(before_at) FROM retention_cutoffs WHERE machine IN (?, '*')", (machine,))[0][0]
    if cutoff is None:
        return rows
    kept = []
    for row in rows:
        if row[_EXECUTED_AT] < cutoff:
            rejected.append({"id": row[0], "reason": "executed_at is before this machine's retention or erasure "
                                                     f"cut-off ({time.strftime('%Y-%m-%d %H:%M', time.gmtime(cutoff))} UTC)"})
        else:
            kept.append(row)
    return kept


def _insert_events_sqlite(tx, rows: list[tuple]) -> int:
    before = tx.cursor.connection.total_changes
    tx.executemany(f"INSERT INTO command_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
                   " ON CONFLICT (machine, id) DO NOTHING", rows)
    return tx.cursor.connection.total_changes - before


_COLUMNS = ", ".join(_EVENT_COLUMNS)
_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS stage_events ON COMMIT DELETE ROWS AS "
          f"SELECT {_COLUMNS} FROM command_events WITH NO DATA")
_STAGE_TYPES = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'stage_events'::regclass " \
               "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
# Two statements in one round trip (no parameters: PostgreSQL's simple query protocol).
_LOCKED_INSERT = (f"SELECT pg_advisory_xact_lock({INGEST_LOCK}); INSERT INTO command_events ({_COLUMNS}) "
                  f"SELECT {_COLUMNS} FROM stage_events ON CONFLICT (machine, id) DO NOTHING")


def _insert_events_pg(tx, rows: list[tuple]) -> int:
    conn = tx.cursor.connection
    if not conn.stage_ready:  # once per pooled connection (a rolled-back CREATE is made again)
        tx.execute(_STAGE)
        conn.stage_types = [name for (name,) in tx.execute(_STAGE_TYPES)]
    with tx.cursor.copy(f"COPY stage_events ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(conn.stage_types)
        for row in rows:
            copy.write_row(row)
    tx.cursor.execute(_LOCKED_INSERT)
    tx.cursor.nextset()
    conn.stage_ready = True
    return tx.cursor.rowcount


def store_labels(db, machine: str, labels: list, rejected: list[dict], max_age_days: float, *,
                 any_machine: bool = False) -> dict:
    """Labels are identified by (machine, event_id, client_label_id): one machine's label ids
    never collide with another's. A label names its event by (event_machine, event_id): a
    machine may label only its own events (event_machine is itself); an admin token
    (`any_machine`) any machine's, naming the machine when the id is on several. A label
    that names any other event is refused with the same reason whether that event exists or not."""
    now = time.time()
    candidates, seen, duplicates = [], set(), 0
    for label in labels:
        identity = (label.event_id, label.client_label_id)
        reason = window_reason(label.created_at, now, max_age_days, "created_at")
        if reason:
            rejected.append({"id": f"{label.event_id}#{label.client_label_id}", "reason": reason})
        elif identity in seen:
            duplicates += 1
        else:
            seen.add(identity)
            candidates.append(label)
    accepted = 0
    if candidates:
        with db.transaction() as tx:
            holders = _holders(tx, {label.event_id for label in candidates}, None if any_machine else machine)
            rows = []
            for label in candidates:
                event_machine, reason = _event_machine(label, holders.get(label.event_id, ()), machine, any_machine)
                if reason:
                    rejected.append({"id": f"{label.event_id}#{label.client_label_id}", "reason": reason})
                    continue
                values = {**{c: getattr(label, c) for c in LABEL_COLUMNS}, "event_machine": event_machine}
                rows.append((*(values[c] for c in LABEL_COLUMNS), machine, now))
            if rows:
                if db.dialect == "postgresql":
                    tx.execute("SELECT pg_advisory_xact_lock(?)", (INGEST_LOCK,))
                conn = tx.cursor.connection
                before = conn.total_changes if db.dialect == "sqlite" else 0
                placeholders = ", ".join("?" * len(_LABEL_COLUMNS))
                sql = (f"INSERT INTO labels ({', '.join(_LABEL_COLUMNS)}) VALUES ({placeholders})"
                       " ON CONFLICT (machine, event_id, client_label_id) DO NOTHING")
                if db.dialect == "sqlite":
                    tx.executemany(sql, rows)
                    accepted = conn.total_changes - before
                else:
                    for row in rows:
                        tx.execute(sql, row)
                        accepted += tx.rowcount
            duplicates += len(rows) - accepted
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "received_at": now}


def _event_machine(label, holders, machine: str, any_machine: bool) -> tuple[str | None, str | None]:
    """(the machine of the labeled event, None) or (None, why the label is refused)."""
    wanted = label.event_machine if any_machine else machine
    if not any_machine and label.event_machine not in (None, machine):
        holders = ()  # another machine's event: refused like one that does not exist
    if wanted is not None:
        if wanted in holders:
            return wanted, None
        whose = f" of machine {wanted}" if any_machine else " among this machine's events"
        return None, f"event {label.event_id} is not{whose} on the server"
    if len(holders) == 1:
        return next(iter(holders)), None
    if not holders:
        return None, f"event {label.event_id} is not on the server"
    return None, (f"event {label.event_id} is on {len(holders)} machines: say which in event_machine "
                  f"({', '.join(sorted(holders))})")


def _holders(tx, ids: set[str], machine: str | None) -> dict[str, set[str]]:
    """The machines holding each of `ids` (only `machine`, unless None)."""
    found: dict[str, set[str]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        mine = "" if machine is None else " AND machine = ?"
        for event_id, holder in tx.execute(f"SELECT id, machine FROM command_events WHERE id IN ({marks}){mine}",
                                           [*chunk] + ([] if machine is None else [machine])):
            found.setdefault(event_id, set()).add(holder)
    return found


_SESSION_COLUMNS = (*SESSION_COLUMNS, "machine", "received_at")
_SESSION_IDENTITY = ("machine", "agent", "session_id", "model")
_UPSERT_SESSION = (
    f"INSERT INTO agent_session_usage ({', '.join(_SESSION_COLUMNS)}) VALUES ({', '.join('?' * len(_SESSION_COLUMNS))})"
    f" ON CONFLICT ({', '.join(_SESSION_IDENTITY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _SESSION_COLUMNS if c not in _SESSION_IDENTITY)
    + " WHERE agent_session_usage.imported_at < excluded.imported_at")


def store_sessions(db, machine: str, sessions: list, rejected: list[dict], max_age_days: float) -> dict:
    """Agent sessions' usage rows, upserted by (machine, agent, session_id, model): a row read
    later by the machine (`imported_at`) replaces the stored one; the same or an older reading
    changes nothing and counts as a duplicate. A session that ended before the machine's
    retention/erasure cut-off, or outside the server's time window, is refused."""
    now = time.time()
    latest: dict[str, AgentSession] = {}
    duplicates = 0
    for session in sessions:
        reason = window_reason(_session_time(session), now, max_age_days, "the session")
        if reason:
            rejected.append({"id": session.key, "reason": reason})
        elif session.key in latest:
            duplicates += 1
            if latest[session.key].imported_at < session.imported_at:
                latest[session.key] = session
        else:
            latest[session.key] = session
    accepted = 0
    if latest:
        with db.transaction() as tx:
            cutoff = tx.execute("SELECT max(before_at) FROM retention_cutoffs WHERE machine IN (?, '*')", (machine,))[0][0]
            rows = []
            for session in latest.values():
                if cutoff is not None and _session_time(session) < cutoff:
                    rejected.append({"id": session.key, "reason": "the session is before this machine's retention or "
                                     f"erasure cut-off ({time.strftime('%Y-%m-%d %H:%M', time.gmtime(cutoff))} UTC)"})
                else:
                    rows.append((*(getattr(session, c) for c in SESSION_COLUMNS), machine, now))
            for row in rows:  # one session per row: a push holds a few hundred at most
                tx.execute(_UPSERT_SESSION, row)
                accepted += tx.rowcount
            duplicates += len(rows) - accepted
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected, "received_at": now}


def _session_time(session) -> float:
    """When a session was (its end, else its start, else when it was read)."""
    for at in (session.ended_at, session.started_at):
        if at is not None:
            return at
    return session.imported_at
