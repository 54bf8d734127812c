"""Reading an agent's session transcript (JSON lines) from its end, within a bounded size: the
entry about one tool call is near the end when a hook asks for it."""

import json
import os
import stat

TAIL_BYTES = 8 * 1024 * 1024  # read back from the end at most
_CHUNK = 256 * 1024


def find(path, needle: str, accept) -> dict | None:
    """The last entry whose line holds `needle` and for which `accept(entry)` is true; if
    `accept` returns "maybe" for some, the last of those when no entry is accepted."""
    if not isinstance(path, str) or not needle:
        return None
    marker, fallback = needle.encode(), None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a FIFO would hold the drainer; a folder is no transcript
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            position, carry = end, b""
            while position > 0 and end - position < TAIL_BYTES:
                size = min(_CHUNK, position)
                position -= size
                f.seek(position)
                lines = (f.read(size) + carry).split(b"\n")
                carry = lines[0] if position > 0 else b""
                for line in reversed(lines[1:] if position > 0 else lines):
                    if marker not in line:
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    verdict = accept(entry) if isinstance(entry, dict) else False
                    if verdict is True:
                        return entry
                    if verdict == "maybe" and fallback is None:
                        fallback = entry
    except (OSError, ValueError):  # ValueError: a path with a NUL byte
        return None
    return fallback


def timestamp(entry: dict) -> float | None:
    """An entry's (or a payload's) ISO 8601 `timestamp` as unix seconds."""
    return seconds(entry.get("timestamp"))


def seconds(stamp) -> float | None:
    """An ISO 8601 timestamp (Z or offset) as unix seconds; None if it is not one."""
    from datetime import datetime

    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None
