"""Imported commands become events through the Recorder's own `event` (keyed hash, program,
author_kind, ... as live capture fills them), in batches, each id derived from what the
entry is (devtrace.capture.event_ids), so that importing twice adds nothing, whatever key
changes (`devtrace key rotate`, `devtrace sync login`) came between.

- Shell entries: the id of (source, time, the command hashed with import.key, which no key
  change touches). An entry imported before import.key existed has the id of its keyed
  command hash under the key of that time: it is looked for under every key the store holds
  and every hash command_identity maps to the current one (_EarlierIds).
  Only entries older than the first event that shell's live hook recorded
  (unless `everything`): the hook has the rest, with exit codes and git state. No git
  columns (NULL: the past state is unknown, not zero); `duration_approximate` is set for
  `--undated` entries, whose time is approximate too.
- Agent calls: the id of (agent, session, call id), which the agent's hook gives the same
  call (Claude Code, Codex); Gemini's hook sees no call id, so a Gemini call already recorded
  by its hook (same session and command under any key the store holds, within 10 s) is not
  imported again.
"""

import os
import time
from collections.abc import Iterable, Iterator

from devtrace.capture import event_ids, git, identity
from devtrace.capture.hooks import writer
from devtrace.capture.imports import histories, prices, transcripts
from devtrace.capture.recorder import Recorder
from devtrace.store import insert_rows
from devtrace.store.key import import_key

BATCH = 10_000
CACHE_KIB = 64 * 1024  # SQLite's page cache for an import: the id index takes rows in random order
BUILT_CACHE = 50_000
GEMINI_HOOK_WINDOW_S = 10.0
NO_GIT = (None, None, None)


class Counts:
    """What an import found and did. `damaged`: lines skipped as unreadable; `ignored`:
    commands live capture would not record either (devtrace run, `ignore` patterns, a
    leading space at a shell prompt); `live`: shell entries the hook covers; `present`:
    already stored."""

    __slots__ = ("read", "added", "present", "live", "ignored", "damaged", "earlier", "files", "sessions")

    def __init__(self):
        self.read = self.added = self.present = self.live = self.ignored = self.damaged = self.earlier = 0
        self.files = self.sessions = 0


