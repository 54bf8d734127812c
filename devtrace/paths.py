"""Where things live: the store directory, its files, and the SQL shipped with the package.

Plain `os.path` strings: pathlib costs several milliseconds to import on the capture path.
"""

import os

DEFAULT_DIR = os.path.join("~", ".devtrace")  # one store per user, for every command and hook

# Every name DevTrace uses inside a store folder.
DB_NAME = "devtrace.db"
KEY_NAME = "hash.key"
IMPORT_KEY_NAME = "import.key"  # the secret imported history entries' ids are made with (never rotated)
CONFIG_NAME = "config.toml"
ACTIVE_MODEL_DIR = "model-xgb"  # a copy of the active model version (0.2.0's documented place)
VERSIONS_DIR = "models"  # one folder per model version: models/v1, models/v2, ...
MODEL_FILE = "model.json"
METADATA_FILE = "metadata.json"
SHAP_TABLES = "shap-tables.npz"  # beside a model.json: its SHAP pattern tables (devtrace.ml.treeshap)
SCORING_LOCK = "scoring.lock"  # held by whoever is scoring pending events
SCORER_LOG = "autoscore.log"  # why a detached scorer failed, since nobody sees its stderr
HOOKS_LOG = "hooks.log"  # why a hook writer could not record an event (never what the command was)
SYNC_LOCK = "sync.lock"  # held by whoever is pushing to the central server
SYNC_LOG = "autosync.log"  # why a background push (sync = "auto") failed
SESSIONS_PUSHED = "agent-sessions.pushed"  # the newest imported_at of agent session usage the server acknowledged
SPOOL_DIR = "spool"  # finished commands waiting for the drainer (devtrace.capture.spool)
DRAINER_LOCK = "drainer.lock"  # held by the store's one drainer
DRAINER_PID = "drainer.pid"  # the live drainer's pid
HEALTH_FILE = "health"  # when the drainer last ran PRAGMA quick_check, and what it found
SHELLS_FILE = "shells.json"  # the live shells with the hook loaded (devtrace.capture.hooks.sessions)


def store_dir(path: str | os.PathLike | None = None) -> str:
    """The store directory: the explicit path, else $DEVTRACE_PATH, else ~/.devtrace (the
    per-user store the hooks write to: every command reads and writes one store by default)."""
    if path is None or os.fspath(path) == "":
        path = os.environ.get("DEVTRACE_PATH") or DEFAULT_DIR
    return os.path.expanduser(os.fspath(path))


def db_file(path: str | os.PathLike | None = None) -> str:
    return os.path.join(store_dir(path), DB_NAME)


def active_model_file(directory: str) -> str:
    """The active model of the store folder `directory` (capture tests only this file)."""
    return os.path.join(directory, ACTIVE_MODEL_DIR, MODEL_FILE)


def _resource_dir(name: str) -> str:
    """A top-level folder of the project: inside the wheel it is shipped as devtrace/<name>."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, name)
    return packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(here), name)


def sql_dir() -> str:
    return _resource_dir("sql")


def notebooks_dir() -> str:
    return _resource_dir("notebooks")
