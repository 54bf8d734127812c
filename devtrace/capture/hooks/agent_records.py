"""The drainer's side of the agent hooks: each `agent AGENT` spool record (one hook payload, as
agent.sh spooled it) becomes the report `agents.parse` reads from it, recorded by the writer,
in the order the payloads arrived (each record's modification time, which is also the time
the hook was called where the agent gives none of its own; it moves in clock ticks of a few
milliseconds, and within one tick starts go first, turn ends last).

In that order a Post finds its Pre pending (the agent waits for the Pre hook before it runs
the command), so nothing waits for a start. A turn's end (Stop, SessionEnd) takes its place
TURN_END_GRACE_S after it arrived, and is held back until then: an end that arrives up to
that long after it (two of DevTrace's entries run in parallel, a hook the agent started
late) is recorded first, with its exact exit, before the turn's end resolves the starts
still waiting as orphans. However late the drainer takes the records, the order is the
same: it depends on when the agent called the hooks, not on when they were processed.
A call's end whose outcome the agent is still writing to its transcript (a call Codex's
sandbox refused) waits too, until it is there or for OUTCOME_GRACE_S at most, and every
record after it waits with it: nothing after it in the order is recorded before it, its
turn's end included.
At a turn's end (Gemini CLI: its session's end) the session's token usage is read from the
transcript the payload names, with the import's readers.

The git state of a command's folder is measured when the drainer takes its record, which is
right after the command ended unless records queue up (a busy drainer, a locked store):
then it is the state a little later, which the agent's next command may have changed.
"""

import json
import os

from devtrace.capture.hooks import agents, writer

TURN_END_GRACE_S = 1.0
OUTCOME_GRACE_S = TURN_END_GRACE_S  # not longer: see the module's docstring
USAGE_MAX_BYTES = 64 * 1024 * 1024  # a larger transcript's usage is left to `devtrace import`


class Unusable(Exception):
    """A record that will never become an event (not a payload DevTrace understands)."""


def order(record) -> tuple[float, int]:
    """Where a record goes in the drainer's order: when it arrived, a turn's end TURN_END_GRACE_S
    later (after the ends that came that soon after it); among those that arrived at the same
    time (a file's modification time moves in clock ticks, a few milliseconds) a start first."""
    agent = record.words[0] if record.words else ""
    spec = agents.REGISTRY.get(agent)
    name = _event_name(record.body)
    if spec is None or name is None:
        return record.mtime, 1
    if name in spec.turn_end_events:
        return record.mtime + TURN_END_GRACE_S, 2
    return record.mtime, 0 if name == spec.start_event else 1


def held_back(record, now: float) -> bool:
    """A turn's end that arrived less than TURN_END_GRACE_S ago (see the module's docstring)."""
    if now - record.mtime >= TURN_END_GRACE_S:
        return False
    spec = agents.REGISTRY.get(record.words[0] if record.words else "")
    return spec is not None and _event_name(record.body) in spec.turn_end_events


def awaits_outcome(record, now: float) -> bool:
    """A call's end that arrived less than OUTCOME_GRACE_S ago whose outcome the agent is
    still writing (see the module's docstring). False for a payload the check cannot read:
    `store` says what is wrong with it."""
    if now - record.mtime >= OUTCOME_GRACE_S:
        return False
    spec = agents.REGISTRY.get(record.words[0] if record.words else "")
    payload = _payload(record.body)
    if spec is None or payload is None or payload.get("hook_event_name") not in spec.end_events:
        return False
    try:
        return bool(spec.outcome_pending(payload))
    except Exception:
        return False


def store(rec, record, event_id: str) -> int:
    """Record one agent record; how many events it stored. Unusable if it is no payload
    DevTrace understands; a store error (sqlite3.Error, OSError) propagates: the record stays."""
    agent = record.words[0] if record.words else ""
    if agent not in agents.REGISTRY:
        raise Unusable(f"an agent record of an unknown agent ({agent[:40]!r})")
    try:
        report = agents.parse(agent, record.body, record.mtime)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise Unusable(f"a {agent} hook payload DevTrace cannot read ({type(exc).__name__})") from None
    stored = 0
    if isinstance(report, writer.Started):  # starts a day old are written first, as far as known
        stored += writer.expire_orphans(rec, report.started_at, _expired)
    if isinstance(report, writer.TurnEnded):
        stored = writer.resolve_orphans(rec, report)
    elif report is not None:
        stored += int(writer.record(rec, report, event_id) is not None)
    if _event_name(record.body) in agents.REGISTRY[agent].usage_events:
        save_usage(rec, agent, record.body)
    return stored


def _expired(agent: str, session: str, orphan, now: float):
    spec = agents.REGISTRY.get(agent)
    return spec.expired(session, orphan.call_key, orphan.started_at, now) if spec else None


def save_usage(rec, agent: str, body: bytes) -> None:
    """The session's tokens as its transcript says at the end of a turn (agent_session_usage,
    replaced each time, as a re-import does)."""
    from devtrace.capture.imports import prices, recording, transcripts

    payload = json.loads(body)
    path = payload.get("transcript_path")
    reader = transcripts.READERS.get(agent)
    if not isinstance(path, str) or reader is None:
        return
    try:
        if os.path.getsize(path) > USAGE_MAX_BYTES:
            return
        sessions = transcripts.Sessions()
        with open(path, "rb") as f:
            for _ in reader(f, sessions):
                pass
    except OSError:
        return
    from devtrace.errors import DevtraceError
    from devtrace.store.transaction import write_transaction

    with write_transaction(rec.conn):
        recording.save_usage(rec.conn, sessions)
    try:
        prices.store(rec.conn, rec.directory)
    except DevtraceError:
        pass  # a [prices] entry config.toml gets wrong: `devtrace import` says so


def _event_name(body: bytes) -> str | None:
    payload = _payload(body)
    name = payload.get("hook_event_name") if payload is not None else None
    return name if isinstance(name, str) else None


def _payload(body: bytes) -> dict | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
