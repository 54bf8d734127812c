"""`devtrace sync`: push a store's events and labels to the central server, exactly once.

An event or label is pending until the server has answered for it; only then is its row in
`event_sync` / `label_sync` written (synced, or rejected with the server's reason). A crash,
a kill or a dropped connection between sending and that write leaves it pending, and the
next push sends it again: the server counts it as a duplicate, so the central count stays
exact. Rejected rows stay in the store with their reason and are not sent again.

Agent sessions' usage (`agent_session_usage`: tokens per session and model, no text) is
pushed after them. Its rows change as a session goes on (each import replaces them, with a
new `imported_at`), and the server keeps the latest reading of each: so a push sends every row
read since the newest `imported_at` the server acknowledged (kept in the store's
`agent-sessions.pushed`, written once the whole push is answered), and sending one twice is
harmless. A row the server refuses (older than it keeps) is not sent again until re-imported.
"""

import fcntl
import os
import time

from devtrace import paths
from devtrace.capture import drainer
from devtrace.capture.rekey import key_before_change, rekey_store
from devtrace.errors import DevtraceError
from devtrace.store import open_store
from devtrace.store.events import shared_columns
from devtrace.store.transaction import write_transaction
from devtrace.sync import config
from devtrace.sync.client import ATTEMPTS, Client, Refused

BATCH = 1000

_PENDING_EVENTS = ("SELECT id FROM command_events AS e WHERE NOT EXISTS "
                   "(SELECT 1 FROM event_sync AS s WHERE s.event_id = e.id) ORDER BY executed_at, id")
_PENDING_LABELS = ("SELECT l.id FROM labels AS l WHERE NOT EXISTS "
                   "(SELECT 1 FROM label_sync AS s WHERE s.label_id = l.id) ORDER BY l.id")


def login(server: str, token: str, path=None) -> dict:
    """Enroll this store: keep the server and token, adopt the organisation's hash key."""
    directory = paths.store_dir(path)
    open_store(directory).close()
    old_key = key_before_change(directory)
    _, _, answer = Client(server, token, attempts=2).call("POST", "/v1/enroll")  # a person waits
    if not isinstance(answer, dict) or not {"machine", "hash_key", "key_fingerprint"} <= answer.keys():
        raise DevtraceError(f"{server} did not answer like a DevTrace server")
    config.update(directory, {"server": server.rstrip("/"), "token": token, "machine": answer["machine"],
                               "hash_key": answer["hash_key"]})
    answer["rekeyed"] = rekey_store(directory, old_key)
    answer["forgotten"] = obey(directory, answer.get("policy"))
    return answer


def _policy(client: Client) -> dict | None:
    """The organisation's policy, asked after the push (an older server has none to give; the
    next push asks again)."""
    try:
        return client.call("GET", "/v1/policy")[2]
    except DevtraceError:
        return None


def obey(directory: str, policy) -> int | None:
    """Apply the organisation's policy to this store. `command_text = "off"`: keep no text from
    now on (config.toml says so) and forget what was kept; returns the number of events whose
    text was forgotten (None when the policy asks nothing new of this store).

    The text is what keeps one command one across keys (devtrace.capture.rekey): command
    identities are re-keyed with it to the key in force before it is forgotten."""
    if not isinstance(policy, dict) or policy.get("command_text") != "off":
        return None
    from devtrace.store.forget import forget_text

    already = config.read(directory).get("command_text") == "off"
    if not already:
        config.update(directory, {"command_text": "off"})
        rekey_store(directory)  # text captured once the config says off is under the current key already
    conn = open_store(directory)
    try:
        forgotten = forget_text(conn)
    finally:
        conn.close()
    return None if already and not forgotten else forgotten


def client_for(path=None, attempts: int = ATTEMPTS) -> Client:
    values = config.read(paths.store_dir(path))
    if not values.get("server") or not values.get("token"):
        raise DevtraceError("this store is not enrolled with a server (devtrace sync login --server URL --token T)")
    return Client(values["server"], values["token"], attempts=attempts)


