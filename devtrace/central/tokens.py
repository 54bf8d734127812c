"""Bearer tokens: one per machine or person, stored as a sha256 (never in plain text).

A token has a name (what its events are attributed to: `machine`), a scope, an optional
expiry, and can be revoked; every request looks it up again, so a revocation or an expiry
takes effect on the next request.
"""

import hashlib
import re
import secrets
import time

from devtrace.errors import DevtraceError

SCOPES = ("ingest", "read", "admin")
PREFIX = "dt_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def allows(scope: str, wanted: str) -> bool:
    """admin may do everything; ingest and read only what they are named for."""
    return scope == "admin" or scope == wanted


def parse_duration(text: str) -> float:
    """'90d', '12h', '30m', '45s', '2w' in seconds."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise DevtraceError(f"--expires takes a duration such as 90d, 12h or 2w (got {text!r})")
    return int(match.group(1)) * _UNIT[match.group(2)]


def create(db, name: str, scope: str, expires_in: float | None = None) -> str:
    """A new token for `name`; returns its text, which is shown once and not kept."""
    if not NAME.match(name):
        raise DevtraceError(f"a token name is 1-64 letters, digits, '_', '.', '@' or '-', starting with a "
                            f"letter or digit (got {name!r})")
    if scope not in SCOPES:
        raise DevtraceError(f"scope must be one of {', '.join(SCOPES)} (got {scope!r})")
    token = PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    with db.transaction() as tx:
        existing = tx.execute("SELECT revoked_at FROM tokens WHERE name = ?", (name,))
        if existing and existing[0][0] is None:
            raise DevtraceError(f"a live token named {name!r} exists already (revoke it first, or pick another name)")
        if existing:  # a revoked name is issued again: its events keep their machine name
            tx.execute("DELETE FROM tokens WHERE name = ?", (name,))
        tx.execute("INSERT INTO tokens (name, token_hash, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                   (name, digest(token), scope, now, now + expires_in if expires_in else None))
    return token


def revoke(db, name: str) -> None:
    with db.transaction() as tx:
        rows = tx.execute("SELECT revoked_at FROM tokens WHERE name = ?", (name,))
        if not rows:
            raise DevtraceError(f"no token named {name!r}")
        if rows[0][0] is not None:
            raise DevtraceError(f"the token {name!r} is revoked already")
        tx.execute("UPDATE tokens SET revoked_at = ? WHERE name = ?", (time.time(), name))


def listing(db) -> list[dict]:
    with db.transaction(write=False) as tx:
        rows = tx.execute("SELECT name, scope, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at")
    return [dict(zip(("name", "scope", "created_at", "expires_at", "revoked_at"), row, strict=True)) for row in rows]


def well_formed(token: str) -> bool:
    """Whether a token could be one of ours (checked before the database is asked)."""
    return token.startswith(PREFIX) and len(token) <= 200


def authenticate(db, token: str) -> tuple[str, str] | None:
    """(name, scope) of a live token, or None for an unknown, revoked or expired one (one
    read of the central database `db`)."""
    if not well_formed(token):
        return None
    rows = db.query("SELECT name, scope, expires_at, revoked_at FROM tokens WHERE token_hash = ?", (digest(token),))
    if not rows:
        return None
    name, scope, expires_at, revoked_at = rows[0]
    if revoked_at is not None or (expires_at is not None and expires_at <= time.time()):
        return None
    return name, scope
