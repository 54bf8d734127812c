"""The organisation's policy for its machines (`devtrace server policy set command_text off`)."""

import time

from devtrace.errors import DevtraceError

POLICIES = {"command_text": ("redacted", "off")}
"""Each setting an organisation may require, and its values (the first: what a machine does
when the organisation says nothing)."""


def set_policy(db, name: str, value: str) -> None:
    if name not in POLICIES:
        raise DevtraceError(f"unknown policy {name!r} (known: {', '.join(POLICIES)})")
    if value not in POLICIES[name]:
        raise DevtraceError(f"{name} takes {' or '.join(POLICIES[name])}, not {value!r}")
    with db.transaction() as tx:
        tx.execute("DELETE FROM policy WHERE name = ?", (name,))
        tx.execute("INSERT INTO policy (name, value, set_at) VALUES (?, ?, ?)", (name, value, time.time()))


def current(tx) -> dict[str, str]:
    """Every policy setting, the default where none was set."""
    found = dict(tx.execute("SELECT name, value FROM policy"))
    return {name: found.get(name, values[0]) for name, values in POLICIES.items()}
