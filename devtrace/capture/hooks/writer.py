"""The hook writer: turns a command a shell or an agent reported into one stored event.

It runs detached, after the command, so git and SQLite cost the user nothing. The command
line is split into words (identity.command_words), hashed with the store's key and dropped:
no text, argument or path of it is stored or logged.
"""

import os

from devtrace import paths
from devtrace.capture import event_ids, git, identity, scorer
from devtrace.capture.hooks import SHELLS
from devtrace.capture.recorder import Recorder
from devtrace.store import hook_state, insert_event


class Finished:
    """A command that ended, as a hook saw it. None where the shell or agent does not say.

    `session` is the agent's session id, or for a shell the raw id the shell made up (hashed
    here, with the store's key). `pair_key`: the end of a Pre/Post pair (Codex: tool_use_id;
    "" for Gemini, which pairs by the command's hash); the duration then comes from the pair.
    `call_id`: the agent's own id for the tool call (Claude Code's and Codex's tool_use_id),
    from which the event's id is derived (devtrace.capture.event_ids)."""

    __slots__ = ("captured_by", "line", "exit_code", "timed_out", "duration_ms", "ended_at", "session",
                 "cwd", "agent_id", "author_kind", "pair_key", "call_id")

    def __init__(self, captured_by: str, line: str, *, exit_code: int | None, timed_out: bool | None,
                 duration_ms: int | None, ended_at: float, session: str, cwd: str, agent_id: str | None,
                 author_kind: str, pair_key: str | None = None, call_id: str | None = None):
        self.captured_by, self.line, self.exit_code, self.timed_out = captured_by, line, exit_code, timed_out
        self.duration_ms, self.ended_at, self.session, self.cwd = duration_ms, ended_at, session, cwd
        self.agent_id, self.author_kind, self.pair_key, self.call_id = agent_id, author_kind, pair_key, call_id


class Started:
    """The first half of a Pre/Post pair (Codex PreToolUse, Gemini BeforeTool)."""

    __slots__ = ("captured_by", "line", "session", "call_key", "started_at")

    def __init__(self, captured_by: str, line: str, session: str, call_key: str, started_at: float):
        self.captured_by, self.line, self.session = captured_by, line, session
        self.call_key, self.started_at = call_key, started_at


def store_path(path: str | None) -> str:
    """The hooks' store: --path given when the hook was set up, else $DEVTRACE_PATH, else
    ~/.devtrace (one store per user: a hook must not scatter stores over every folder)."""
    return os.path.abspath(os.path.expanduser(path or os.environ.get("DEVTRACE_PATH") or paths.HOOKS_STORE))


def write(report: Finished | Started, path: str | None) -> str | None:
    """Record the report; returns the event id, or None when nothing was recorded (an ignored
    line, the first half of a pair)."""
    words = identity.command_words(report.line)
    if not words or report.line[:1].isspace() or _runs_devtrace(words):
        return None
    root = git.find_repo(report.cwd) if isinstance(report, Finished) else None
    with Recorder(store_path(path)) as rec:
        if _ignored(report.line, rec.settings.ignore):
            return None
        budget_s = rec.settings.git_timeout_ms / 1000
        pending = git.start_snapshot(root, budget_s=budget_s) if root else None  # git works meanwhile
        session = report.session
        if report.captured_by in SHELLS:
            session = "ses_" + identity.keyed_hash(rec.key, f"{report.captured_by}:{session}")[:16]
        if isinstance(report, Started):
            key = report.call_key or identity.command_hash(rec.key, words)
            hook_state.add_pending(rec.conn, report.captured_by, session, key, report.started_at)
            return None
        duration_ms, approximate = report.duration_ms, False
        if report.pair_key is not None:
            key = report.pair_key or identity.command_hash(rec.key, words)
            started = hook_state.take_pending(rec.conn, report.captured_by, session, key)
            duration_ms = None if started is None else max(0, round((report.ended_at - started) * 1000))
            approximate = started is not None
        after = git.finish_snapshot(root, pending)
        repo_id = identity.repo_id(rec.key, root) if root else None
        state = git.totals(after) if after is not None else (None, None, None)
        files = _hashed_paths(rec.key, after) if after is not None else None
        head = git.head(root) if root else None
        change = _change(rec, root, session, repo_id, head, files, budget_s)
        event = rec.event(
            words,
            started_at=report.ended_at - (duration_ms or 0) / 1000,
            duration_ms=duration_ms,
            exit_code=report.exit_code,
            timed_out=report.timed_out,
            session_id=session,
            agent_id=report.agent_id,
            author_kind=report.author_kind,
            captured_by=report.captured_by,
            repo_id=repo_id,
            state=state,
            change=change,
            duration_approximate=approximate,
            call=(report.captured_by, report.session, report.call_id) if report.call_id else None,
        )
        also = None
        if files is not None and repo_id is not None:
            def also(conn):
                hook_state.save_state(conn, session, repo_id, head, files, report.ended_at)
        if not insert_event(rec.conn, event, also, new_id=None if report.call_id else event_ids.live):
            return None  # this call was recorded already
        scorer.spawn(rec.directory)  # scores it in a detached process if there is a model
        return event["id"]


def _change(rec: Recorder, root, session, repo_id, head, files, budget_s: float) -> tuple:
    """What this command changed: its end state against the state the session's previous
    command in this repo left (unknown for a session's first command in a repo). If HEAD
    moved since (a commit, a checkout), the end state is measured against that earlier
    commit, so a commit is not mistaken for deleting what it committed."""
    if files is None or repo_id is None:
        return None, None, None
    previous = hook_state.previous_state(rec.conn, session, repo_id)
    if previous is None:
        return None, None, None
    before_head, before = previous
    if before_head == head:
        return git.delta(before, files)
    from_before = git.finish_snapshot(root, git.start_snapshot(root, before_head, budget_s))
    if from_before is None:
        return None, None, None
    return git.delta(before, _hashed_paths(rec.key, from_before))


def _hashed_paths(key: bytes, snapshot: git.Snapshot) -> dict:
    """The snapshot with each path replaced by its keyed hash: the writer keeps git states in
    the store between commands, and no path may be stored."""
    return {identity.keyed_hash(key, path)[:32]: counts for path, counts in snapshot.items()}


def _runs_devtrace(words: list[str]) -> bool:
    """`devtrace run ...` records itself: a hook seeing it would record the command twice."""
    index = identity.program_index(words)
    return index is not None and os.path.basename(words[index]) == "devtrace" and words[index + 1:index + 2] == ["run"]


def _ignored(line: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return False
    import re

    return any(re.search(pattern, line.strip()) for pattern in patterns)

