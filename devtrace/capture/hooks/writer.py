"""The hook writer: turns a command a shell or an agent reported into one stored event.

It runs in the drainer (or, for an earlier version's shell hook, in a detached writer),
after the command, so git and SQLite cost the user nothing. The command
line is split into words (identity.command_words) and hashed with the store's key; the line
itself is kept only redacted (devtrace.capture.redact), unless `command_text = "off"`, and
never logged.
"""

import os

from devtrace import paths
from devtrace.capture import event_ids, git, identity, scorer
from devtrace.capture.hooks import SHELLS
from devtrace.capture.recorder import Recorder
from devtrace.store import hook_state, insert_event
from devtrace.store.transaction import write_transaction


class Finished:
    """A command that ended, as a hook saw it. None where the shell or agent does not say.

    `session` is the agent's session id, or for a shell the raw id the shell made up (hashed
    here, with the store's key). `pair_key`: the end of a Pre/Post pair (Codex: tool_use_id;
    "" for Gemini, which pairs by the command's hash); the duration then comes from the pair.
    `call_id`: the agent's id of the tool call, which records it once however many of
    DevTrace's entries the agent ran for it (installed at two scopes, from two paths), and
    from which the event's id is derived (devtrace.capture.event_ids).
    `background`: reported at launch; a pair does not time it.
    `started_at`: the start as the shell measured it, where it did (microseconds, which
    `duration_ms` rounds away: two commands of a paste a fraction of a millisecond apart)."""

    __slots__ = ("captured_by", "line", "exit_code", "timed_out", "duration_ms", "ended_at", "session",
                 "cwd", "agent_id", "author_kind", "pair_key", "call_id", "background", "started_at")

    def __init__(self, captured_by: str, line: str, *, exit_code: int | None, timed_out: bool | None,
                 duration_ms: int | None, ended_at: float, session: str, cwd: str, agent_id: str | None,
                 author_kind: str, pair_key: str | None = None, call_id: str = "", background: bool = False,
                 started_at: float | None = None):
        self.captured_by, self.line, self.exit_code, self.timed_out = captured_by, line, exit_code, timed_out
        self.duration_ms, self.ended_at, self.session, self.cwd = duration_ms, ended_at, session, cwd
        self.agent_id, self.author_kind, self.pair_key, self.call_id = agent_id, author_kind, pair_key, call_id
        self.background, self.started_at = background, started_at


class Started:
    """The first half of a Pre/Post pair (Claude Code and Codex PreToolUse, Gemini BeforeTool)."""

    __slots__ = ("captured_by", "line", "session", "call_key", "started_at", "cwd")

    def __init__(self, captured_by: str, line: str, session: str, call_key: str, started_at: float, cwd: str = "/"):
        self.captured_by, self.line, self.session = captured_by, line, session
        self.call_key, self.started_at, self.cwd = call_key, started_at, cwd


class TurnEnded:
    """An agent's turn or session ended (Claude Code Stop/SessionEnd, Codex Stop): its starts
    still waiting for an end become events, each as `resolve(call_key, started_at)` says
    (an Outcome: exit_code, timed_out, duration_ms; None: not over, left pending)."""

    __slots__ = ("captured_by", "session", "at", "resolve")

    def __init__(self, captured_by: str, session: str, at: float, resolve):
        self.captured_by, self.session, self.at, self.resolve = captured_by, session, at, resolve


def store_path(path: str | None) -> str:
    """The hooks' store: --path given when the hook was set up, else $DEVTRACE_PATH, else
    ~/.devtrace (one store per user: a hook must not scatter stores over every folder)."""
    return os.path.abspath(os.path.expanduser(path or os.environ.get("DEVTRACE_PATH") or paths.DEFAULT_DIR))


def write(report: Finished | Started | TurnEnded, path: str | None) -> str | None:
    """Record the report in its own connection (the writer of an earlier version's shell hook);
    returns the event id, or None when nothing was recorded."""
    with Recorder(store_path(path)) as rec:
        event_id = record(rec, report)
        if event_id is not None:
            scorer.spawn(rec.directory)  # scores it in a detached process if there is a model
        return event_id


