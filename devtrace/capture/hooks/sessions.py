"""Which shells have the hook loaded, and whether it still records: `devtrace hook status` and
`devtrace doctor` report a shell whose hook no longer runs (a later `PROMPT_COMMAND=...`, a
framework that replaced DevTrace's precmd): commands ran there since its last recorded one.

A hook says hello when it loads (a `hello SHELL SESSION PID` spool record); the drainer keeps,
in `<store>/shells.json` (0600), each live shell's pid and start, when it loaded, when its last
command was recorded, and the CPU time of the commands it had run by then (its children's, as
/proc counts them once the shell has waited for them). A shell whose children used more than
ACTIVE_S of CPU since its last recorded command, QUIET_S ago or more, ran commands that were not
recorded. Standard library only.
"""

import json
import os
import time

from devtrace import paths

ACTIVE_S = 1.0
QUIET_S = 300.0


def _file(directory: str) -> str:
    return os.path.join(directory, paths.SHELLS_FILE)


def _read(directory: str) -> dict:
    try:
        with open(_file(directory), encoding="utf-8") as f:
            found = json.load(f)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(directory: str, sessions: dict) -> None:
    tmp = _file(directory) + f".{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(sessions, f)
        os.replace(tmp, _file(directory))
    except OSError:
        pass


def _process(pid: int) -> tuple[str, float] | None:
    """(start time in clock ticks since boot, CPU seconds of its waited-for children), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return fields[19].decode(), (int(fields[13]) + int(fields[14])) / ticks


def update(directory: str, hellos: list[tuple[str, str, str, float]], events: dict[str, tuple[str, float]]) -> None:
    """Shells that said hello (shell, session, pid, when) and the last recorded command of
    each session in a batch (session -> (pid, ended at)); shells gone are forgotten."""
    if not hellos and not events:
        return
    sessions = _read(directory)
    for shell, session, pid, when in hellos:
        found = _process(int(pid)) if pid.isdigit() else None
        if found is not None:
            sessions[session] = {"shell": shell, "pid": int(pid), "start": found[0], "loaded_at": when,
                                 "last_event_at": None, "child_cpu_s": found[1]}
    for session, (pid, ended_at) in events.items():
        entry = sessions.get(session)
        found = _process(int(pid)) if pid.isdigit() else None
        if entry is not None and found is not None and found[0] == entry["start"]:
            entry["last_event_at"] = max(entry["last_event_at"] or 0.0, ended_at)
            entry["child_cpu_s"] = found[1]
    _write(directory, {s: e for s, e in sessions.items() if _alive(e)})


def _alive(entry: dict) -> bool:
    found = _process(entry.get("pid", 0))
    return found is not None and found[0] == entry.get("start")


def live(directory: str) -> dict[str, dict]:
    """{session token: its entry} of the shells with the hook loaded that are still running."""
    return {token: entry for token, entry in _read(directory).items() if isinstance(entry, dict) and _alive(entry)}


def status(directory: str) -> list[dict]:
    """Each live shell with the hook loaded: shell, pid, loaded_at, last_event_at, and `active`
    (False: commands ran since its last recorded one, and none was recorded)."""
    now = time.time()
    rows = []
    for entry in _read(directory).values():
        found = _process(entry.get("pid", 0))
        if found is None or found[0] != entry.get("start"):
            continue
        last = entry.get("last_event_at") or entry.get("loaded_at") or now
        inactive = found[1] - entry.get("child_cpu_s", 0.0) > ACTIVE_S and now - last > QUIET_S
        rows.append({"shell": entry["shell"], "pid": entry["pid"], "loaded_at": entry.get("loaded_at"),
                     "last_event_at": entry.get("last_event_at"), "active": not inactive})
    return sorted(rows, key=lambda r: (r["shell"], r["pid"]))


def describe(row: dict) -> str:
    now = time.time()
    last = row["last_event_at"]
    said = f"last command recorded {_ago(now - last)}" if last else "no command recorded yet"
    text = f"{row['shell']} (pid {row['pid']}): hook loaded {_ago(now - (row['loaded_at'] or now))}, {said}"
    if not row["active"]:
        text += "; commands ran there since, none recorded: its hook is no longer active"
    return text


def _ago(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"
