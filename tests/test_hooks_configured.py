"""The shell hooks in shells configured as people configure them (real bash, zsh and fish in tmux):
nothing DevTrace runs may change the user's shell, and no typed command may be lost or garbled."""

import re

import pytest

from tests.hook_support import open_shell, shells_fixture, wait_events  # noqa: F401 (the shells fixture)
from tests.support import devtrace, devtrace_env, devtrace_here, rows, wait_until


@pytest.mark.parametrize("name, setting", [("bash", "set -e"), ("zsh", "setopt ERR_EXIT")])
def test_errexit_never_ends_the_users_shell(name, setting, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, name, store, repo, after=setting)
    shell.type("[[ -f /nonexistent ]] && echo yes")
    shell.type("echo still-$((40 + 2))")
    assert "still-42" in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [1, 0]


def test_a_users_err_trap_fires_once_per_failure(tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "bash", store, repo, after="trap 'echo ERR-FIRED' ERR")
    shell.type("false")
    shell.type("true")
    assert shell.screen().count("ERR-FIRED") == 1
    wait_events(store, 2)


def test_a_users_return_trap_under_extdebug_never_fires_for_devtrace(tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "bash", store, repo, after="shopt -s extdebug\ntrap 'echo RETURN-FIRED' RETURN")
    shell.type("true")
    shell.type("false")
    assert "RETURN-FIRED" not in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [0, 1]


@pytest.mark.parametrize("name, setting", [("bash", "set -u"), ("zsh", "setopt NO_UNSET")])
def test_nounset_loads_the_hook_whole(name, setting, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, name, store, repo, rc=setting)
    shell.type("true")
    shell.type("false")
    assert "unbound" not in shell.screen() and "parameter not set" not in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [0, 1]


@pytest.mark.parametrize("name, setting", [("bash", "set -x"), ("zsh", "setopt XTRACE")])
def test_xtrace_shows_none_of_the_hooks_work(name, setting, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, name, store, repo, after=setting)
    shell.type("true")
    shell.type("true")
    assert "__devtrace" not in shell.screen().split("true", 1)[1]
    wait_events(store, 2)


@pytest.mark.parametrize("setting", ["setopt KSH_ARRAYS", "IFS=0", "setopt KSH_ARRAYS SH_WORD_SPLIT; IFS=0"])
def test_zsh_options_give_the_right_duration(setting, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "zsh", store, repo, after=setting)
    shell.type("sleep 0.3")
    (event,) = wait_events(store, 1)
    assert 300 <= event["duration_ms"] < 1500
    assert abs(event["started_at"] + 0.3 - event["ended_at"]) < 1.2
    assert "error" not in shell.screen()


@pytest.mark.parametrize("setting", ["unset EPOCHREALTIME", "zmodload -u zsh/datetime"])
def test_zsh_without_its_clock_stores_no_duration_rather_than_a_wrong_one(setting, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "zsh", store, repo, after=setting)
    shell.type("sleep 0.2")
    shell.type("false")
    events = wait_events(store, 2)
    assert [e["exit_code"] for e in events] == [0, 1]
    assert all(e["duration_ms"] is None or 200 <= e["duration_ms"] < 1500 for e in events[:1])
    assert all(e["duration_ms"] is None or e["duration_ms"] >= 0 for e in events)


def test_a_slow_zsh_precmd_before_devtraces_is_not_timed(tmp_path, repo, store, shells):
    rc = "slow_prompt_work() { sleep 1 }\nprecmd_functions+=(slow_prompt_work)"
    shell = open_shell(shells, tmp_path, "zsh", store, repo, rc=rc)
    shell.type("true")
    shell.type("true")
    events = wait_events(store, 2)
    assert [e["duration_ms"] < 600 for e in events] == [True, True], [e["duration_ms"] for e in events]


