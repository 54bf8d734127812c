"""What a new user meets first: one default store for every command, a missing store that
names the stores that exist, DevTrace's own commands left out of the record."""

import os
import time

from devtrace.capture.hooks.writer import Finished, store_path, write
from devtrace.paths import store_dir
from tests.support import LIVE_ID, devtrace, devtrace_env, rows


def _without_store_path(home) -> dict:
    env = devtrace_env(HOME=str(home))
    env.pop("DEVTRACE_PATH", None)
    return env


def test_every_command_and_the_hooks_default_to_one_per_user_store(tmp_path, repo, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    env = _without_store_path(home)
    done = devtrace("run", "--", "sh", "-c", "exit 1", cwd=repo, env=env)
    assert done.returncode == 1 and LIVE_ID.search(done.stderr)  # a failure on a clean tree is kept
    assert [r["exit_code"] for r in rows(home / ".devtrace")] == [1]
    shown = devtrace("events", cwd=tmp_path, env=env, text=True)
    assert shown.returncode == 0 and "sh -c 'exit 1'" in shown.stdout
    assert not (repo / ".devtrace").exists()
    monkeypatch.delenv("DEVTRACE_PATH")
    monkeypatch.setenv("HOME", str(home))
    assert store_path(None) == os.path.abspath(store_dir(None)) == str(home / ".devtrace")


def test_a_missing_store_names_the_stores_that_exist(tmp_path, repo):
    home = tmp_path / "home"
    home.mkdir()
    env = _without_store_path(home)
    devtrace("init", cwd=repo, env=env, check=True)
    devtrace("init", "--path", ".devtrace", cwd=repo, env=env, check=True)
    done = devtrace("events", "--path", "elsewhere", cwd=repo, env=env, text=True)
    assert done.returncode == 1
    assert done.stderr == (f"devtrace: no DevTrace store at elsewhere (stores found: {home / '.devtrace'}, "
                           f"{repo / '.devtrace'} (pick one with --path))\n")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    done = devtrace("events", cwd=lonely, env=_without_store_path(lonely), text=True)
    assert f"no DevTrace store at {lonely / '.devtrace'} (create one with `devtrace init" in done.stderr


def _hook(store, cwd, line: str) -> str | None:
    return write(Finished("bash", line, exit_code=0, timed_out=False, duration_ms=5, ended_at=time.time(),
                          session="t1", cwd=str(cwd), agent_id=None, author_kind="human"), str(store))


DEVTRACE_LINES = ["devtrace events", "devtrace top --since 1d", "python -m devtrace report", "python3 -m devtrace.cli sql 'select 1'",
                  'eval "$(devtrace hook bash)"', "/home/me/.venv/bin/devtrace events -n 5"]


def test_devtrace_s_own_commands_are_not_recorded_unless_asked(repo, store):
    for line in DEVTRACE_LINES:
        assert _hook(store, repo, line) is None, line
    assert _hook(store, repo, "echo devtrace events") is not None  # mentions it, does not run it
    store.joinpath("config.toml").write_text("record_devtrace = true\n")
    for line in DEVTRACE_LINES:
        assert _hook(store, repo, line) is not None, line
    assert _hook(store, repo, "devtrace run -- true") is None  # `devtrace run` records itself, never twice
    assert [r["command_text"] for r in rows(store)] == ["echo devtrace events", *DEVTRACE_LINES]


def test_help_is_whole_at_80_and_100_columns_and_usage_follows_click(tmp_path):
    for width in ("80", "100"):
        for args in ([], ["ml"], ["hook"], ["sync"], ["server"]):
            shown = devtrace(*args, "--help", cwd=tmp_path, env=devtrace_env(COLUMNS=width), text=True).stdout
            commands = shown.split("Commands:")[1]
            assert "..." not in commands and "…" not in commands, (width, args)
            assert max(len(line) for line in shown.splitlines()) <= int(width)
    usage = devtrace("label", "--help", cwd=tmp_path, text=True).stdout.splitlines()[0]
    assert usage.endswith("label [OPTIONS] EVENT_ID VALUE")
    assert devtrace("sql", "--help", cwd=tmp_path, text=True).stdout.splitlines()[0].endswith("sql [OPTIONS] [QUERY]")


def test_a_wide_result_leaves_out_hashes_first_and_fits_80_columns(tmp_path):
    from tests.analytics_support import build_store, event

    pytest_q = {"command_hash": "1" * 64, "command_text": "pytest -q tests/test_calc.py", "session_id": "ses_" + "f" * 16}
    store = build_store(tmp_path / "s", [event(1.7e9, **pytest_q, exit_code=1), event(1.7e9 + 5, **pytest_q)])
    env = devtrace_env(COLUMNS="80")
    shown = devtrace("sql", "SELECT * FROM retry_loops", "--path", str(store), cwd=tmp_path, env=env, text=True).stdout
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "left out to fit 80 columns: session_id, command_hash" in shown.replace("\n", " ")
    assert "1111" not in shown and "ffff" not in shown
    narrow = devtrace("sql", "SELECT command, runs, resolved FROM retry_loops", "--path", str(store), cwd=tmp_path,
                      env=env, text=True).stdout
    assert "│ pytest -q tests/test_calc.py │    2 │ True     │" in narrow and "left out" not in narrow
