"""`devtrace run [options] -- CMD ...`: run CMD transparently, then record one event.

The command's exit status is DevTrace's exit status; a command killed by a signal kills
DevTrace with the same signal. DevTrace writes one summary line to stderr (none with
--quiet) and never to stdout, and drops it if stderr cannot take it. If the event cannot be
recorded, the command's result still stands and the reason is printed, --quiet or not.
"""

import os
import time

USAGE = """\
usage: devtrace run [--agent A] [--path P] [--repo R] [--timeout S] [--model-dir M]
                    [--skip-noop | --keep-noop] [--quiet] [--] CMD [ARG ...]

Run CMD exactly as if it were run bare and record one telemetry event.

  --agent A      who ran it (default: $DEVTRACE_AGENT, else none)
  --path P       store directory (default: $DEVTRACE_PATH, else ~/.devtrace)
  --repo R       git work tree to measure (default: the current directory)
  --timeout S    stop the whole process tree after S seconds (exit 124)
  --model-dir M  model used to score the event (default: the store's active model)
  --skip-noop    do not record a command that left the git tree clean and unchanged
  --keep-noop    record it all the same (overrides skip_noop in config.toml)
  --quiet        no summary line on stderr
"""

MAX_TIMEOUT_S = 1e8  # about three years; the interval timer cannot hold much more
_VALUED = {"--agent", "--path", "--repo", "--timeout", "--model-dir"}
_FLAGS = {"--skip-noop", "--keep-noop", "--quiet"}


class UsageError(Exception):
    pass


def parse(args: list[str]) -> tuple[dict, list[str]]:
    options: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-h", "--help"):
            options["help"] = True
            return options, []
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in _FLAGS and not eq:
            options[name[2:].replace("-", "_")] = True
        elif name in _VALUED:
            if not eq:
                i += 1
                if i == len(args):
                    raise UsageError(f"{name} needs a value")
                value = args[i]
            options[name[2:].replace("-", "_")] = value
        else:
            raise UsageError(f"unknown option {arg} (put the command after --)")
        i += 1
    command = args[i:]
    if not command:
        raise UsageError("no command given (devtrace run [options] -- CMD ...)")
    if "timeout" in options:
        try:
            options["timeout"] = float(options["timeout"])
        except ValueError:
            options["timeout"] = -1.0
        if not 0 < options["timeout"] <= MAX_TIMEOUT_S:  # also refuses nan and inf
            raise UsageError(f"--timeout takes a number of seconds from 0 to {MAX_TIMEOUT_S:.0f}")
    return options, command


def main(args: list[str]) -> int:
    """Run `devtrace run`; the exit status, or -N when DevTrace must die of signal N (the
    signal that killed the command) once its output is flushed: see runner.die_of."""
    _hold_closed_standard_descriptors()
    from devtrace.capture.runner import Signals

    signals = Signals()  # before anything else: Ctrl-C must never leave a traceback
    try:
        options, argv = parse(args)
    except UsageError as exc:
        say(f"devtrace run: {exc}")
        return 2
    if options.get("help"):
        _write(1, USAGE)
        return 0
    return capture(argv, options, signals)


