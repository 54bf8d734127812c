"""The view files of sql/views: names, what each answers, where each is (standard library only,
so listing or printing a view loads no DuckDB)."""

import os
from typing import NamedTuple

from devtrace import paths
from devtrace.errors import DevtraceError


class View(NamedTuple):
    name: str
    description: str
    file: str


def views() -> list[View]:
    """The views of sql/views in creation order. Files are `NN_<view>.sql`: NN orders the
    dependencies (00 = over the store's tables, 10 = over those views)."""
    folder = os.path.join(paths.sql_dir(), "views")
    found = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".sql"):
            continue
        file = os.path.join(folder, name)
        with open(file, encoding="utf-8") as f:
            first = f.readline()
        found.append(View(name.removesuffix(".sql").partition("_")[2], first.removeprefix("--").strip(), file))
    return found


def view(name: str) -> View:
    known = views()
    for candidate in known:
        if candidate.name == name:
            return candidate
    raise DevtraceError(f"unknown view {name!r} (views: {', '.join(v.name for v in known)})")
