"""The organisation's hash key: created with the central database, handed out at enrollment."""

import os

from devtrace.capture.identity import key_fingerprint


def new_hash_key() -> tuple[str, str]:
    """A random key (64 hex characters, the form a store's own hash.key has) and its fingerprint."""
    key = os.urandom(32).hex()
    return key, key_fingerprint(key.encode())


def current_key(tx) -> tuple[str, str]:
    """(key, fingerprint) handed to machines that enroll: the newest one."""
    return tx.execute("SELECT hash_key, fingerprint FROM hash_keys ORDER BY created_at DESC LIMIT 1")[0]
