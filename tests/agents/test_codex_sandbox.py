"""Codex in its read-only sandbox: a write it refuses is a failure, not a success with an
unknown exit (issue 20, item 12). One session."""

import pytest

from tests.agents.harness import run_session

pytestmark = pytest.mark.agents

LINES = ["echo blocked > inside.txt", "cat a.txt", "sh -c 'exit 5'"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_session("codex", tmp_path_factory.mktemp("codex-sandbox"), [[{"cmd": line}] for line in LINES],
                       sandbox=True, expected=len(LINES))


@pytest.mark.parametrize("line, code", [("echo blocked > inside.txt", 1), ("cat a.txt", 0), ("sh -c 'exit 5'", 5)])
def test_exit_codes_in_the_sandbox(run, line, code):
    assert run.result["exit"] == 0, run.stderr
    assert run.event(line)["exit_code"] == code
    assert not (run.project / "inside.txt").exists()
