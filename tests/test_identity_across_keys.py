"""One identity across keys: a command recorded before and after `devtrace key rotate` and
`devtrace sync login` (the organisation's key, from a real server on loopback) is one command
in the views where its text is stored; where it is not, the rows say which key each is under."""

import json
import time
from pathlib import Path

import pytest

from devtrace import analytics
from devtrace.capture.hooks.writer import Finished, write
from devtrace.capture.identity import command_hash, command_words, key_fingerprint
from tests.central_support import make_token, run_cli
from tests.hook_support import Shell, wait_events
from tests.support import devtrace, devtrace_env, rows

LINE = "git status --short"


def _hook(store: Path, cwd: Path, line: str = LINE, exit_code: int = 0) -> None:
    assert write(Finished("bash", line, exit_code=exit_code, timed_out=False, duration_ms=5, ended_at=time.time(),
                          session="t1", cwd=str(cwd), agent_id=None, author_kind="human"), str(store)) is not None


def _run(store: Path, repo: Path, env: dict | None = None) -> None:
    done = devtrace("run", "--path", str(store), "--", *LINE.split(), cwd=repo, env=env)
    assert done.returncode == 0, done.stderr


def _sql(store: Path, cwd: Path, text: str) -> list[str]:
    done = devtrace("sql", "--format", "csv", text, "--path", str(store), cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().splitlines()


def _top(store: Path, cwd: Path) -> list[dict]:
    done = devtrace("top", "--since", "all", "--by", "command", "--json", "--path", str(store), cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _rotate(store: Path, cwd: Path) -> str:
    done = devtrace("key", "rotate", "--path", str(store), cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_one_command_across_a_rotate_and_the_organisations_key(tmp_path, repo, store, server_factory):
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    _hook(store, repo)
    _run(store, repo)
    said = _rotate(store, tmp_path)
    assert "1 command re-hashed from their stored text" in said
    _hook(store, repo)
    _run(store, repo)
    login = run_cli("sync", "login", "--server", server.address, "--token", make_token(central, "laptop"),
                    "--path", str(store), cwd=tmp_path)
    assert login.returncode == 0, login.stderr
    assert "2 commands captured before were re-hashed" in login.stdout  # one per key before
    _hook(store, repo)
    _run(store, repo)
    recorded = rows(store)
    assert len(recorded) == 6 and len({r["command_hash"] for r in recorded}) == 3  # three keys: three hashes
    assert len({r["key_fingerprint"] for r in recorded}) == 3
    organisation = recorded[-1]["key_fingerprint"]
    assert _sql(store, tmp_path, "SELECT command, runs, key_fingerprint FROM command_stats") == [
        "command,runs,key_fingerprint", f"{LINE},6,{organisation}"]
    assert [(r["key"], r["runs"], r["key_fingerprint"]) for r in _top(store, tmp_path)] == [(LINE, 6, organisation)]
    # The events themselves stay as recorded; the view says both.
    assert _sql(store, tmp_path, "SELECT count(DISTINCT command_hash), count(DISTINCT recorded_command_hash), "
                "count(DISTINCT command_key) FROM events") == ["count(DISTINCT command_hash),count(DISTINCT recorded_"
                                                              "command_hash),count(DISTINCT command_key)", "1,3,1"]
    # Sync sends the events as recorded: the server sees each hash with the key that made it.
    assert run_cli("sync", "--path", str(store), cwd=tmp_path).returncode == 0
    done = devtrace("sql", "--central", central, "--format", "csv",
                    "SELECT count(*) FROM command_stats", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == ["count_star()", "3"]


def test_the_identity_is_the_hash_the_current_key_gives_the_text(tmp_path, repo, store):
    _hook(store, repo, "pytest -q -k add")
    _rotate(store, tmp_path)
    key = (store / "hash.key").read_bytes().strip()
    expected = command_hash(key, command_words("pytest -q -k add"))
    assert _sql(store, tmp_path, "SELECT command_hash, command_key FROM events") == [
        "command_hash,command_key", f"{expected},{key_fingerprint(key)}"]


def test_two_rotations_keep_one_command(tmp_path, repo, store):
    for _ in range(3):
        _hook(store, repo)
        _rotate(store, tmp_path)
    _hook(store, repo)
    assert _sql(store, tmp_path, "SELECT command, runs FROM command_stats") == ["command,runs", f"{LINE},4"]


def test_without_text_the_rows_say_their_key(tmp_path, repo, store):
    """No text, nothing to re-hash: two rows, each with the key it is under, never merged."""
    env = devtrace_env(DEVTRACE_COMMAND_TEXT="off")
    _run(store, repo, env)
    assert "0 commands re-hashed" in _rotate(store, tmp_path)
    _run(store, repo, env)
    fingerprints = [r["key_fingerprint"] for r in rows(store)]
    assert len(set(fingerprints)) == 2
    lines = _sql(store, tmp_path, "SELECT key_fingerprint, runs FROM command_stats ORDER BY last_run")
    assert lines == ["key_fingerprint,runs", *(f"{f},1" for f in fingerprints)]
    top = _top(store, tmp_path)
    assert sorted(r["key_fingerprint"] for r in top) == sorted(fingerprints)
    assert all(r["key"].startswith("git [") for r in top)
    shown = devtrace("top", "--since", "all", "--path", str(store), cwd=tmp_path).stdout.decode()
    assert all(f"· key {f[:8]}" in shown for f in fingerprints), shown


def test_a_redacted_or_ambiguous_text_is_not_re_hashed(tmp_path, repo, store):
    """A redacted line's text is not what was hashed: re-hashing it would make a third identity."""
    secret = "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    _hook(store, repo, secret)
    _rotate(store, tmp_path)
    _hook(store, repo, secret)
    assert _sql(store, tmp_path, "SELECT command, runs FROM command_stats ORDER BY last_run") == [
        "command,runs", "export GITHUB_TOKEN=<redacted>,1", "export GITHUB_TOKEN=<redacted>,1"]


def test_the_organisation_policy_re_keys_before_it_purges_the_text(tmp_path, repo, store, server_factory):
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    _hook(store, repo)
    _run(store, repo)
    assert run_cli("server", "policy", "set", "command_text", "off", "--db", central, cwd=tmp_path).returncode == 0
    login = run_cli("sync", "login", "--server", server.address, "--token", make_token(central, "laptop"),
                    "--path", str(store), cwd=tmp_path)
    assert login.returncode == 0 and "the text of 2 events was forgotten" in login.stdout, login.stdout
    _hook(store, repo)
    _run(store, repo)
    assert [r["command_text"] for r in rows(store)] == [None] * 4
    organisation = rows(store)[-1]["key_fingerprint"]
    assert _sql(store, tmp_path, "SELECT command, runs, key_fingerprint FROM command_stats") == [
        "command,runs,key_fingerprint", f"git [{rows(store)[-1]['command_hash'][:8]}],4,{organisation}"]


def test_the_policy_set_after_login_re_keys_at_the_next_push_before_purging(tmp_path, repo, store, server_factory):
    """Text recorded under a key set by hand ($DEVTRACE_HASH_KEY: no re-keying then), then the
    policy arrives with a push: the push re-keys with the text before it forgets it."""
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    assert devtrace("init", "--path", str(store), cwd=tmp_path).returncode == 0
    login = run_cli("sync", "login", "--server", server.address, "--token", make_token(central, "laptop"),
                    "--path", str(store), cwd=tmp_path)
    assert login.returncode == 0, login.stderr
    _run(store, repo, devtrace_env(DEVTRACE_HASH_KEY="a-key-set-by-hand"))
    _run(store, repo)
    assert len(_sql(store, tmp_path, "SELECT * FROM command_stats")) == 3  # two keys, not re-keyed yet: two rows
    assert run_cli("server", "policy", "set", "command_text", "off", "--db", central, cwd=tmp_path).returncode == 0
    done = run_cli("sync", "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0 and "the text of 2 events was forgotten" in done.stdout, done.stdout
    _run(store, repo)
    assert [r["command_text"] for r in rows(store)] == [None] * 3
    assert _sql(store, tmp_path, "SELECT runs FROM command_stats") == ["runs", "3"]


def test_a_shell_open_across_a_rotate_stays_one_session(tmp_path, repo, store):
    shell = Shell(tmp_path, "bash", store, repo)
    try:
        shell.type("echo before-the-rotate")
        wait_events(store, 1)
        _rotate(store, tmp_path)
        shell.type("echo after-the-rotate")
        recorded = wait_events(store, 2)
    finally:
        shell.close()
    assert recorded[0]["session_id"] != recorded[1]["session_id"]  # as recorded: one id per key
    assert _sql(store, tmp_path, "SELECT commands FROM sessions") == ["commands", "2"]
    assert _sql(store, tmp_path, "SELECT count(DISTINCT session_id), count(DISTINCT recorded_session_id) FROM events") == [
        "count(DISTINCT session_id),count(DISTINCT recorded_session_id)", "1,2"]


def test_the_terminal_that_rotates_stays_one_session_for_devtrace_run(tmp_path, repo, store):
    """`devtrace run` and `devtrace key rotate` from one terminal (here: this test's session)."""
    _run(store, repo)
    _rotate(store, tmp_path)
    _run(store, repo)
    recorded = rows(store)
    assert len({r["session_id"] for r in recorded}) == 2
    assert _sql(store, tmp_path, "SELECT commands FROM sessions") == ["commands", "2"]
    # The newest events of that session, asked by its current id, include those recorded before.
    shown = analytics.events(store, limit=10, session=recorded[-1]["session_id"])
    assert shown.get_column("id").to_list() == [r["id"] for r in recorded]
    assert set(shown.get_column("session_id").to_list()) == {recorded[-1]["session_id"]}


def test_without_the_old_key_a_rotate_still_re_keys_the_commands(tmp_path, repo, store):
    """hash.key lost: rotating is the remedy; the commands re-key from their text, sessions cannot."""
    _hook(store, repo)
    (store / "hash.key").unlink()
    assert "1 command re-hashed" in _rotate(store, tmp_path)
    _hook(store, repo)
    assert _sql(store, tmp_path, "SELECT runs FROM command_stats") == ["runs", "2"]


@pytest.mark.parametrize("text", ["redacted", "off", "the organisation's policy"])
def test_an_import_again_after_sync_login_adds_nothing(tmp_path, store, server_factory, text):
    """Issue 25: a history imported, the organisation's key adopted, the history imported again:
    with the store's text, without it, and with the text the policy makes login forget."""
    central = str(tmp_path / "central.db")
    server = server_factory(central)
    if text == "the organisation's policy":
        assert run_cli("server", "policy", "set", "command_text", "off", "--db", central, cwd=tmp_path).returncode == 0
    else:
        store.mkdir()
        (store / "config.toml").write_text(f'command_text = "{text}"\n')
    history = str(Path(__file__).parent / "fixtures" / "history" / "zsh-extended")

    def imported() -> dict:
        done = devtrace("import", "zsh", history, "--path", str(store), "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    assert imported()["added"] == 8
    login = run_cli("sync", "login", "--server", server.address, "--token", make_token(central, "laptop"),
                    "--path", str(store), cwd=tmp_path)
    assert login.returncode == 0, login.stderr
    again = imported()
    assert (again["added"], again["present"]) == (0, 8)
    assert len(rows(store)) == 8
    if text != "redacted":
        assert {r["command_text"] for r in rows(store)} == {None}
