"""Shell hooks in real interactive bash, zsh and fish on a terminal (tmux)."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.hook_support import Shell, files_containing, require, shells_fixture, wait_events  # noqa: F401 (the shells fixture)
from tests.support import devtrace, rows

SHELLS = ["bash", "zsh", "fish"]
SECRET = "hunter2-s3cr3t-typed"


@pytest.mark.parametrize("name", SHELLS)
def test_each_command_at_the_prompt_is_one_event(name, tmp_path, repo, store, shells):
    store.mkdir()
    (store / "config.toml").write_text('ignore = ["^ls( |$)"]\n')
    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    shell.type("true")
    shell.type("true")  # a repeat: bash's ignoredups does not save it, it is recorded all the same
    shell.type("false")
    shell.type("sh -c 'exit 3'")
    shell.type("sleep 0.3")
    shell.type(f" echo {SECRET}")  # a leading space: not recorded, as HISTCONTROL=ignorespace
    shell.type("")  # an empty line: nothing ran
    shell.type("ls")  # matches an ignore pattern
    shell.interrupt("sleep 30", after=0.5)
    events = wait_events(store, 6)
    assert [e["exit_code"] for e in events] == [0, 0, 1, 3, 0, 130]
    assert [e["program"] for e in events] == ["true", "true", "false", "sh", "sleep", "sleep"]
    assert events[0]["command_hash"] == events[1]["command_hash"]
    assert 300 <= events[4]["duration_ms"] <= 1500  # how much above 300: see the next test
    assert 400 <= events[5]["duration_ms"] <= 5000
    assert {(e["captured_by"], e["author_kind"], e["agent_id"], e["timed_out"]) for e in events} == {(name, "human", None, 0)}
    assert len({e["session_id"] for e in events}) == 1
    assert {e["repo_id"] for e in events} != {None}
    assert files_containing(store, SECRET.encode()) == []
    assert files_containing(shell.home / "tmp", SECRET.encode()) == []


SHELL_TIME = {  # how each shell's own `time` is told to print, and how to read it back
    "bash": ("TIMEFORMAT='shell-time:%3R secs'", r"shell-time:(\d+\.\d+) (secs)"),
    "zsh": ("TIMEFMT='shell-time:%*E secs'", r"shell-time:(\d+\.\d+) (secs)"),
    "fish": ("", r"Executed in\s+(\d+\.\d+) (micros|millis|secs)"),  # secs from 1 s on
}
TO_MS = {"micros": 0.001, "millis": 1, "secs": 1000}


@pytest.mark.parametrize("name", SHELLS)
def test_the_duration_is_the_shells_own(name, tmp_path, repo, store, shells):
    setting, pattern = SHELL_TIME[name]
    shell = Shell(tmp_path, name, store, repo, rc=setting)
    shells.append(shell)
    for _ in range(3):  # the closest of three: one may have waited behind the machine's load
        shell.type("time sleep 0.2")
    events = wait_events(store, 3)
    owns = [float(value) * TO_MS[unit] for value, unit in re.findall(pattern, shell.screen())]
    assert len(owns) == 3 and all(e["program"] == "sleep" for e in events)
    assert min(abs(e["duration_ms"] - own) for e, own in zip(events, owns, strict=True)) <= 5, (events, owns)


@pytest.mark.parametrize("name", SHELLS)
def test_git_state_and_the_change_since_the_previous_prompt(name, tmp_path, repo, store, shells):
    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    # The writer reads git just after the command ends; a person is slower than that, this
    # test is not, so it waits for each event before typing on.
    shell.type("true")  # the session's first command here: its change is unknown
    wait_events(store, 1)
    shell.type("printf 'x\\ny\\n' >> a.txt")
    wait_events(store, 2)
    shell.type("true")
    events = wait_events(store, 3)
    assert [e["files_touched_count"] for e in events] == [0, 1, 1]
    assert [e["delta_files"] for e in events] == [None, 1, 0]
    assert [e["delta_lines_added"] for e in events] == [None, 2, 0]
    heads = {e["head_hash"] for e in events}  # the keyed HEAD the outcome views' "kept" reads
    assert len(heads) == 1 and next(iter(heads)).startswith("head_")


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_a_nested_shell_has_its_own_session(name, tmp_path, repo, store, shells):
    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    shell.type("true")
    shell.type(" ".join(shell.argv[-5:] if name == "bash" else shell.argv))  # the same shell, nested
    shell.type("false")
    shell.type("exit 5")
    shell.type("true")
    events = wait_events(store, 4)
    outer, inner = events[0]["session_id"], events[2]["session_id"]
    assert [e["exit_code"] for e in events] == [0, 5, 1, 0]  # by start: true, the nested shell, false, true
    assert inner != outer
    assert [e["session_id"] for e in events] == [outer, outer, inner, outer]


def test_an_existing_prompt_command_keeps_working_and_sees_the_status(tmp_path, repo, store, shells):
    shell = Shell(tmp_path, "bash", store, repo, rc="PROMPT_COMMAND='echo \"[pc:$?]\"'", loads=2)
    shells.append(shell)
    shell.type("false")
    shell.type("true")
    assert "[pc:1]" in shell.screen() and "[pc:0]" in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [1, 0]  # loaded twice, recorded once


# bash-preexec and ble.sh are not packaged anywhere CI can install them from, and their code is
# not copied here: the hook's behaviour with the real frameworks was checked by hand (see
# docs/capture/shells.md). These tests cover what the hook itself does when it finds them.

@pytest.mark.parametrize("where", ["before", "after"])
def test_bash_puts_its_precmd_first_when_bash_preexec_is_loaded(where, tmp_path, repo, store, shells):
    """bash-preexec sets `bash_preexec_imported` when it loads, before or after the hook. With
    nothing here calling `precmd_functions`, the hook's own prompt command still records."""
    mine = "mine() { :; }\nprecmd_functions=(mine)"
    loaded = f"{mine}\nbash_preexec_imported=defined"
    shell = Shell(tmp_path, "bash", store, repo, **({"rc": loaded} if where == "before" else {"after": loaded}))
    shells.append(shell)
    shell.type("false")
    shell.type('echo "[${precmd_functions[*]}]"')
    assert "[__devtrace_bp_precmd mine]" in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [1, 0]


