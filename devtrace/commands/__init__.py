"""CLI commands, one module per area, each a thin layer over a library function.

Modules here import heavy libraries (polars, duckdb, xgboost) inside the command
functions, so that `devtrace --help` stays fast.
"""
