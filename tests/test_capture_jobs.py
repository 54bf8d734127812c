"""Job control in a real interactive bash on a real pty: `devtrace run` behaves as the bare command.

Each test types what a user would type and checks what bash reports: job states, `$?`,
and whether a loop goes on. The `--timeout` variants run the command in a process group of
its own (so that a timeout can stop its whole tree); the others keep it in DevTrace's job.
"""

import os
import signal
import sys
import time

import pytest

from tests.shell_support import Bash
from tests.support import rows

WITH_AND_WITHOUT_TIMEOUT = pytest.mark.parametrize("timeout", ["", "--timeout 60 "], ids=["job", "timeout"])


@pytest.fixture
def bash(repo):
    shell = Bash(repo)
    yield shell
    shell.close()


def run_line(store, command: str, timeout: str = "") -> str:
    return f"devtrace run --keep-noop --path {store} {timeout}-- {command}"


@WITH_AND_WITHOUT_TIMEOUT
def test_ctrl_z_stops_the_job_with_sigtstp_and_fg_resumes_it(bash, store, timeout):
    bash.send(run_line(store, "sh -c 'echo reading-$$; read x; echo got-$x'", timeout) + "\n")
    bash.expect(rb"reading-\d+")
    bash.send(b"\x1a")  # Ctrl-Z
    assert bash.job_state() == b"Stopped"  # as bare; SIGSTOP would show "Stopped (signal)"
    bash.prompt()
    assert bash.status() == 128 + 20  # SIGTSTP
    bash.send("fg\n")
    bash.send("hello\n")
    bash.expect(b"got-hello")
    assert bash.status() == 0
    assert [r["exit_code"] for r in rows(store)] == [0]


def test_ctrl_z_does_not_stop_devtrace_while_the_command_goes_on(bash, store):
    """A command that ignores Ctrl-Z keeps its job, and the terminal, as bare."""
    bash.send(run_line(store, "sh -c 'trap \"\" TSTP; echo reading-$$; read x; echo got-$x'") + "\n")
    bash.expect(rb"reading-\d+")
    bash.send(b"\x1a")
    bash.send("hello\n")
    bash.expect(b"got-hello", timeout=10)
    bash.prompt()
    assert bash.status() == 0
    assert b"Stopped" not in bash.seen


@WITH_AND_WITHOUT_TIMEOUT
def test_a_pipeline_partner_keeps_the_terminal(bash, store, timeout):
    """`devtrace run -- cat f | less`: less reads the terminal while DevTrace's command runs."""
    partner = "sh -c 'read d; read x </dev/tty; echo got-$d-$x'"
    bash.send(run_line(store, "sh -c 'echo data; sleep 1'", timeout) + f" | {partner}\n")
    bash.send("typed\n")
    bash.expect(b"got-data-typed", timeout=10)
    assert b"Stopped" not in bash.seen
    assert bash.status() == 0


@WITH_AND_WITHOUT_TIMEOUT
def test_a_background_job_that_reads_the_terminal_stops_and_fg_resumes_it(bash, store, timeout):
    bash.send(run_line(store, "sh -c 'read x; echo got-$x'", timeout) + " &\n")
    assert bash.job_state(timeout=10).startswith(b"Stopped")
    bash.send("fg\n")
    bash.send("hello\n")
    bash.expect(b"got-hello", timeout=10)
    assert bash.status() == 0
    assert [r["exit_code"] for r in rows(store)] == [0]


@WITH_AND_WITHOUT_TIMEOUT
def test_a_background_job_stopped_on_the_terminal_can_be_killed(bash, store, timeout):
    bash.send(run_line(store, "sh -c 'read x; echo got-$x'", timeout) + " &\n")
    assert bash.job_state(timeout=10).startswith(b"Stopped")
    bash.send("kill %1\n")
    bash.expect(rb"\[1\][+-]? +Terminated", timeout=10)
    assert [r["exit_code"] for r in rows(store)] == [143]


def test_one_ctrl_c_stops_a_loop_in_an_interactive_shell(bash, store):
    loop = "for i in 1 2 3; do " + run_line(store, "sh -c 'echo started-$0; exec sleep 30' $i") + "; done"
    bash.send(loop + "\n")
    bash.expect(b"started-1")
    bash.send(b"\x03")
    bash.prompt()
    assert bash.status() == 130
    assert b"started-2" not in bash.quiet_for(1.0)
    assert [r["exit_code"] for r in rows(store)] == [130]


def test_one_ctrl_c_stops_a_loop_in_bash_c(bash, store):
    loop = (f"for i in 1 2 3; do {sys.executable} -m devtrace run --keep-noop --path {store} -- "
            "sh -c \"echo started-\\$0; exec sleep 30\" $i; done; echo loop-finished")
    bash.send(f"bash -c '{loop}'\n")
    bash.expect(b"started-1")
    bash.send(b"\x03")
    bash.prompt()
    assert bash.status() == 130
    assert b"started-2" not in bash.quiet_for(1.0)
    assert [r["exit_code"] for r in rows(store)] == [130]


def test_a_signal_to_devtrace_in_a_pipeline_spares_the_other_commands(bash, store, tmp_path):
    """DevTrace leads the pipeline's job: a TERM sent to it alone is for its command, not `less`."""
    parent = tmp_path / "devtrace.pid"
    command = (f"sh -c 'trap \"echo command-got-term\" TERM; echo $PPID > {parent}.tmp; mv {parent}.tmp {parent}; "
               "while :; do sleep 0.1; done'")
    partner = "sh -c 'trap \"echo partner-got-term\" TERM; cat'"
    bash.send(run_line(store, command) + f" | {partner}\n")
    deadline = time.monotonic() + 10
    while not parent.exists():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    os.kill(int(parent.read_text()), signal.SIGTERM)
    bash.expect(b"command-got-term")
    assert b"partner-got-term" not in bash.quiet_for(1.0)