def test_a_framework_that_puts_its_precmd_first_later_is_moved_behind(tmp_path, repo, store, shells):
    """As powerlevel10k does at its first prompt: DevTrace's precmd is first again from the
    next prompt on; the command timed with the other's work in it has no duration."""
    after = "slow_prompt_work() { sleep 1 }\nprecmd_functions=(slow_prompt_work $precmd_functions)"
    shell = open_shell(shells, tmp_path, "zsh", store, repo, after=after)
    shell.type("true")
    shell.type("true")
    shell.type("true")
    events = wait_events(store, 3)
    assert all(e["duration_ms"] is None or e["duration_ms"] < 600 for e in events), [e["duration_ms"] for e in events]
    assert events[-1]["duration_ms"] is not None


@pytest.mark.parametrize("after", ["PROMPT_COMMAND='history -a'", "PROMPT_COMMAND+=$'\\n'history' -a'",
                                   "PS0='> '", "set -o posix"])
def test_bash_keeps_recording_after_a_late_prompt_setting(after, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "bash", store, repo, after=after)
    shell.type("true")
    shell.type("false")
    shell.type("sh -c 'exit 3'")
    assert "syntax error" not in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 3)] == [0, 1, 3]


def test_fish_keeps_the_last_command_when_the_terminal_closes_at_once(tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "fish", store, repo)
    shell.type("true")
    wait_events(store, 1)
    shell.type("sh -c 'exit 5'", wait=False)
    shell.wait_prompts(3, timeout=30)
    shell.close()  # the terminal goes away: a hang-up for everything on it
    done = devtrace("events", "--path", str(store), "--json", cwd=repo)  # a reader drains what is left
    assert done.returncode == 0, done.stderr
    assert [e["exit_code"] for e in rows(store)] == [0, 5]


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_no_drainer_alive_prints_nothing(name, tmp_path, repo, store, shells):
    """The drainer exits when idle and takes its pid file with it: the next command starts
    one, and the shell says nothing about the missing file (fish warned about the redirection)."""
    shell = open_shell(shells, tmp_path, name, store, repo)
    shell.type("true")
    wait_events(store, 1)
    (store / "drainer.pid").unlink(missing_ok=True)  # as after the drainer's idle exit
    shell.type("sh -c 'exit 6'")
    assert [e["exit_code"] for e in wait_events(store, 2)] == [0, 6]
    assert "drainer.pid" not in shell.screen() and "warning" not in shell.screen(), shell.screen()


def test_a_relative_store_path_is_resolved_once_when_the_hook_loads(tmp_path, repo, shells):
    store = repo / ".devtrace-rel"
    shell = open_shell(shells, tmp_path, "bash", store, repo, env={"DEVTRACE_PATH": ".devtrace-rel"})
    (repo / "sub").mkdir()
    shell.type("cd sub")
    shell.type("true")
    events = wait_events(store, 2)
    assert len(events) == 2
    assert not (repo / "sub" / ".devtrace-rel").exists()


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_commands_typed_ahead_add_up_to_the_sessions_real_change(name, tmp_path, repo, store, shells):
    """12 commands typed before the first has ended: each appends a line to a file. The git
    columns of a command whose end state could no longer be seen are NULL; the deltas the
    session stores add up to what it changed, never counting a line twice."""
    shell = open_shell(shells, tmp_path, name, store, repo)
    shell.type("true")
    wait_events(store, 1)
    for _ in range(12):
        shell.tmux("send-keys", "-t", "0", "-l", "echo x >> a.txt")
        shell.tmux("send-keys", "-t", "0", "Enter")
    shell.wait_prompts(14, timeout=60)
    events = wait_events(store, 13)
    added = [e["delta_lines_added"] for e in events[1:]]
    assert sum(a for a in added if a is not None) == 12, added
    assert events[-1]["lines_added"] == 12
    assert all(e["lines_added"] in (None, 12) or e["delta_lines_added"] is not None for e in events[1:])


def test_a_word_that_is_no_command_is_never_stored_as_text(tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "bash", store, repo)
    shell.type("Hunter2Passw0rdTyped")
    (event,) = wait_events(store, 1)
    assert event["exit_code"] == 127 and event["program"] is None
    assert not re.search(b"Hunter2", (store / "devtrace.db").read_bytes())


