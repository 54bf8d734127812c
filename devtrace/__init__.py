"""DevTrace: measure how developers and CLI coding agents execute work.

The package root stays import-light: `devtrace run` imports it on every captured command,
so the analytics API (`sql`, `events`, `connect`) is loaded only when first touched.
"""

from devtrace.lazy import lazy_attributes

__version__ = "0.3.0"

_LAZY = {
    "connect": "devtrace.analytics",
    "sql": "devtrace.analytics",
    "events": "devtrace.analytics",
    "label": "devtrace.store.labels",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
