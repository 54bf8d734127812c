"""Package attributes imported on first use, so that importing a package costs nothing until
one of its names is touched (`devtrace run` imports the package root on every command)."""

import importlib


def lazy_attributes(package: str, names: dict[str, str], namespace: dict):
    """`__getattr__` and `__dir__` for `package`, whose `names` (name -> module) are imported
    on first use and then kept in its `namespace`."""

    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted([*namespace, *names])

    return __getattr__, __dir__
