"""DevTrace: measure how developers and CLI coding agents execute work.

The package root stays import-light: `devtrace run` imports it on every captured command,
so the analytics API (`sql`, `events`, `connect`) is loaded only when first touched.
"""

__version__ = "0.3.0"

_LAZY = {
    "connect": "devtrace.analytics",
    "sql": "devtrace.analytics",
    "events": "devtrace.analytics",
    "label": "devtrace.store.labels",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'devtrace' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_LAZY])
