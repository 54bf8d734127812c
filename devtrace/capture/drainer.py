"""The drainer: one detached process per store turns spooled records into events.

The capture side (`devtrace run`, the shell hooks, the agent hooks) only appends a record to
the spool (see `devtrace.capture.spool`) and starts a drainer when none is alive:
`drainer.pid` names the live one (whose /proc comm is `devtrace-drain`), and the lock on `drainer.lock` makes sure
there is one at a time. The drainer reads every waiting record, hashes, measures git where
the capture side did not, writes the events in one SQLite transaction per batch (WAL,
`synchronous = NORMAL`: what is committed survives a crash of any process; a power cut may
lose the last moments, as before), and only then deletes the records it committed. Killed at
any point, it leaves records that the next drainer finds; an event id is fixed by its record
(`devtrace run` picks it, a shell or agent record's is derived from the record's name, or
names the agent's tool call), so a record written again after a crash between commit and
delete is recognised and not stored twice.

A store that is locked makes the drainer wait (the busy timeout), never the caller. A store
it cannot write (damaged, read-only, a full disk) leaves the records in the spool, retried
later, and dropped after SPOOL_MAX_AGE_S with one line in hooks.log. Idle for IDLE_S, the
drainer exits.

    python -m devtrace.capture.drainer --path STORE [--once] [--into COPY]

`--once`: drain what is there, in the foreground, and exit (readers do this before reading;
exit 3 if the store was busy). `--into COPY`: write the spooled events into COPY (a reader's
private copy of a locked store) and leave the spool as it is.
"""

import json
import os
import sys
import time

from devtrace import paths
from devtrace.capture import spool
from devtrace.capture.health import check_health, damaged, write_health

LOCK = paths.DRAINER_LOCK
PID = paths.DRAINER_PID
COMM = "devtrace-drain"
IDLE_S = 20.0
POLL_S = (0.02, 0.25)  # right after work, and when idle for a while
FAILING_EXIT_S = 300.0  # a store that cannot be written for this long: exit, the next capture retries
SPOOL_MAX_AGE_S = 3600.0
BATCH = 500


def spool_event(directory: str, event: dict, model_dir: str | None = None) -> None:
    """`devtrace run`'s side: the finished event, in one write, then a drainer if none is alive."""
    body = json.dumps({"event": event, "model_dir": model_dir}, separators=(",", ":")).encode()
    spool.write(directory, f"run.{event['id']}", "event", [], body)
    ensure(directory)


def alive(directory: str) -> bool:
    try:
        with open(os.path.join(directory, PID), "rb") as f:
            pid = int(f.read().split()[0])
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip() == COMM.encode()
    except (OSError, ValueError, IndexError):
        return False


def ensure(directory: str) -> None:
    if not alive(directory):
        spawn(directory)


