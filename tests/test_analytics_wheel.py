"""The built wheel carries sql/: installed into a fresh venv outside the checkout, the
`devtrace` it installs captures, lists the views and answers SQL."""

import importlib.util
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import devtrace_env

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the wheel; its dependencies come from this environment's
    site-packages, added by a .pth file (a path entry, so this checkout's editable install,
    itself a .pth in there, is not activated)."""
    work = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(work / "dist"), str(REPO)]
    if importlib.util.find_spec("hatchling") is not None:
        build.insert(4, "--no-build-isolation")  # offline: use the installed build backend
    subprocess.run(build, check=True, capture_output=True, cwd=work)
    (wheel,) = (work / "dist").glob("devtrace-*.whl")

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True,
    )
    return venv


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = devtrace_env(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_installed_package_is_the_wheel(installed, tmp_path):
    where = run(installed, "python", "-c", "import devtrace, devtrace.paths as p; print(devtrace.__file__); print(p.sql_dir())", cwd=tmp_path)
    module, sql_dir = where.stdout.split()
    assert module.startswith(str(installed)) and sql_dir.startswith(str(installed)), where.stdout
    assert sorted(os.listdir(Path(sql_dir, "views"))) == sorted(os.listdir(REPO / "sql" / "views"))


def test_the_installed_cli_captures_and_queries(installed, tmp_path):
    store = tmp_path / "store"
    for code in (1, 0):
        done = run(installed, "devtrace", "run", "--quiet", "--keep-noop", "--agent", "wheel", "--path", str(store),
                   "--", "sh", "-c", f"exit {code}", cwd=tmp_path)
        assert done.returncode == code, done.stderr
    done = run(installed, "devtrace", "sql", "SELECT agent_id, commands, failures FROM agent_summary",
               "--format", "csv", "--path", str(store), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "agent_id,commands,failures\nwheel,2,1\n"), done.stderr
    done = run(installed, "devtrace", "views", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("events", "daily_activity", "agent_summary", "command_stats", "sessions", "retry_loops", "training_set"):
        assert f"│ {name} " in done.stdout
