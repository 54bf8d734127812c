"""`devtrace run [options] -- CMD ...`: run CMD transparently, then record one event.

The command's exit status is DevTrace's exit status. DevTrace writes one summary line to
stderr (none with --quiet) and never to stdout. If the event cannot be recorded, the
command's result still stands and the reason is printed, --quiet or not.
"""

import os
import sys

USAGE = """\
usage: devtrace run [--agent A] [--path P] [--repo R] [--timeout S] [--model-dir M]
                    [--keep-noop] [--quiet] [--] CMD [ARG ...]

Run CMD exactly as if it were run bare and record one telemetry event.

  --agent A      who ran it (default: $DEVTRACE_AGENT, else none)
  --path P       store directory (default: $DEVTRACE_PATH, else .devtrace)
  --repo R       git work tree to measure (default: the current directory)
  --timeout S    stop the whole process tree after S seconds (exit 124)
  --model-dir M  model used to score the event (default: the store's active model)
  --keep-noop    record the event even when the git tree has no changes
  --quiet        no summary line on stderr
"""

MAX_TIMEOUT_S = 1e8  # about three years; the interval timer cannot hold much more
_VALUED = {"--agent", "--path", "--repo", "--timeout", "--model-dir"}
_FLAGS = {"--keep-noop", "--quiet"}


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
    from devtrace.capture.runner import Signals

    signals = Signals()  # before anything else: Ctrl-C must never leave a traceback
    try:
        options, argv = parse(args)
    except UsageError as exc:
        print(f"devtrace run: {exc}", file=sys.stderr)
        return 2
    if options.get("help"):
        sys.stdout.write(USAGE)
        return 0
    return capture(argv, options, signals)


def capture(argv: list[str], options: dict, signals) -> int:
    """Run the command between two git snapshots, then record the event.

    Each `git diff` runs while DevTrace does other work (loading the store code before the
    command, opening the store after it): on two cores that hides most of their cost.
    """
    from devtrace.capture import git, runner

    repo = options.get("repo") or "."
    if not os.path.isdir(repo):
        print(f"devtrace run: --repo {repo} is not a directory", file=sys.stderr)
        return 2
    root = git.find_repo(repo)
    start_commit = git.head(root) if root else None
    pending = git.start_snapshot(root) if root else None
    from devtrace.capture import recorder  # loads while git works

    before = git.finish_snapshot(root, pending)
    if signals.pending:  # interrupted before the command started: run nothing, as bare
        return 128 + signals.pending[0]
    outcome = runner.run(argv, signals, options.get("timeout"))
    pending = git.start_snapshot(root) if root else None
    moved = root is not None and git.head(root) != start_commit  # commit, checkout, reset...
    pending_from_start = git.start_snapshot(root, start_commit or git.empty_tree(root)) if moved else None
    if outcome.error:
        print(f"devtrace: {outcome.error}", file=sys.stderr)
    try:
        with recorder.Recorder(options.get("path")) as rec:  # opens the store while git works
            for problem in rec.problems:
                print(f"devtrace: warning: {problem}", file=sys.stderr)
            after = git.finish_snapshot(root, pending)
            from_start = git.finish_snapshot(root, pending_from_start) if moved else after
            summary = rec.record(argv, options, outcome, root, before, after, from_start)
    except Exception as exc:  # the command's result stands whatever happened to the store
        print(f"devtrace: event not recorded: {_reason(exc)}", file=sys.stderr)
    else:
        if not options.get("quiet"):
            print(f"devtrace: {summary}", file=sys.stderr)
    return outcome.exit_code


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if not isinstance(exc, OSError) or not exc.strerror else f"{exc.strerror}: {exc.filename}"