def _job(tmp_path):
    """A job that runs until told to end (`go` exists), then exits 3, and shows it is running
    (it keeps making `beat`): Ctrl-Z is sent only once it runs, however slow the machine."""
    go, beat = tmp_path / "go", tmp_path / "beat"
    return go, beat, f"sh -c 'while [ ! -e {go} ]; do touch {beat}; sleep 0.05; done; exit 3'"


def _running(beat) -> None:
    beat.unlink(missing_ok=True)
    wait_until(beat.exists, "the job ran")


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_a_job_stopped_with_ctrl_z_and_resumed_is_on_record_once_with_its_real_status(name, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, name, store, repo)
    go, beat, job = _job(tmp_path)
    before = shell.prompts()
    shell.type(job, wait=False)
    _running(beat)
    shell.tmux("send-keys", "-t", "0", "C-z")
    shell.wait_prompts(before + 1)
    go.touch()
    shell.type("fg")
    shell.type("true")
    events = wait_events(store, 2)
    assert [e["exit_code"] for e in events] == [3, 0]


@pytest.mark.parametrize("name", ["bash", "zsh", "fish"])
def test_a_job_stopped_twice_is_on_record_once_and_other_commands_meanwhile_too(name, tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, name, store, repo)
    go, beat, job = _job(tmp_path)
    shell.type(job, wait=False)
    _running(beat)
    shell.tmux("send-keys", "-t", "0", "C-z")
    shell.wait_prompts(2)
    shell.type("sh -c 'exit 4'")  # recorded while a job is stopped
    shell.type("fg", wait=False)
    _running(beat)
    shell.tmux("send-keys", "-t", "0", "C-z")  # stopped again: still not ended
    shell.wait_prompts(4)
    go.touch()
    shell.type("fg")
    shell.type("true")
    assert [e["exit_code"] for e in wait_events(store, 3)] == [4, 3, 0]


@pytest.mark.parametrize("histcontrol", ["ignoreboth:erasedups", "erasedups", "ignoredups"])
def test_every_command_typed_is_an_event_whatever_the_history_keeps(histcontrol, tmp_path, repo, store, shells):
    """A repeat is recorded however bash's history treats it, and bash's history is still what
    the user's HISTCONTROL makes of it."""
    shell = open_shell(shells, tmp_path, "bash", store, repo, after=f"HISTCONTROL={histcontrol}")
    lines = ["echo a", "echo b", "echo a", "make -v >/dev/null", "echo b", "make -v >/dev/null",
             "echo $SECONDS$RANDOM", "echo $SECONDS$RANDOM", "echo $SECONDS$RANDOM"]
    for line in lines:
        shell.type(line)
    events = wait_events(store, len(lines))
    assert [e["program"] for e in events] == [line.split()[0] for line in lines]
    shell.type(" history")
    listed = [re.sub(r"^\s*\d+\*?\s+", "", row) for row in shell.screen().split(" history", 1)[1].splitlines()
              if re.match(r"^\s*\d+", row)]
    listed = [row for row in listed if row != "history"]  # saved where ignorespace is not set
    if "erasedups" in histcontrol:
        assert listed[-4:] == ["echo a", "echo b", "make -v >/dev/null", "echo $SECONDS$RANDOM"], listed
    else:
        assert listed[-7:] == ["echo a", "echo b", "echo a", "make -v >/dev/null", "echo b", "make -v >/dev/null",
                               "echo $SECONDS$RANDOM"], listed


def test_a_users_debug_trap_never_turns_an_unrecorded_line_into_a_copy(tmp_path, repo, store, shells):
    after = "HISTIGNORE='ls*'\ntrap 'x=1' DEBUG"
    shell = open_shell(shells, tmp_path, "bash", store, repo, after=after)
    shell.type("sh -c 'exit 4'")
    shell.type(" sh -c 'exit 4'")  # a leading space: not recorded
    shell.type("ls")  # HISTIGNORE: not recorded
    shell.type("false")
    assert [e["exit_code"] for e in wait_events(store, 2)] == [4, 1]


