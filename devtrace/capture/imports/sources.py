"""Where each shell and agent keeps its history by default."""

import glob
import os

from devtrace.capture.hooks.agents import codex


def history_file(shell: str) -> str:
    home = os.path.expanduser("~")
    if shell == "bash":
        return os.path.join(home, ".bash_history")
    if shell == "zsh":  # HISTFILE is a shell variable, seldom exported; zsh has no default file
        return os.environ.get("HISTFILE") or os.path.join(os.environ.get("ZDOTDIR") or home, ".zsh_history")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(data, "fish", "fish_history")


def transcripts(agent: str) -> list[str]:
    """The agent's transcript files, oldest first (by modification time)."""
    home = os.path.expanduser("~")
    if agent == "claude-code":
        base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
        pattern = os.path.join(base, "projects", "*", "*.jsonl")
    elif agent == "codex":
        pattern = os.path.join(codex.codex_home(), "sessions", "**", "rollout-*.jsonl")
    else:
        return _gemini_chats(os.path.join(home, ".gemini", "tmp", "*", "chats"))
    found = glob.glob(pattern, recursive=True)
    return sorted(found, key=lambda f: (_mtime(f), f))


def _gemini_chats(chats: str) -> list[str]:
    """Gemini CLI's chats: session-*.jsonl (0.39 on) and session-*.json (up to 0.38), and its
    subagents' chats in a folder named after their parent session. A `.json` chat resumed by 0.39 or
    later was copied whole into a `.jsonl` beside it, which is read instead."""
    found = []
    for pattern in ("*.json", "*.jsonl", os.path.join("*", "*.json"), os.path.join("*", "*.jsonl")):
        found += glob.glob(os.path.join(chats, pattern))
    chosen = set(found)
    found = [f for f in found if not (f.endswith(".json") and f + "l" in chosen)]
    return sorted(found, key=lambda f: (_mtime(f), f))


def _mtime(file: str) -> float:
    try:
        return os.path.getmtime(file)
    except OSError:
        return 0.0