class _Batcher:
    """Events on their way to the store, as rows of one column list, inserted BATCH at a time
    in one transaction each (INSERT OR IGNORE: an id stored already is counted as present).
    A row may come with the ids an earlier import may have given it (`aliases`): if one of
    them is stored, the row is present too."""

    def __init__(self, rec: Recorder, counts: Counts, dry_run: bool):
        self.rec, self.counts, self.dry_run = rec, counts, dry_run
        self.columns: list[str] = []
        self.rows: list[list] = []
        self.aliases: list[tuple[str, ...]] = []

    def add(self, event: dict) -> None:
        if not self.columns:
            self.columns = list(event)
        self.add_row(list(event.values()))

    def add_row(self, row: list, aliases: tuple[str, ...] = ()) -> None:
        self.rows.append(row)
        self.aliases.append(aliases)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self, also=None) -> None:
        rows, self.rows = self.rows, []
        aliases, self.aliases = self.aliases, []
        earlier = 0
        if any(aliases):  # rows stored under their id are left out, then those stored under an alias
            at = self.columns.index("id")
            stored = self._stored([row[at] for row in rows])
            pairs = [(row, group) for row, group in zip(rows, aliases, strict=True) if row[at] not in stored]
            stored = self._stored([alias for _, group in pairs for alias in group])
            kept = [row for row, group in pairs if stored.isdisjoint(group)]
            earlier, rows = len(rows) - len(kept), kept
        if self.dry_run:
            at = self.columns.index("id") if rows else 0
            ids = {row[at] for row in rows}
            new = len(ids - self._stored(list(ids)))
        else:
            new = insert_rows(self.rec.conn, self.columns, rows, also)
        self.counts.added += new
        self.counts.present += len(rows) - new + earlier

    def _stored(self, ids: list[str]) -> set[str]:
        stored: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            stored.update(row[0] for row in self.rec.conn.execute(
                f"SELECT id FROM command_events WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
        return stored


class _EarlierIds:
    """The keyed command hashes an entry may have been stored under by an earlier import or
    hook: the hash under each key the store holds (devtrace.capture.identity.held_keys), and
    each recorded hash `command_identity` maps to the current one (an older key's, re-hashed
    from its stored text at the key change, whether or not that key is still held)."""

    def __init__(self, rec: Recorder):
        self.others = [key for key in identity.held_keys(rec.directory, rec.settings) if key != rec.key]
        self.mapped: dict[str, list[str]] = {}
        for recorded, current in rec.conn.execute("SELECT command_hash, current_hash FROM command_identity"):
            self.mapped.setdefault(current, []).append(recorded)

    def hashes(self, words: list[str], current_hash: str) -> tuple[str, ...]:
        """The hashes of `words`, whose hash under the current key is `current_hash` (first)."""
        found = [current_hash, *(identity.command_hash(key, words) for key in self.others),
                 *self.mapped.get(current_hash, ())]
        return tuple(dict.fromkeys(found))


def _keep(rec: Recorder, line: str, words: list[str], shell: bool) -> bool:
    return writer.recorded(rec.settings, line, words, shell)


def first_live(rec: Recorder, shell: str) -> float | None:
    """When that shell's hook recorded its first event in this store (None: never)."""
    return rec.conn.execute("SELECT min(executed_at) FROM command_events WHERE captured_by = ?", (shell,)).fetchone()[0]


def history(shell: str, entries: Iterable[histories.Entry | None], path: str | None, *, everything: bool = False,
            undated_before: float | None = None, dry_run: bool = False) -> Counts:
    """Store a shell's history entries. `undated_before`: the entries have no times (bash
    without HISTTIMEFORMAT, zsh without EXTENDED_HISTORY); they are placed one second apart
    ending at that time (the file's modification time), in the file's order."""
    counts = Counts()
    source = f"import-{shell}"
    with Recorder(writer.store_path(path)) as rec:
        rec.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        cutoff = None if everything else first_live(rec, shell)
        batch = _Batcher(rec, counts, dry_run)
        secret = import_key(rec.directory)
        # ids of the form before import.key: only a store that has imported from this shell holds them
        earlier = _EarlierIds(rec) if _imported_before(rec, source) else None
        occurrences: dict[str, int] = {}
        undated = list(entries) if undated_before is not None else None  # entries only, never the file
        stream = undated if undated is not None else entries
        # A history repeats its commands: each distinct line is built into an event once (hash,
        # program, redacted text), then each run of it is a copy of that row with its own times
        # and id, made of the line's hash under import.key (and the hashes an earlier import
        # may have used). None: not kept.
        built: dict[str, tuple[list, str, tuple[str, ...]] | None] = {}
        at_id = at_executed = at_started = at_ended = at_duration = 0  # per-run columns: where in a row
        for index, entry in enumerate(stream):
            if entry is None:
                counts.damaged += 1
                continue
            counts.read += 1
            line = entry.line
            if line not in built:
                if len(built) >= BUILT_CACHE:
                    built.clear()
                words = identity.command_words(line)
                event = _history_event(rec, line, words, source, undated is not None)
                if event is not None and not batch.columns:
                    batch.columns = list(event)
                    at_id, at_executed, at_started, at_ended, at_duration = (batch.columns.index(name) for name in (
                        "id", "executed_at", "started_at", "ended_at", "duration_ms"))
                built[line] = None if event is None else (
                    list(event.values()), identity.command_hash(secret, words),
                    () if earlier is None else earlier.hashes(words, event["command_hash"]))
            template = built[line]
            if template is None:
                counts.ignored += 1
                continue
            if undated is not None and undated_before is not None:
                started_at = undated_before - (len(undated) - index)
            elif entry.started_at is None:
                counts.damaged += 1  # an entry without time in a dated file
                continue
            else:
                started_at = entry.started_at
            if cutoff is not None and started_at >= cutoff:
                counts.live += 1
                continue
            values, entry_hash, earlier_hashes = template
            duration_ms = None if undated is not None else entry.duration_ms
            if undated is not None:  # no time to tell two runs apart: the nth run of this command
                nth = occurrences[entry_hash] = occurrences.get(entry_hash, 0) + 1
                when = f"#{nth}"
            else:
                when = repr(started_at)
            row = values.copy()
            row[at_id] = event_ids.of_history(source, when, entry_hash)
            row[at_executed] = row[at_started] = started_at
            row[at_ended] = started_at + (duration_ms or 0) / 1000
            row[at_duration] = duration_ms
            batch.add_row(row, tuple(event_ids.of_history(source, when, h) for h in earlier_hashes))
        batch.flush()
    return counts


def _imported_before(rec: Recorder, source: str) -> bool:
    return rec.conn.execute("SELECT 1 FROM command_events WHERE captured_by = ? LIMIT 1", (source,)).fetchone() is not None


def _history_event(rec: Recorder, line: str, words: list[str], source: str, undated: bool) -> dict | None:
    """The event of a history line, built by the Recorder like a live one (its times are set
    per run by the caller); None when live capture would not record the line."""
    if not _keep(rec, line, words, shell=True):
        return None
    return rec.event(words, line=line, started_at=0.0, duration_ms=None, exit_code=None, timed_out=None,
                     session_id=None, agent_id=None, author_kind="human", captured_by=source, repo_id=None,
                     state=NO_GIT, change=NO_GIT, duration_approximate=undated, line_count=writer.line_count(line))


def agent(agent_name: str, files: Iterable[str], path: str | None, *, since: float | None = None,
          dry_run: bool = False, progress=None) -> Counts:
    """Store the shell calls of an agent's transcript files and each session's usage.
    `progress(n)` is told of each n more bytes read."""
    reader = transcripts.READERS[agent_name]
    counts = Counts()
    with Recorder(writer.store_path(path)) as rec:
        rec.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        batch = _Batcher(rec, counts, dry_run)
        repos: dict[str, str | None] = {}
        hooked: dict[str, dict[str, list[float]]] = {}  # Gemini session -> its hook's commands and times
        earlier = _EarlierIds(rec) if agent_name == "gemini" else None
        for file in files:
            sessions = transcripts.Sessions()
            try:
                f = open(file, "rb")
            except OSError:
                counts.damaged += 1
                continue
            counts.files += 1
            with f:
                for call in _counted(reader(f, sessions), progress, f):
                    if call is None:
                        counts.damaged += 1
                        continue
                    counts.read += 1
                    if since is not None and call.started_at < since:
                        counts.earlier += 1
                        continue
                    event = _call_event(rec, call, repos)
                    if event is None:
                        counts.ignored += 1
                    elif earlier is not None and _hooked(rec, event, earlier.hashes(
                            identity.command_words(call.line), event["command_hash"]), hooked):
                        counts.present += 1
                    else:
                        batch.add(event)
            counts.sessions += len(sessions.span)
            batch.flush(also=None if dry_run else (lambda conn, s=sessions: save_usage(conn, s)))
        if not dry_run:
            prices.store(rec.conn, rec.directory)
    return counts


def _counted(calls: Iterator, progress, f) -> Iterator:
    done = 0
    for call in calls:
        if progress is not None:
            position = f.tell()
            progress(position - done)
            done = position
        yield call


def _call_event(rec: Recorder, call: transcripts.Call, repos: dict) -> dict | None:
    words = identity.command_words(call.line)
    if not _keep(rec, call.line, words, shell=False):
        return None
    if call.cwd is not None and call.cwd not in repos:
        root = git.find_repo(call.cwd) if os.path.isdir(call.cwd) else None
        repos[call.cwd] = identity.repo_id(rec.key, root) if root else None
    return rec.event(words, line=call.line, started_at=call.started_at, duration_ms=call.duration_ms, exit_code=call.exit_code,
                     timed_out=call.timed_out, session_id=call.session, agent_id=call.agent, author_kind="agent",
                     captured_by=f"import-{call.agent}", repo_id=repos.get(call.cwd), state=NO_GIT, change=NO_GIT,
                     duration_approximate=call.approximate,
                     call=(call.agent, call.session, call.call_id))


def _hooked(rec: Recorder, event: dict, hashes: tuple[str, ...], hooked: dict[str, dict[str, list[float]]]) -> bool:
    """Whether Gemini's hook recorded this command (under one of its `hashes`) in this session
    within the window. A session's hooked commands are read once, when its first call is met."""
    session = event["session_id"]
    if session not in hooked:
        found: dict[str, list[float]] = {}
        for command_hash, at in rec.conn.execute(
                "SELECT command_hash, executed_at FROM command_events WHERE session_id = ? AND captured_by = 'gemini'",
                (session,)):
            found.setdefault(command_hash, []).append(at)
        hooked[session] = found
    at = event["executed_at"]
    return any(abs(at - t) <= GEMINI_HOOK_WINDOW_S for h in hashes for t in hooked[session].get(h, ()))


def save_usage(conn, sessions: transcripts.Sessions) -> None:
    """Each session's usage as its transcript gives it now (a re-import replaces, never adds)."""
    now = time.time()
    for (agent_name, session, model), usage in sessions.usage.items():
        start, end, turns, tool_calls = sessions.span.get((agent_name, session), (None, None, 0, 0))
        conn.execute(
            "INSERT OR REPLACE INTO agent_session_usage (agent, session_id, model, started_at, ended_at, turns,"
            " tool_calls, requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, imported_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (agent_name, session, model, start, end, turns, tool_calls, usage.requests, usage.input, usage.output,
             usage.cache_read, usage.cache_write, now))