def record(rec: Recorder, report: Finished | Started | TurnEnded, event_id: str | None = None) -> str | None:
    """Record the report; returns the event id, or None when nothing was recorded (an ignored
    line, the first half of a pair, a turn's end). `event_id`: the id of an event that names
    no call (the drainer derives it from the spool record, so that reading the record again
    after a crash stores nothing twice); else a fresh one.

    The drainer hands an agent's reports over in the order they arrived: a Post finds its
    Pre already pending, and a turn's end finds the ends that came before it recorded."""
    if isinstance(report, TurnEnded):
        resolve_orphans(rec, report)
        return None
    words = identity.command_words(report.line)
    # a leading space keeps a line out of a shell's history, and so out of DevTrace: a human's
    # choice, which an agent's command line never expresses
    hidden = report.line[:1].isspace() and report.captured_by in SHELLS
    if not words or hidden or identity.runs_devtrace(words):
        return None
    root = git.find_repo(report.cwd)
    if _ignored(report.line, rec.settings.ignore):
        return None
    if not rec.settings.record_devtrace and _devtrace_command(words, report.line):
        return None
    session = report.session
    if isinstance(report, Started):
        command_hash = identity.command_hash(rec.key, words)
        program = identity.program(words) if rec.settings.record_program else None
        hook_state.add_pending(rec.conn, report.captured_by, session, report.call_key or command_hash,
                               report.started_at, command_hash, program, identity.repo_id(rec.key, root) if root else None)
        return None
    budget_s = rec.settings.git_timeout_ms / 1000
    pending = git.start_snapshot(root, budget_s=budget_s) if root else None  # git works meanwhile
    if report.captured_by in SHELLS:
        session = identity.shell_session_id(rec.key, report.captured_by, session)
    duration_ms, approximate = report.duration_ms, False
    if report.pair_key is not None:
        key = report.pair_key or identity.command_hash(rec.key, words)
        started = hook_state.take_pending(rec.conn, report.captured_by, session, key, report.ended_at)
        if duration_ms is None and started is not None and not report.background:
            duration_ms, approximate = max(0, round((report.ended_at - started) * 1000)), True
    after = git.finish_snapshot(root, pending) if root else None
    repo_id = identity.repo_id(rec.key, root) if root else None
    state = git.totals(after) if after is not None else (None, None, None)
    files = _hashed_paths(rec.key, after) if after is not None else None
    head = git.head(root) if root else None
    change = _change(rec, root, session, repo_id, head, files, budget_s)
    event = rec.event(
        words,
        line=report.line,
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
        head=head,
        line_count=line_count(report.line) if report.captured_by in SHELLS else None,
    )
    if event_id is not None and not report.call_id:
        event["id"] = event_id

    def also(conn):
        if report.call_id and not hook_state.first_report(conn, report.captured_by, session, report.call_id,
                                                           report.ended_at):
            raise _AlreadyRecorded
        if files is not None and repo_id is not None:
            hook_state.save_state(conn, session, repo_id, head, files, report.ended_at)
    try:
        inserted = insert_event(rec.conn, event, also,
                                new_id=None if report.call_id or event_id is not None else event_ids.live)
    except _AlreadyRecorded:
        return None
    if not inserted:
        return None  # this call's event is in the store already (an import, or this record before)
    return event["id"]


def build(rec: Recorder, report: Finished, exact_git: bool, states: dict | None = None, event_id: str | None = None):
    """A shell's finished command as the drainer stores it: (event, a function that saves the
    session's git state in the insert's transaction, that state as ((session, repo), (head,
    files)) or None), or None when the line is not recorded.

    `exact_git`: the working tree still shows the state the command left (its shell has not
    run anything since); otherwise the git columns are unknown (NULL) and the session's next
    observed command carries the change since the last observed state, so that a session's
    deltas add up and are never counted twice. `states`: the session states of the batch so
    far, {(session, repo): (head, files)}, consulted before the store."""
    words = identity.command_words(report.line)
    if not recorded(rec.settings, report.line, words, shell=True):
        return None
    session = identity.shell_session_id(rec.key, report.captured_by, report.session)
    root = git.find_repo(report.cwd) if exact_git else None
    budget_s = rec.settings.git_timeout_ms / 1000
    after = git.finish_snapshot(root, git.start_snapshot(root, budget_s=budget_s)) if root else None
    repo_id = identity.repo_id(rec.key, root) if root else None
    state = git.totals(after) if after is not None else (None, None, None)
    files = _hashed_paths(rec.key, after) if after is not None else None
    head = git.head(root) if root else None
    change = _change(rec, root, session, repo_id, head, files, budget_s, states)
    started_at = report.ended_at - (report.duration_ms or 0) / 1000 if report.started_at is None else report.started_at
    event = rec.event(
        words, line=report.line, started_at=started_at, duration_ms=report.duration_ms,
        exit_code=report.exit_code, timed_out=report.timed_out, session_id=session, agent_id=report.agent_id,
        author_kind=report.author_kind, captured_by=report.captured_by, repo_id=repo_id, state=state, change=change,
        line_count=line_count(report.line), head=head,
    )
    event["ended_at"] = report.ended_at  # the shell's own clock, not the start plus a rounded duration
    if event_id is not None:
        event["id"] = event_id
    also = saved = None
    if files is not None and repo_id is not None:
        saved = ((session, repo_id), (head, files))

        def also(conn):
            hook_state.save_state(conn, session, repo_id, head, files, report.ended_at)
    return event, also, saved


