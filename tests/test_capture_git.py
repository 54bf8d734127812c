"""Git metrics of a capture: state at the end, the command's own change, the no-op rule."""

import os
import shutil
import subprocess
import time

from devtrace.capture.git import delta, parse_numstat
from tests.support import devtrace, devtrace_env, git, rows


def capture(repo, store, *command, env=None):
    done = devtrace("run", "--path", str(store), "--", *command, cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    return done


def repo_without_a_commit(tmp_path):
    """A new repository whose only change is a staged two-line file, x.txt."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    (fresh / "x.txt").write_text("1\n2\n")
    git(fresh, "add", "x.txt")
    return fresh


def test_staged_and_unstaged_edits_of_one_file_are_counted_once(repo, store):
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    git(repo, "add", "a.txt")
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")  # a further, unstaged edit
    capture(repo, store, "true")
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (1, 2, 0)


def test_state_counts_tracked_changes_not_untracked_files(repo, store):
    (repo / "a.txt").write_text("one\nTWO\nthree\n")  # 1 line replaced
    (repo / "b.txt").unlink()  # 1 line deleted
    (repo / "new.txt").write_text("untracked\n" * 10)
    capture(repo, store, "true")
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (2, 1, 2)


def test_delta_is_what_the_command_changed_and_zero_on_a_dirty_tree(repo, store):
    (repo / "a.txt").write_text("one\ntwo\nthree\nextra\n")
    capture(repo, store, "true")  # like `make test` on a dirty tree
    capture(repo, store, "sh", "-c", "printf 'x\\ny\\n' >> b.txt && sed -i 1d a.txt")
    first, second = rows(store)
    assert (first["delta_files"], first["delta_lines_added"], first["delta_lines_deleted"]) == (0, 0, 0)
    assert first["files_touched_count"] == 1
    assert (second["delta_files"], second["delta_lines_added"], second["delta_lines_deleted"]) == (2, 2, 1)
    assert (second["files_touched_count"], second["lines_added"], second["lines_deleted"]) == (2, 3, 1)


def test_every_command_is_recorded_by_default_even_on_a_clean_tree(repo, store):
    """DevTrace 0.2.0 skipped a command that left the tree clean: a failing test run on a clean
    tree, exactly what people want on record, was lost. The rule is now asked for."""
    assert devtrace("run", "--path", str(store), "--", "false", cwd=repo).returncode == 1
    capture(repo, store, "true")
    assert [r["exit_code"] for r in rows(store)] == [1, 0]
    assert all(r["files_touched_count"] == 0 for r in rows(store))


def test_skip_noop_flag_environment_and_config_skip_clean_tree_events(repo, store):
    done = devtrace("run", "--skip-noop", "--path", str(store), "--", "true", cwd=repo)
    assert b"not recorded" in done.stderr
    capture(repo, store, "true", env=devtrace_env(DEVTRACE_SKIP_NOOP="1"))
    (store / "config.toml").write_text("skip_noop = true\n")
    capture(repo, store, "true")
    assert rows(store) == []


def test_keep_noop_flag_environment_and_config_override_skip_noop(repo, store):
    store.mkdir()
    (store / "config.toml").write_text("skip_noop = true\n")
    assert devtrace("run", "--keep-noop", "--path", str(store), "--", "true", cwd=repo).returncode == 0
    capture(repo, store, "true", env=devtrace_env(DEVTRACE_KEEP_NOOP="1"))
    (store / "config.toml").write_text("skip_noop = true\nkeep_noop = true\n")
    capture(repo, store, "true")
    assert len(rows(store)) == 3
    assert all(r["files_touched_count"] == 0 for r in rows(store))


def test_outside_a_git_repo_git_fields_are_null_and_the_event_is_recorded(tmp_path, store):
    plain = tmp_path / "plain"
    plain.mkdir()
    capture(plain, store, "true")
    [event] = rows(store)
    for column in ("files_touched_count", "lines_added", "lines_deleted", "delta_files", "repo_id"):
        assert event[column] is None, column


def test_repo_without_a_commit_counts_staged_files(tmp_path, store):
    fresh = repo_without_a_commit(tmp_path)
    (fresh / "untracked.txt").write_text("nope\n")
    capture(fresh, store, "true")
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (1, 2, 0)


def test_repo_option_measures_another_work_tree(repo, store, tmp_path):
    (repo / "a.txt").write_text("changed\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = devtrace("run", "--path", str(store), "--repo", str(repo), "--", "true", cwd=elsewhere)
    assert done.returncode == 0
    assert rows(store)[0]["files_touched_count"] == 1


def test_subdirectory_of_a_repo_measures_the_whole_work_tree(repo, store):
    (repo / "a.txt").write_text("changed\n")
    sub = repo / "sub"
    sub.mkdir()
    capture(sub, store, "true")
    assert rows(store)[0]["files_touched_count"] == 1


def test_binary_files_count_as_touched_with_zero_lines(repo, store):
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    git(repo, "add", "blob.bin")
    capture(repo, store, "true")
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (1, 0, 0)


def test_numstat_parsing_and_delta_rules():
    raw = b"3\t1\ta.txt\x00-\t-\timg.png\x000\t2\tdir/with\ttab.txt\x00"
    assert parse_numstat(raw) == {"a.txt": (3, 1), "img.png": (0, 0), "dir/with\ttab.txt": (0, 2)}
    before = {"a": (5, 0), "b": (0, 2), "same": (1, 1)}
    after = {"a": (2, 0), "b": (0, 0), "c": (4, 1), "same": (1, 1)}
    # a: 3 added lines undone (deleted); b: 2 deleted lines restored (added); c: new change.
    assert delta(before, after) == (3, 2 + 4, 3 + 1)


def test_git_metrics_do_not_take_the_index_lock(repo, store):
    (repo / "a.txt").write_text("changed\n")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")  # another git process holds the index: capture must still work
    capture(repo, store, "true")
    assert rows(store)[0]["files_touched_count"] == 1
    lock.unlink()
    assert subprocess.run(["git", "status"], cwd=repo, capture_output=True).returncode == 0


COMMIT = ["git", "-c", "user.name=T", "-c", "user.email=t@e", "commit"]


def test_a_commit_is_recorded_and_not_mistaken_for_deleting_lines(repo, store):
    (repo / "a.txt").write_text("one\ntwo\nthree\n" + "new\n" * 51)
    capture(repo, store, *COMMIT, "-qam", "wip")  # clean after, but HEAD moved: not a no-op
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (0, 0, 0)
    assert (event["delta_files"], event["delta_lines_added"], event["delta_lines_deleted"]) == (0, 0, 0)


def test_a_change_committed_by_the_command_itself_is_its_delta(repo, store):
    (repo / "b.txt").write_text("b\ndirty\n")
    capture(repo, store, "sh", "-c", f"seq 1 70 > a.txt && {' '.join(COMMIT)} -qam x")
    [event] = rows(store)
    assert (event["delta_files"], event["delta_lines_added"], event["delta_lines_deleted"]) == (1, 70, 3)


def test_a_stash_of_a_dirty_tree_is_recorded(repo, store):
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    capture(repo, store, "git", "stash", "-q")  # the tree is clean after, but the command cleaned it
    [event] = rows(store)
    assert (event["files_touched_count"], event["lines_added"], event["lines_deleted"]) == (0, 0, 0)
    assert (event["delta_files"], event["delta_lines_added"], event["delta_lines_deleted"]) == (1, 0, 1)


def test_first_commit_of_a_new_repo_changes_nothing_in_the_tree(tmp_path, store):
    fresh = repo_without_a_commit(tmp_path)
    done = devtrace("run", "--keep-noop", "--path", str(store), "--",
                    "git", "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "first", cwd=fresh)
    assert done.returncode == 0
    [event] = rows(store)
    assert (event["delta_files"], event["delta_lines_added"], event["delta_lines_deleted"]) == (0, 0, 0)


def test_checkout_of_another_branch_counts_what_the_tree_gained(repo, store):
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    git(repo, "commit", "-qam", "four")
    git(repo, "checkout", "-q", "main")
    done = devtrace("run", "--keep-noop", "--path", str(store), "--", "git", "checkout", "-q", "feature", cwd=repo)
    assert done.returncode == 0
    [event] = rows(store)
    # Against the commit it started from, the checkout added one line to a.txt.
    assert (event["delta_files"], event["delta_lines_added"], event["delta_lines_deleted"]) == (1, 1, 0)
    assert event["files_touched_count"] == 0  # and the tree is clean against the new HEAD


def test_head_is_read_from_loose_packed_and_detached_refs(repo):
    from devtrace.capture.git import head

    commit = git(repo, "rev-parse", "HEAD").strip()
    assert head(str(repo)) == commit
    git(repo, "pack-refs", "--all")
    assert head(str(repo)) == commit
    git(repo, "checkout", "-q", "--detach")
    assert head(str(repo)) == commit
    worktree = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", str(worktree), "main")
    assert head(str(worktree)) == commit


def slow_git(tmp_path, seconds: float) -> dict:
    """An environment whose `git` takes `seconds` before each snapshot's `git diff`, and
    notes the pid of each wait in `waits`."""
    bin_dir = tmp_path / "slow-bin"
    bin_dir.mkdir()
    real = shutil.which("git")
    (bin_dir / "git").write_text(
        "#!/bin/sh\n"
        f'case "$*" in *" diff "*) sleep {seconds} & echo $! >> {tmp_path}/waits; wait $!;; esac\n'
        f'exec {real} "$@"\n'
    )
    (bin_dir / "git").chmod(0o755)
    return devtrace_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_git_snapshot_past_its_budget_is_unknown_and_does_not_hold_the_command(repo, store, tmp_path):
    (repo / "a.txt").write_text("changed\n")
    env = slow_git(tmp_path, 30)
    env["DEVTRACE_GIT_TIMEOUT_MS"] = "200"
    started = time.monotonic()
    done = devtrace("run", "--path", str(store), "--", "sh", "-c", "exit 5", cwd=repo, env=env)
    elapsed = time.monotonic() - started
    assert done.returncode == 5
    assert elapsed < 10, elapsed  # git would take 30 s
    [event] = rows(store)  # unknown is not clean: recorded without --keep-noop
    assert event["exit_code"] == 5
    for column in ("files_touched_count", "lines_added", "lines_deleted", "delta_files", "delta_lines_added"):
        assert event[column] is None, column
    assert event["repo_id"] is not None
    for pid in (tmp_path / "waits").read_text().split():  # git was stopped with what it started
        assert not _alive(int(pid))


def test_the_git_budget_is_a_setting(repo, store, tmp_path):
    (repo / "a.txt").write_text("changed\n")
    env = slow_git(tmp_path, 0.5)
    del env["DEVTRACE_GIT_TIMEOUT_MS"]
    store.mkdir()
    (store / "config.toml").write_text("git_timeout_ms = 20000\n")
    capture(repo, store, "true", env=env)
    assert rows(store)[0]["files_touched_count"] == 1
    env["DEVTRACE_GIT_TIMEOUT_MS"] = "soon"
    done = capture(repo, store, "true", env=env)
    assert b"DEVTRACE_GIT_TIMEOUT_MS='soon' must be a whole number of milliseconds" in done.stderr
    assert rows(store)[1]["files_touched_count"] is None  # the default budget, 300 ms, ran out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead for our purposes
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"
