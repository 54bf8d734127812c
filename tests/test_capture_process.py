"""`devtrace run` is transparent: exit status, streams, signals and timeouts of real processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import devtrace, devtrace_env, rows, wait_until


def run_in(repo: Path, store: Path, *command: str, **kwargs):
    return devtrace("run", "--keep-noop", "--path", str(store), "--", *command, cwd=repo, **kwargs)


@pytest.mark.parametrize(
    "command, expected",
    [
        (["true"], 0),
        (["sh", "-c", "exit 3"], 3),
        (["sh", "-c", "kill -TERM $$"], 128 + signal.SIGTERM),
        (["sh", "-c", "kill -KILL $$"], 128 + signal.SIGKILL),
    ],
)
def test_exit_status_is_the_commands(repo, store, command, expected):
    done = run_in(repo, store, *command)
    assert done.returncode == subprocess.run(command).returncode  # killed by a signal: by the same one
    [event] = rows(store)
    assert event["exit_code"] == expected
    assert event["timed_out"] == 0


def test_command_not_found_exits_127_with_one_line_and_is_recorded(repo, store):
    done = run_in(repo, store, "no-such-command-xyz", "--flag")
    assert done.returncode == 127
    assert b"command not found: no-such-command-xyz" in done.stderr
    assert b"Traceback" not in done.stderr
    [event] = rows(store)
    assert event["exit_code"] == 127
    assert event["program"] is None  # a word that ran as no command may be anything typed: never stored


def test_not_executable_exits_126_and_is_recorded(repo, store):
    script = repo / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    done = run_in(repo, store, "./script.sh")
    assert done.returncode == 126
    assert b"permission denied: ./script.sh" in done.stderr
    assert rows(store)[0]["exit_code"] == 126


def test_stdout_is_byte_identical_and_summary_goes_to_stderr(repo, store, tmp_path):
    payload = bytes(range(256)) * 64 + b"\x1b[31mcolour\x1b[0m\r\nno newline at end"
    source = tmp_path / "payload.bin"
    source.write_bytes(payload)
    bare = subprocess.run(["cat", str(source)], capture_output=True)
    wrapped = run_in(repo, store, "cat", str(source))
    assert wrapped.stdout == bare.stdout == payload
    assert wrapped.stderr.startswith(b"devtrace: exit 0")
    assert wrapped.stderr.count(b"\n") == 1


def test_redirected_output_matches_bare_run(repo, store, tmp_path):
    source = tmp_path / "f"
    source.write_bytes(os.urandom(100_000))
    out = tmp_path / "out"
    shell = f"cd {repo} && {sys.executable} -m devtrace run --keep-noop --path {store} -- cat {source} > {out}"
    subprocess.run(["sh", "-c", shell], check=True, env=devtrace_env())
    assert out.read_bytes() == source.read_bytes()


def test_stdin_is_passed_through(repo, store):
    done = run_in(repo, store, "sh", "-c", "read line; echo got:$line", input=b"hello\n")
    assert done.stdout == b"got:hello\n"


def test_quiet_silences_the_summary(repo, store):
    done = devtrace("run", "--quiet", "--keep-noop", "--path", str(store), "--", "echo", "x", cwd=repo)
    assert done.stdout == b"x\n"
    assert done.stderr == b""


def test_timeout_stops_the_whole_tree_including_grandchildren(repo, store, tmp_path):
    pids = tmp_path / "pids"
    # The grandchild ignores TERM, so only the KILL after the grace period can stop it.
    script = (
        f"python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)' & "
        f"echo $! > {pids}; sleep 60"
    )
    started = time.monotonic()
    done = devtrace(
        "run", "--keep-noop", "--timeout", "0.5", "--path", str(store), "--", "sh", "-c", script, cwd=repo
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 124
    assert elapsed < 10
    grandchild = int(pids.read_text())
    assert not _alive(grandchild)
    [event] = rows(store)
    assert event["timed_out"] == 1
    assert event["exit_code"] == 124
    assert 450 <= event["duration_ms"] < 5000


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_sent_to_devtrace_reach_the_command_and_the_event_is_recorded(repo, store, tmp_path, sig, code):
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--path", str(store), "--",
         "sh", "-c", f"touch {ready}; exec sleep 60"],
        cwd=repo, env=devtrace_env(), stderr=subprocess.PIPE,
    )
    wait_until(ready.exists, "the command started", 10)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == -sig  # the command died of it, and so does DevTrace, as bare
    assert b"Traceback" not in stderr
    [event] = rows(store)
    assert event["exit_code"] == code


def test_when_devtrace_leads_its_group_a_signal_reaches_the_commands_whole_group(repo, store, tmp_path):
    """Started as a group leader (as by a job-control shell or a harness's new session), with
    its command's tree the only other members, DevTrace signals that whole group: a background
    grandchild stops too."""
    ready, grandchild = tmp_path / "ready", tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {grandchild}; touch {ready}; wait"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--path", str(store), "--", "sh", "-c", script],
        cwd=repo, env=devtrace_env(), start_new_session=True, stderr=subprocess.PIPE,
    )
    try:
        wait_until(ready.exists, "the command started", 10)
        proc.send_signal(signal.SIGTERM)  # to DevTrace alone, not to its group
        _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGTERM and b"Traceback" not in stderr  # as the command died
        wait_until(lambda: not _alive(int(grandchild.read_text())), "the grandchild ended", 10)
    finally:
        if grandchild.exists() and _alive(int(grandchild.read_text())):
            os.kill(int(grandchild.read_text()), signal.SIGKILL)
    assert rows(store)[0]["exit_code"] == 128 + signal.SIGTERM


def test_sigkill_mid_capture_leaves_a_healthy_store(repo, store, tmp_path):
    assert run_in(repo, store, "true").returncode == 0
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--path", str(store), "--",
         "sh", "-c", f"echo $$ > {ready}.tmp; mv {ready}.tmp {ready}; exec sleep 60"],
        cwd=repo, env=devtrace_env(),
    )
    wait_until(ready.exists, "the command started", 10)
    proc.kill()
    proc.wait(timeout=10)
    os.kill(int(ready.read_text()), signal.SIGKILL)  # the orphaned command, left by the kill
    import sqlite3

    conn = sqlite3.connect(store / "devtrace.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert run_in(repo, store, "true").returncode == 0
    assert len(rows(store)) == 2


@pytest.mark.parametrize("runs", [10, pytest.param(50, marks=pytest.mark.stress)])
def test_eight_processes_capturing_at_once_lose_nothing(repo, store, runs):
    assert run_in(repo, store, "true").returncode == 0  # the store exists before the race
    loop = (
        f"for i in $(seq {runs}); do {sys.executable} -m devtrace run --keep-noop --quiet "
        f"--path {store} -- true || echo FAILED $i >&2; done"
    )
    workers = [
        subprocess.Popen(["sh", "-c", loop], cwd=repo, env=devtrace_env(), stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    errors = b"".join(w.communicate(timeout=600)[1] for w in workers)
    assert errors == b""
    assert len(rows(store)) == 8 * runs + 1
    assert len({r["id"] for r in rows(store)}) == 8 * runs + 1
    unsynced = rows(store, "SELECT count(*) AS n FROM command_events WHERE id NOT IN (SELECT event_id FROM event_sync)")
    assert unsynced[0]["n"] == 8 * runs + 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_signals_the_caller_ignores_stay_ignored_for_the_command(repo, store):
    """`nohup devtrace run -- job`: the job must still survive a hang-up."""
    def ignore_hup_and_int():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    show = ["sh", "-c", "grep SigIgn /proc/$$/status"]
    bare = subprocess.run(show, preexec_fn=ignore_hup_and_int, capture_output=True, text=True)
    wrapped = subprocess.run(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--quiet", "--path", str(store), "--", *show],
        cwd=repo, env=devtrace_env(), preexec_fn=ignore_hup_and_int, capture_output=True, text=True,
    )
    ignored = int(wrapped.stdout.split()[1], 16)
    assert ignored & (1 << (signal.SIGHUP - 1)) and ignored & (1 << (signal.SIGINT - 1))
    assert wrapped.stdout == bare.stdout


def test_killing_the_callers_process_group_stops_the_command(repo, store, tmp_path):
    """An agent harness that kills its process group must not leave the command running."""
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--path", str(store), "--",
         "sh", "-c", f"echo $$ > {ready}.tmp; mv {ready}.tmp {ready}; exec sleep 60"],
        cwd=repo, env=devtrace_env(), start_new_session=True,
    )
    wait_until(ready.exists, "the command started", 10)
    command = int(ready.read_text())
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGTERM
    wait_until(lambda: not _alive(command), "the command ended", 10)
    assert rows(store)[0]["exit_code"] == 128 + signal.SIGTERM


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "0", "-1"])
def test_unusable_timeouts_are_refused_before_anything_runs(repo, store, tmp_path, value):
    marker = tmp_path / "ran"
    done = devtrace("run", "--timeout", value, "--path", str(store), "--", "touch", str(marker), cwd=repo)
    assert done.returncode == 2
    assert b"--timeout" in done.stderr and b"Traceback" not in done.stderr
    assert not marker.exists()


def test_script_without_a_shebang_runs_with_sh_as_in_a_shell(repo, store):
    script = repo / "noshebang"
    script.write_text("echo from-sh\n")
    script.chmod(0o755)
    done = run_in(repo, store, "./noshebang")
    assert (done.returncode, done.stdout) == (0, b"from-sh\n")


def test_missing_interpreter_and_empty_command_are_reported_like_a_shell(repo, store):
    script = repo / "bad"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    done = run_in(repo, store, "./bad")
    assert done.returncode == 127 and b"bad interpreter" in done.stderr  # bash: 127 too
    assert run_in(repo, store, "").returncode == 127


def test_non_utf8_arguments_and_names_are_recorded(repo, store):
    odd = os.fsdecode(b"./prog\xff")  # a program that runs: a word that runs nothing is never stored
    script = os.path.join(os.fsencode(repo), b"prog\xff")
    with open(script, "wb") as f:
        f.write(b"#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    done = subprocess.run(
        [sys.executable, "-m", "devtrace", "run", "--keep-noop", "--agent", os.fsdecode(b"a\xfe"),
         "--path", str(store), "--", odd],
        cwd=repo, env=devtrace_env(DEVTRACE_SESSION=os.fsdecode(b"s\xfd")), capture_output=True,
    )
    assert done.returncode == 0 and b"event not recorded" not in done.stderr
    [event] = rows(store)
    assert event["program"] == "prog\ufffd" and event["agent_id"] == "a\ufffd" and event["session_id"] == "s\ufffd"