def argv(directory: str, *extra: str) -> list[str]:
    """`python -I -S`, DevTrace's own folder first on sys.path (see hooks.launcher)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import sys; sys.path.insert(0, {json.dumps(root)}); "
            "from devtrace.capture.drainer import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-I", "-S", "-c", code, "--path", os.path.abspath(directory), *extra]


def spawn(directory: str) -> None:
    import subprocess

    try:
        subprocess.Popen(argv(directory), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        pass  # the record waits in the spool for the next capture or reader


def drain_now(directory: str) -> bool:
    """In the caller's process (`devtrace sync` before it pushes): drain what the spool holds
    if the store is free within a second; whether the spool is empty now."""
    try:
        return _run(directory, once=True) == 0
    except Exception:
        return False


def main(args: list[str]) -> int:
    import _signal

    directory, once, into = None, False, None
    i = 0
    while i < len(args):
        if args[i] == "--path" and i + 1 < len(args):
            directory, i = args[i + 1], i + 2
        elif args[i] == "--into" and i + 1 < len(args):
            into, i = args[i + 1], i + 2
        elif args[i] == "--once":
            once, i = True, i + 1
        else:
            return 2
    if directory is None:
        return 2
    if into is not None:
        return _fold(directory, into)
    for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE):
        _signal.signal(sig, _signal.SIG_IGN)
    if not once:
        _leave_terminal()
        _name_myself()
        os.nice(max(10 - os.nice(0), 0))
    try:
        return _run(directory, once)
    except BaseException as exc:
        log(directory, f"the drainer stopped: {_reason(exc)}")
        return 1


def _run(directory: str, once: bool) -> int:
    import fcntl

    lock_file = os.path.join(directory, LOCK)
    fd = None
    moved_at = None
    try:
        while True:
            try:
                fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:  # no store folder: deleted (and maybe being made again)
                if once or moved_at is None or time.monotonic() - moved_at > IDLE_S:
                    return 0
                time.sleep(POLL_S[1])
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if once:
                    return _wait_for_others(directory)
                if alive(directory):
                    return 0  # the live drainer sees our records: it rescans after giving up its pid file
                fcntl.flock(fd, fcntl.LOCK_EX)  # the holder is on its way out: drain after it
            if once:
                return 0 if _drain_all(directory, busy_timeout_s=1.0) else 3
            if _serve(directory, lock_file, fd) != "moved":
                return 0
            os.close(fd)  # the store was deleted (and maybe made again): carry on with the new one
            fd, moved_at = None, time.monotonic()
    finally:
        if fd is not None:
            os.close(fd)  # and with it the lock


def _serve(directory: str, lock_file: str, fd: int) -> str:
    """Drain until idle ("idle"), until the store cannot be written for FAILING_EXIT_S
    ("failing"), or until the store folder is replaced ("moved")."""
    _write_pid(directory)
    idle_since = failing_since = time.monotonic()
    poll = POLL_S[0]
    while True:
        if not _still_ours(lock_file, fd):
            return "moved"
        names = spool.pending(directory)
        now = time.monotonic()
        result = None
        if names:
            result = drain(directory, names)
            if result.committed or result.dropped:
                idle_since = now
                poll = POLL_S[0]
            if not result.waiting:
                failing_since = now
            elif now - failing_since > FAILING_EXIT_S or damaged(directory):
                _remove_pid(directory)  # the shells, finding no drainer, say why nothing is recorded
                return "failing"
        if not (result and _actionable(result)) and now - idle_since > IDLE_S:
            _remove_pid(directory)
            if not _complete_records(directory):
                return "idle"
            _write_pid(directory)  # a record came in meanwhile
            idle_since = now
        time.sleep(poll)
        poll = min(poll * 1.5, POLL_S[1])


def _actionable(result) -> bool:
    return bool(result.committed or result.waiting)


def _wait_for_others(directory: str, timeout_s: float = 2.0) -> int:
    """`--once` while a drainer is at work: wait (a little) until the spool is empty."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _complete_records(directory):
            return 0
        time.sleep(0.02)
    return 3


def _complete_records(directory: str) -> bool:
    for name in spool.pending(directory):
        try:
            if spool.read(directory, name) is not None:
                return True
        except (OSError, spool.Unreadable):
            continue
    return False


def _drain_all(directory: str, busy_timeout_s: float) -> bool:
    while True:
        names = spool.pending(directory)
        if not names:
            return True
        result = drain(directory, names, busy_timeout_s=busy_timeout_s)
        if result.waiting:
            return False
        if not (result.committed or result.dropped):
            return True  # only incomplete records left: their writers are at work


class Result:
    __slots__ = ("committed", "waiting", "dropped")

    def __init__(self) -> None:
        self.committed = self.waiting = self.dropped = 0


def drain(directory: str, names: list[str], busy_timeout_s: float | None = None, into: str | None = None) -> Result:
    """One batch: the complete records among `names`, in the order their commands ended,
    stored in one transaction, then deleted (unless `into` a reader's copy)."""
    result = Result()
    records = _read_records(directory, names, result, purge=into is None)
    if not records:
        return result
    records = records[:BATCH]
    agent_records = [r for r in records if r.kind == "agent"]
    records = [r for r in records if r.kind != "agent"]
    inserted = 0
    if records:
        try:
            inserted = _store(directory, records, busy_timeout_s, into)
        except Exception as exc:
            result.waiting = len(records)
            _store_failed(directory, exc, records, into)
            records = []
        result.committed = len(records)
    if into is None:
        for record in records:
            _unlink(record.path)
        if agent_records:
            inserted += _store_agents(directory, agent_records, busy_timeout_s, result)
        if inserted:
            _spawn_scorer(directory, records)
        _shells_seen(directory, records)
    return result


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _store_agents(directory: str, records: list, busy_timeout_s: float | None, result: Result) -> int:
    """The agent hooks' records, one at a time in the order they arrived (each is its own
    transaction: see hooks.agent_records), deleted once recorded; how many events were stored.
    A turn's end too recent is left for a later pass; so is a call's end whose outcome its
    agent is still writing, and with it every record after it; at the first record the store
    cannot take, the rest wait too (an end must not be recorded before its start)."""
    from devtrace.capture.hooks import agent_records
    from devtrace.capture.recorder import Recorder

    now = time.time()
    stored, left = 0, list(records)
    try:
        _check_health(directory, None)
        with Recorder(directory) as rec:
            if busy_timeout_s is not None:
                rec.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            while left:
                record = left[0]
                if agent_records.awaits_outcome(record, now):
                    return stored  # it and the records after it: a later pass
                if not agent_records.held_back(record, now):
                    try:
                        stored += agent_records.store(rec, record, _event_id(f"{record.name}@{record.mtime!r}"))
                    except agent_records.Unusable as exc:
                        log(directory, f"a spool record was dropped: {exc}")
                        result.dropped += 1
                    else:
                        result.committed += 1
                    _unlink(record.path)
                left.pop(0)
    except Exception as exc:
        left = [r for r in left if not agent_records.held_back(r, now)]
        result.waiting += len(left)
        _store_failed(directory, exc, left, None)
    return stored


