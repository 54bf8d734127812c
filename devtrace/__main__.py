"""Entry point of the `devtrace` command.

`devtrace run` is dispatched before typer is imported: capture is the hot path and must
cost no more than the standard library.
"""

import os
import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from devtrace.capture.command import main as run_main

        code = run_main(sys.argv[2:])
        # The store is closed and nothing else is pending, so skip interpreter teardown:
        # it costs more than the capture itself (about 7 ms of a 30 ms process here).
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):  # closed (None), or a reader gone
                pass
        if code < 0:  # the command was killed by signal -code: so is DevTrace
            from devtrace.capture.runner import die_of

            die_of(-code)
        os._exit(code)
    from devtrace.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
