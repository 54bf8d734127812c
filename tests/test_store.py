"""The SQLite store: creation, migrations (incl. a DevTrace 0.2.0 store), refusing what is not ours."""

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest

from devtrace.store import StoreError, create_store, open_store
from devtrace.store.migrations import latest_version, migration_files, statements
from tests.support import devtrace, devtrace_here, rows

V020_SCHEMA = """
CREATE TABLE command_events(id TEXT PRIMARY KEY, agent_id TEXT, executed_at REAL NOT NULL,
  command_hash TEXT NOT NULL, duration_ms INTEGER NOT NULL, exit_code INTEGER NOT NULL,
  timed_out INTEGER NOT NULL, files_touched_count INTEGER NOT NULL, lines_added INTEGER NOT NULL,
  lines_deleted INTEGER NOT NULL, predicted_productivity REAL, top_contribution_feature TEXT,
  top_contribution_value REAL, model_ref TEXT);
CREATE TABLE sync_queue(event_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0, last_attempt_at REAL, last_error TEXT);
"""


def make_v020_store(directory, events=3):
    directory.mkdir(parents=True)
    conn = sqlite3.connect(directory / "devtrace.db")
    conn.executescript(V020_SCHEMA)
    for i in range(events):
        conn.execute(
            "INSERT INTO command_events VALUES (?, 'codex', ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            (f"evt_{i:012x}", 1_700_000_000.0 + i, "ab" * 32, 100 + i, i % 2, 1, 2, 3,
             55.5 if i == 0 else None, "duration_ms" if i == 0 else None, 1.5 if i == 0 else None,
             "model-v1" if i == 0 else None),
        )
        conn.execute("INSERT INTO sync_queue (event_id) VALUES (?)", (f"evt_{i:012x}",))
    conn.commit()
    conn.close()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_database(directory, schema):
    """A SQLite file named like a store but made by something else."""
    directory.mkdir()
    db = directory / "devtrace.db"
    conn = sqlite3.connect(db)
    conn.execute(schema)
    conn.commit()
    conn.close()
    return db


def test_new_store_is_wal_versioned_ignored_by_git_with_a_private_key(store):
    create_store(store).close()
    conn = sqlite3.connect(store / "devtrace.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    applied = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == [version for version, _, _ in migration_files()] and applied[-1] == latest_version()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"command_events", "labels", "event_sync", "label_sync", "schema_migrations"} <= tables
    conn.close()
    assert (store / ".gitignore").read_text().splitlines()[-1] == "*"
    key = store / "hash.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64


def test_init_inside_a_repo_leaves_git_status_clean(repo):
    assert devtrace_here("init", "--path", ".devtrace", cwd=repo).returncode == 0  # 0.2.0's quick start
    assert (repo / ".devtrace" / "devtrace.db").is_file()
    from tests.support import git

    assert git(repo, "status", "--porcelain") == ""


def test_v020_store_is_migrated_in_place_losing_nothing(tmp_path):
    old = tmp_path / "old"
    make_v020_store(old)
    open_store(old).close()
    migrated = rows(old, "SELECT * FROM command_events ORDER BY id")
    assert [r["id"] for r in migrated] == [f"evt_{i:012x}" for i in range(3)]
    first = migrated[0]
    assert (first["agent_id"], first["duration_ms"], first["lines_deleted"]) == ("codex", 100, 3)
    assert (first["predicted_productivity"], first["model_ref"]) == (55.5, "model-v1")
    assert first["started_at"] == 1_700_000_000.0
    assert first["ended_at"] == pytest.approx(1_700_000_000.1, abs=1e-6)  # a relative tolerance allows ±1,700 s
    assert first["delta_files"] is None and first["session_id"] is None
    assert (first["captured_by"], first["author_kind"], first["duration_approximate"]) == ("run", None, 0)
    # 0.2.0's sync_queue is gone: nothing was ever acknowledged, so every event is pending.
    assert rows(old, "SELECT count(*) AS n FROM event_sync")[0]["n"] == 0


def test_v020_store_accepts_new_captures_through_the_cli(tmp_path, repo):
    old = tmp_path / "old"
    make_v020_store(old, events=2)
    done = devtrace("run", "--keep-noop", "--path", str(old), "--", "true", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert len(rows(old)) == 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda f: f.write_bytes(b"this is not a database at all" * 100), "not a usable DevTrace store"),
        (lambda f: f.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000), "not a usable DevTrace store"),
    ],
)
def test_corrupt_file_is_refused_and_left_untouched(store, make, message):
    store.mkdir()
    db = store / "devtrace.db"
    make(db)
    before = digest(db)
    with pytest.raises(StoreError, match=message):
        open_store(store)
    assert digest(db) == before
    assert sorted(p.name for p in store.iterdir()) == ["devtrace.db"]


