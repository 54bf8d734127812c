"""The `devtrace` command line: a typer app over the library (`devtrace run` never comes here).

The whole app is `devtrace.cli.app.app` (built on first use); `main` builds only what the
command line needs.
"""

from devtrace.cli.app import main

__all__ = ["main"]
