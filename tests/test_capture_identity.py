"""Privacy by default: keyed command hashes, session and repository ids; a stdlib-only hot path."""

import hashlib
import hmac
import subprocess
import sys

import pytest

from devtrace.capture.hmac256 import hmac_sha256_hex
from devtrace.capture.identity import command_words
from tests.support import LIVE_ID, devtrace, devtrace_env, rows


def test_builtin_hmac_matches_the_hmac_module():
    for key in (b"", b"k", b"x" * 64, b"y" * 65, b"z" * 200):
        for message in (b"", b"git status", bytes(range(256))):
            assert hmac_sha256_hex(key, message) == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_plain_lines_split_as_shlex_splits_them():
    """command_words splits a line without shell syntax itself: the words must be shlex's."""
    import shlex

    def by_shlex(line):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        try:
            return list(lexer)
        except ValueError:
            return line.split()

    lines = ["", "   ", "git status", " ls\t-la \n src/ ", "echo #not-a-comment ~/x *.py a=b", "é ü 名前"]
    lines += [f"a{chr(c)}b c{chr(c)}" for c in range(0x3001) if not 0xD800 <= c < 0xE000]
    lines += [f"x {chr(c)} y" for c in (0x3000, 0xFEFF, 0x1F600, 0x85, 0xA0, 0x1C, 0x0B, 0x0C)]
    for line in lines:
        assert command_words(line) == by_shlex(line), repr(line)


def test_command_hash_is_hmac_of_the_argv_with_the_store_key(repo, store):
    devtrace("run", "--keep-noop", "--path", str(store), "--", "git", "status", cwd=repo)
    key = (store / "hash.key").read_bytes().strip()
    expected = hmac.new(key, b"git\0status", hashlib.sha256).hexdigest()
    [event] = rows(store)
    assert event["command_hash"] == expected
    assert len(expected) == 64
    assert event["command_hash"] != hashlib.sha256(b"git status").hexdigest()


def test_hash_is_stable_per_key_and_differs_across_keys(repo, tmp_path):
    def hash_in(store, **env):
        devtrace("run", "--keep-noop", "--path", str(store), "--", "make", "test",
                 cwd=repo, env=devtrace_env(**env))
        return [r["command_hash"] for r in rows(store)]

    one, two = tmp_path / "one", tmp_path / "two"
    assert len(set(hash_in(one) + hash_in(one))) == 1  # same store key, same hash
    assert hash_in(one)[0] != hash_in(two)[0]  # each store has its own random key
    org = {"DEVTRACE_HASH_KEY": "acme-org-key"}
    a, b = hash_in(tmp_path / "a", **org)[0], hash_in(tmp_path / "b", **org)[0]
    assert a == b  # an organisation key gives the same hash everywhere
    assert a == hmac.new(b"acme-org-key", b"make\0test", hashlib.sha256).hexdigest()


def test_argv_boundaries_matter(repo, store):
    devtrace("run", "--keep-noop", "--path", str(store), "--", "echo", "a b", cwd=repo)
    devtrace("run", "--keep-noop", "--path", str(store), "--", "echo", "a", "b", cwd=repo)
    first, second = rows(store)
    assert first["command_hash"] != second["command_hash"]


def test_session_agent_program_and_repo_ids(repo, store):
    env = devtrace_env(DEVTRACE_SESSION="run-42")
    devtrace("run", "--keep-noop", "--agent", "codex", "--path", str(store), "--", "true", cwd=repo, env=env)
    devtrace("run", "--keep-noop", "--path", str(store), "--", "/bin/true", cwd=repo)
    devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo)
    explicit, derived1, derived2 = rows(store)
    assert explicit["session_id"] == "run-42" and explicit["agent_id"] == "codex"
    assert derived1["session_id"] == derived2["session_id"]  # same parent session (this test run)
    assert derived1["session_id"].startswith("ses_") and derived1["agent_id"] is None
    assert derived1["program"] == "true"
    assert explicit["repo_id"] == derived1["repo_id"] and explicit["repo_id"].startswith("repo_")
    assert str(repo) not in str(dict(explicit))


def test_separate_sessions_get_separate_ids(repo, store):
    for _ in range(2):  # setsid: a new POSIX session, like a new terminal
        subprocess.run(["setsid", "-w", sys.executable, "-m", "devtrace", "run", "--keep-noop",
                        "--path", str(store), "--", "true"], cwd=repo, env=devtrace_env(), check=True)
    first, second = rows(store)
    assert first["session_id"] != second["session_id"]


