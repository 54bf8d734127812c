"""Turn a finished command and its git snapshots into one stored event."""

import os

from devtrace import settings as settings_mod
from devtrace.capture import git, identity, scorer
from devtrace.paths import store_dir
from devtrace.store import create_store, insert_event, new_event_id


class Recorder:
    """Opens the store, its settings and hashing key; `record` writes one event."""

    def __init__(self, path: str | None) -> None:
        self.directory = store_dir(path)
        self.conn = create_store(self.directory)

    def __enter__(self) -> "Recorder":
        try:
            self.settings, self.problems = settings_mod.load(self.directory)
            self.key = identity.load_key(self.directory, self.settings)
            self.fingerprint = identity.key_fingerprint(self.key)
        except BaseException:
            self.conn.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    def record(self, argv, options, outcome, root, before, after, after_from_start) -> str:
        """Store the event (unless it is a no-op) and return the summary line for the user.

        `before` and `after` are snapshots against HEAD at each moment; `after_from_start` is
        the end state against the commit the command started from (the change it made)."""
        state = git.totals(after) if after is not None else (None, None, None)
        known = before is not None and after_from_start is not None
        change = git.delta(before, after_from_start) if known else (None, None, None)
        took = f"exit {outcome.exit_code}{' (timed out)' if outcome.timed_out else ''} · {outcome.duration_ms} ms"
        if state == (0, 0, 0) and not (options.get("keep_noop") or self.settings.keep_noop):
            return f"{took} · not recorded: no changes in the working tree (--keep-noop records it)"
        event = {
            "id": new_event_id(),
            "agent_id": _text(options.get("agent") or os.environ.get("DEVTRACE_AGENT")),
            "executed_at": outcome.started_at,
            "command_hash": identity.command_hash(self.key, argv),
            "duration_ms": outcome.duration_ms,
            "exit_code": outcome.exit_code,
            "timed_out": int(outcome.timed_out),
            "files_touched_count": state[0],
            "lines_added": state[1],
            "lines_deleted": state[2],
            "started_at": outcome.started_at,
            "ended_at": outcome.started_at + outcome.duration_ms / 1000,
            "session_id": _text(identity.session_id(self.key)),
            "repo_id": identity.repo_id(self.key, root) if root else None,
            "program": _text(identity.program(argv)) if self.settings.record_program else None,
            "delta_files": change[0],
            "delta_lines_added": change[1],
            "delta_lines_deleted": change[2],
            "key_fingerprint": self.fingerprint,
        }
        insert_event(self.conn, event)
        scorer.spawn(self.directory, options.get("model_dir"), self.settings.sync_auto)  # in a detached process
        if after is None:
            where = "git state unknown" if root else "not a git repo"
        else:
            where = f"working tree {_files(state)}"
            if change[0] is not None:
                where += f" · this command {_files(change)}"
        return f"{took} · {where} · recorded {event['id']}"


def _text(value: str | None) -> str | None:
    """Text for the store: bytes that are not UTF-8 (argv, environment) become U+FFFD."""
    if not value:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _files(counts: tuple[int, int, int]) -> str:
    files, added, deleted = counts
    return f"{files} file{'' if files == 1 else 's'} +{added} -{deleted}"
