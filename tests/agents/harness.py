"""Run a real agent CLI (installed from tests/agents/package-lock.json) for one session against
a scripted model, inside a private network namespace, with DevTrace's hook installed by
`devtrace hook install` into a scratch HOME; then hand back what the store recorded.

Nothing leaves the machine: the CLI and its model server share a network namespace whose
only interface is loopback (`unshare -n`), and the CLIs' telemetry is turned off as well.
Every hook payload the CLI sends is also kept (a second, harness-only hook copies stdin to a
file), with the CLI's transcript: they are what tests/fixtures/agents/ is refreshed from."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import CHECKOUT, devtrace, devtrace_env, git, rows

HERE = Path(__file__).parent
BIN = HERE / "node_modules" / ".bin"
VERSIONS = {name: version for name, version in json.loads((HERE / "package.json").read_text())["dependencies"].items()}
PACKAGES = {"claude-code": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini": "@google/gemini-cli"}
HOOK_EVENTS = {"claude-code": ("PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd"),
               "codex": ("PreToolUse", "PostToolUse", "Stop"), "gemini": ("BeforeTool", "AfterTool", "SessionEnd")}
PROMPT = "Run the scripted commands."


def version(agent: str) -> str:
    return VERSIONS[PACKAGES[agent]]


def require_namespace() -> None:
    """Skip (with the reason) where a private network namespace cannot be made; CI must not skip."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        reason = "the agent tests need unshare (util-linux) and ip (iproute2) to keep the CLIs off the network"
    else:
        done = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
        if done.returncode == 0:
            return
        reason = f"cannot create a private network namespace ({done.stderr.strip() or 'unshare -n failed'})"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI runs as root and must run these tests")
    pytest.skip(reason)


def require_clis() -> None:
    """The pinned CLIs, installed by tests/agents/install (npm ci) if they are not there yet."""
    if all((BIN / name).exists() for name in ("claude", "codex", "gemini")):
        return
    done = subprocess.run(["bash", str(HERE / "install")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"tests/agents/install failed: {done.stderr.strip()[-500:]}")


class Run:
    """One finished CLI session: its folders, the events stored, the payloads its hooks got."""

    def __init__(self, agent: str, root: Path, project: Path, store: Path, home: Path):
        self.agent, self.root, self.project, self.store, self.home = agent, root, project, store, home
        self.run_dir = root / "run"
        self.result = json.loads((self.run_dir / "result.json").read_text())
        self.stdout = (self.run_dir / "stdout").read_text(errors="replace")
        self.stderr = (self.run_dir / "stderr").read_text(errors="replace")

    def payloads(self, event: str | None = None) -> list[dict]:
        found = []
        for file in sorted((self.run_dir / "payloads").iterdir(), key=lambda p: p.stat().st_mtime_ns):
            if event is None or file.name.split(".")[0] == event:
                try:
                    found.append(json.loads(file.read_text()))
                except ValueError:
                    continue
        return found

    def events(self) -> list:
        try:
            return rows(self.store, "SELECT * FROM command_events ORDER BY started_at")
        except Exception:  # no store yet
            return []

    def hash_of(self, line: str) -> str:
        from devtrace.capture import identity
        from devtrace.store.key import read_key

        return identity.command_hash(read_key(str(self.store)), identity.command_words(line))

    def event(self, line: str):
        """The one event of this command line (the test fails if there is none or several)."""
        found = [e for e in self.events() if e["command_hash"] == self.hash_of(line)]
        assert len(found) == 1, f"{len(found)} events for {line!r} in {self.agent}'s run ({self.root})"
        return found[0]

    def events_of(self, line: str) -> list:
        return [e for e in self.events() if e["command_hash"] == self.hash_of(line)]

    def settle(self, expected: int, timeout: float = 60.0) -> None:
        """Wait until the detached writers have stored `expected` events, or no more come."""
        deadline = time.monotonic() + timeout
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.events())
            if count >= expected:
                time.sleep(0.5)
                return
            if count != last:
                last, stable_since = count, time.monotonic()
            elif time.monotonic() - stable_since > 10:
                return
            time.sleep(0.2)


def make_root(root: Path) -> tuple[Path, Path, Path]:
    """The scratch HOME, the project (a git repo with a `sub` folder) and the store's folder."""
    home, project, store = root / "home", root / "project", root / "store"
    home.mkdir(parents=True)
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    (project / "sub").mkdir()
    (project / "a.txt").write_text("one\n")
    (project / "sub" / "b.txt").write_text("b\n")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "initial")
    return home, project, store