def test_a_prompt_hook_that_runs_devtraces_precmd_first_is_not_timed(tmp_path, repo, store, shells):
    """As under bash-preexec: DevTrace's precmd function runs first, then slower prompt work
    (here 1 s, which leaves other values in `$?` and `$_`), then DevTrace's own prompt
    command entry. One event per command, a repeat that ignoredups did not save included,
    with the command's status and without the slow work in its duration."""
    after = ("bash_preexec_imported=defined\n"
             "PROMPT_COMMAND=\"__devtrace_bp_precmd; sleep 1; : prompt-work; (exit 7)\"$'\\n'\"$PROMPT_COMMAND\"")
    shell = Shell(tmp_path, "bash", store, repo, after=after)
    shells.append(shell)
    shell.type("false")
    shell.type("(exit 3)")
    shell.type("sleep 0.2")
    shell.type("echo again")
    shell.type("echo again")  # a repeat ignoredups does not save: known by its `$_`
    events = wait_events(store, 5)
    assert [e["exit_code"] for e in events] == [1, 3, 0, 0, 0]
    assert events[0]["duration_ms"] < 600 and events[1]["duration_ms"] < 600  # far from the 1 s of prompt work
    assert 200 <= events[2]["duration_ms"] < 1000
    assert events[3]["command_hash"] == events[4]["command_hash"]


def test_bash_under_ble_sh_sends_the_line_itself(repo, store):
    """Under ble.sh the hook sends the line from ble.sh's PREEXEC, marked `line` in the
    header, instead of a `history 1` entry; the writer treats it as zsh's and fish's lines."""
    def record(header: str, line: str) -> None:
        done = devtrace("hook", "record", "bash", "--path", str(store), cwd=repo, input=f"{header}\n{line}".encode())
        assert done.returncode == 0 and done.stdout == b""

    record("3 1700000000000000 250000 s1 line", "sh -c 'exit 3'")
    record("0 1700000001000000 1000 s1 line", " echo not-recorded")  # a leading space
    record("0 1700000002000000 1000 s1 lines", "true")  # not the header DevTrace writes
    record("0 1700000003000000 1000 s1", "   12  true")  # a history entry, as without ble.sh
    events = wait_events(store, 2)
    assert [(e["exit_code"], e["duration_ms"], e["program"]) for e in events] == [(3, 250, "sh"), (0, 1, "true")]


def test_bash_leaves_a_ble_sh_before_0_4_to_ps0_and_the_prompt_command(tmp_path, repo, store, shells):
    """ble.sh sets BLE_VERSION and BLE_VERSINFO; before 0.4 it has no PREEXEC/POSTEXEC hooks."""
    shell = Shell(tmp_path, "bash", store, repo, rc="BLE_VERSION=0.3.4 BLE_VERSINFO=(0 3 4)")
    shells.append(shell)
    shell.type("false")
    shell.type('echo "[via:$__devtrace_via]"')
    assert "[via:-]" in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 2)] == [1, 0]


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_the_users_last_background_job_stays_in_dollar_bang(name, tmp_path, repo, store, shells):
    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    shell.type("sleep 30 & echo started:$!")
    shell.type("true")
    shell.type("echo still:$!; kill %1")
    started = re.search(r"started:(\d+)", shell.screen()).group(1)
    assert f"still:{started}" in shell.screen()


