"""The redacted command line a store keeps beside each event: what is redacted, what is kept
as typed, that no secret reaches any file of the store, and that the text never leaves it."""

import sqlite3
import time
from pathlib import Path

import pytest

from devtrace.capture.hooks.writer import Finished, write
from devtrace.capture.identity import command_words, program
from devtrace.capture.redact import REDACTED, redact, stored_text
from tests.central_support import call, make_token, run_cli
from tests.support import devtrace, devtrace_env, rows

CORPUS = Path(__file__).parent / "fixtures" / "commands"


def _lines(name: str) -> list[str]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return [line.replace("\\n", "\n") for line in text.splitlines() if line and not line.startswith("#")]


SECRETS = [tuple(row.split("\t", 1)) for row in _lines("secret_lines.tsv")]
ORDINARY = _lines("ordinary_lines.txt")


def test_the_corpus_is_large_enough():
    assert len(SECRETS) >= 60 and len(ORDINARY) >= 60
    assert all(secret in line for secret, line in SECRETS)


@pytest.mark.parametrize(("secret", "line"), SECRETS, ids=[f"secret{i}" for i in range(len(SECRETS))])
def test_a_secret_is_redacted_and_the_line_stays_recognisable(secret, line):
    redacted = redact(line)
    assert secret not in redacted
    assert REDACTED in redacted
    plain = redacted.replace(REDACTED, "R")  # `<redacted>` would split as a redirection
    assert program(command_words(plain)) == program(command_words(line))  # still the same command


@pytest.mark.parametrize("line", ORDINARY, ids=[f"ordinary{i}" for i in range(len(ORDINARY))])
def test_an_ordinary_line_is_kept_as_typed(line):
    assert redact(line) == line


