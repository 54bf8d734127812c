"""The central commands as typed: every documented form of `devtrace server` and `devtrace sync`
(options before or after the subcommand reach the code), the token kept out of argv, and every
`--json` output of every command is JSON."""

import json
import subprocess
import sys
from pathlib import Path

import typer

from devtrace.cli.app import app
from devtrace.store import create_store, insert_event
from tests.central_support import Server, call, make_token, run_cli
from tests.support import devtrace_env

FIXTURES = Path(__file__).parent / "fixtures"
HISTORIES, AGENTS = FIXTURES / "history", FIXTURES / "agents"


def _store(path, events: int = 3):
    conn = create_store(path)
    try:
        for i in range(events):
            insert_event(conn, {"id": f"evt_{path.name}{i:08x}", "agent_id": "codex", "executed_at": 1.78e9 + i,
                                "command_hash": "d" * 64, "duration_ms": 10, "exit_code": 0, "timed_out": 0})
    finally:
        conn.close()
    return path


def test_options_before_the_subcommand_reach_it(tmp_path):
    db = str(tmp_path / "central.db")
    for form in (["server", "--db", db, "token", "create", "--name", "a"],
                 ["server", "token", "create", "--name", "b", "--db", db]):
        done = run_cli(*form, cwd=tmp_path)
        assert done.returncode == 0, (form, done.stderr)
    for form in (["server", "--db", db, "token", "list", "--json"], ["server", "token", "list", "--db", db, "--json"]):
        done = run_cli(*form, cwd=tmp_path)
        assert done.returncode == 0, (form, done.stderr)
        assert [t["name"] for t in json.loads(done.stdout)] == ["a", "b"]
    done = run_cli("server", "--db", db, "flush", "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["events"] == 0, done.stderr
    done = run_cli("server", "--port", "1", "token", "list", "--db", db, cwd=tmp_path)
    assert done.returncode == 1 and "--port is an option of `devtrace server serve`" in done.stderr

    store = _store(tmp_path / "store")
    other = _store(tmp_path / "other", events=1)
    for form in (["sync", "--path", str(store), "status"], ["sync", "status", "--path", str(store)]):
        done = run_cli(*form, cwd=tmp_path)
        assert done.returncode == 0 and "events: 3 pending" in done.stdout, (form, done.stdout, done.stderr)
    done = run_cli("sync", "--path", str(other), "status", cwd=tmp_path)
    assert "events: 1 pending" in done.stdout


def test_every_form_of_serve_and_push(tmp_path, server_factory):
    db = str(tmp_path / "central.db")
    token = make_token(db, "laptop")
    stores = [_store(tmp_path / f"s{i}", events=2) for i in range(4)]
    for i, form in enumerate((("--db", db), ("serve", "--db", db), ("--db", db, "serve"), ("--port", "0", "serve", "--db", db))):
        server = Server(None, cwd=tmp_path, typed=list(form) if "--port" in form else [*form, "--port", "0"])
        try:
            assert call(server.address, "GET", "/v1/health")[0] == 200
            store = stores[i]
            done = run_cli("sync", "login", "--server", server.address, "--path", str(store), cwd=tmp_path,
                           env=devtrace_env(DEVTRACE_TOKEN=token))
            assert done.returncode == 0, done.stderr
            push = [["sync", "--path", str(store)], ["sync", "push", "--path", str(store)],
                    ["sync", "--path", str(store), "push"], ["sync", "push", "--path", str(store)]][i]
            done = run_cli(*push, cwd=tmp_path)
            assert done.returncode == 0 and "events: 2 sent, 2 accepted" in done.stdout, (push, done.stdout, done.stderr)
        finally:
            server.stop()


def test_login_takes_the_token_from_stdin_or_the_environment(tmp_path, server_factory):
    db = str(tmp_path / "central.db")
    token = make_token(db, "laptop")
    server = server_factory(db)
    store = _store(tmp_path / "a")
    done = subprocess.run([sys.executable, "-m", "devtrace", "sync", "login", "--server", server.address, "--path", str(store)],
                          input=token + "\n", capture_output=True, text=True, env=devtrace_env(), cwd=tmp_path)
    assert done.returncode == 0 and "Enrolled as laptop" in done.stdout, done.stderr
    store = _store(tmp_path / "b")
    done = run_cli("sync", "login", "--server", server.address, "--path", str(store), cwd=tmp_path,
                   env=devtrace_env(DEVTRACE_TOKEN=token))
    assert done.returncode == 0 and "Enrolled as laptop" in done.stdout, done.stderr
    done = subprocess.run([sys.executable, "-m", "devtrace", "sync", "login", "--server", server.address, "--path", str(store)],
                          input="", capture_output=True, text=True, env=devtrace_env(), cwd=tmp_path)
    assert done.returncode == 1 and "no token given" in done.stderr


def _json_commands() -> list[str]:
    found = []

    def walk(command, path):
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        if any("--json" in getattr(p, "opts", []) for p in command.params):
            found.append(" ".join(path))

    walk(typer.main.get_command(app), [])
    return sorted(found)


def test_every_json_output_parses(tmp_path):
    """Each command with --json, run for real; the list of them is read from the app, so a new
    one fails here until it is added."""
    db = str(tmp_path / "central.db")
    store = str(tmp_path / "store")
    data = str(tmp_path / "data.parquet")
    assert run_cli("ml", "generate", "--out", data, "--rows", "600", cwd=tmp_path).returncode == 0
    make_token(db, "laptop")
    _store(tmp_path / "store")
    forms = {
        "doctor": ["doctor", "--path", store, "--json"],
        "events": ["events", "--path", store, "--json"],
        "hook status": ["hook", "status", "--json"],
        "ml train": ["ml", "train", "--dataset", data, "--path", store, "--n-estimators", "5", "--json"],
        "ml models": ["ml", "models", "--path", store, "--json"],
        "ml explain": ["ml", "explain", "--dataset", data, "--path", store, "--sample", "50", "--json"],
        "server flush": ["server", "flush", "--db", db, "--json"],
        "server token list": ["server", "token", "list", "--db", db, "--json"],
        "server models list": ["server", "models", "list", "--db", db, "--json"],
        "top": ["top", "--path", store, "--since", "4w", "--json"],
        **{f"import {shell}": ["import", shell, str(HISTORIES / name), "--path", store, "--json"]
           for shell, name in (("bash", "bash-dated"), ("zsh", "zsh-extended"), ("fish", "fish"))},
        **{f"import {agent}": ["import", agent, str(AGENTS / agent / "transcript.jsonl"), "--path", store, "--json"]
           for agent in ("claude-code", "codex", "gemini")},
    }
    assert _json_commands() == sorted(forms)
    for name in ("ml train", *sorted(set(forms) - {"ml train"})):  # train first: models and explain need a model
        done = run_cli(*forms[name], cwd=tmp_path, env=devtrace_env(HOME=str(tmp_path)))
        assert done.returncode == 0, (name, done.stderr)
        json.loads(done.stdout)  # the whole output is one JSON document