def test_other_zsh_precmd_hooks_keep_working_and_loading_twice_records_once(tmp_path, repo, store, shells):
    rc = "show_status() { print -r -- \"[pc:$?]\" }\nprecmd_functions+=(show_status)"
    shell = Shell(tmp_path, "zsh", store, repo, rc=rc, loads=2)
    shells.append(shell)
    shell.type("false")
    assert "[pc:1]" in shell.screen()
    assert [e["exit_code"] for e in wait_events(store, 1)] == [1]


def test_fish_loaded_twice_records_once(tmp_path, repo, store, shells):
    shell = Shell(tmp_path, "fish", store, repo, loads=2)
    shells.append(shell)
    shell.type("false")
    assert [e["exit_code"] for e in wait_events(store, 1)] == [1]


@pytest.mark.parametrize("name", SHELLS)
def test_the_hook_stays_silent_in_an_agent_and_in_non_interactive_shells(name, tmp_path, repo, store, shells):
    shell = Shell(tmp_path, name, store, repo, env={"CLAUDECODE": "1"})  # an agent's interactive shell
    shells.append(shell)
    shell.type("true")
    loaded = {"fish": f"cat {shell.script} | source; true; false"}.get(name, f'eval "$(cat {shell.script})"; true; false')
    subprocess.run([name, "-c", loaded], cwd=repo, env=shell.env, check=False)  # an agent's `bash -c`
    typed = Shell(tmp_path, name, store, repo)  # a person's shell, on the same store
    shells.append(typed)
    typed.type("false")
    (event,) = wait_events(store, 1)  # every writer has ended: the agent's commands left nothing
    assert (event["exit_code"], event["author_kind"]) == (1, "human")


def _shells_typing_ahead(tmp_path, repo, store, shells, names: list[str], commands: int) -> None:
    for name in set(names):
        require("tmux", name)
    opened = [Shell(tmp_path, name, store, repo) for name in names]
    shells.extend(opened)
    for shell in opened:  # typed ahead: each shell runs its commands as fast as it can
        for i in range(commands):
            shell.tmux("send-keys", "-t", "0", "-l", f"true {i}")
            shell.tmux("send-keys", "-t", "0", "Enter")
    for shell in opened:
        shell.wait_prompts(commands + 1, timeout=240)
    events = wait_events(store, len(names) * commands, timeout=300)
    assert len({e["session_id"] for e in events}) == len(names)
    assert sorted(e["captured_by"] for e in events) == sorted(names * commands)
    assert rows(store, "PRAGMA integrity_check")[0][0] == "ok"
    assert not list((store / "spool").glob("*.rec"))


def test_shells_at_once_lose_nothing(tmp_path, repo, store, shells):
    _shells_typing_ahead(tmp_path, repo, store, shells, ["bash", "bash", "zsh", "fish"], 20)


@pytest.mark.stress
def test_eight_shells_at_once_lose_nothing(tmp_path, repo, store, shells):
    _shells_typing_ahead(tmp_path, repo, store, shells, ["bash"] * 8, 100)


@pytest.mark.parametrize("name", SHELLS)
def test_a_store_deleted_and_made_again_under_a_running_shell_gets_its_commands(name, tmp_path, repo, store, shells):
    import shutil
    import time

    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    shell.type("true")
    wait_events(store, 1)
    for _ in range(50):  # as `rm -rf` may, it can meet the drainer writing its last file
        try:
            shutil.rmtree(store)
            break
        except OSError:
            time.sleep(0.1)
    assert devtrace("init", "--path", str(store), cwd=repo).returncode == 0
    shell.type("false")
    shell.type("sh -c 'exit 3'")
    assert [e["exit_code"] for e in wait_events(store, 2)] == [1, 3]


def test_a_locked_store_does_not_delay_the_prompt(tmp_path, repo, store, shells):
    import sqlite3
    import time

    shell = Shell(tmp_path, "bash", store, repo, rc="umask 022")
    shells.append(shell)
    shell.type("true")
    wait_events(store, 1)
    lock = sqlite3.connect(store / "devtrace.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    for _ in range(5):
        shell.type("true")
    assert time.monotonic() - started < 20  # the prompts came back while the store was locked (a lock wait: 30 s each)
    spooled = list((store / "spool").iterdir())
    assert len([p for p in spooled if p.suffix == ".rec"]) == 5  # waiting, in files of their own
    assert (store / "spool").stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in spooled} == {0o600}  # under the user's umask 022
    lock.execute("ROLLBACK")
    lock.close()
    wait_events(store, 6)


@pytest.mark.parametrize("name", SHELLS)
def test_one_drainer_at_a_lower_priority_in_a_session_of_its_own(name, tmp_path, repo, store, shells):
    """The drainer gives way to the shell drawing its prompt (niceness 10), and no signal of
    the terminal reaches it (its own session): a closed terminal costs no event."""
    shell = Shell(tmp_path, name, store, repo)
    shells.append(shell)
    shell.type("true")
    wait_events(store, 1)
    pid = int((store / "drainer.pid").read_text())
    fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "devtrace-drain"
    assert int(fields[16]) >= 10
    assert int(fields[3]) == pid  # session leader