def push(path=None, *, batch: int = BATCH, progress=None, wait_for_lock: bool = True,
         attempts: int = ATTEMPTS) -> dict | None:
    """Send everything pending; returns the counts (None if another push holds the lock and
    `wait_for_lock` is False). `progress(kind, done, total)` is called after each batch."""
    directory = paths.store_dir(path)
    client = client_for(directory, attempts)
    drainer.drain_now(directory)  # commands still in the spool go too
    lock = _lock(directory, wait_for_lock)
    if lock is None:
        return None
    try:
        conn = open_store(directory)
        try:
            events = _push_kind(conn, client, "events", batch, progress)
            labels = _push_kind(conn, client, "labels", batch, progress)
            sessions = _push_sessions(conn, client, directory, batch, progress)
        finally:
            conn.close()
        forgotten = obey(directory, _policy(client))
    finally:
        os.close(lock)
    return {"events": events, "labels": labels, "agent_sessions": sessions, "forgotten": forgotten}


def pending(path=None) -> tuple[int, int]:
    conn = open_store(path)
    try:
        return (conn.execute(f"SELECT count(*) FROM ({_PENDING_EVENTS})").fetchone()[0],
                conn.execute(f"SELECT count(*) FROM ({_PENDING_LABELS})").fetchone()[0])
    finally:
        conn.close()


def status(path=None) -> dict:
    directory = paths.store_dir(path)
    values = config.read(directory)
    events, labels = pending(directory)
    conn = open_store(directory)
    try:
        rows = {}
        for table in ("event_sync", "label_sync"):
            rows[table] = dict(conn.execute(f"SELECT status, count(*) FROM {table} GROUP BY status").fetchall())
        last = conn.execute("SELECT max(at) FROM (SELECT max(at) AS at FROM event_sync UNION ALL "
                            "SELECT max(at) FROM label_sync)").fetchone()[0]
        reasons = conn.execute("SELECT reason, count(*) FROM event_sync WHERE status = 'rejected' "
                               "GROUP BY reason ORDER BY count(*) DESC LIMIT 5").fetchall()
    finally:
        conn.close()
    return {
        "server": values.get("server"), "auto": values.get("sync") == "auto",
        "pending_events": events, "pending_labels": labels,
        "synced_events": rows["event_sync"].get("synced", 0), "rejected_events": rows["event_sync"].get("rejected", 0),
        "synced_labels": rows["label_sync"].get("synced", 0), "rejected_labels": rows["label_sync"].get("rejected", 0),
        "last_acknowledged_at": last, "rejection_reasons": reasons,
    }