def _shells_seen(directory: str, records: list) -> None:
    """Which shells said hello, and the last recorded command of each (see hooks.sessions)."""
    from devtrace.capture.hooks import sessions

    hellos = [(r.words[0], r.words[1], r.words[2], r.mtime) for r in records if r.kind == "hello" and len(r.words) >= 3]
    events = {r.words[5]: (r.words[6], _ended_at(r)) for r in records if r.kind == "shell" and len(r.words) >= 7}
    sessions.update(directory, hellos, events)


def _read_records(directory: str, names: list[str], result: Result, purge: bool) -> list:
    records = []
    for name in names:
        try:
            record = spool.read(directory, name)
        except FileNotFoundError:
            continue
        except (OSError, spool.Unreadable) as exc:
            if purge:
                _drop(directory, name, str(exc) if isinstance(exc, spool.Unreadable) else _reason(exc))
                result.dropped += 1
            continue
        if record is not None and record.kind in _KINDS:
            records.append(record)
    records.sort(key=_order)
    return records


def _order(record) -> tuple:
    if record.kind != "agent":
        return _ended_at(record), 0, record.name
    from devtrace.capture.hooks import agent_records

    return (*agent_records.order(record), record.name)


def _ended_at(record) -> float:
    try:
        if record.kind == "shell":
            start, duration = record.words[3], record.words[4]
            if start.isdigit() and duration.isdigit():
                return (int(start) + int(duration)) / 1e6
            return record.mtime
        return float(json.loads(record.body)["event"]["ended_at"])
    except (ValueError, KeyError, IndexError, TypeError):
        return record.mtime


def _store(directory: str, records: list, busy_timeout_s: float | None, into: str | None) -> int:
    """Build every record's event, then insert them all in one transaction; how many are new."""
    from devtrace.capture import event_ids
    from devtrace.capture.recorder import Recorder
    from devtrace.store.transaction import write_transaction

    _check_health(directory, into)
    with Recorder(directory, connect=into is None) as rec:
        if into is not None:
            from devtrace.store.connection import connect_file

            rec.conn = connect_file(into)
        if busy_timeout_s is not None:
            rec.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        built = _build(rec, records, directory)
        inserted = 0
        with write_transaction(rec.conn):
            for event, also in built:
                existing = rec.conn.execute("SELECT command_hash, started_at FROM command_events WHERE id = ?",
                                            (event["id"],)).fetchone()
                if existing is not None:
                    if tuple(existing) == (event["command_hash"], event["started_at"]):
                        continue  # stored before the drainer that wrote it could delete the record
                    event["id"] = event_ids.live()  # a 48-bit collision with another event
                if also is not None:
                    also(rec.conn)
                columns = ", ".join(event)
                rec.conn.execute(f"INSERT INTO command_events ({columns}) VALUES ({', '.join('?' * len(event))})",
                                 list(event.values()))
                inserted += 1
        return inserted


def _build(rec, records: list, directory: str) -> list:
    from devtrace.capture.hooks import shells, writer

    built: list = []
    states: dict = {}
    last_of_session = {}
    for record in records:
        if record.kind == "shell":
            last_of_session[record.words[5]] = record
    for record in records:
        if record.kind == "event":
            built.append((json.loads(record.body)["event"], None))
            continue
        if record.kind != "shell":
            continue
        report = shells.from_record(record)
        if report is None:
            continue
        event_id = _event_id(record.name)
        exact = last_of_session.get(record.words[5]) is record and _shell_idle(record)
        made = writer.build(rec, report, exact_git=exact, states=states, event_id=event_id)
        if made is not None and exact and not (_shell_idle(record) and not _later_record(directory, record)):
            # the shell ran something while git looked: what git saw may be that command's doing
            made = writer.build(rec, report, exact_git=False, states=states, event_id=event_id)
        if made is not None:
            event, also, saved = made
            if saved is not None:
                states[saved[0]] = saved[1]
            built.append((event, also))
    return built


