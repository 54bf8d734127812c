"""`devtrace sync`: enroll a store with the central server, push to it, say what is pending."""

import getpass
import sys
import time
from typing import Annotated, Optional

import typer

from devtrace.cli.options import GIVEN_TO_GROUP, PathOption, from_group
from devtrace.errors import DevtraceError

sync_app = typer.Typer(help="Push this store's events and labels to the central server.", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")


@sync_app.callback()
def group(ctx: typer.Context, path: PathOption = None) -> None:
    """Push this store's events and labels. `devtrace sync [--path P]` alone is `devtrace sync push`;
    --path given here reaches every subcommand."""
    GIVEN_TO_GROUP["path"] = path
    if ctx.invoked_subcommand is None:
        run_push(path)


@sync_app.command("push")
def push(path: PathOption = None) -> None:
    """Push every unsynced event and label (run again after any failure: nothing is lost or doubled)."""
    run_push(from_group("path", path))


def run_push(path) -> None:
    from devtrace.cli.progress import progress_bars
    from devtrace.sync.push import push as push_store

    with progress_bars() as report:
        counts = push_store(path, progress=lambda kind, done, total: report(f"Sending {kind}", done, total))
    if counts.get("forgotten") is not None:
        typer.echo(f"The organisation requires command_text = off: this store keeps no command text now "
                   f"(the text of {_events(counts['forgotten'])} was forgotten)")
    for kind in ("events", "labels"):
        c = counts[kind]
        typer.echo(f"{kind}: {c['sent']} sent, {c['accepted']} accepted, {c['duplicates']} duplicate, "
                   f"{c['rejected']} rejected")
    sessions = counts.get("agent_sessions")
    if sessions is not None and sessions["sent"]:
        typer.echo(f"agent sessions: {sessions['sent']} sent, {sessions['accepted']} accepted or updated, "
                   f"{sessions['duplicates']} unchanged, {sessions['rejected']} rejected")
    if counts["events"]["rejected"] or counts["labels"]["rejected"]:
        typer.echo("Rejected rows stay in the store with their reason (devtrace sync status); they are not sent again.")


@sync_app.command("login")
def login(
    server: Annotated[str, typer.Option("--server", help="The server's address, e.g. http://central:8765.")],
    token: Annotated[Optional[str], typer.Option(
        "--token", envvar="DEVTRACE_TOKEN",
        help="A token from `devtrace server token create`; '-' or none: read from stdin ($DEVTRACE_TOKEN also works).")] = None,
    path: PathOption = None,
) -> None:
    """Keep the server and token in the store's config (mode 0600) and adopt the organisation's hash key.
    The token is best given on stdin or in $DEVTRACE_TOKEN: --token shows in `ps` and the shell's history."""
    from devtrace.sync import push

    answer = push.login(server, _token(token), from_group("path", path))
    rekeyed = answer["rekeyed"]
    typer.echo(f"Enrolled as {answer['machine']} with {server}. New events are hashed with the organisation's key "
               f"(fingerprint {answer['key_fingerprint']}); {rekeyed:,} command{'' if rekeyed == 1 else 's'} "
               "captured before were re-hashed from their stored text, so the views count each as one command.")
    if answer.get("forgotten") is not None:
        typer.echo(f"The organisation requires command_text = off: this store keeps no command text now "
                   f"(the text of {_events(answer['forgotten'])} was forgotten)")


def _token(token: str | None) -> str:
    if token is None or token == "-":
        if sys.stdin.isatty():
            token = getpass.getpass("Token (from devtrace server token create): ")
        else:
            token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise DevtraceError("no token given (pipe it on stdin, set $DEVTRACE_TOKEN, or --token)")
    return token


@sync_app.command("status")
def status(path: PathOption = None) -> None:
    """How many events and labels are pending, rejected, and when the server last acknowledged a push."""
    from devtrace.sync import push

    s = push.status(from_group("path", path))
    last = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s["last_acknowledged_at"])) \
        if s["last_acknowledged_at"] else "never"
    typer.echo(f"server: {s['server'] or 'none (devtrace sync login)'}{' · sync = auto' if s['auto'] else ''}")
    typer.echo(f"events: {s['pending_events']} pending, {s['synced_events']} synced, {s['rejected_events']} rejected")
    typer.echo(f"labels: {s['pending_labels']} pending, {s['synced_labels']} synced, {s['rejected_labels']} rejected")
    typer.echo(f"last acknowledged push: {last}")
    for reason, count in s["rejection_reasons"]:
        typer.echo(f"  rejected ×{count}: {reason}")


def _events(n: int) -> str:
    return f"{n:,} event{'' if n == 1 else 's'}"