def run_session(agent: str, root: Path, turns: list[list[dict]], *, timeout: float = 240,
                prepare=None, expected: int = 0, sandbox: bool = False, interactive: list | None = None) -> Run:
    """Install DevTrace's hook for `agent` into a scratch HOME under `root`, run the CLI once
    against a model scripted with `turns`, and return the run once the store has settled.
    `prepare(home, project)` may add files (other repos, settings) before the CLI starts and
    return more arguments for the CLI. `sandbox`: Codex in its read-only sandbox. `interactive`:
    the CLI's interactive UI in a tmux pane, started with the prompt and driven by these steps
    (session.interactive), instead of its headless mode."""
    require_namespace()
    require_clis()
    home, project, store = make_root(root)
    run_dir = root / "run"
    (run_dir / "payloads").mkdir(parents=True)
    env = {"HOME": str(home), "PATH": os.pathsep.join([str(BIN), os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "TERM": "dumb", "TMPDIR": str(root / "tmp"), "DEVTRACE_GIT_TIMEOUT_MS": "60000"}
    (root / "tmp").mkdir()
    files: dict[str, str] = {}
    codex_home = home / "codex-home"  # not ~/.codex: DevTrace must follow $CODEX_HOME as Codex does
    if agent == "claude-code":
        env.update(ANTHROPIC_BASE_URL="{base}", ANTHROPIC_API_KEY="sk-scripted", DISABLE_TELEMETRY="1",
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_ERROR_REPORTING="1", DISABLE_AUTOUPDATER="1")
        argv = (["claude", PROMPT, "--allowedTools", "Bash"] if interactive else
                ["claude", "-p", PROMPT, "--allowedTools", "Bash", "--output-format", "json"])
        if interactive:  # what a user has answered once: onboarding, this API key, trust in the folder
            (home / ".claude.json").write_text(json.dumps({
                "hasCompletedOnboarding": True, "customApiKeyResponses": {"approved": ["sk-scripted"[-20:]]},
                "projects": {str(project): {"hasTrustDialogAccepted": True}}}))
    elif agent == "codex":
        env.update(CODEX_HOME=str(codex_home), SCRIPTED_API_KEY="sk-scripted")
        files[str(codex_home / "config.toml")] = (
            'model = "gpt-5.1-codex"\nmodel_provider = "scripted"\ncheck_for_update_on_startup = false\n\n'
            '[model_providers.scripted]\nname = "scripted"\nbase_url = "{base}/v1"\nwire_api = "responses"\n'
            'env_key = "SCRIPTED_API_KEY"\n\n[analytics]\nenabled = false\n\n'
            f'[projects.{json.dumps(str(project))}]\ntrust_level = "trusted"\n')
        permissions = ["--sandbox", "read-only"] if sandbox else ["--dangerously-bypass-approvals-and-sandbox"]
        argv = ["codex", "exec", "--skip-git-repo-check", *permissions, "--json", PROMPT]
    else:
        env.update(GEMINI_API_KEY="scripted", GOOGLE_GEMINI_BASE_URL="{base}", GEMINI_CLI_NO_RELAUNCH="true")
        settings = home / ".gemini" / "settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}},
                                        "telemetry": {"enabled": False},
                                        "privacy": {"usageStatisticsEnabled": False}}, indent=2) + "\n")
        argv = ["gemini", "-i" if interactive else "-p", PROMPT, "--yolo", "--skip-trust", "-m", "gemini-2.5-flash"]
    if prepare is not None:
        extra = prepare(home, project)
        if extra:
            argv += extra
    install_env = devtrace_env(HOME=str(home), **({"CODEX_HOME": str(codex_home)} if agent == "codex" else {}))
    done = devtrace("hook", "install", agent, "--path", str(store), cwd=project, env=install_env)
    assert done.returncode == 0, done.stderr
    _add_payload_copies(agent, home, run_dir)
    config = {"agent": agent, "turns": turns, "run_dir": str(run_dir), "cwd": str(project), "env": env,
              "argv": argv, "files": files, "timeout": timeout, "trust_codex_hooks": agent == "codex",
              "interactive": interactive}
    (run_dir / "run.json").write_text(json.dumps(config, indent=1))
    subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
                    str(HERE / "session.py"), str(run_dir / "run.json")], check=True, cwd=CHECKOUT, timeout=timeout + 60)
    run = Run(agent, root, project, store, home)
    run.settle(expected)
    return run


def _add_payload_copies(agent: str, home: Path, run_dir: Path) -> None:
    """A harness-only hook beside DevTrace's on each event: it copies the payload to a file."""
    file = {"claude-code": home / ".claude" / "settings.json", "codex": home / "codex-home" / "hooks.json",
            "gemini": home / ".gemini" / "settings.json"}[agent]
    settings = json.loads(file.read_text())
    for event in HOOK_EVENTS[agent]:
        command = f"sh -c 'cat > \"$(mktemp {run_dir}/payloads/{event}.XXXXXX)\"'"
        group = {"hooks": [{"type": "command", "command": command}]}
        if event not in ("Stop", "SessionEnd"):
            group["matcher"] = {"claude-code": "*", "gemini": ".*"}.get(agent)
            if group["matcher"] is None:
                del group["matcher"]
        settings.setdefault("hooks", {}).setdefault(event, []).append(group)
    file.write_text(json.dumps(settings, indent=2) + "\n")