def capture(argv: list[str], options: dict, signals) -> int:
    """Run the command between two git snapshots, then record the event.

    Each `git diff` runs while DevTrace does other work (loading the store code before the
    command, opening the store after it): on two cores that hides most of their cost. Each
    has a time budget; past it the command starts anyway and what git could not measure is
    recorded as unknown. Nothing that goes wrong in DevTrace's bookkeeping keeps the command
    from running as bare.
    """
    from devtrace import paths
    from devtrace.capture import git, runner

    repo = options.get("repo")
    if repo is not None and not os.path.isdir(repo):
        say(f"devtrace run: --repo {repo} is not a directory")
        return 2
    budget_s = _git_budget_s(options)
    try:
        root = git.find_repo(repo or ".")
    except OSError:  # the current directory was deleted
        say("devtrace: warning: the current directory no longer exists; git state not measured")
        root = None
    start_commit = git.head(root) if root else None
    pending = git.start_snapshot(root, budget_s=budget_s) if root else None
    from devtrace.capture import recorder  # loads while git works

    before = git.finish_snapshot(root, pending) if root else None
    if signals.pending:  # interrupted before the command started: run nothing, as bare
        return -signals.pending[0]
    outcome = runner.run(argv, signals, options.get("timeout"))
    pending = git.start_snapshot(root, budget_s=budget_s) if root else None
    end_commit = git.head(root) if root else None
    moved = root is not None and end_commit != start_commit  # commit, checkout, reset...
    pending_from_start = None
    if root is not None and moved:
        since = start_commit or git.empty_tree(root, time.monotonic() + budget_s)
        pending_from_start = git.start_snapshot(root, since, budget_s)
    if outcome.error:
        say(f"devtrace: {outcome.error}")
    from devtrace.capture.identity import runs_devtrace

    if runs_devtrace(argv):  # `devtrace run -- devtrace run -- CMD`: the inner one recorded CMD
        return -outcome.killed_by if outcome.killed_by else outcome.exit_code
    try:
        directory = paths.store_dir(options.get("path"))
        damaged = _known_damage(directory)
        if damaged:
            raise RuntimeError(f"the store at {directory} is damaged ({damaged}); `devtrace doctor --path {directory}` says what to do")
        with _recorder(recorder, options.get("path"), directory) as rec:
            for problem in rec.problems:
                say(f"devtrace: warning: {problem}")
            after = git.finish_snapshot(root, pending) if root else None
            from_start = git.finish_snapshot(root, pending_from_start) if root and moved else after
            summary = rec.record(argv, options, outcome, root, before, after, from_start, moved=moved,
                                 head=end_commit)
    except Exception as exc:  # the command's result stands whatever happened to the store
        say(f"devtrace: event not recorded: {_reason(exc)}")
    else:
        if not options.get("quiet"):
            say(f"devtrace: {summary}")
    return -outcome.killed_by if outcome.killed_by else outcome.exit_code


SPOOL_AFTER_S = 0.01
"""How long `devtrace run` waits for a store another process holds before it spools the event."""


def _recorder(recorder, path: str | None, directory: str):
    """The event is written at once when the store is free; when another process holds it
    (longer than SPOOL_AFTER_S), it goes through the spool and the drainer writes it, so that
    the caller never waits for the store. A store not made yet is made (and waited for)."""
    from devtrace.store.errors import StoreBusy

    if not _spoolable(directory):
        return recorder.Recorder(path)
    try:
        return recorder.Recorder(path, busy_timeout_s=SPOOL_AFTER_S)
    except StoreBusy:
        return recorder.Recorder(path, connect=False)


def _spoolable(directory: str) -> bool:
    """The store and its key are there: the event can go through the spool."""
    from devtrace import paths

    return os.path.isfile(os.path.join(directory, paths.DB_NAME)) and os.path.isfile(os.path.join(directory, paths.KEY_NAME))


def _known_damage(directory: str) -> str | None:
    """What is wrong with the store, if anything (a quick check at most once an hour)."""
    from devtrace.capture.health import check_health

    return check_health(directory)


def _git_budget_s(options: dict) -> float:
    """Each git snapshot's time budget, from the settings of the store the event goes to."""
    from devtrace import paths, settings

    try:
        return settings.load(paths.store_dir(options.get("path")))[0].git_timeout_ms / 1000
    except Exception:  # an unreadable config: the Recorder reports it after the command
        return settings.GIT_TIMEOUT_MS / 1000


def say(line: str) -> None:
    """One line for the user on DevTrace's stderr. Dropped if it cannot be written (stderr
    closed, its reader gone): DevTrace's own output never changes the command's result."""
    _write(2, line + "\n")


def _write(fd: int, text: str) -> None:
    data = text.encode("utf-8", "backslashreplace")
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass


def _hold_closed_standard_descriptors() -> None:
    """Fill a closed stdin/stdout/stderr (`2>&-`) with /dev/null, close-on-exec.

    Otherwise the next file DevTrace opens (the store!) would get that number, and be
    written to as stderr. Close-on-exec: the command still finds it closed, as bare."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            held = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            if held != fd:  # a lower number was free after all: nothing to hold
                os.close(held)
def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if not isinstance(exc, OSError) or not exc.strerror else f"{exc.strerror}: {exc.filename}"
