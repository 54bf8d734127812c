"""What a shell user sees of `devtrace run` is what they see of the bare command: inherited
descriptors, pipelines, closed streams, a deleted working directory. Each case runs the
same shell line with and without DevTrace and compares."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import devtrace_env, rows

DEVTRACE = f"{sys.executable} -m devtrace"


def bash(line: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=devtrace_env(), capture_output=True)


def wrapped(store: Path, command: str) -> str:
    return f"{DEVTRACE} run --keep-noop --path {store} -- {command}"


def test_process_substitution_reaches_the_command(repo, store):
    command = "diff <(echo a) <(echo b)"
    bare = bash(command, repo)
    done = bash(wrapped(store, command), repo)
    assert bare.returncode == 1
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout)
    assert rows(store)[0]["exit_code"] == 1


def test_a_descriptor_opened_by_the_shell_reaches_the_command(repo, store, tmp_path):
    out = tmp_path / "three"
    done = bash(wrapped(store, "sh -c 'echo x >&3'") + f" 3>{out}", repo)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "x\n"


def test_a_sub_make_keeps_the_jobserver(repo, store, tmp_path):
    (tmp_path / "Makefile").write_text(f"all:\n\t+{wrapped(store, '$(MAKE) -f sub.mk')}\n")
    (tmp_path / "sub.mk").write_text("all: a b\na b:\n\t@echo $@\n")
    done = subprocess.run(["make", "-j2", "-s"], cwd=tmp_path, env=devtrace_env(), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"jobserver unavailable" not in done.stderr


def test_devtraces_summary_does_not_fail_a_pipeline(repo, store):
    """With pipefail, `... 2>&1 | head -1`: head is gone when DevTrace writes its summary."""
    line = "set -o pipefail; {} 2>&1 | head -1; echo status ${{PIPESTATUS[@]}}"
    command = "sh -c 'echo ok; sleep .2'"
    bare = bash(line.format(command), repo)
    done = bash(line.format(wrapped(store, command)), repo)
    assert bare.stdout == b"ok\nstatus 0 0\n"
    assert (done.stdout, done.stderr) == (bare.stdout, b"")
    assert rows(store)[0]["exit_code"] == 0


def test_a_command_killed_by_sigpipe_kills_devtrace_by_sigpipe(repo, store):
    line = "{} 2>&1 | head -1; echo status ${{PIPESTATUS[@]}}"
    bare = bash(line.format("seq 1 1000000"), repo)
    done = bash(line.format(wrapped(store, "seq 1 1000000")), repo)
    assert bare.stdout == b"1\nstatus 141 0\n"
    assert (done.stdout, done.stderr) == (bare.stdout, b"")
    assert rows(store)[0]["exit_code"] == 141


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&-"])
def test_closed_standard_streams_are_the_commands_business(repo, store, closed):
    command = "sh -c 'echo out; echo err >&2; exit 3'"
    bare = bash(f"{command} {closed}", repo)
    done = bash(f"{wrapped(store, command)} {closed}", repo)
    assert bare.returncode == 3
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout)
    assert b"Traceback" not in done.stderr
    if closed != "2>&-":
        assert done.stderr.startswith(bare.stderr)
    [event] = rows(store)
    assert event["exit_code"] == 3


def test_with_stderr_closed_nothing_devtrace_opens_takes_its_place(repo, store):
    """The next file DevTrace opens would get descriptor 2: no summary may be written there,
    nor on stdout, and the command must find descriptor 2 closed, as bare."""
    assert bash(wrapped(store, "true"), repo).returncode == 0  # the store exists
    command = "sh -c 'ls /proc/$$/fd'"
    bare = bash(f"{command} 2>&-", repo)
    done = bash(f"{wrapped(store, command)} 2>&-", repo)
    assert (done.returncode, done.stdout) == (bare.returncode, bare.stdout) == (0, b"0\n1\n")
    conn = sqlite3.connect(store / "devtrace.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert len(rows(store)) == 2


def test_a_deleted_working_directory_still_runs_the_command(repo, store):
    gone = repo / "gone"
    gone.mkdir()
    command = wrapped(store, "sh -c 'echo ran; exit 3'")
    line = f"cd {gone} && rmdir {gone} && {command}"
    done = bash(line, repo)
    assert (done.returncode, done.stdout) == (3, b"ran\n")
    assert b"Traceback" not in done.stderr
    assert b"current directory no longer exists" in done.stderr
    [event] = rows(store)
    assert event["exit_code"] == 3
    assert event["files_touched_count"] is None and event["delta_files"] is None


def test_a_store_that_cannot_be_opened_costs_one_line_not_the_command(repo, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    line = f"cd {gone} && rmdir {gone} && {DEVTRACE} run --path relative-store -- sh -c 'exit 4'"
    done = bash(line, repo)
    assert done.returncode == 4
    ours = [line for line in done.stderr.decode().splitlines() if line.startswith("devtrace")]
    assert ours == ["devtrace: warning: the current directory no longer exists; git state not measured",
                    "devtrace: event not recorded: cannot create the store at relative-store: No such file or directory"]
    assert b"Traceback" not in done.stderr


def test_a_broken_repository_leaves_git_fields_unknown(tmp_path, store):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("gitdir: /nonexistent/worktree\n")
    done = subprocess.run([sys.executable, "-m", "devtrace", "run", "--path", str(store), "--", "true"],
                          cwd=broken, env=devtrace_env(), capture_output=True)
    assert done.returncode == 0 and b"git state unknown" in done.stderr
    [event] = rows(store)
    assert event["files_touched_count"] is None and event["delta_files"] is None
    assert os.path.isdir(broken)
