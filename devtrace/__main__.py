"""Entry point of the `devtrace` command.

`devtrace run` is dispatched before typer is imported: capture is the hot path and must
cost no more than the standard library.
"""

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from devtrace.capture.command import main as run_main

        sys.exit(run_main(sys.argv[2:]))
    from devtrace.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
