"""`devtrace hook ...`: automatic capture in shells and coding agents."""

from typing import Annotated, Optional

import typer

hook_app = typer.Typer(
    help="Capture every command: shell hooks (bash, zsh, fish) and coding-agent hooks.",
    no_args_is_help=True,
)

StoreOption = Annotated[
    Optional[str],
    typer.Option("--path", "-p", help="Store the hooks write to (default: $DEVTRACE_PATH, else ~/.devtrace)."),
]
ScopeOption = Annotated[
    str, typer.Option("--scope", help="user (settings in your home folder) or project (in this git work tree).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(hook_app, name="hook")


def _shell(name: str):
    def command(path: StoreOption = None) -> None:
        from devtrace.capture.hooks.shells import script

        typer.echo(script(name, path), nl=False)

    command.__doc__ = {
        "bash": 'Print the bash hook: add  eval "$(devtrace hook bash)"  to ~/.bashrc.',
        "zsh": 'Print the zsh hook: add  eval "$(devtrace hook zsh)"  to ~/.zshrc.',
        "fish": "Print the fish hook: add  devtrace hook fish | source  to config.fish.",
    }[name]
    return command


for _name in ("bash", "zsh", "fish"):
    hook_app.command(_name)(_shell(_name))


@hook_app.command("install")
def install(
    agent: Annotated[str, typer.Argument(help="claude-code, codex or gemini.")],
    scope: ScopeOption = "user",
    path: StoreOption = None,
) -> None:
    """Hook DevTrace into a coding agent's settings (idempotent; everything else kept as is)."""
    from devtrace.capture.hooks import install as hooks

    file, changed = hooks.install(agent, scope, path)
    typer.echo(f"{agent}: DevTrace hooks {'installed in' if changed else 'already in'} {file}")
    for warning in hooks.after_install(agent, scope, file):
        typer.echo(f"{agent}: {warning}")


@hook_app.command("uninstall")
def uninstall(
    agent: Annotated[str, typer.Argument(help="claude-code, codex or gemini.")],
    scope: ScopeOption = "user",
) -> None:
    """Remove DevTrace's hook entries (only those) from a coding agent's settings."""
    from devtrace.capture.hooks import install as hooks

    file, changed = hooks.uninstall(agent, scope)
    typer.echo(f"{agent}: DevTrace hooks {'removed from' if changed else 'not in'} {file}")


@hook_app.command("status")
def status(
    path: StoreOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON rows.")] = False,
) -> None:
    """Where DevTrace's agent hooks are installed, per agent and scope; and the shells with the
    hook loaded, each said to be no longer recording when commands ran there unrecorded."""
    from devtrace.capture.hooks import install as hooks
    from devtrace.capture.hooks import sessions
    from devtrace.capture.hooks.writer import store_path

    rows = hooks.status()
    shells = sessions.status(store_path(path))
    if as_json:
        import json

        typer.echo(json.dumps(rows + [{"agent": None, **row} for row in shells], indent=2))
        return
    for row in rows:
        state = row["problem"] or (", ".join(row["events"]) if row["events"] else "not installed")
        typer.echo(f"{row['agent']:<12} {row['scope']:<8} {state}  ({row['file']})")
        for warning in row["warnings"]:
            typer.echo(f"{'':<22}warning: {warning}")
        for note in row["notes"]:
            typer.echo(f"{'':<22}note: {note}")
    for row in shells:
        typer.echo(("" if row["active"] else "PROBLEM ") + sessions.describe(row))


@hook_app.command("record", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def record(ctx: typer.Context) -> None:
    """What the hooks of earlier DevTrace versions run (reads one report on stdin; always exits 0)."""
    from devtrace.capture.hooks.record import main as record_main

    record_main(list(ctx.args))
