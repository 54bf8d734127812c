"""The store trusts nothing it did not write: labels are deleted only by the undo, the hashing
key never changes by accident, new stores are private, foreign files and odd paths are
named in one sentence, and a store DevTrace may not write to can still be read."""

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from devtrace import analytics
from devtrace.store import StoreError, create_store, open_store
from devtrace.store.label_undo import retract_label
from devtrace.store.labels import label
from tests.analytics_support import JAN_1, build_store, event
from tests.support import devtrace, devtrace_env, devtrace_here, rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(done: subprocess.CompletedProcess) -> str:
    err = done.stderr if isinstance(done.stderr, str) else done.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- labels: deleted only by the undo ------------------------------------------------------------


def test_a_label_is_deleted_by_the_undo_and_by_no_other_connection(tmp_path):
    store = build_store(tmp_path / "store", [event(JAN_1, id="e1")])
    kept = label("e1", 40, path=store)
    newest = label("e1", 70, path=store)
    conn = sqlite3.connect(store / "devtrace.db")
    with pytest.raises(sqlite3.OperationalError, match="devtrace_undo_allows"):
        conn.execute("DELETE FROM labels")
    # A connection that makes up the function to get past the guard still meets the rule.
    conn.create_function("devtrace_undo_allows", 1, lambda row: False)
    with pytest.raises(sqlite3.IntegrityError, match="labels are never deleted"):
        conn.execute("DELETE FROM labels WHERE id = ?", (kept,))
    conn.close()
    # DuckDB attaching the file for writing (what `devtrace sql` used to allow) is refused too.
    con = duckdb.connect()
    con.execute(f"LOAD '{analytics.extension_path()}'")
    con.execute(f"ATTACH '{store / 'devtrace.db'}' AS w (TYPE sqlite)")
    with pytest.raises(duckdb.Error, match="devtrace_undo_allows"):
        con.execute("DELETE FROM w.labels")
    con.close()
    assert retract_label(newest, path=store) == "e1"
    assert [r["id"] for r in rows(store, "SELECT id FROM labels")] == [kept]


# --- the hashing key ---------------------------------------------------------------------------


def captured(store: Path, cwd: Path) -> subprocess.CompletedProcess:
    return devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=cwd, text=True)


def test_a_missing_key_is_refused_not_replaced(tmp_path):
    store = tmp_path / "store"
    assert captured(store, tmp_path).returncode == 0
    (store / "hash.key").unlink()
    done = captured(store, tmp_path)
    assert done.returncode == 0  # the command's result stands
    err = one_line(done)
    assert f"event not recorded: {store / 'hash.key'} is missing: restore it from a backup" in err
    assert f"devtrace key rotate --path {store}" in err
    assert not (store / "hash.key").exists() and len(rows(store)) == 1


def test_an_empty_key_is_refused(tmp_path):
    store = tmp_path / "store"
    assert captured(store, tmp_path).returncode == 0
    (store / "hash.key").write_text("\n")
    err = one_line(captured(store, tmp_path))
    assert f"{store / 'hash.key'} is empty: restore it from a backup" in err
    assert len(rows(store)) == 1


