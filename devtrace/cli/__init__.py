"""The `devtrace` command line: a typer app over the library (`devtrace run` never comes here)."""

from devtrace.cli.app import app, main

__all__ = ["app", "main"]
