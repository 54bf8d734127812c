"""The `devtrace` command line (typer). `devtrace run` never comes here: see __main__."""

import sys

import typer

from devtrace.cli import analytics, core, hook, imports, ml, notebooks, report, server, store, sync, top
from devtrace.cli.help import make_readable
from devtrace.errors import DevtraceError

app = typer.Typer(
    name="devtrace",
    help="Measure how developers and CLI coding agents execute work.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: formatting it with rich costs more than the rest of `--help`
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(ctx: typer.Context) -> None:
    """Run a command exactly as if it were run bare and record one event.

    devtrace run [--agent A] [--path P] [--repo R] [--timeout S] [--model-dir M]
    [--skip-noop | --keep-noop] [--quiet] -- CMD ...
    """
    from devtrace.capture.command import main as run_main

    raise typer.Exit(run_main(list(ctx.args)))


core.register(app)
top.register(app)
notebooks.register(app)
report.register(app)
analytics.register(app)
ml.register(app)
hook.register(app)
imports.register(app)
store.register(app)
server.register(app)
sync.register(app)
make_readable(app)


def main() -> None:
    try:
        app()
    except DevtraceError as exc:
        print(f"devtrace: {exc}", file=sys.stderr)
        sys.exit(1)