def test_other_sqlite_database_is_refused_untouched(store):
    db = foreign_database(store, "CREATE TABLE invoices (id INTEGER)")
    before = digest(db)
    with pytest.raises(StoreError, match="not a DevTrace store"):
        open_store(store)
    assert digest(db) == before


def test_store_from_a_newer_version_is_refused_untouched(store):
    create_store(store).close()
    db = store / "devtrace.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = digest(db)
    with pytest.raises(StoreError, match="newer DevTrace"):
        open_store(store)
    assert digest(db) == before


def test_cli_reports_a_bad_store_in_one_line_and_capture_still_returns_the_exit_code(repo, store):
    store.mkdir()
    (store / "devtrace.db").write_bytes(b"garbage" * 100)
    before = digest(store / "devtrace.db")
    init = devtrace_here("init", "--path", str(store), cwd=repo)
    assert init.returncode == 1
    assert init.stderr.count(b"\n") == 1 and b"not a usable DevTrace store" in init.stderr
    run = devtrace("run", "--path", str(store), "--", "sh", "-c", "exit 5", cwd=repo)
    assert run.returncode == 5
    assert b"event not recorded" in run.stderr and b"Traceback" not in run.stderr
    assert digest(store / "devtrace.db") == before


def test_missing_store_is_a_clear_error_for_readers(tmp_path):
    with pytest.raises(StoreError, match="no DevTrace store"):
        open_store(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_events_are_append_only_except_scores(store, repo):
    assert devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo).returncode == 0
    conn = sqlite3.connect(store / "devtrace.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE command_events SET exit_code = 1")
    conn.execute("UPDATE command_events SET predicted_productivity = 80, model_ref = 'v1'")
    conn.commit()
    conn.close()


def test_statement_splitter_keeps_triggers_whole():
    script = "-- c\nCREATE TABLE t (a);\nCREATE TRIGGER x BEFORE UPDATE ON t BEGIN SELECT 1; SELECT 2; END;\n"
    assert len(statements(script)) == 2
    with pytest.raises(ValueError):
        statements("CREATE TABLE t (a")


def test_refused_foreign_file_leaves_the_folder_untouched_too(store):
    db = foreign_database(store, "CREATE TABLE command_events (x)")  # a name clash, not a DevTrace store
    before = digest(db)
    with pytest.raises(StoreError, match="left as it was"):
        create_store(store)
    assert digest(db) == before
    assert sorted(p.name for p in store.iterdir()) == ["devtrace.db"]


def test_store_in_a_project_folder_does_not_hide_the_project_from_git(repo):
    done = devtrace("run", "--path", ".", "--", "sh", "-c", "echo new > new.py && echo x >> a.txt", cwd=repo)
    assert done.returncode == 0 and b"recorded" in done.stderr
    assert not (repo / ".gitignore").exists()
    from tests.support import git

    assert "new.py" in git(repo, "status", "--porcelain")


def test_events_cannot_be_deleted_even_through_a_writable_connection(store, repo):
    assert devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo).returncode == 0
    conn = sqlite3.connect(store / "devtrace.db")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM command_events")
    conn.close()
    assert len(rows(store)) == 1


def test_an_id_collision_gets_a_new_id_instead_of_losing_the_event(store):
    from devtrace.store import insert_event

    conn = create_store(store)
    event = {"id": "evt_000000000001", "executed_at": 1.0, "command_hash": "h", "duration_ms": 1,
             "exit_code": 0, "timed_out": 0}
    assert insert_event(conn, dict(event), new_id=lambda: "evt_000000000002")
    second = dict(event)
    assert insert_event(conn, second, new_id=lambda: "evt_000000000002")
    assert not insert_event(conn, dict(event))  # an agent call's id (no new_id): the same call again
    conn.close()
    assert second["id"] == "evt_000000000002"
    assert len(rows(store)) == 2


MIGRATIONS = sorted((Path(__file__).resolve().parent.parent / "sql" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))
VERSIONS = [int(file.name[:4]) for file in MIGRATIONS]  # numbers may have gaps while branches merge

