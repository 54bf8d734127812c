"""What DevTrace knows about one coding agent: where its settings live, which hook events it
installs, and how that agent's payloads say what a shell command did."""

import os


class Outcome:
    """How a command ended, as far as the agent's payload (or its transcript) says. None: not said.
    `duration_ms` is the agent's own timing; `ended_at` the agent's own clock where it gives one;
    `background`: reported at launch, so neither its end nor its duration is known."""

    __slots__ = ("exit_code", "timed_out", "duration_ms", "ended_at", "background")

    def __init__(self, exit_code: int | None, timed_out: bool | None, duration_ms: int | None = None,
                 ended_at: float | None = None, background: bool = False):
        self.exit_code, self.timed_out, self.duration_ms, self.ended_at = exit_code, timed_out, duration_ms, ended_at
        self.background = background


def _no_check(file, hooks, mine, folder):
    """An agent without settings of its own to check: trust unknown, no warning, no note."""
    return None, [], []


class AgentSpec:
    """One agent. `settings`: the settings file, relative to the home folder (user scope) or the
    project (project scope); `home_variable`: the variable that moves the user-scope folder
    (Codex: $CODEX_HOME/hooks.json). `tool`: the shell tool's name, which is also the hooks'
    matcher. `events`: the hook events installed; `start_event`: the one that opens a Pre/Post
    pair (None: the end event carries the agent's own duration). `outcome(payload)`: the end
    event's Outcome; `outcome_pending(payload)`: the agent is still writing that outcome where
    `outcome` reads it (the drainer waits a little); `call_id(payload)`: the agent's id of one tool call ("" where it has none);
    `started_at(payload, called_at)`; `directory(payload, cwd)`: where the command ran;
    `entry`: extra fields of DevTrace's hook entry; `check(file, hooks, mine, folder)`: the
    agent's own reasons to skip installed entries, as (trust, warnings, notes).
    `turn_end_events`: hooks (no matcher) at which starts still waiting for their end are
    resolved, each by `orphan(payload, call_id, started_at, ended_at)` into an Outcome.
    `usage_events`: hooks at which the session's token usage is read from its transcript
    (default: the turn's end). `expired(session_id, call_id, started_at, now)`: the Outcome of
    a start still waiting a day later (its agent was killed), from what the agent left behind;
    None: unknown."""

    def __init__(self, name, *, settings, tool, events, end_events, outcome, start_event=None, home_variable=None,
                 call_id=lambda payload: "", started_at=None, directory=None, entry=None, check=None,
                 turn_end_events=(), orphan=None, usage_events=None, expired=None, outcome_pending=None):
        self.name, self.settings, self.tool, self.events = name, settings, tool, events
        self.end_events, self.outcome, self.start_event = end_events, outcome, start_event
        self.outcome_pending = outcome_pending or (lambda payload: False)
        self.home_variable, self.call_id = home_variable, call_id
        self.started_at = started_at or (lambda payload, called_at: called_at)
        self.directory = directory or (lambda payload, cwd: cwd)
        self.entry = entry or {}
        self.check = check or _no_check
        self.turn_end_events, self.orphan = turn_end_events, orphan
        self.usage_events = turn_end_events if usage_events is None else usage_events
        self.expired = expired or (lambda session_id, call_id, started_at, now: None)

    def tool_events(self) -> tuple:
        """The events about one tool call: their entries match the shell tool only."""
        return (self.start_event, *self.end_events) if self.start_event else tuple(self.end_events)

    def user_settings(self) -> str:
        """The user-scope settings file (the agent's own variable first, as the agent reads it)."""
        if self.home_variable and os.environ.get(self.home_variable):
            return os.path.join(os.environ[self.home_variable], os.path.basename(self.settings))
        return os.path.join(os.path.expanduser("~"), self.settings)
