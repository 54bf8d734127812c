"""`python -m devtrace.cli ...`, as DevTrace 0.2.0 documented it: the same as `devtrace ...`."""

from devtrace.__main__ import main

main()