def test_rotating_the_key_keeps_the_old_one_and_changes_the_hashes(tmp_path):
    store = tmp_path / "store"
    assert captured(store, tmp_path).returncode == 0
    old_key = (store / "hash.key").read_text()
    done = devtrace_here("key", "rotate", "--path", str(store), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    retired = [p for p in store.iterdir() if p.name.startswith("hash.key.retired-")]
    assert len(retired) == 1 and retired[0].read_text() == old_key
    assert "1 event" in done.stdout and "hash differently" in done.stdout
    new_key = store / "hash.key"
    assert new_key.read_text() != old_key and stat.S_IMODE(new_key.stat().st_mode) == 0o600
    assert captured(store, tmp_path).returncode == 0
    hashes = [r["command_hash"] for r in rows(store)]
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # the same `true`, another key


def test_rotate_starts_a_key_for_a_store_that_lost_it(tmp_path):
    store = tmp_path / "store"
    assert captured(store, tmp_path).returncode == 0
    (store / "hash.key").unlink()
    done = devtrace_here("key", "rotate", "--path", str(store), cwd=tmp_path, text=True)
    assert done.returncode == 0, done.stderr
    assert captured(store, tmp_path).returncode == 0 and len(rows(store)) == 2


# --- a new store is private ------------------------------------------------------------------------


def test_a_new_store_is_readable_by_its_owner_only_whatever_the_umask(tmp_path):
    store = tmp_path / "store"
    script = (
        "import os, sys; os.umask(0); from devtrace.store import create_store;"
        "conn = create_store(sys.argv[1]);"
        "conn.execute(\"INSERT INTO schema_migrations VALUES (999999, 'x', 0)\");"  # a write: -wal and -shm exist
        "print(sorted(n for n in os.listdir(sys.argv[1])))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(store)], capture_output=True, text=True, check=True)
    assert "'devtrace.db-wal'" in done.stdout and "'devtrace.db-shm'" in done.stdout, done.stdout
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(store) == 0o700
    assert mode(store / "devtrace.db") == 0o600 and mode(store / "hash.key") == 0o600
    conn = sqlite3.connect(store / "devtrace.db")  # the -wal and -shm files, while in use
    conn.execute("SELECT count(*) FROM command_events").fetchone()
    assert mode(store / "devtrace.db-wal") == 0o600 and mode(store / "devtrace.db-shm") == 0o600
    conn.close()


# --- foreign files and odd paths ---------------------------------------------------------------------


def test_a_foreign_file_whose_user_version_looks_like_ours_is_refused_untouched(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    db = store / "devtrace.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    before = digest(db)
    err = one_line(devtrace("run", "--path", str(store), "--", "true", cwd=tmp_path, text=True))
    assert "is a SQLite database but not a DevTrace store" in err
    with pytest.raises(StoreError, match="not a DevTrace store"):
        open_store(store)
    assert digest(db) == before and sorted(p.name for p in store.iterdir()) == ["devtrace.db"]


def test_a_symlink_loop_as_the_store_path_is_named(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for args in (["init"], ["events"], ["sql", "SELECT 1"]):
        err = one_line(devtrace(*args, "--path", str(loop), cwd=tmp_path, text=True))
        assert f"the store path {loop} is a symbolic link that leads nowhere (a loop or a missing target)" in err


def test_a_full_disk_is_called_a_full_disk(tmp_path):
    """The store is on a tmpfs of 160 KiB, filled up between two commands: SQLite cannot
    create the -shm file, and the sentence says the disk is full."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (
        'mount -t tmpfs -o size=160k tmpfs "$DISK" && "$PY" -m devtrace init --path "$DISK/st" >/dev/null'
        ' && (dd if=/dev/zero of="$DISK/fill" bs=4k 2>/dev/null; true)'
        ' && "$PY" -m devtrace events --path "$DISK/st"'
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], cwd=tmp_path, text=True,
        capture_output=True, env=devtrace_env(PY=sys.executable, DISK=str(disk)),
    )
    assert done.returncode == 1
    assert one_line(done) == f"devtrace: the disk holding {disk / 'st' / 'devtrace.db'} is full: free some space and try again\n"


# --- reading a store DevTrace may not write to --------------------------------------------------------


@pytest.fixture
def shared_store():
    """A store with two events in a folder another user can traverse (tmp_path is private)."""
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="devtrace-readonly-"))
    os.chmod(top, 0o755)
    store = build_store(top / "store", [event(JAN_1, id="e1"), event(JAN_1 + 1, id="e2", agent_id="codex")])
    yield store
    for folder, _, _ in os.walk(top):
        os.chmod(folder, 0o755)
    shutil.rmtree(top)


READ_BOTH = (
    '"$PY" -m devtrace events --json --path "$STORE" && '
    '"$PY" -m devtrace sql "SELECT count(*) AS n FROM agent_summary" --format csv --path "$STORE"'
)


def assert_read(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr
    assert '"id":"e1"' in done.stdout and '"id":"e2"' in done.stdout and done.stdout.endswith("n\n2\n")
    assert "Traceback" not in done.stderr


def test_a_store_on_a_read_only_mount_is_read(shared_store):
    before = digest(shared_store / "devtrace.db")
    script = f'mount --bind -o ro "$STORE" "$STORE" && {READ_BOTH}'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], capture_output=True, text=True,
        env=devtrace_env(PY=sys.executable, STORE=str(shared_store)), cwd=shared_store.parent,
    )
    assert_read(done)
    assert digest(shared_store / "devtrace.db") == before


def test_a_store_one_may_read_but_not_write_is_read(shared_store):
    """As another user (setpriv), with the store readable by all and writable by its owner only."""
    os.chmod(shared_store, 0o755)
    os.chmod(shared_store / "devtrace.db", 0o644)
    before = digest(shared_store / "devtrace.db")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "devtrace"]
    outputs = []
    for args in (["events", "--json"], ["sql", "SELECT count(*) AS n FROM agent_summary", "--format", "csv"]):
        done = subprocess.run([*as_nobody, *args, "--path", str(shared_store)], capture_output=True, text=True,
                              cwd=shared_store.parent, env=devtrace_env(HOME=str(shared_store.parent)))
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert_read(subprocess.CompletedProcess([], 0, "".join(outputs), ""))
    assert digest(shared_store / "devtrace.db") == before


def test_writing_to_a_read_only_store_still_says_it_needs_write_access(shared_store):
    script = 'mount --bind -o ro "$STORE" "$STORE" && "$PY" -m devtrace label e1 50 --path "$STORE"'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], capture_output=True, text=True,
        env=devtrace_env(PY=sys.executable, STORE=str(shared_store)), cwd=shared_store.parent,
    )
    assert done.returncode == 1
    assert "needs write access" in one_line(done)


def test_a_new_store_is_not_created_in_a_lost_key_folder(tmp_path):
    """create_store writes a key only into a store none of whose events was hashed."""
    store = build_store(tmp_path / "store", [event(JAN_1, id="e1")])
    (store / "hash.key").unlink()
    create_store(store).close()
    assert not (store / "hash.key").exists()
