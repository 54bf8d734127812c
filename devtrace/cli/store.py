"""Looking after the store itself: `devtrace doctor`, `devtrace forget`, `devtrace key rotate|rekey`."""

import json
from datetime import datetime
from typing import Annotated, Optional

import typer

from devtrace.cli.options import JsonOption, PathOption

key_app = typer.Typer(name="key", help="The store's hashing key (hash.key).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.command("forget")(forget)
    app.add_typer(key_app)


def doctor(
    path: PathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the store: integrity, migration level, privacy, hashing key, model, pending scores.

    Each finding says what to do; the exit status is 1 when one of them is a problem.
    """
    from devtrace.ml.doctor import examine
    from devtrace.paths import store_dir

    checks = examine(path)
    healthy = all(c.status != "problem" for c in checks)
    if as_json:
        typer.echo(json.dumps({"store": store_dir(path), "healthy": healthy, "checks": [c._asdict() for c in checks]}, indent=2))
    else:
        marks = {"ok": "ok", "note": "note", "problem": "PROBLEM"}
        for check in checks:
            typer.echo(f"{marks[check.status]:<8} {check.name:<10} {check.detail}")
            if check.action:
                typer.echo(f"{'':<19}-> {check.action}")
    if not healthy:
        raise typer.Exit(1)


def forget(
    text: Annotated[bool, typer.Option("--text", help="Forget the stored command text (the events stay).")] = False,
    before: Annotated[
        Optional[datetime], typer.Option("--before", formats=["%Y-%m-%d"], metavar="DAY", help="Only events before this local day (YYYY-MM-DD).")
    ] = None,
    repo: Annotated[Optional[str], typer.Option("--repo", metavar="PATH", help="Only events in this git repository.")] = None,
    path: PathOption = None,
) -> None:
    """Forget the command text of events, all or some; the events themselves stay."""
    from devtrace.errors import DevtraceError
    from devtrace.store import open_store
    from devtrace.store.forget import forget_text

    if not text:
        raise DevtraceError("say what to forget: --text (the command lines; events stay)")
    repo_ids = _repo_ids(repo, path) if repo is not None else None
    conn = open_store(path)
    try:
        changed = forget_text(conn, before=before.timestamp() if before else None, repo_ids=repo_ids)
    finally:
        conn.close()
    typer.echo(f"Forgot the command text of {changed:,} event{'' if changed == 1 else 's'}")


def _repo_ids(repo: str, path: str | None) -> list[str]:
    """The repository's id under the key commands are hashed with now (events hashed under an
    older key keep another id: see the notes on key rotation)."""
    import os

    from devtrace.capture import git, identity
    from devtrace.errors import DevtraceError
    from devtrace.paths import store_dir
    from devtrace.settings import load as load_settings

    if not os.path.isdir(repo):
        raise DevtraceError(f"--repo {repo} is not a directory")
    root = git.find_repo(repo)
    if root is None:
        raise DevtraceError(f"--repo {repo} is not in a git repository")
    directory = store_dir(path)
    key = identity.load_key(directory, load_settings(directory)[0])
    return [identity.repo_id(key, root)]


@key_app.command("rotate")
def rotate(path: PathOption = None) -> None:
    """Start a new hashing key on purpose; the old one is kept beside it as hash.key.retired-<time>.

    Commands captured afterwards hash differently from those before. Where an event keeps its
    command text, its command is re-hashed with the new key, so the views still see one command,
    and the shells open now (and this terminal) stay one session each; other commands and
    sessions, and every repository id, stay under the old key: rotate only when the key is lost
    or has leaked.
    """
    from devtrace.capture.rekey import key_before_change, rekey_store
    from devtrace.paths import store_dir
    from devtrace.settings import load as load_settings
    from devtrace.store import open_store
    from devtrace.store.key import key_file, rotate_key

    directory = store_dir(path)
    conn = open_store(directory)
    try:
        events = conn.execute("SELECT count(*) FROM command_events").fetchone()[0]
    finally:
        conn.close()
    old_key = key_before_change(directory)
    try:
        retired = rotate_key(directory)
    except OSError as exc:
        from devtrace.errors import DevtraceError

        raise DevtraceError(f"cannot write a new key in {directory}: {exc.strerror or exc}") from None
    kept = f" (the old one is kept as {retired})" if retired else ""
    typer.echo(f"New hashing key in {key_file(directory)}{kept}: commands captured from now on hash "
               f"differently from the {events:,} event{'' if events == 1 else 's'} before")
    mapped = rekey_store(directory, old_key)
    typer.echo(f"{mapped:,} command{'' if mapped == 1 else 's'} re-hashed from their stored text: the views "
               "count them as one command across both keys")
    if load_settings(directory)[0].hash_key:
        typer.echo("Note: an organisation key is configured (hash_key), and it is the one commands are hashed with")


@key_app.command("rekey")
def rekey(path: PathOption = None) -> None:
    """Re-hash the stored text of commands recorded under other keys with the current one.

    `key rotate` and `sync login` do it themselves; run it after setting hash_key or
    $DEVTRACE_HASH_KEY by hand, so the views count each command once across keys.
    """
    from devtrace.capture.rekey import rekey_store
    from devtrace.paths import store_dir
    from devtrace.store import open_store

    directory = store_dir(path)
    open_store(directory).close()  # a missing store is one sentence
    mapped = rekey_store(directory)
    typer.echo(f"{mapped:,} command{'' if mapped == 1 else 's'} recorded under other keys now count as "
               "the current key's (re-hashed from their stored text)")