def _detect_secrets(line: str) -> set[tuple[str, str]]:
    """What detect-secrets' plugins (all of them, default settings) find in the line; a public
    IPv4 address is not a secret and is left out."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import default_settings

    found = set()
    with default_settings():
        for plugin_type in get_mapping_from_secret_type_to_class().values():
            plugin = plugin_type()
            for secret in plugin.analyze_line(filename="command.sh", line=line, line_number=1):
                if secret.type != "Public IP (ipv4)" and secret.secret_value:
                    found.add((secret.type, secret.secret_value))
    return found


def test_whatever_detect_secrets_finds_in_the_secret_corpus_is_gone():
    checked = 0
    for _, line in SECRETS:
        redacted = redact(line)
        for kind, value in _detect_secrets(line):
            checked += 1
            assert value not in redacted, f"{kind} {value!r} left in {redacted!r}"
    assert checked >= 20  # the oracle did find secrets to check


def test_detect_secrets_finds_nothing_but_hashes_in_the_ordinary_corpus():
    """The ordinary lines are kept verbatim: what detect-secrets flags in them must be what the
    redactor keeps on purpose (hex: git SHAs, digests; UUIDs)."""
    import re

    for line in ORDINARY:
        for kind, value in _detect_secrets(line):
            assert re.fullmatch(r"[0-9a-fA-F-]+", value), f"{kind} {value!r} in {line!r}"


def test_a_command_not_found_keeps_no_text():
    assert stored_text("hunter2", 127) is None
    assert stored_text("pytest -q", 1) == "pytest -q"
    assert stored_text("   ", 0) is None
    long = stored_text("echo " + "ab " * 5000, 0)
    assert len(long) <= 2002 and long.endswith("ab …")
    token = "ghp_FAKEa1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
    cut_in_half = "x" * 1990 + " " + token  # the token straddles the cut: dropped with its word
    assert token[:9] not in stored_text(cut_in_half, 0) and stored_text("a" * 5000, 0) is None


def test_redacting_a_long_line_takes_linear_time():
    """A secret-named word followed by one long word cost quadratic time (5.7 s for 8,000
    characters): each position inside the word was tried as the start of a NAME=value."""
    started = time.perf_counter()
    redact("key " + "a" * 8000)
    redact("password=" + "b" * 8000)
    assert time.perf_counter() - started < 1.0


def _files_of(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()]


def _hook(store: Path, cwd: Path, line: str, exit_code: int = 0) -> str | None:
    return write(Finished("bash", line, exit_code=exit_code, timed_out=False, duration_ms=5, ended_at=time.time(),
                          session="t1", cwd=str(cwd), agent_id=None, author_kind="human"), str(store))


def test_no_secret_reaches_any_file_of_the_store(tmp_path, repo, store):
    for _, line in SECRETS:
        assert _hook(store, repo, line) is not None
    _hook(store, repo, "MyTypedPassw0rdAtThePrompt", exit_code=127)
    (repo / "a.txt").write_text("changed\n")
    secret = SECRETS[0][0]
    done = devtrace("run", "--path", str(store), "--", "sh", "-c", f": {secret}; exit 3", cwd=repo)
    assert done.returncode == 3, done.stderr
    texts = [r["command_text"] for r in rows(store)]
    assert len(texts) == len(SECRETS) + 2
    assert texts[-2] is None and rows(store)[-2]["program"] is None  # exit 127: not kept
    assert texts[-1] == f"sh -c ': {REDACTED}; exit 3'"
    assert sum(REDACTED in (t or "") for t in texts) == len(SECRETS) + 1
    files = _files_of(store)
    assert {f.name for f in files} >= {"devtrace.db", "hash.key"}
    for file in files:
        data = file.read_bytes()
        for secret, _ in SECRETS:
            assert secret.encode() not in data, f"{secret} in {file.name}"
        assert b"MyTypedPassw0rdAtThePrompt" not in data


def test_ordinary_lines_are_stored_as_typed(tmp_path, repo, store):
    for line in ORDINARY[:10]:
        _hook(store, repo, line)
    assert [r["command_text"] for r in rows(store)] == [line for line in ORDINARY[:10] if not line.startswith("devtrace")]


def test_command_text_off_stores_none_and_a_bad_value_means_off(tmp_path, repo, store):
    store.mkdir()
    (store / "config.toml").write_text('command_text = "off"\n')
    _hook(store, repo, "pytest -q -k add")
    (store / "config.toml").write_text('command_text = "plain"\n')
    done = devtrace("run", "--path", str(store), "--", "true", cwd=repo)
    assert 'must be "redacted" or "off"; using "off"' in done.stderr.decode()
    assert [r["command_text"] for r in rows(store)] == [None, None]
    assert [r["program"] for r in rows(store)] == ["pytest", "true"]


def test_the_text_can_be_forgotten_but_never_written_after_the_event(repo, store):
    _hook(store, repo, "echo zebra-marker-9431")
    conn = sqlite3.connect(store / "devtrace.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="only forgotten"):
            conn.execute("UPDATE command_events SET command_text = 'something else'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE command_events SET program = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            conn.execute("DELETE FROM command_events")
    finally:
        conn.close()


def test_forget_text_removes_it_from_every_file_and_keeps_the_events(tmp_path, repo, store):
    other = tmp_path / "other"
    other.mkdir()
    _hook(store, repo, "echo zebra-marker-in-repo")
    _hook(store, other, "echo zebra-marker-elsewhere")
    done = devtrace("forget", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 1 and "--text" in done.stderr.decode()
    done = devtrace("forget", "--text", "--repo", str(repo), "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 event" in done.stdout.decode()
    assert [r["command_text"] for r in rows(store)] == [None, "echo zebra-marker-elsewhere"]
    done = devtrace("forget", "--text", "--before", "2000-01-01", "--path", str(store), cwd=tmp_path)
    assert "0 events" in done.stdout.decode()
    done = devtrace("forget", "--text", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["command_text"] for r in rows(store)] == [None, None]
    assert len(rows(store)) == 2
    for file in _files_of(store):
        assert b"zebra-marker" not in file.read_bytes(), file.name


def test_export_leaves_the_text_out_unless_asked(tmp_path, repo, store):
    _hook(store, repo, "echo export-marker")
    devtrace("export", "--out", str(tmp_path / "plain.csv"), "--path", str(store), cwd=tmp_path, check=True)
    devtrace("export", "--out", str(tmp_path / "text.csv"), "--with-text", "--path", str(store), cwd=tmp_path, check=True)
    assert "command" not in (tmp_path / "plain.csv").read_text().splitlines()[0].split(",")
    assert "export-marker" not in (tmp_path / "plain.csv").read_text()
    assert "echo export-marker" in (tmp_path / "text.csv").read_text()


def test_sync_sends_no_text_and_the_server_refuses_an_event_carrying_some(tmp_path, repo, store, server_factory):
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    token = make_token(central, "laptop")
    _hook(store, repo, "echo sync-marker-5521")
    done = run_cli("sync", "login", "--server", server.address, "--token", token, "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = run_cli("sync", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(central)
    try:
        assert conn.execute("SELECT count(*) FROM command_events").fetchone()[0] == 1
        columns = [r[1] for r in conn.execute("PRAGMA table_info(command_events)")]
    finally:
        conn.close()
    assert "command_text" not in columns
    done = run_cli("sql", "--central", central, "--format", "csv", "SELECT * FROM events", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split(",")
    assert "command_text" not in header and "command" in header and "sync-marker" not in done.stdout
    assert all(b"sync-marker" not in Path(f).read_bytes() for f in Path(tmp_path).glob("central.db*"))
    event = {"id": "evt_0000000000aa", "executed_at": time.time(), "command_hash": "c" * 64, "command_text": "ls"}
    status, answer, _ = call(server.address, "POST", "/v1/telemetry/batch", token=token, body={"events": [event]})
    assert status == 200 and answer["accepted"] == 0
    assert "command_text" in answer["rejected"][0]["reason"]
    status, answer, _ = call(server.address, "POST", "/v1/telemetry/batch", token=token,
                             body={"events": [{**event, "command_text": None}]})
    assert answer["accepted"] == 1


def test_the_local_views_show_the_text(tmp_path, repo, store):
    _hook(store, repo, "echo view-marker")
    _hook(store, repo, "sh -c 'exit 7'", exit_code=127)
    done = devtrace("sql", "--format", "csv", "SELECT command FROM events ORDER BY executed_at", "--path", str(store),
                    cwd=tmp_path, env=devtrace_env())
    assert done.returncode == 0, done.stderr
    hash8 = rows(store)[1]["command_hash"][:8]
    assert done.stdout.decode().splitlines() == ["command", "echo view-marker", f"? [{hash8}]"]


def test_an_organisation_requiring_no_text_is_obeyed_at_login_and_at_each_push(tmp_path, repo, store, server_factory):
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    token = make_token(central, "laptop")
    _hook(store, repo, "echo policy-marker-before")
    login = run_cli("sync", "login", "--server", server.address, "--token", token, "--path", str(store), cwd=tmp_path)
    assert login.returncode == 0 and "command text" not in login.stdout  # the default policy asks nothing
    _hook(store, repo, "echo policy-marker-kept")
    assert [r["command_text"] for r in rows(store)] == ["echo policy-marker-before", "echo policy-marker-kept"]
    done = run_cli("server", "policy", "set", "command_text", "off", "--db", central, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert run_cli("server", "policy", "show", "--db", central, cwd=tmp_path).stdout == "command_text = off\n"
    done = run_cli("sync", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the text of 2 events was forgotten" in done.stdout
    assert 'command_text = "off"' in (store / "config.toml").read_text()
    _hook(store, repo, "echo policy-marker-after")
    env = devtrace_env(DEVTRACE_COMMAND_TEXT="redacted")  # the environment cannot lift the requirement
    assert devtrace("run", "--path", str(store), "--", "echo", "policy-marker-run", cwd=repo, env=env).returncode == 0
    assert [r["command_text"] for r in rows(store)] == [None] * 4
    again = run_cli("sync", "--path", str(store), cwd=tmp_path)
    assert again.returncode == 0 and "command text" not in again.stdout  # obeyed already: nothing new to say
    assert all(b"policy-marker" not in f.read_bytes() for f in _files_of(store))
    # A machine enrolling after the policy was set obeys at once.
    other = tmp_path / "other"
    _hook(other, repo, "echo policy-marker-other")
    login = run_cli("sync", "login", "--server", server.address, "--token", make_token(central, "desktop"),
                    "--path", str(other), cwd=tmp_path)
    assert login.returncode == 0 and "the text of 1 event was forgotten" in login.stdout
    assert [r["command_text"] for r in rows(other)] == [None]
    bad = run_cli("server", "policy", "set", "command_text", "sometimes", "--db", central, cwd=tmp_path)
    assert bad.returncode == 1 and "command_text takes redacted or off" in bad.stderr


def test_a_command_hashed_under_two_keys_is_two_rows_that_say_their_key(tmp_path, repo, store):
    """A key set by hand ($DEVTRACE_HASH_KEY) re-keys nothing (only `key rotate`, `sync login` and
    the organisation's policy do, see test_identity_across_keys.py): the rows say which key."""
    for key in ("", "organisation-key"):
        env = devtrace_env(DEVTRACE_HASH_KEY=key) if key else devtrace_env()
        assert devtrace("run", "--path", str(store), "--", "true", cwd=repo, env=env).returncode == 0
    done = devtrace("sql", "--format", "csv", "SELECT command, key_fingerprint FROM command_stats ORDER BY 2",
                    "--path", str(store), cwd=tmp_path)
    lines = done.stdout.decode().splitlines()
    fingerprints = sorted(r["key_fingerprint"] for r in rows(store))
    assert lines == ["command,key_fingerprint", *(f"true,{f}" for f in fingerprints)] and len(set(fingerprints)) == 2
    # `devtrace doctor` notices, and `devtrace key rekey` brings them to the key in force (the store's own here).
    noted = devtrace("doctor", "--path", str(store), cwd=tmp_path).stdout.decode()
    assert "1 command recorded under another key" in noted and "devtrace key rekey" in noted, noted
    done = devtrace("key", "rekey", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0 and "1 command recorded under other keys" in done.stdout.decode(), done.stderr
    done = devtrace("sql", "--format", "csv", "SELECT command, runs FROM command_stats", "--path", str(store), cwd=tmp_path)
    assert done.stdout.decode().splitlines() == ["command,runs", "true,2"]
    assert "identity" not in devtrace("doctor", "--path", str(store), cwd=tmp_path).stdout.decode()


@pytest.mark.parametrize("text", ["redacted", "off"])
def test_retry_loops_sessions_and_command_stats_show_the_command(tmp_path, repo, store, text):
    """Each has a `command` column: the text where stored, else the program and 8 characters of its hash."""
    if text == "off":
        (store).mkdir()
        (store / "config.toml").write_text('command_text = "off"\n')
    for _ in range(2):
        _hook(store, repo, "make check-loop", exit_code=2)  # a retry loop of two failed runs
    recorded = rows(store)
    shown = "make check-loop" if text == "redacted" else f"make [{recorded[0]['command_hash'][:8]}]"
    for view in ("retry_loops", "sessions", "command_stats"):
        done = devtrace("sql", "--format", "csv", f"SELECT command FROM {view}", "--path", str(store), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().splitlines() == ["command", shown], view
