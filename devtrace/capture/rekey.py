"""One identity across keys: map the hashes recorded under older keys to the current key's.

A command's hash depends on the key (the store's own, or the organisation's after `devtrace
sync login`), so after a key change the same command would be two commands. Where an event
keeps its command text, the text is split into words and hashed with the new key exactly as
capture hashes a line (identity.command_words), and `command_identity` records recorded hash
-> current hash; the `events` view reads command_hash through it. The events are not changed
(append-only, and possibly synced already).

A text that cannot give back the hash of the command as typed is not used: one with a part
redacted (the secret was hashed, not `<redacted>`), cut short, or with bytes that were not
UTF-8 (stored as U+FFFD). A recorded hash whose texts
disagree on the new hash (which two different commands could not do under one key) is left
alone rather than merged. Those commands keep their old key's identity, and the views say
which key (`key_fingerprint`).

Sessions: a session id is a keyed hash of what identifies the shell or terminal, which is not
stored. What DevTrace does know at a key change (the live shells with the hook loaded, in
shells.json, and the terminal making the change) is mapped in `session_identity`, so a terminal
open across the change stays one session; other sessions split (docs/store/privacy.md).
"""

import sqlite3
import time

from devtrace.capture import identity
from devtrace.capture.redact import REDACTED
from devtrace.store.transaction import write_transaction


def rekey(conn: sqlite3.Connection, key: bytes, sessions: dict[str, str] | None = None) -> int:
    """Bring `command_identity` to `key`; returns how many recorded hashes now map to it.
    `sessions`: {session id under the old key: id under `key`} of the sessions known to go on
    (see `live_sessions`), added to `session_identity`."""
    fingerprint = identity.key_fingerprint(key)
    # Hashing every distinct text takes a while on a large store: done before the write lock,
    # which capture waits for. Events recorded meanwhile are under `key` already.
    fresh = _hashes_from_text(conn, key, fingerprint)
    own = {h for (h,) in conn.execute("SELECT DISTINCT command_hash FROM command_events WHERE key_fingerprint = ?",
                                      (fingerprint,))}
    with write_transaction(conn):
        if sessions:
            _map_sessions(conn, sessions, fingerprint)
        mapping = {}
        for recorded, current, under in conn.execute(
                "SELECT command_hash, current_hash, key_fingerprint FROM command_identity"):
            # an older mapping follows its command to the new key, through the text of either end
            target = fresh.get(recorded) or fresh.get(current)
            mapping[recorded] = (current, under) if target is None else (target, fingerprint)
        mapping.update((recorded, (current, fingerprint)) for recorded, current in fresh.items())
        now = time.time()
        # a hash the current key makes itself is its own identity (a key adopted again)
        kept = [(recorded, current, under, now) for recorded, (current, under) in mapping.items()
                if recorded != current and recorded not in own]
        conn.execute("DELETE FROM command_identity")
        conn.executemany(
            "INSERT INTO command_identity (command_hash, current_hash, key_fingerprint, mapped_at) VALUES (?, ?, ?, ?)",
            kept)
    return sum(row[2] == fingerprint for row in kept)


def _hashes_from_text(conn: sqlite3.Connection, key: bytes, fingerprint: str) -> dict[str, str]:
    """{recorded hash: hash under `key`} for every command recorded under another key whose
    stored text gives one unambiguous new hash."""
    found: dict[str, str | None] = {}
    rows = conn.execute(
        "SELECT DISTINCT command_hash, command_text FROM command_events "
        "WHERE command_text IS NOT NULL AND key_fingerprint IS NOT ?", (fingerprint,))
    for recorded, text in rows:
        if REDACTED in text or text.endswith(" …") or "\ufffd" in text:  # not the words that were hashed
            continue
        current = identity.command_hash(key, identity.command_words(text))
        if found.setdefault(recorded, current) != current:
            found[recorded] = None
    return {recorded: current for recorded, current in found.items() if current is not None}


def current_key(directory: str) -> bytes:
    """The key the store's commands are hashed with now: the organisation's `hash_key` if
    configured, else hash.key."""
    from devtrace.settings import load as load_settings

    return identity.load_key(directory, load_settings(directory)[0])


def key_before_change(directory: str) -> bytes | None:
    """`current_key`, or None where there is none to read (a lost hash.key: what rotating is for)."""
    from devtrace.store.errors import StoreError

    try:
        return current_key(directory)
    except StoreError:
        return None


def rekey_store(directory: str, old_key: bytes | None = None) -> int:
    """`rekey` the store in `directory` to its current key; with the key in force before the
    change (`old_key`), the live sessions follow too."""
    from devtrace.store import open_store

    key = current_key(directory)
    sessions = live_sessions(directory, old_key, key) if old_key is not None and old_key != key else None
    conn = open_store(directory)
    try:
        return rekey(conn, key, sessions)
    finally:
        conn.close()


def live_sessions(directory: str, old_key: bytes, new_key: bytes) -> dict[str, str]:
    """{id under `old_key`: id under `new_key`} of the sessions that go on across the change:
    every live shell with the hook loaded, and the terminal this process runs in."""
    from devtrace.capture.hooks import sessions as shells

    pairs = {}
    for token, entry in shells.live(directory).items():
        pairs[identity.shell_session_id(old_key, entry["shell"], token)] = \
            identity.shell_session_id(new_key, entry["shell"], token)
    pairs[identity.session_id(old_key)] = identity.session_id(new_key)  # the same id with $DEVTRACE_SESSION
    return {old: new for old, new in pairs.items() if old != new}


def _map_sessions(conn: sqlite3.Connection, pairs: dict[str, str], fingerprint: str) -> None:
    """Add old -> new session ids; an older mapping to an old id follows it to the new one."""
    now = time.time()
    conn.executemany("UPDATE session_identity SET current_session_id = ?, key_fingerprint = ?, mapped_at = ? "
                     "WHERE current_session_id = ?", [(new, fingerprint, now, old) for old, new in pairs.items()])
    conn.executemany("INSERT OR REPLACE INTO session_identity (session_id, current_session_id, key_fingerprint, mapped_at) "
                     "VALUES (?, ?, ?, ?)", [(old, new, fingerprint, now) for old, new in pairs.items()])
