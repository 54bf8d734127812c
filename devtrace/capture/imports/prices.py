"""The price table: sql/prices.toml (dated) with the store's config.toml `[prices]` over it,
written into the store's `agent_prices` at each import for the `agent_sessions` view."""

import os
import tomllib

from devtrace import paths
from devtrace.errors import DevtraceError
from devtrace.store.transaction import write_transaction

KINDS = ("input", "output", "cache_read", "cache_write")


def table(directory: str) -> dict[str, tuple[tuple[float, ...], str, str]]:
    """model -> ((input, output, cache_read, cache_write), price date, source). A config entry
    that is not four non-negative numbers is refused in one sentence (DevtraceError)."""
    with open(os.path.join(paths.sql_dir(), "prices.toml"), "rb") as f:
        shipped = tomllib.load(f)
    found = {model: (tuple(float(p[k]) for k in KINDS), shipped["date"], "shipped")
             for model, p in shipped["models"].items()}
    for model, p in _configured(directory).items():
        values = p if isinstance(p, dict) else {}
        given = [values.get(k, found.get(model, ((0.0,) * 4,))[0][i]) for i, k in enumerate(KINDS)]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in given):
            raise DevtraceError(f"[prices.\"{model}\"] in {paths.CONFIG_NAME} needs non-negative numbers for "
                                f"{', '.join(KINDS)} (US dollars per million tokens)")
        found[model] = (tuple(float(v) for v in given), "config", "config")
    return found


def _configured(directory: str) -> dict:
    try:
        with open(os.path.join(directory, paths.CONFIG_NAME), "rb") as f:
            configured = tomllib.load(f).get("prices", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # a broken config is reported by the settings loader
    return configured if isinstance(configured, dict) else {}


def store(conn, directory: str) -> None:
    rows = [(model, *values, date, source) for model, (values, date, source) in table(directory).items()]
    with write_transaction(conn):
        conn.execute("DELETE FROM agent_prices")
        conn.executemany("INSERT INTO agent_prices (model, input, output, cache_read, cache_write, price_date, source)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