def test_each_command_of_a_bracketed_paste_is_its_own_event(tmp_path, repo, store, shells):
    shell = open_shell(shells, tmp_path, "bash", store, repo)
    lines = [f"sh -c 'exit {i % 4}'" for i in range(20)]
    before = shell.prompts()
    shell.tmux("set-buffer", "\n".join(lines) + "\n")
    shell.tmux("paste-buffer", "-p", "-t", "0")
    shell.tmux("send-keys", "-t", "0", "Enter")
    shell.wait_prompts(before + 1, timeout=60)
    events = wait_events(store, 20)
    assert [e["exit_code"] for e in events] == [i % 4 for i in range(20)]
    assert len({e["command_hash"] for e in events}) == 4
    assert all(e["duration_ms"] is not None for e in events)
    assert {(e["line_count"], e["program"]) for e in events} == {(None, "sh")}  # each its own command


@pytest.mark.parametrize("text", ["redacted", "off"])
@pytest.mark.parametrize("name", ["zsh", "fish"])
def test_a_paste_in_zsh_and_fish_is_one_event_that_says_it_is_a_paste(name, text, tmp_path, repo, store, shells):
    """zsh and fish run a bracketed paste as one line (one preexec, one precmd): it is one
    event whose identity is the whole paste (its text, its hash), with the line's status (the
    last command's), never one of its commands' identity: it names no program, and says how
    many lines it ran (with the text off too), which `devtrace events` shows in 80 columns.
    The same commands typed one by one are three events of their own, with no such count."""
    if text == "off":
        store.mkdir(exist_ok=True)
        (store / "config.toml").write_text('command_text = "off"\n')
    shell = open_shell(shells, tmp_path, name, store, repo)
    lines = ["sh -c 'exit 1'", "", "sh -c 'exit 2'", "sh -c 'exit 3'"]
    before = shell.prompts()
    shell.tmux("set-buffer", "\n".join(lines))
    shell.tmux("paste-buffer", "-p", "-t", "0")
    shell.tmux("send-keys", "-t", "0", "Enter")
    shell.wait_prompts(before + 1, timeout=60)
    for line in filter(None, lines):
        shell.type(line)
    paste, *typed = wait_events(store, 4)
    assert paste["command_text"] == ("\n".join(lines) if text == "redacted" else None)
    assert (paste["exit_code"], paste["line_count"], paste["program"]) == (3, 3, None)
    assert [(e["exit_code"], e["line_count"], e["program"]) for e in typed] == [(1, None, "sh"), (2, None, "sh"), (3, None, "sh")]
    assert paste["command_hash"] not in {e["command_hash"] for e in typed}
    shown = devtrace_here("events", "--path", str(store), cwd=repo, env=devtrace_env(COLUMNS="80"), text=True)
    first, *others = shown.stdout.splitlines()[2:]
    assert "(3 lines) " in first and not any("lines)" in line for line in others), shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80


@pytest.mark.parametrize("lithist", [False, True])
def test_a_compound_command_typed_over_lines_in_bash_is_one_event(lithist, tmp_path, repo, store, shells):
    """A loop typed over continuation lines is one command (its status is the loop's) and one
    history entry: joined by `;` (cmdhist, the default), one line; with lithist, its lines,
    which the event counts as a paste's in zsh and fish."""
    shell = open_shell(shells, tmp_path, "bash", store, repo, after="shopt -s lithist" if lithist else "")
    for line in ["for i in 1 2; do", "sh -c 'exit 4'", "done"]:
        shell.type(line, wait=False)
    shell.wait_prompts(2)
    shell.type("true")
    loop, after = wait_events(store, 2)
    assert (loop["exit_code"], loop["line_count"], after["line_count"]) == (4, 3 if lithist else None, None)
    assert (loop["program"] is None) == lithist


