"""The `devtrace` command line (typer). `devtrace run` never comes here: see __main__.

Each module of this folder registers its commands (`register(app)`). Declaring them all costs
more than some commands take to run (typer builds every option of every command: ~80 ms), so
`main` builds an app with the one module the command line names (`devtrace events` imports
core only); a bare `devtrace`, `--help` or a name it does not know gets the whole app, as do
`app` (the docs, the tests) and `build()`.
"""

import importlib
import sys

import typer

from devtrace.cli.help import make_readable
from devtrace.errors import DevtraceError

MODULES = ("core", "top", "notebooks", "report", "analytics", "ml", "hook", "imports", "store", "server", "sync")
"""The modules that register commands, in the order `devtrace --help` lists them."""

COMMANDS = {
    "init": "core", "events": "core", "export": "core", "demo": "core", "top": "top", "notebook": "notebooks",
    "report": "report", "sql": "analytics", "views": "analytics", "label": "ml", "ml": "ml", "hook": "hook",
    "import": "imports", "doctor": "store", "forget": "store", "key": "store", "server": "server", "sync": "sync",
}
"""Which module registers each top-level command or group (tests/test_cli_startup.py keeps it whole)."""


def run(ctx: typer.Context) -> None:
    """Run a command exactly as if it were run bare and record one event.

    devtrace run [--agent A] [--path P] [--repo R] [--timeout S] [--model-dir M]
    [--skip-noop | --keep-noop] [--quiet] -- CMD ...
    """
    from devtrace.capture.command import main as run_main

    raise typer.Exit(run_main(list(ctx.args)))


def build(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """The typer app with `run` and the commands of `modules`."""
    app = typer.Typer(
        name="devtrace",
        help="Measure how developers and CLI coding agents execute work.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # plain help: formatting it with rich costs more than the rest of `--help`
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                add_help_option=False)(run)
    for name in modules:
        importlib.import_module(f"devtrace.cli.{name}").register(app)
    make_readable(app)
    return app


def modules_for(args: list[str]) -> tuple[str, ...]:
    """The module of the command `args` name, or every module (help, nothing, an unknown name)."""
    module = COMMANDS.get(args[0]) if args else None
    return (module,) if module else MODULES


def __getattr__(name: str):
    if name == "app":
        global app
        app = build()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    try:
        build(modules_for(sys.argv[1:]))()
    except DevtraceError as exc:
        print(f"devtrace: {exc}", file=sys.stderr)
        sys.exit(1)