def _push_kind(conn, client: Client, kind: str, batch: int, progress) -> dict:
    ids = [r[0] for r in conn.execute(_PENDING_EVENTS if kind == "events" else _PENDING_LABELS)]
    counts = {"sent": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        for items, answer in _send(client, kind, _rows(conn, kind, chunk)):
            _acknowledge(conn, kind, items, answer)
            counts["sent"] += len(items)
            for name in ("accepted", "duplicates"):
                counts[name] += answer[name]
            counts["rejected"] += len(answer["rejected"])
        if progress:
            progress(kind, start + len(chunk), len(ids))
    return counts


def _send(client: Client, kind: str, items: list[dict]) -> list[tuple[list[dict], dict]]:
    """POST a batch; a batch the server finds too large (413) is split in halves, and so on
    down to single items. (items, answer) of each batch the server took."""
    route = {"events": "/v1/telemetry/batch", "labels": "/v1/labels/batch",
             "agent_sessions": "/v1/agent-sessions/batch"}[kind]
    try:
        _, _, answer = client.call("POST", route, {"schema_version": 1, kind: items})
    except Refused as exc:
        if exc.status != 413 or len(items) == 1:
            raise
        half = len(items) // 2
        return _send(client, kind, items[:half]) + _send(client, kind, items[half:])
    return [(items, answer)]


def _rows(conn, kind: str, chunk: list) -> list[dict]:
    marks = ", ".join("?" * len(chunk))
    if kind == "events":
        cursor = conn.execute(f"SELECT {', '.join(shared_columns(conn))} FROM command_events WHERE id IN ({marks})", chunk)
    else:
        cursor = conn.execute("SELECT id AS client_label_id, event_id, value, source, labeled_by, note, created_at"
                              f" FROM labels WHERE id IN ({marks})", chunk)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _acknowledge(conn, kind: str, items: list[dict], answer) -> None:
    """Record the server's answer for every item of the batch, in one transaction."""
    if not (isinstance(answer, dict) and isinstance(answer.get("rejected"), list)
            and isinstance(answer.get("accepted"), int) and isinstance(answer.get("duplicates"), int)
            and answer["accepted"] + answer["duplicates"] + len(answer["rejected"]) == len(items)):
        raise DevtraceError("the server's answer does not account for every item sent; nothing was marked "
                            "as synced (run devtrace sync again)")
    rejected = {}
    for entry in answer["rejected"]:
        if isinstance(entry, dict):
            rejected[str(entry.get("id"))] = str(entry.get("reason") or "rejected")
    now = time.time()
    if kind == "events":
        key, table, column = (lambda item: item["id"]), "event_sync", "event_id"
    else:
        key, table, column = (lambda item: f"{item['event_id']}#{item['client_label_id']}"), "label_sync", "label_id"
    rows = []
    for item in items:
        reason = rejected.get(key(item))
        local_id = item["id"] if kind == "events" else item["client_label_id"]
        rows.append((local_id, "rejected" if reason else "synced", reason, now))
    with write_transaction(conn):
        conn.executemany(f"INSERT OR REPLACE INTO {table} ({column}, status, reason, at) VALUES (?, ?, ?, ?)", rows)


SESSION_COLUMNS = ("agent", "session_id", "model", "started_at", "ended_at", "turns", "tool_calls", "requests",
                   "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "imported_at")


def _push_sessions(conn, client: Client, directory: str, batch: int, progress) -> dict | None:
    """Push the agent sessions' usage read since the last acknowledged push; None when the
    server predates agent sessions (it answers 404: nothing is marked, a later push sends them)."""
    marker = os.path.join(directory, paths.SESSIONS_PUSHED)
    since = _pushed_through(marker)
    cursor = conn.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM agent_session_usage WHERE imported_at > ? "
                          "ORDER BY imported_at, agent, session_id, model", (since,))
    items = [dict(zip(SESSION_COLUMNS, row, strict=True)) for row in cursor]
    counts = {"sent": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    for start in range(0, len(items), batch):
        try:
            answers = _send(client, "agent_sessions", items[start:start + batch])
        except Refused as exc:
            if exc.status == 404 and start == 0:
                return None
            raise
        for sent, answer in answers:
            if not (isinstance(answer, dict) and isinstance(answer.get("rejected"), list)
                    and answer.get("accepted", 0) + answer.get("duplicates", 0) + len(answer["rejected"]) == len(sent)):
                raise DevtraceError("the server's answer does not account for every agent session sent (run devtrace "
                                    "sync again)")
            counts["sent"] += len(sent)
            counts["accepted"] += answer["accepted"]
            counts["duplicates"] += answer["duplicates"]
            counts["rejected"] += len(answer["rejected"])
        if progress:
            progress("agent sessions", min(start + batch, len(items)), len(items))
    if items:
        _write_pushed_through(marker, items[-1]["imported_at"])
    return counts


def _pushed_through(marker: str) -> float:
    try:
        with open(marker, encoding="utf-8") as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return float("-inf")  # never pushed (or the file is damaged: everything again, harmlessly)


def _write_pushed_through(marker: str, imported_at: float) -> None:
    temporary = marker + ".tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(repr(imported_at))
    os.replace(temporary, marker)


def _lock(directory: str, wait: bool) -> int | None:
    fd = os.open(os.path.join(directory, paths.SYNC_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
