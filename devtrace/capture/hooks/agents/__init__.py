"""The coding agents DevTrace hooks into, one AgentSpec each (agents.REGISTRY), and `parse`:
what one hook payload says about a shell command. Standard library only."""

import json

from devtrace.capture.hooks.agents import claude_code, codex, commands, gemini
from devtrace.capture.hooks.writer import Finished, Started, TurnEnded

REGISTRY = {spec.name: spec for spec in (claude_code.SPEC, codex.SPEC, gemini.SPEC)}
NAMES = tuple(REGISTRY)


def parse(agent: str, data: bytes, called_at: float) -> Finished | Started | TurnEnded | None:
    """The report in an agent's payload, or None when it is not about a shell command.
    `called_at`: when the agent called the hook (the end, or for a start event the start)."""
    spec = REGISTRY[agent]
    payload = json.loads(data)
    if not isinstance(payload, dict):
        return None
    if payload.get("hook_event_name") in spec.turn_end_events:
        session = payload.get("session_id")
        if not isinstance(session, str) or not session:
            return None
        return TurnEnded(agent, session, called_at,
                         lambda call, started_at: spec.orphan(payload, call, started_at, called_at))
    if payload.get("tool_name") != spec.tool:
        return None
    line = commands.line_of(payload.get("tool_input"))
    session = payload.get("session_id")
    if line is None or not isinstance(session, str) or not session:
        return None
    event = payload.get("hook_event_name")
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else "/"
    cwd = commands.directory(line, spec.directory(payload, cwd))
    if event == spec.start_event:
        return Started(agent, line, session, spec.call_id(payload), spec.started_at(payload, called_at), cwd)
    if event not in spec.end_events:
        return None
    outcome = spec.outcome(payload)
    if outcome.background and spec.turn_end_events:
        return None  # reported at launch: its start stays pending until the turn's end tells more
    return Finished(agent, line, exit_code=outcome.exit_code, timed_out=outcome.timed_out,
                    duration_ms=outcome.duration_ms, ended_at=outcome.ended_at or called_at, session=session, cwd=cwd,
                    agent_id=agent, author_kind="agent",
                    pair_key=spec.call_id(payload) if spec.start_event else None, call_id=spec.call_id(payload),
                    background=outcome.background)
