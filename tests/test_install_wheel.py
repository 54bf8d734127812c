"""Installed as a user installs it: the wheel built from this checkout carries every data file
the package needs, installs with its dependencies into a fresh venv (as pipx or `uv tool`
would), and the hook it prints records commands in a bash whose PATH does not hold that venv."""

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.hook_support import require, wait_events
from tests.support import CHECKOUT, devtrace_env

pytestmark = pytest.mark.stress  # builds a wheel and installs its dependencies: a minute or more

PROMPT = "WH$ "
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"


def _data_files() -> dict[str, str]:
    """{path in the wheel: path in the checkout} of every file the package ships that is not
    Python: the hook scripts, sql/ (migrations, views, the prices table) and the notebooks."""
    tracked = subprocess.run(["git", "ls-files", "devtrace", "sql", "notebooks"], cwd=CHECKOUT, capture_output=True,
                             text=True, check=True).stdout.split()
    shipped = {}
    for name in tracked:
        inside = name if name.startswith("devtrace/") else f"devtrace/{name}"
        shipped[inside] = name
    return shipped


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(work), str(CHECKOUT)], check=True, capture_output=True, cwd=work)
    (built,) = work.glob("devtrace-*.whl")
    return built


def test_the_wheel_carries_every_file_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(inside for inside in _data_files() if inside not in names)
    assert not missing, f"not in the wheel: {missing}"
    for needed in ("devtrace/sql/prices.toml", "devtrace/sql/views/00_events.sql", "devtrace/capture/hooks/hook.bash",
                   "devtrace/capture/hooks/hook.zsh", "devtrace/capture/hooks/hook.fish",
                   "devtrace/notebooks/analysis.py", "devtrace/sql/migrations/0001_devtrace_0_2_0.sql"):
        assert needed in names


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its dependencies, pinned by
    constraints.txt, from the same package index as this machine's pip."""
    place = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(place)], check=True)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(place / "bin" / "python"), "install", "--quiet",
                           "-c", str(CHECKOUT / "constraints.txt"), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return place


def test_the_printed_hook_records_in_a_bash_whose_path_lacks_the_venv(venv, tmp_path):
    require("tmux", "bash")
    store, home = tmp_path / "store", tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in devtrace_env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    printed = subprocess.run([str(venv / "bin" / "devtrace"), "hook", "bash", "--path", str(store)], cwd=tmp_path,
                             env={**env, "PATH": BARE_PATH}, capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    assert f"{venv}/bin/python" in printed.stdout  # the drainer by absolute path, not `python` on PATH
    assert str(CHECKOUT) not in printed.stdout  # the installed package, not this checkout
    (home / ".bashrc").write_text(f"PS1='{PROMPT}'\nHISTFILE={home}/.bash_history\n"
                                  f'eval "$({venv}/bin/devtrace hook bash --path {store})"\n')
    socket = f"dt-wheel-{os.getpid()}"
    shell = {"HOME": str(home), "PATH": BARE_PATH, "TERM": "xterm-256color", "LANG": "C.UTF-8"}

    def tmux(*args: str) -> str:
        done = subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def wait_prompts(count: int) -> None:
        deadline = time.monotonic() + 60
        while tmux("capture-pane", "-p", "-J", "-S", "-").count(PROMPT) < count:
            assert time.monotonic() < deadline, tmux("capture-pane", "-p", "-J", "-S", "-")
            time.sleep(0.05)

    tmux("new-session", "-d", "-x", "120", "-y", "40", "-c", str(tmp_path), "--",
         "env", "-i", *[f"{k}={v}" for k, v in shell.items()], "bash", "--noprofile", "--rcfile", str(home / ".bashrc"), "-i")
    try:
        wait_prompts(1)
        for n, line in enumerate(["type -P devtrace || echo not-on-path", "echo wheel-hook-marker"], start=2):
            tmux("send-keys", "-t", "0", "-l", line)
            tmux("send-keys", "-t", "0", "Enter")
            wait_prompts(n)
        assert "not-on-path" in tmux("capture-pane", "-p", "-J", "-S", "-")  # devtrace is not on this PATH
        recorded = wait_events(store, 2)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    assert [r["command_text"] for r in recorded] == ["type -P devtrace || echo not-on-path", "echo wheel-hook-marker"]
    assert {r["captured_by"] for r in recorded} == {"bash"}
