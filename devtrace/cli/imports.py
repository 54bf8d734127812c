"""`devtrace import`: shell histories and agent transcripts, exactly once."""

import datetime as dt
import json
import os
from typing import Annotated, Optional

import typer

from devtrace.cli.import_progress import CountedLines, Progress
from devtrace.cli.options import JsonOption, PathOption
from devtrace.errors import DevtraceError

import_app = typer.Typer(name="import", no_args_is_help=True,
                         help="Import shell histories and agent transcripts into the store (exactly once).")

DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Count what would be imported; store nothing.")]
FileArgument = Annotated[Optional[str], typer.Argument(help="The history file (default: the shell's own).")]
FilesArgument = Annotated[Optional[list[str]], typer.Argument(help="Transcript files (default: the agent's own folders).")]
SinceOption = Annotated[Optional[str], typer.Option("--since", help="Only calls from this date on (YYYY-MM-DD, local time).")]
AllOption = Annotated[bool, typer.Option("--all", help="Also entries newer than the shell hook's first event.")]
UndatedOption = Annotated[bool, typer.Option(
    "--undated", help="Import a history without times, placed before the file's modification time (approximate).")]


def register(app: typer.Typer) -> None:
    app.add_typer(import_app)


def _shell(shell: str):
    def command(file: FileArgument = None, path: PathOption = None, everything: AllOption = False,
                undated: UndatedOption = False, dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
        from devtrace.capture.imports import histories, recording, sources

        name = os.path.expanduser(file or sources.history_file(shell))
        try:
            f = open(name, "rb")
        except OSError as exc:
            raise DevtraceError(f"cannot read {name} ({exc.strerror})") from None
        with f:
            if not histories.is_text(f, shell):
                raise DevtraceError(f"{name} is not a {shell} history (it is not text): nothing was imported")
            dated = _dated(shell, f)
            if not dated and not undated:
                hint = ("set HISTTIMEFORMAT (e.g. export HISTTIMEFORMAT='%F %T ') so bash writes times from now on"
                        if shell == "bash" else "setopt EXTENDED_HISTORY so zsh writes times from now on")
                raise DevtraceError(f"{name} has no times, so its commands cannot be placed in time or imported "
                                    f"exactly once; {hint}, or import it as it is with --undated")
            progress = Progress(os.fstat(f.fileno()).st_size, f"importing {shell} history")
            lines = CountedLines(f, progress)
            entries = (histories.read_bash(lines, dated) if shell == "bash" else histories.read_zsh(lines)
                       if shell == "zsh" else histories.read_fish(lines))
            try:
                counts = recording.history(shell, entries, path, everything=everything, dry_run=dry_run,
                                           undated_before=None if dated else os.fstat(f.fileno()).st_mtime)
            finally:
                progress.done()
        _report(f"{shell} history {name}", counts, dry_run, as_json)

    command.__doc__ = f"Import {shell}'s history (default: {_default_name(shell)})."
    return command


def _default_name(shell: str) -> str:
    return {"bash": "~/.bash_history", "zsh": "$HISTFILE or ~/.zsh_history",
            "fish": "~/.local/share/fish/fish_history"}[shell]


def _dated(shell: str, f) -> bool:
    from devtrace.capture.imports import histories

    if shell == "bash":
        return histories.bash_is_dated(f)
    if shell == "zsh":
        first = histories.head(f)
        return first.startswith(b": ") or not first
    return True  # fish always writes `when:`


def _agent(agent: str):
    def command(files: FilesArgument = None, path: PathOption = None, since: SinceOption = None,
                dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
        from devtrace.capture.imports import recording, sources

        start = _since(since)
        if files:
            found = [os.path.expanduser(f) for f in files]
        else:  # a transcript last written before --since holds nothing newer
            found = [f for f in sources.transcripts(agent) if start is None or os.path.getmtime(f) >= start]
        progress = Progress(sum(os.path.getsize(f) for f in found if os.path.isfile(f)), f"importing {agent}")
        try:
            counts = recording.agent(agent, found, path, since=start, dry_run=dry_run, progress=progress.advance)
        finally:
            progress.done()
        _report(f"{agent} transcripts ({len(found)} file{'' if len(found) == 1 else 's'})", counts, dry_run, as_json)

    command.__doc__ = {"claude-code": "Import Claude Code's transcripts (default: ~/.claude/projects/*/*.jsonl).",
                       "codex": "Import Codex's rollouts (default: $CODEX_HOME/sessions/**/rollout-*.jsonl, ~/.codex).",
                       "gemini": "Import Gemini CLI's chats (default: ~/.gemini/tmp/*/chats/, .jsonl and the older .json)."}[agent]
    return command


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time()).timestamp()
    except ValueError:
        raise DevtraceError(f"--since takes a date as YYYY-MM-DD, not {text!r}") from None


def _report(what: str, counts, dry_run: bool, as_json: bool) -> None:
    fields = {name: getattr(counts, name) for name in counts.__slots__}
    if as_json:
        typer.echo(json.dumps({"source": what, "dry_run": dry_run, **fields}))
        return
    verb = "would add" if dry_run else "added"
    parts = [f"{counts.read} read", f"{verb} {counts.added}", f"{counts.present} already stored"]
    if counts.live:
        parts.append(f"{counts.live} left to the live hook (newer than its first event; --all imports them)")
    if counts.earlier:
        parts.append(f"{counts.earlier} before --since")
    if counts.ignored:
        parts.append(f"{counts.ignored} not recorded as live capture would not (devtrace run, ignore, leading space)")
    typer.echo(f"{what}: " + ", ".join(parts))
    if counts.damaged:
        typer.echo(f"{counts.damaged} damaged line{'' if counts.damaged == 1 else 's'} (not UTF-8, binary, cut short "
                   "or malformed) skipped: nothing of them was stored", err=True)


for _name in ("bash", "zsh", "fish"):
    import_app.command(_name)(_shell(_name))
for _name in ("claude-code", "codex", "gemini"):
    import_app.command(_name)(_agent(_name))
