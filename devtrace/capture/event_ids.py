"""The one rule for event ids (standard library only): the hooks, `devtrace run` and any
importer of agent transcripts call these, so that the same command gets the same id wherever
it is recorded from.

- A live command (`devtrace run`, a shell hook, an agent hook that names no call) gets a
  UUIDv7: 48 bits of Unix milliseconds then 74 random bits, so ids sort by time and two
  machines' ids collide with negligible chance (the central identity is (machine, id) anyway).
- An agent's tool call, which the agent names itself (Claude Code's and Codex's
  `tool_use_id`), gets a UUIDv5 of (agent, the agent's session id, that call id): a hook and
  a later import of the same call agree, and the second is recognised as the same event.
"""

import os
import time
import uuid

try:
    from _sha1 import sha1  # the interpreter's built-in SHA-1: hashlib would load OpenSSL
except ImportError:  # an interpreter built without it
    from hashlib import sha1

NAMESPACE = uuid.UUID("5d1c3a64-0b6e-4f4e-9a39-6d2f1f0c7e23")
"""DevTrace's UUIDv5 namespace for agent calls (a fixed random UUID: changing it changes every id)."""
_NAMESPACE_BYTES = NAMESPACE.bytes


def live(now_ns: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) for an event recorded as it happens."""
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | (rand & (2**62 - 1))
    return str(uuid.UUID(int=value))


def of_call(agent: str, session: str, call: str) -> str:
    """A UUIDv5 of an agent's tool call: the same (agent, session, call) always gives the same id."""
    return uuid5("\x1f".join((agent, session, call)))


def of_history(source: str, when: str, command_hash: str) -> str:
    """A UUIDv5 of an imported history entry: its source (`import-zsh`), its time (or, for a
    file without times, its occurrence) and its command's hash, so a second import is a no-op.
    The hash is made with the store's import.key, which no key change touches (before it
    existed: with the key of the time, see devtrace.capture.imports.recording)."""
    return uuid5("\x1f".join(("history", source, when, command_hash)))


def uuid5(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))`, at a third of its cost (an import makes one per
    history line): SHA-1 of the namespace and the name, version 5 and the RFC variant set."""
    digest = bytearray(sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50
    digest[8] = digest[8] & 0x3F | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