def test_program_can_be_turned_off(repo, store):
    store.mkdir()
    (store / "config.toml").write_text("record_program = false\n")
    devtrace("run", "--keep-noop", "--path", str(store), "--", "pytest", cwd=repo)
    assert rows(store)[0]["program"] is None


def test_agent_from_environment(repo, store):
    devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo,
             env=devtrace_env(DEVTRACE_AGENT="claude"))
    assert rows(store)[0]["agent_id"] == "claude"


def test_store_path_from_environment(repo, tmp_path):
    shared = tmp_path / "shared-store"
    devtrace("run", "--keep-noop", "--", "true", cwd=repo, env=devtrace_env(DEVTRACE_PATH=str(shared)))
    assert len(rows(shared)) == 1


@pytest.mark.parametrize(
    "config, env, warning",
    [
        ("keep_noop = maybe\n", {}, b"not valid TOML"),
        ('keep_noop = "yes"\n', {}, b"must be true or false"),
        ("keep-noop = true\n", {}, b"unknown setting 'keep-noop'"),
        ("", {"DEVTRACE_RECORD_PROGRAM": "perhaps"}, b"not a yes/no value"),
    ],
)
def test_a_bad_setting_is_reported_and_the_event_still_recorded(repo, store, config, env, warning):
    store.mkdir()
    (store / "config.toml").write_text(config)
    (repo / "a.txt").write_text("dirty\n")  # not a no-op, whatever keep_noop says
    done = devtrace("run", "--path", str(store), "--", "sh", "-c", "exit 4", cwd=repo, env=devtrace_env(**env))
    assert done.returncode == 4
    assert warning in done.stderr and LIVE_ID.search(done.stderr)
    assert rows(store)[0]["exit_code"] == 4


def test_usage_errors_are_one_line_with_exit_2(repo):
    for args in (["run"], ["run", "--timeout", "soon", "--", "true"], ["run", "--bogus", "x"]):
        done = devtrace(*args, cwd=repo)
        assert done.returncode == 2
        assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr


def test_capture_path_imports_only_the_standard_library(repo, store):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "devtrace", "run", "--keep-noop", "--quiet",
         "--path", str(store), "--", "true"],
        cwd=repo, env=devtrace_env(), capture_output=True, text=True,
    )
    assert done.returncode == 0
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    heavy = {"typer", "click", "rich", "polars", "duckdb", "numpy", "xgboost", "shap", "pyarrow"}
    assert not {name.split(".")[0] for name in imported} & heavy
    assert "devtrace.capture.runner" in imported  # the measurement did see the capture path


def test_a_worktree_has_the_repo_id_of_its_main_checkout(repo, store):
    from tests.support import git

    worktree = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(worktree))
    for where in (repo, worktree):
        devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=where)
    main, linked = rows(store)
    assert main["repo_id"] == linked["repo_id"]


def test_repo_id_follows_the_origin_url_across_clones(repo, tmp_path):
    from tests.support import git

    git(repo, "remote", "add", "origin", "https://example.com/team/project.git")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "remote", "set-url", "origin", "https://example.com/team/project.git")
    env = devtrace_env(DEVTRACE_HASH_KEY="org")
    for where, store in ((repo, tmp_path / "s1"), (clone, tmp_path / "s2")):
        devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=where, env=env)
    assert rows(tmp_path / "s1")[0]["repo_id"] == rows(tmp_path / "s2")[0]["repo_id"]


def test_the_environment_beats_the_config_file(repo, store):
    """keep_noop and hash_key set in config.toml, overridden by DEVTRACE_KEEP_NOOP and
    DEVTRACE_HASH_KEY: the environment wins, and the config file still counts without it."""
    store.mkdir()
    (store / "config.toml").write_text('skip_noop = true\nkeep_noop = true\nhash_key = "config-key"\n')
    said_no = devtrace("run", "--path", str(store), "--", "true", cwd=repo, env=devtrace_env(DEVTRACE_KEEP_NOOP="0"))
    assert said_no.returncode == 0 and b"not recorded" in said_no.stderr
    assert rows(store) == []  # a clean tree, and the environment says not to keep it
    for env in ({"DEVTRACE_HASH_KEY": "env-key"}, {}):
        done = devtrace("run", "--path", str(store), "--", "echo", "x", cwd=repo, env=devtrace_env(**env))
        assert done.returncode == 0, done.stderr
    by_env, by_config = (r["command_hash"] for r in rows(store))  # clean tree, kept: the config says so
    assert by_env == hmac.new(b"env-key", b"echo\0x", hashlib.sha256).hexdigest()
    assert by_config == hmac.new(b"config-key", b"echo\0x", hashlib.sha256).hexdigest()