# Rows with a value in every column of the tables each schema level has, as DevTrace wrote them
# then; a level not listed has the tables of the level listed before it.
LEVEL_ROWS = {
    1: {
        "command_events": [
            {"id": "evt_000000000001", "agent_id": "codex", "executed_at": 1_700_000_000.25, "command_hash": "ab" * 32,
             "duration_ms": 1500, "exit_code": 3, "timed_out": 1, "files_touched_count": 4, "lines_added": 5,
             "lines_deleted": 6, "predicted_productivity": 42.5, "top_contribution_feature": "log_churn",
             "top_contribution_value": -1.25, "model_ref": "model-v1"},
        ],
        "sync_queue": [
            {"event_id": "evt_000000000001", "status": "failed", "attempts": 2, "last_attempt_at": 1_700_000_100.5,
             "last_error": "timeout"},
        ],
    },
    2: {
        "command_events": [
            {"id": "evt_000000000002", "agent_id": "claude", "executed_at": 1_700_000_000.5, "command_hash": "cd" * 32,
             "duration_ms": 250, "exit_code": 0, "timed_out": 0, "files_touched_count": None, "lines_added": None,
             "lines_deleted": None, "predicted_productivity": 71.0, "top_contribution_feature": "exit_class",
             "top_contribution_value": 2.5, "model_ref": "v3", "started_at": 1_700_000_000.5,
             "ended_at": 1_700_000_000.75, "session_id": "ses_1", "repo_id": "repo_1", "program": "pytest",
             "delta_files": 1, "delta_lines_added": 2, "delta_lines_deleted": 3, "scored_at": 1_700_000_001.125},
        ],
        "labels": [
            {"id": 1, "event_id": "evt_000000000002", "value": 80.0, "source": "human", "labeled_by": "ana",
             "note": "good run", "created_at": 1_700_000_002.0},
            {"id": 2, "event_id": "evt_000000000002", "value": 65.5, "source": "pseudo", "labeled_by": None,
             "note": None, "created_at": 1_700_000_003.0},
        ],
        "sync_queue": [
            {"event_id": "evt_000000000002", "status": "pending", "attempts": 0, "last_attempt_at": None,
             "last_error": None},
        ],
    },
}


# Tables a later migration drops on purpose: 0.2.0's sync_queue, which nothing ever read or
# sent, gives way to acknowledgement rows in 0005 (every event is then pending, as it was).
DROPPED = {"sync_queue": 5}


def level_rows(level: int) -> dict:
    found = LEVEL_ROWS[max(known for known in LEVEL_ROWS if known <= level)]
    return {table: table_rows for table, table_rows in found.items() if DROPPED.get(table, level + 1) > level}


def store_at_level(directory: Path, level: int) -> list:
    """A store as DevTrace left it at schema `level` (its migrations applied and recorded),
    holding level_rows(level); returns schema_migrations as it was then."""
    directory.mkdir(parents=True)
    conn = sqlite3.connect(directory / "devtrace.db", isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)")
    for file in (f for f in MIGRATIONS if int(f.name[:4]) <= level):
        for statement in statements(file.read_text()):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (int(file.name[:4]), file.stem[5:], 1e9 + level))
    conn.execute(f"PRAGMA user_version = {level}")
    for table, table_rows in level_rows(level).items():
        for row in table_rows:
            conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
    applied = conn.execute("SELECT * FROM schema_migrations").fetchall()
    conn.close()
    return applied


@pytest.mark.parametrize("level", VERSIONS[:-1])
def test_a_store_at_every_earlier_schema_level_migrates_keeping_every_value(tmp_path, level):
    assert VERSIONS[-1] == latest_version()
    before = store_at_level(tmp_path / "old", level)
    open_store(tmp_path / "old").close()
    for table, table_rows in level_rows(level).items():
        if table in DROPPED:
            assert not rows(tmp_path / "old", f"SELECT name FROM sqlite_master WHERE name = '{table}'"), table
            continue
        columns = list(table_rows[0])
        kept = rows(tmp_path / "old", f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
        assert [dict(r) for r in kept] == table_rows, table
    applied = rows(tmp_path / "old", "SELECT * FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in applied] == VERSIONS  # each once
    assert [tuple(r) for r in applied[:VERSIONS.index(level) + 1]] == before  # the earlier ones were not run again
    assert rows(tmp_path / "old", "PRAGMA user_version")[0][0] == latest_version()
    open_store(tmp_path / "old").close()  # opening it again changes nothing
    assert [tuple(r) for r in rows(tmp_path / "old", "SELECT * FROM schema_migrations")] == [tuple(r) for r in applied]


def test_a_store_from_before_line_counts_upgrades_with_none_and_keeps_them_append_only(tmp_path):
    """0012: the events a store holds were one line each as far as anyone knows (NULL, not 1),
    and the new column is as append-only as the rest of an event."""
    store_at_level(tmp_path / "old", 11)
    open_store(tmp_path / "old").close()
    kept = rows(tmp_path / "old", "SELECT id, line_count FROM command_events ORDER BY rowid")
    assert kept and [r["line_count"] for r in kept] == [None] * len(kept)
    conn = sqlite3.connect(tmp_path / "old" / "devtrace.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE command_events SET line_count = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE command_events SET head_hash = 'head_x'")  # the trigger kept every earlier column
    finally:
        conn.close()


def test_the_checkout_guard_sees_another_copy_of_devtrace(tmp_path):
    """conftest stops the run when subprocesses would import another DevTrace than this one."""
    from tests.support import CHECKOUT, devtrace_env, imported_checkout

    assert imported_checkout(tmp_path) == CHECKOUT
    other = tmp_path / "other"
    other.mkdir()
    (other / "devtrace").mkdir()
    (other / "devtrace" / "__init__.py").write_text("")
    assert imported_checkout(tmp_path, devtrace_env(PYTHONPATH=str(other))) == other
