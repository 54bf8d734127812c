"""Shell history files, read as the shells write them, one `Entry` per command.

A line the reader cannot use (not UTF-8, a NUL byte, a last line cut before its newline,
a `#epoch` or `: start:elapsed;` header without its command) is yielded as None: the caller
counts it and stores nothing of it. Files are read line by line: memory stays bounded.

- bash: one line per command; with HISTTIMEFORMAT set, bash writes `#<epoch>` before each
  command, and a command of several lines (lithist) is every line up to the next `#<epoch>`.
- zsh: `: <start>:<elapsed>;<command>` with EXTENDED_HISTORY, else the bare command; a line
  ending in a backslash continues on the next one. Bytes 0x83-0xA2 are metafied (0x83, then
  the byte XOR 0x20), undone before the UTF-8 is decoded, as zsh's own `unmetafy` does.
- fish: `- cmd: <command>` then `  when: <epoch>` (and `  paths:`); `\\n` and `\\\\` escaped.
"""

import re
from collections.abc import Iterator

_EPOCH = re.compile(rb"#(\d{9,11})")
_EXTENDED = re.compile(rb": *(\d+):(\d+);(.*)", re.S)
_META = 0x83


class Entry:
    """One command: its line, start (Unix seconds, None where the file has no time) and
    duration in ms (zsh's elapsed seconds, None elsewhere)."""

    __slots__ = ("line", "started_at", "duration_ms")

    def __init__(self, line: str, started_at: float | None, duration_ms: int | None = None):
        self.line, self.started_at, self.duration_ms = line, started_at, duration_ms

    def __repr__(self) -> str:
        return f"Entry({self.line!r}, {self.started_at!r}, {self.duration_ms!r})"


def _lines(f) -> Iterator[bytes | None]:
    """The file's lines without their newline; None for a last line cut before its newline."""
    for raw in f:
        if raw.endswith(b"\n"):
            yield raw[:-1]
        else:
            yield None


def _text(raw: bytes) -> str | None:
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


SAMPLE_BYTES = 8192
NOT_TEXT_SHARE = 0.25  # of the sample's bytes NUL or not UTF-8: a binary file, not a history


def is_text(f, shell: str) -> bool:
    """Whether the file's start reads as text (zsh's once unmetafied): a history with a few
    damaged lines is still imported, less them; a file of which a quarter or more is NUL bytes
    or not UTF-8 (an executable, an archive, the wrong file) is no history at all."""
    sample = head(f)
    if shell == "zsh":
        sample = unmetafy(sample)
    bad = sample.count(b"\0") + sample.decode("utf-8", errors="replace").count("\ufffd")
    return bad < NOT_TEXT_SHARE * len(sample) or not sample


def head(f) -> bytes:
    """The file's first bytes (up to SAMPLE_BYTES), left unread: a history may come through
    a pipe (`devtrace import fish <(...)`), which cannot seek back."""
    return f.peek(SAMPLE_BYTES)[:SAMPLE_BYTES]


def bash_is_dated(f) -> bool:
    """Whether the file's first line is a `#<epoch>` line (HISTTIMEFORMAT was set)."""
    return _EPOCH.fullmatch(head(f).split(b"\n", 1)[0]) is not None


def read_bash(f, dated: bool) -> Iterator[Entry | None]:
    if not dated:
        for raw in _lines(f):
            line = None if raw is None else _text(raw)
            yield None if line is None else Entry(line, None)
        return
    when, broken = None, False
    parts: list[bytes] = []
    for raw in _lines(f):
        stamp = None if raw is None else _EPOCH.fullmatch(raw)
        if stamp is not None or raw is None:
            if when is not None or parts:
                yield _bash_entry(when, parts, broken)
            when, parts, broken = (int(stamp.group(1)) if stamp else None), [], raw is None
            continue
        parts.append(raw)
    if when is not None or parts:
        yield _bash_entry(when, parts, broken)


def _bash_entry(when: int | None, parts: list[bytes], broken: bool) -> Entry | None:
    line = _text(b"\n".join(parts))
    if broken or when is None or not parts or line is None:
        return None
    return Entry(line, float(when))


def unmetafy(raw: bytes) -> bytes:
    if _META not in raw:
        return raw
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == _META and i + 1 < len(raw):
            out.append(raw[i + 1] ^ 0x20)
            i += 2
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def read_zsh(f) -> Iterator[Entry | None]:
    parts: list[bytes] = []
    for raw in _lines(f):
        if raw is None:
            parts = []
            yield None
            continue
        if raw.endswith(b"\\") and not raw.endswith(b"\\\\"):
            parts.append(raw[:-1])
            continue
        parts.append(raw)
        yield _zsh_entry(b"\n".join(parts))
        parts = []
    if parts:
        yield None  # a continued line whose end never came


def _zsh_entry(raw: bytes) -> Entry | None:
    extended = _EXTENDED.fullmatch(raw)
    if extended is None:
        line = _text(unmetafy(raw))
        return None if line is None or raw.startswith(b": ") else Entry(line, None)
    line = _text(unmetafy(extended.group(3)))
    if line is None or not line:
        return None
    return Entry(line, float(extended.group(1)), int(extended.group(2)) * 1000)


def read_fish(f) -> Iterator[Entry | None]:
    command, when = None, None
    for raw in _lines(f):
        text = None if raw is None else _text(raw)
        if text is None:
            if command is not None:
                command = None
            yield None
            continue
        if text.startswith("- cmd: "):
            if command is not None:
                yield Entry(command, when)
            command, when = _fish_unescape(text[7:]), None
        elif text.startswith("  when: ") and command is not None:
            when = float(text[8:]) if text[8:].strip().isdigit() else None
    if command is not None:
        yield Entry(command, when)


def _fish_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)
