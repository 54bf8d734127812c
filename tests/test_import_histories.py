"""`devtrace import bash|zsh|fish` on history files the real shells wrote in tmux
(tests/fixtures/history/make.sh): counts, order, times, durations, exactly once, the live
hook's cut-off, undated files, damaged input."""

import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import pytest

from devtrace.capture.event_ids import of_history
from devtrace.store import create_store, insert_rows
from tests.support import devtrace, devtrace_env, rows

HISTORY = Path(__file__).parent / "fixtures" / "history"
TYPED = ["echo one", "ls -la /tmp", "git status", None, "sleep 2", "false", "echo café — ä", "exit"]
"""What make.sh types into each shell; None: the loop, written in each shell's own syntax."""
LOOPS = {"bash": 'for i in 1 2; do echo "$i"; done', "zsh": 'for i in 1 2; do\necho "$i"\ndone',
         "fish": 'for i in 1 2\necho "$i"\nend'}


def imported(store: Path, *args: str, env: dict | None = None) -> dict:
    done = devtrace("import", *args, "--path", str(store), "--json", cwd=store.parent, env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return json.loads(done.stdout)


def epochs(file: Path, pattern: bytes) -> list[float]:
    return [float(m) for m in re.findall(pattern, file.read_bytes())]


def check_file(tmp_path: Path, shell: str, name: str, times: list[float]) -> list:
    store = tmp_path / "store"
    first = imported(store, shell, str(HISTORY / name))
    assert (first["read"], first["added"], first["damaged"]) == (8, 8, 0)
    events = rows(store, "SELECT * FROM command_events ORDER BY executed_at, rowid")
    assert [e["executed_at"] for e in events] == times  # the file's order, its own times
    assert {e["captured_by"] for e in events} == {f"import-{shell}"}
    assert {e["author_kind"] for e in events} == {"human"}
    for column in ("files_touched_count", "lines_added", "delta_files", "repo_id", "exit_code", "session_id"):
        assert {e[column] for e in events} == {None}, column  # unknown for the past, never 0
    # the loop: one line in bash's file (cmdhist joins it with `;`), three in zsh's and fish's,
    # which say so as a live paste does, naming no program
    loop = ("for", None) if shell == "bash" else (None, 3)
    assert [(e["program"], e["line_count"]) for e in events] == [
        ("echo", None), ("ls", None), ("git", None), loop, ("sleep", None), ("false", None), ("echo", None), ("exit", None)]
    again = imported(store, shell, str(HISTORY / name))
    assert (again["added"], again["present"]) == (0, 8)
    assert len(rows(store)) == 8
    return events


def test_bash_with_histtimeformat(tmp_path):
    events = check_file(tmp_path, "bash", "bash-dated", epochs(HISTORY / "bash-dated", rb"(?m)^#(\d+)$"))
    assert {e["duration_ms"] for e in events} == {None}


def test_zsh_extended_history_start_and_elapsed(tmp_path):
    times = epochs(HISTORY / "zsh-extended", rb"(?m)^: (\d+):")
    events = check_file(tmp_path, "zsh", "zsh-extended", times)
    assert [e["duration_ms"] for e in events] == [0, 0, 0, 0, 2000, 0, 0, 0]  # `sleep 2` took 2 s


def test_fish_history(tmp_path):
    check_file(tmp_path, "fish", "fish", epochs(HISTORY / "fish", rb"(?m)^  when: (\d+)$"))


def test_one_command_hashes_alike_from_every_shell_multiline_and_metafied_included(tmp_path):
    store = tmp_path / "store"
    for shell, name in (("bash", "bash-dated"), ("zsh", "zsh-extended"), ("fish", "fish")):
        imported(store, shell, str(HISTORY / name))
    by_shell = {}
    for e in rows(store, "SELECT * FROM command_events ORDER BY executed_at, rowid"):
        by_shell.setdefault(e["captured_by"], []).append(e["command_hash"])
    # zsh metafied the em dash's 0x94 byte (written as 0x83 0xB4); undone, the line hashes
    # as bash's and fish's do
    assert b"\x83\xb4" in (HISTORY / "zsh-extended").read_bytes()
    for i, typed in enumerate(TYPED):
        if typed is not None:
            assert len({hashes[i] for hashes in by_shell.values()}) == 1, typed
    # the loop is one command in each shell (its lines differ between shells)
    assert all(len(hashes) == 8 for hashes in by_shell.values())


def test_a_history_without_times_is_refused_in_one_sentence_unless_undated(tmp_path):
    store = tmp_path / "store"
    for shell, name in (("bash", "bash-plain"), ("zsh", "zsh-plain")):
        done = devtrace("import", shell, str(HISTORY / name), "--path", str(store), cwd=tmp_path)
        assert done.returncode == 1
        message = done.stderr.decode().strip()
        assert len(message.splitlines()) == 1 and "--undated" in message
        assert ("HISTTIMEFORMAT" if shell == "bash" else "EXTENDED_HISTORY") in message
    plain = tmp_path / "bash_history"
    shutil.copy(HISTORY / "bash-plain", plain)
    os.utime(plain, (1_800_000_000, 1_800_000_000))
    first = imported(store, "bash", str(plain), "--undated")
    assert first["added"] == 8
    events = rows(store, "SELECT * FROM command_events ORDER BY executed_at")
    assert [e["executed_at"] for e in events] == [1_800_000_000 - 8 + i for i in range(8)]  # before the mtime, in order
    assert {e["duration_approximate"] for e in events} == {1} and {e["duration_ms"] for e in events} == {None}
    with plain.open("a") as f:  # the shell appends, the file's time moves on
        f.write("echo one\n")
    again = imported(store, "bash", str(plain), "--undated")
    assert (again["added"], again["present"]) == (1, 8)  # only the new, second `echo one`


def _rotate(store: Path) -> None:
    done = devtrace("key", "rotate", "--path", str(store), cwd=store.parent)
    assert done.returncode == 0, done.stderr.decode()


def _store_with_text(tmp_path: Path, text: str) -> Path:
    store = tmp_path / "store"
    store.mkdir(parents=True)
    (store / "config.toml").write_text(f'command_text = "{text}"\n')
    return store


@pytest.mark.parametrize("text", ["redacted", "off"])
@pytest.mark.parametrize(("shell", "name"), [("bash", "bash-dated"), ("zsh", "zsh-extended"), ("fish", "fish")])
def test_a_key_rotation_between_two_imports_adds_nothing(tmp_path, shell, name, text):
    """Issue 25: the ids were made of the keyed hash, which a new key changes."""
    store = _store_with_text(tmp_path, text)
    assert imported(store, shell, str(HISTORY / name))["added"] == 8
    secret = (store / "import.key").read_bytes()
    assert (store / "import.key").stat().st_mode & 0o777 == 0o600 and len(secret.strip()) == 64
    for _ in range(2):
        _rotate(store)
        again = imported(store, shell, str(HISTORY / name))
        assert (again["added"], again["present"]) == (0, 8)
    assert (store / "import.key").read_bytes() == secret  # a rotation leaves it alone
    assert len(rows(store)) == 8 and len({e["key_fingerprint"] for e in rows(store)}) == 1


@pytest.mark.parametrize("text", ["redacted", "off"])
def test_an_undated_history_across_a_rotation_adds_only_what_the_shell_appended(tmp_path, text):
    store = _store_with_text(tmp_path, text)
    plain = tmp_path / "bash_history"
    shutil.copy(HISTORY / "bash-plain", plain)
    assert imported(store, "bash", str(plain), "--undated")["added"] == 8
    _rotate(store)
    with plain.open("a") as f:
        f.write("echo one\n")
    again = imported(store, "bash", str(plain), "--undated")
    assert (again["added"], again["present"]) == (1, 8)


@pytest.mark.parametrize("text", ["redacted", "off"])
def test_a_history_imported_before_import_key_is_recognised_under_every_key(tmp_path, text):
    """A store imported by the version before import.key (ids of the keyed hash under the key
    of that time), then imported again by this one: nothing is added, before or after a rotate."""
    made = _store_with_text(tmp_path / "made", text)
    imported(made, "zsh", str(HISTORY / "zsh-extended"))
    store = _store_with_text(tmp_path, text)
    shutil.copy(made / "hash.key", store / "hash.key")
    events = [dict(e) for e in rows(made, "SELECT * FROM command_events ORDER BY rowid")]
    for event in events:  # the id the importer gave an entry before import.key
        event["id"] = of_history(event["captured_by"], repr(event["executed_at"]), event["command_hash"])
    conn = create_store(str(store))
    try:
        assert insert_rows(conn, list(events[0]), [list(e.values()) for e in events]) == 8
    finally:
        conn.close()
    assert not (store / "import.key").exists()
    again = imported(store, "zsh", str(HISTORY / "zsh-extended"))
    assert (again["added"], again["present"]) == (0, 8)
    _rotate(store)
    _rotate(store)
    again = imported(store, "zsh", str(HISTORY / "zsh-extended"))
    assert (again["added"], again["present"]) == (0, 8)
    assert len(rows(store)) == 8


def test_the_live_hooks_cut_off_holds_across_a_rotation(tmp_path):
    store = tmp_path / "store"
    times = epochs(HISTORY / "zsh-extended", rb"(?m)^: (\d+):")
    done = devtrace("hook", "record", "zsh", "--path", str(store), cwd=tmp_path,
                    input=f"0 {int((times[4] + 0.5) * 1e6)} 100000 sess line\nmake\n".encode())
    assert done.returncode == 0
    assert imported(store, "zsh", str(HISTORY / "zsh-extended"))["added"] == 5
    _rotate(store)
    again = imported(store, "zsh", str(HISTORY / "zsh-extended"))
    assert (again["added"], again["present"], again["live"]) == (0, 5, 3)


def test_entries_the_live_hook_has_are_left_to_it_unless_all(tmp_path):
    store = tmp_path / "store"
    times = epochs(HISTORY / "zsh-extended", rb"(?m)^: (\d+):")
    live = times[4] + 0.5  # the hook's first event came after the fifth command
    done = devtrace("hook", "record", "zsh", "--path", str(store), cwd=tmp_path,
                    input=f"0 {int(live * 1e6)} 100000 sess line\nmake\n".encode())
    assert done.returncode == 0
    hooked = [e for e in rows(store) if e["captured_by"] == "zsh"]
    assert len(hooked) == 1, done.stderr.decode()
    cut = imported(store, "zsh", str(HISTORY / "zsh-extended"))
    assert (cut["added"], cut["live"]) == (5, 3)
    everything = imported(store, "zsh", str(HISTORY / "zsh-extended"), "--all")
    assert (everything["added"], everything["present"]) == (3, 5)


def test_dry_run_counts_and_stores_nothing(tmp_path):
    store = tmp_path / "store"
    counted = imported(store, "fish", str(HISTORY / "fish"), "--dry-run")
    assert (counted["read"], counted["added"]) == (8, 8)
    assert rows(store) == []


def test_damaged_lines_are_counted_and_skipped_never_a_partial_event(tmp_path):
    store = tmp_path / "store"
    damaged = tmp_path / "zsh_history"
    good = (HISTORY / "zsh-extended").read_bytes()
    damaged.write_bytes(good + b": 1796544300:0;echo \xff\xfe latin1 caf\xe9\n"  # not UTF-8
                        + b": 1796544301:0;bin\x00ary\n"  # a NUL byte
                        + b": 1796544302:0;echo cut sho")  # no newline: cut short
    done = devtrace("import", "zsh", str(damaged), "--path", str(store), cwd=tmp_path)
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert done.stderr.decode().strip().splitlines() == [
        "3 damaged lines (not UTF-8, binary, cut short or malformed) skipped: nothing of them was stored"]
    assert len(rows(store)) == 8


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_a_binary_file_is_refused_in_one_sentence_and_the_store_is_unchanged(tmp_path, shell):
    """Random bytes once gave a one-byte "command" among the damaged lines (a CI run)."""
    store = tmp_path / "store"
    imported(store, "zsh", str(HISTORY / "zsh-extended"))
    for name, content in (("random", random.Random(24).randbytes(4096)), ("python", Path(sys.executable).read_bytes())):
        binary = tmp_path / name
        binary.write_bytes(content)
        done = devtrace("import", shell, str(binary), "--undated", "--path", str(store), cwd=tmp_path)
        assert done.returncode == 1 and b"Traceback" not in done.stderr
        assert done.stderr.decode().strip().splitlines() == [
            f"devtrace: {binary} is not a {shell} history (it is not text): nothing was imported"]
        assert len(rows(store)) == 8


@pytest.mark.parametrize("shell, fixture", [("bash", "bash-dated"), ("zsh", "zsh-extended"), ("fish", "fish")])
def test_a_history_read_through_a_pipe(tmp_path, shell, fixture):
    """`devtrace import fish <(ssh host cat …)`: the file cannot seek back to its start (bash
    and zsh ended in a traceback when the first line was read to tell dated from undated)."""
    store = tmp_path / "store"
    done = devtrace("import", shell, "/dev/stdin", "--path", str(store), "--json", cwd=tmp_path,
                    input=(HISTORY / fixture).read_bytes())
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert json.loads(done.stdout)["added"] == len(rows(store)) > 0


def test_a_history_in_another_alphabet_is_text(tmp_path):
    """zsh metafies the bytes 0x83-0xA2, which much of a Japanese line's UTF-8 contains: a
    quarter of the file's bytes are not UTF-8 until they are unmetafied."""
    store = tmp_path / "store"
    history = tmp_path / "zsh_history"
    lines = [f": {1796544300 + i}:0;echo {'ビルドテストデプロイログ' * 6}{i}".encode() for i in range(200)]
    history.write_bytes(b"".join(_metafy(line) + b"\n" for line in lines))
    assert imported(store, "zsh", str(history))["added"] == 200


def _metafy(raw: bytes) -> bytes:
    return b"".join(bytes([0x83, b ^ 0x20]) if 0x83 <= b <= 0xA2 else bytes([b]) for b in raw)


def test_a_missing_file_is_one_sentence(tmp_path):
    done = devtrace("import", "fish", str(tmp_path / "nothing"), "--path", str(tmp_path / "store"), cwd=tmp_path,
                    env=devtrace_env())
    assert done.returncode == 1
    assert done.stderr.decode().strip().splitlines() == [f"devtrace: cannot read {tmp_path / 'nothing'} (No such file or directory)"]


def test_imported_commands_keep_their_text_redacted_as_live_capture_does(tmp_path):
    store = tmp_path / "store"
    history = tmp_path / "zsh_history"
    history.write_bytes(b": 1796544300:0;export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
                        b": 1796544301:0;devtrace events\n")  # DevTrace's own: not recorded live either
    counts = imported(store, "zsh", str(history))
    assert (counts["added"], counts["ignored"]) == (1, 1)
    (event,) = rows(store)
    assert event["command_text"] == "export GITHUB_TOKEN=<redacted>"
    (store / "config.toml").write_text('command_text = "off"\n')
    imported(store, "fish", str(HISTORY / "fish"))
    assert {e["command_text"] for e in rows(store) if e["captured_by"] == "import-fish"} == {None}


def test_a_long_history_shows_its_progress_on_a_terminal(tmp_path):
    import pty
    import subprocess
    import sys

    history = tmp_path / "zsh_history"
    history.write_text("".join(f": {1_700_000_000 + i}:0;echo {i % 300}\n" for i in range(5000)))
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "devtrace", "import", "zsh", str(history), "--path",
                           str(tmp_path / "store")], stdout=subprocess.PIPE, stderr=follower, env=devtrace_env(),
                          cwd=tmp_path, timeout=120)
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert done.returncode == 0 and b"5000 read, added 5000" in done.stdout
    # told of the lines read a thousand at a time, drawn at most every 0.2 s, cleared at the end
    assert "\rimporting zsh history [" in shown and "/0.1 MiB" in shown and shown.endswith("\r\033[K")