def resolve_orphans(rec: Recorder, report: TurnEnded) -> int:
    """Each start of the session still waiting for its end, written once as an event; how
    many were stored."""
    stored = 0
    for orphan in hook_state.orphans(rec.conn, report.captured_by, report.session, report.at):
        outcome = report.resolve(orphan.call_key, orphan.started_at)
        if outcome is None:  # not over yet (a background command still running)
            continue
        stored += _write_orphan(rec, report.captured_by, report.session, orphan, report.at, outcome.exit_code,
                                outcome.timed_out, outcome.duration_ms)
    return stored


def expire_orphans(rec: Recorder, now: float, resolve) -> int:
    """Each start of any session still waiting for its end a day after it started (its agent
    was killed: `claude -p` interrupted by SIGINT fires no end, no Stop, no SessionEnd),
    written once as an event, as `resolve(agent, session, orphan, now)` says (an Outcome; None:
    its end is unknown); how many were stored."""
    stored = 0
    for captured_by, session, orphan in hook_state.expired(rec.conn, now):
        outcome = resolve(captured_by, session, orphan, now)
        stored += _write_orphan(rec, captured_by, session, orphan, now, *(
            (outcome.exit_code, outcome.timed_out, outcome.duration_ms) if outcome else (None, None, None)))
    return stored


def _write_orphan(rec: Recorder, captured_by: str, session: str, orphan, at: float, exit_code: int | None,
                  timed_out: bool | None, duration_ms: int | None) -> int:
    event = rec.event([], started_at=orphan.started_at, duration_ms=duration_ms, exit_code=exit_code,
                      timed_out=timed_out, session_id=session, agent_id=captured_by, author_kind="agent",
                      captured_by=captured_by, repo_id=orphan.repo_id, state=(None, None, None),
                      change=(None, None, None), duration_approximate=duration_ms is not None,
                      call=(captured_by, session, orphan.call_key) if orphan.call_key else None)
    event["command_hash"], event["program"] = orphan.command_hash, orphan.program

    def also(conn):
        hook_state.drop_pending(conn, captured_by, session, orphan.call_key, orphan.started_at)
        if not hook_state.first_report(conn, captured_by, session, orphan.call_key, at):
            raise _AlreadyRecorded

    try:
        return int(bool(insert_event(rec.conn, event, also, new_id=None if orphan.call_key else event_ids.live)))
    except _AlreadyRecorded:  # its end was recorded already: only the start goes
        with write_transaction(rec.conn):
            hook_state.drop_pending(rec.conn, captured_by, session, orphan.call_key, orphan.started_at)
        return 0


class _AlreadyRecorded(Exception):
    """Another of DevTrace's entries already recorded this tool call: the transaction rolls back."""


def _change(rec: Recorder, root, session, repo_id, head, files, budget_s: float, states: dict | None = None) -> tuple:
    """What this command changed: its end state against the state the session's previous
    command in this repo left (unknown for a session's first command in a repo). If HEAD
    moved since (a commit, a checkout), the end state is measured against that earlier
    commit, so a commit is not mistaken for deleting what it committed."""
    if files is None or repo_id is None:
        return None, None, None
    previous = (states or {}).get((session, repo_id)) or hook_state.previous_state(rec.conn, session, repo_id)
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


def recorded(settings, line: str, words: list[str], shell: bool) -> bool:
    """Whether live capture records this command line at all (what `write` checks before it
    records; `devtrace import` applies the same rules)."""
    if not words or (shell and line[:1].isspace()) or _runs_devtrace(words) or _ignored(line, settings.ignore):
        return False
    return settings.record_devtrace or not _devtrace_command(words, line)


def _runs_devtrace(words: list[str]) -> bool:
    """`devtrace run ...` records itself: a hook seeing it would record the command twice."""
    index = identity.program_index(words)
    return index is not None and os.path.basename(words[index]) == "devtrace" and words[index + 1:index + 2] == ["run"]


def _devtrace_command(words: list[str], line: str) -> bool:
    """DevTrace's own commands (`devtrace events`, `python -m devtrace ...`, the rc file's
    `eval "$(devtrace hook bash)"`): not what a person wants to see their time go to."""
    index = identity.program_index(words)
    if index is None:
        return False
    name = os.path.basename(words[index])
    if name == "devtrace" or "devtrace hook " in line:
        return True
    return name.startswith("python") and words[index + 1:index + 2] == ["-m"] and \
        words[index + 2:index + 3] in (["devtrace"], ["devtrace.cli"])


def line_count(line: str) -> int | None:
    """How many non-blank lines a shell ran as this one line, where more than one: zsh and fish
    run a bracketed paste (and a command typed over continuation lines) as one line, one
    event whose exit code is its last command's; bash's hook sees each command of a paste.
    The same for an entry of a shell's history file (`devtrace import`)."""
    count = sum(1 for part in line.split("\n") if part.strip())
    return count if count > 1 else None


def _ignored(line: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return False
    import re

    return any(re.search(pattern, line.strip()) for pattern in patterns)

