"""The store's hashing key, `<path>/hash.key`: every command hash and session id depends on it.

A new store gets a random key. After that the key never changes by accident: a missing or
empty key on a store that holds events is refused (a silently new key would split every
command's history in two); `rotate_key` is the deliberate way to start a new one.
"""

import os
import time

from devtrace import paths
from devtrace.store.errors import StoreError


def key_file(directory: str) -> str:
    return os.path.join(directory, paths.KEY_NAME)


def read_key(directory: str) -> bytes:
    """The key, or a StoreError saying how to restore or deliberately replace it."""
    file = key_file(directory)
    try:
        with open(file, "rb") as f:
            key = f.read().strip()
    except FileNotFoundError:
        raise StoreError(f"{file} is missing: {_remedy(directory)}") from None
    if not key:
        raise StoreError(f"{file} is empty: {_remedy(directory)}")
    return key


def _remedy(directory: str) -> str:
    return (
        "restore it from a backup (every command hash depends on it), or start a new key deliberately with "
        f"`devtrace key rotate --path {directory}` (commands captured after that hash differently)"
    )


def create_key(directory: str) -> None:
    """Write a random key readable by the owner only, unless there is one (many may race)."""
    _create(key_file(directory))


def _create(file: str) -> None:
    if os.path.exists(file):
        return
    tmp = _write_new_key(file)
    try:
        os.link(tmp, file)  # atomic, and never replaces a key another process just wrote
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def retired_keys(directory: str) -> list[bytes]:
    """The keys `rotate_key` retired, oldest first (one unreadable or empty is left out)."""
    prefix = f"{paths.KEY_NAME}.retired-"
    keys = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(prefix):
            try:
                with open(os.path.join(directory, name), "rb") as f:
                    key = f.read().strip()
            except OSError:
                continue
            if key:
                keys.append(key)
    return keys


def import_key(directory: str) -> bytes:
    """`<path>/import.key`, made on first use: the secret an imported history entry's id is
    derived from (devtrace.capture.event_ids.of_history). Unlike hash.key it is never rotated
    nor replaced by the organisation's key, so an entry keeps its id across every key change;
    it never leaves the machine, so an id (which is synced) cannot be tested against guessed
    commands. A lost one makes the next import add entries imported before once more."""
    file = os.path.join(directory, paths.IMPORT_KEY_NAME)
    _create(file)
    with open(file, "rb") as f:
        key = f.read().strip()
    if not key:
        raise StoreError(f"{file} is empty: restore it from a backup, or delete it (the next import then adds "
                         "the history entries imported before once more)")
    return key


def rotate_key(directory: str) -> str | None:
    """Start a new key; the old one, if any, is kept beside it as `hash.key.retired-<UTC time>`
    (`-2`, `-3`... after it for another rotation within the same second).
    Returns the retired key's file name, or None when there was no key."""
    file = key_file(directory)
    retired = None
    if os.path.exists(file):
        stamp = f"{file}.retired-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        retired, n = stamp, 1
        while True:  # a second rotation within the same second keeps both retired keys
            try:
                os.link(file, retired)
                break
            except FileExistsError:
                n += 1
                retired = f"{stamp}-{n}"
    tmp = _write_new_key(file)
    os.replace(tmp, file)
    return retired


def _write_new_key(file: str) -> str:
    tmp = f"{file}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, os.urandom(32).hex().encode() + b"\n")
    finally:
        os.close(fd)
    return tmp