def _event_id(name: str) -> str:
    """A shell record's event id: a UUIDv5 of the record's name (see event_ids), the same however
    many times a drainer killed halfway reads the record again."""
    import uuid

    from devtrace.capture import event_ids

    return str(uuid.uuid5(event_ids.NAMESPACE, "spool\x1f" + name))


def _shell_idle(record) -> bool:
    """The shell of a record is at its prompt (its own process group holds the terminal), or
    gone: the working tree still shows what its last command left."""
    pid = record.words[6] if len(record.words) > 6 else ""
    if not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return True  # the shell has exited: nothing ran after its last command
    return len(fields) > 5 and fields[2] == fields[5]


def _later_record(directory: str, record) -> bool:
    """A record of the same shell for a command that ended after this one is in the spool."""
    session, _, seq = record.name.rpartition(".")
    if not seq.isdigit():
        return False
    for name in spool.pending(directory):
        other, _, other_seq = name[:-len(spool.SUFFIX)].rpartition(".")
        if other == session and other_seq.isdigit() and int(other_seq) > int(seq):
            return True
    return False


def _check_health(directory: str, into: str | None) -> None:
    """A damaged store is never written to: the records wait, the capture side says so."""
    if into is not None:
        return
    damage = check_health(directory)
    if damage:
        from devtrace.errors import DevtraceError

        raise DevtraceError(f"the store is damaged ({damage})")


def _store_failed(directory: str, exc: Exception, records: list, into: str | None) -> None:
    """The records stay for a later try; those older than SPOOL_MAX_AGE_S are dropped."""
    if into is not None:
        return
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
        write_health(directory, str(exc))
    now = time.time()
    old = [r for r in records if now - r.mtime > SPOOL_MAX_AGE_S]
    for record in old:
        try:
            os.unlink(record.path)
        except OSError:
            pass
    if old:
        log(directory, f"{len(old)} spooled command(s) dropped after an hour: the store cannot be written "
                       f"({_reason(exc)})")


def _drop(directory: str, name: str, why: str) -> None:
    try:
        os.unlink(os.path.join(spool.folder(directory), name))
    except OSError:
        pass
    log(directory, f"a spool record was dropped: {why}")


def _spawn_scorer(directory: str, records: list) -> None:
    from devtrace import settings
    from devtrace.capture import scorer

    model_dirs = set()
    for record in records:
        if record.kind == "event":
            model_dirs.add(json.loads(record.body).get("model_dir"))
    sync_auto = settings.load(directory)[0].sync_auto
    for model_dir in model_dirs or {None}:
        scorer.spawn(directory, model_dir, sync_auto)


def _fold(directory: str, into: str) -> int:
    """A reader's copy of a store it cannot write now (locked): the spooled events go into the copy."""
    names = spool.pending(directory)
    if names:
        result = drain(directory, names, busy_timeout_s=1.0, into=into)
        if result.waiting:
            return 3
    return 0


def log(directory: str, line: str) -> None:
    """One line in the store's hooks.log (0600), never a command."""
    try:
        fd = os.open(os.path.join(directory, paths.HOOKS_LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {line}\n")
    except OSError:
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or ''}"
    return f"{type(exc).__name__}: {exc}"


def _leave_terminal() -> None:
    """A session of its own: no hang-up or signal of the shell's terminal reaches the drainer.
    (A shell may start it as a process group leader, which cannot make a session: then a
    child does.)"""
    try:
        os.setsid()
    except OSError:
        if os.fork():
            os._exit(0)
        os.setsid()


def _name_myself() -> None:
    """`devtrace-drain` in /proc/PID/comm: how a shell tells, with builtins, that the pid in
    drainer.pid is a live drainer and not a process that got its number since."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(COMM)
    except OSError:
        pass


def _write_pid(directory: str) -> None:
    tmp = os.path.join(directory, f".{PID}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    os.replace(tmp, os.path.join(directory, PID))


def _remove_pid(directory: str) -> None:
    try:
        os.unlink(os.path.join(directory, PID))
    except FileNotFoundError:
        pass


def _still_ours(lock_file: str, fd: int) -> bool:
    try:
        return os.stat(lock_file).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


_KINDS = ("event", "shell", "hello", "agent")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
