"""Turn a finished command and its git snapshots into one stored event."""

import os
import sqlite3

from devtrace import settings as settings_mod
from devtrace.capture import event_ids, git, identity, redact, scorer
from devtrace.paths import store_dir
from devtrace.store import create_store, insert_event


class Recorder:
    """The store's settings and hashing key, and a connection to it; `record` spools one event.

    `connect=False` (`devtrace run` on a store another process holds locked): no SQLite at
    all, the event goes through the spool and the drainer writes it."""

    def __init__(self, path: str | None, connect: bool = True, busy_timeout_s: float | None = None) -> None:
        self.directory = store_dir(path)
        # None only without a connection (connect=False), where record() spools and nothing reads it
        self.conn: sqlite3.Connection = None  # type: ignore[assignment]
        if connect:
            self.conn = (create_store(self.directory) if busy_timeout_s is None
                         else create_store(self.directory, busy_timeout_s=busy_timeout_s))

    def __enter__(self) -> "Recorder":
        try:
            self.settings, self.problems = settings_mod.load(self.directory)
            self.key = identity.load_key(self.directory, self.settings)
            self.fingerprint = identity.key_fingerprint(self.key)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def record(self, argv, options, outcome, root, before, after, after_from_start, moved=False, head=None) -> str:
        """Store the event (unless it is a no-op) and return the summary line for the user.

        `before` and `after` are snapshots against HEAD at each moment; `after_from_start` is
        the end state against the commit the command started from (the change it made);
        `head` is the commit HEAD points at once it ended.
        Every command is recorded unless the no-op rule is asked for (`skip_noop`, DevTrace
        0.2.0's default): a no-op left the tree clean, changed nothing in it and did not move
        HEAD (`moved`): a commit, or a stash of a dirty tree, is not one. Unknown (None) is not
        zero. `keep_noop` overrides `skip_noop`."""
        state = git.totals(after) if after is not None else (None, None, None)
        known = before is not None and after_from_start is not None
        change = git.delta(before, after_from_start) if known else (None, None, None)
        took = f"exit {outcome.exit_code}{' (timed out)' if outcome.timed_out else ''} · {outcome.duration_ms} ms"
        noop = state == (0, 0, 0) and change == (0, 0, 0) and not moved
        skip = options.get("skip_noop") or self.settings.skip_noop
        if noop and skip and not (options.get("keep_noop") or self.settings.keep_noop):
            return f"{took} · not recorded: no changes in the working tree (skip_noop; --keep-noop records it)"
        agent = _text(options.get("agent") or os.environ.get("DEVTRACE_AGENT"))
        event = self.event(
            argv,
            line=_line_of(argv),
            started_at=outcome.started_at,
            duration_ms=outcome.duration_ms,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            session_id=identity.session_id(self.key),
            agent_id=agent,
            author_kind=_run_author(agent),
            captured_by="run",
            repo_id=identity.repo_id(self.key, root) if root else None,
            state=state,
            change=change,
            head=head,
        )
        if not self._insert(event):  # the store is busy: the drainer writes it, and starts the scorer
            from devtrace.capture import drainer

            drainer.spool_event(self.directory, event, options.get("model_dir"))
        else:
            scorer.spawn(self.directory, options.get("model_dir"), self.settings.sync_auto)  # in a detached process
        if after is None:
            where = "git state unknown" if root else "not a git repo"
        else:
            where = f"working tree {_files(state)}"
            if change[0] is not None:
                where += f" · this command {_files(change)}"
        return f"{took} · {where} · recorded {event['id']}"

    def _insert(self, event: dict) -> bool:
        """Write the event now; False when another process holds the store's lock (the
        connection's busy timeout)."""
        if self.conn is None:
            return False
        try:
            insert_event(self.conn, event, new_id=event_ids.live)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return False
            raise
        return True

    def event(self, words: list[str], *, line: str = "", started_at: float, duration_ms: int | None, exit_code: int | None,
              timed_out: bool | None, session_id: str | None, agent_id: str | None, author_kind: str | None,
              captured_by: str, repo_id: str | None, state: tuple, change: tuple,
              duration_approximate: bool = False, call: tuple[str, str, str] | None = None,
              head: str | None = None, line_count: int | None = None) -> dict:
        """The one place an event's columns are filled, for `devtrace run` and every hook.

        `words` is the command as words (argv, or a line split by identity.command_words),
        `line` the command line they came from (kept redacted, see devtrace.capture.redact;
        empty: no text, as for an agent's start whose end never came);
        `state` and `change` are (files, lines added, lines deleted), None where unknown;
        `call` is (agent, the agent's session id, its id for the tool call) when the agent
        names the call: the event's id is then derived from it (see event_ids);
        `head` is the commit HEAD points at after the command (stored as a keyed hash);
        `line_count`: the lines of a shell's line that ran as this one event (a paste), where
        more than one: the event then names no program, the first line's not being the event's."""
        return {
            "id": event_ids.of_call(*call) if call else event_ids.live(),
            "agent_id": agent_id,
            "executed_at": started_at,
            "command_hash": identity.command_hash(self.key, words),
            "duration_ms": duration_ms,
            "exit_code": exit_code,
            "timed_out": None if timed_out is None else int(timed_out),
            "files_touched_count": state[0],
            "lines_added": state[1],
            "lines_deleted": state[2],
            "started_at": started_at,
            "ended_at": started_at + (duration_ms or 0) / 1000,
            "session_id": _text(session_id),
            "repo_id": repo_id,
            "program": _program(words, exit_code) if self.settings.record_program and line_count is None else None,
            "delta_files": change[0],
            "delta_lines_added": change[1],
            "delta_lines_deleted": change[2],
            "author_kind": author_kind,
            "captured_by": captured_by,
            "duration_approximate": int(duration_approximate),
            "key_fingerprint": self.fingerprint,
            "head_hash": "head_" + identity.keyed_hash(self.key, head)[:16] if head else None,
            "line_count": line_count,
            "command_text": _text(redact.stored_text(line, exit_code)) if self.settings.command_text == "redacted" else None,
        }


def _program(words: list[str], exit_code: int | None) -> str | None:
    """The program's name, unless the shell did not find it (exit 127: the "program" is
    often a password typed at the prompt) or it looks like a secret itself."""
    name = _text(identity.program(words))
    if exit_code == 127 or name is None or redact.redact(name) != name:
        return None
    return name


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")


def _line_of(argv: list[str]) -> str:
    """`devtrace run`'s command as a shell line, each word quoted as a POSIX shell needs it
    (shlex.join's rule, without importing shlex on the capture path)."""
    return " ".join(w if w and _PLAIN.issuperset(w) else "'" + w.replace("'", "'\"'\"'") + "'" for w in argv)


def _run_author(agent: str | None) -> str | None:
    """Who ran `devtrace run`: an agent when one is named or its environment is there, a
    person when it runs on a terminal, else unknown (a script, CI)."""
    if agent or identity.agent_from_environment():
        return "agent"
    return "human" if os.isatty(0) or os.isatty(2) else None


def _text(value: str | None) -> str | None:
    """Text for the store: bytes that are not UTF-8 (argv, environment) become U+FFFD."""
    if not value:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _files(counts: tuple) -> str:
    files, added, deleted = counts
    return f"{files} file{'' if files == 1 else 's'} +{added} -{deleted}"