def test_the_commands_of_a_paste_start_in_the_order_they_ran(tmp_path, repo, store, shells):
    """Each pasted command's start is its own: ordered by start, the events are the commands in
    the order pasted, each start no later than the next one's, each end the next one's start.
    Subshells (well under a millisecond) between forked commands make neighbouring starts
    close; twelve pastes catch a swap that shows once in a few."""
    shell = open_shell(shells, tmp_path, "bash", store, repo)
    pastes, size = 12, 20
    # Every command's exit status is its place in the paste: the events tell which is which.
    lines = [f"sh -c 'exit {i + 1}'" if i % 2 else f"(exit {i + 1})" for i in range(size)]
    for _ in range(pastes):
        before = shell.prompts()
        shell.tmux("set-buffer", "\n".join(lines) + "\n")
        shell.tmux("paste-buffer", "-p", "-t", "0")
        shell.tmux("send-keys", "-t", "0", "Enter")
        shell.wait_prompts(before + 1, timeout=60)
    events = wait_events(store, pastes * size)
    for paste in range(pastes):
        run = events[paste * size:(paste + 1) * size]
        shown = [(e["exit_code"], e["started_at"], e["duration_ms"]) for e in run]
        assert [e["exit_code"] for e in run] == list(range(1, size + 1)), shown
        for this, after in zip(run, run[1:], strict=False):
            assert this["started_at"] <= after["started_at"], shown
            assert abs(this["ended_at"] - after["started_at"]) < 1e-5, shown
            assert abs(this["ended_at"] - this["started_at"] - this["duration_ms"] / 1000) <= 0.0005 + 1e-5, shown


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_a_shell_says_once_that_its_store_is_damaged(name, tmp_path, repo, store, shells):
    import time

    shell = open_shell(shells, tmp_path, name, store, repo)
    shell.type("true")
    wait_events(store, 1)
    (store / "health").write_text(f"{time.time():.0f} database disk image is malformed\n")
    (store / "drainer.pid").unlink(missing_ok=True)  # as after the drainer's idle exit
    for _ in range(3):
        shell.type("true")
    assert shell.screen().count("the store at") == 1 and "is damaged" in shell.screen()
    assert len(rows_now(store)) == 1


def rows_now(store):
    import sqlite3

    conn = sqlite3.connect(store / "devtrace.db")
    try:
        return conn.execute("SELECT id FROM command_events").fetchall()
    finally:
        conn.close()


def test_hook_status_and_doctor_report_a_shell_whose_hook_stopped_recording(tmp_path, repo, store, shells):
    import json

    from devtrace.capture.hooks import sessions as shell_sessions

    shell = open_shell(shells, tmp_path, "bash", store, repo)
    shell.type("true")
    wait_events(store, 1)
    wait_until(lambda: any(entry.get("last_event_at") for entry in shell_sessions.live(str(store)).values()),
               "the drainer noted the shell's last event (just after storing it)")
    status = devtrace("hook", "status", "--path", str(store), cwd=repo).stdout.decode()
    assert "bash (pid " in status and "PROBLEM" not in status
    shell.type("unset PROMPT_COMMAND")  # a framework or rc line replaces every prompt command
    shell.type("sh -c 'i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done'")  # a command that works (CPU)
    sessions_file = store / "shells.json"
    sessions = json.loads(sessions_file.read_text())
    for entry in sessions.values():
        entry["last_event_at"] -= 600  # ten minutes later
    sessions_file.write_text(json.dumps(sessions))
    status = devtrace("hook", "status", "--path", str(store), cwd=repo).stdout.decode()
    assert "PROBLEM bash (pid " in status and "no longer active" in status, status
    doctor = json.loads(devtrace("doctor", "--path", str(store), "--json", cwd=repo).stdout)
    assert [c["status"] for c in doctor["checks"] if c["name"] == "shells"] == ["problem"]
    assert len(rows(store)) == 1


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_a_store_on_a_read_only_mount_is_said_once(name, tmp_path, repo, shells):
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.fail(f"this test mounts a tmpfs and needs root: {mounted.stderr.decode().strip()}")
    try:
        store = disk / "store"
        assert devtrace("init", "--path", str(store), cwd=repo).returncode == 0
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)]).returncode == 0
        shell = open_shell(shells, tmp_path, name, store, repo)
        for _ in range(3):
            shell.type("true")
        assert shell.screen().count("commands are not recorded: cannot write to") == 1
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
