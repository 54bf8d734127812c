"""`devtrace hook install|uninstall|status`: DevTrace's entries in a coding agent's settings.

The settings file is edited as text: DevTrace's entries are appended to (or cut from) the
right arrays, and every other byte of the file stays as it was, so an install followed by an
uninstall gives the file back unchanged. A file that is not valid JSON, or whose `hooks` is
not shaped as the agent expects, is refused in one sentence and left untouched.
"""

import json
import os
from typing import Any

from devtrace.capture import git
from devtrace.capture.hooks import AGENTS, jsonspan, launcher
from devtrace.errors import DevtraceError

SCOPES = ("user", "project")
# agent: (settings file under the home or project folder, the shell tool's name, hook events)
_AGENTS = {
    "claude-code": (os.path.join(".claude", "settings.json"), "Bash", ("PostToolUse", "PostToolUseFailure")),
    "codex": (os.path.join(".codex", "hooks.json"), "Bash", ("PreToolUse", "PostToolUse")),
    "gemini": (os.path.join(".gemini", "settings.json"), "run_shell_command", ("BeforeTool", "AfterTool")),
}
assert tuple(_AGENTS) == AGENTS


def settings_file(agent: str, scope: str, cwd: str | None = None) -> str:
    """The agent's settings file: in the home folder, or in the project (the git work tree
    holding `cwd`, else `cwd` itself)."""
    _check(agent, scope)
    if scope == "user":
        base = os.path.expanduser("~")
    else:
        here = os.path.abspath(cwd or os.getcwd())
        base = git.find_repo(here) or here
    return os.path.join(base, _AGENTS[agent][0])


def hook_command(agent: str, path: str | None = None) -> str:
    """What the agent runs: this interpreter's DevTrace by absolute path, as the shell hooks do."""
    from devtrace.capture.hooks.shells import sh_quote

    return " ".join(sh_quote(word) for word in launcher.argv(agent, path))


def install(agent: str, scope: str = "user", path: str | None = None, cwd: str | None = None) -> tuple[str, bool]:
    """Add (or update) DevTrace's entries; returns the file and whether it changed."""
    file = settings_file(agent, scope, cwd)
    old = _read(file)
    text = _without_ours(file, old or "{\n}\n", agent)
    _, tool, events = _AGENTS[agent]
    group = {"matcher": tool, "hooks": [{"type": "command", "command": hook_command(agent, path)}]}
    for event in events:
        text = _append_group(file, text, event, group)
    return file, _write(file, old, text)


def uninstall(agent: str, scope: str = "user", cwd: str | None = None) -> tuple[str, bool]:
    """Remove DevTrace's entries only; returns the file and whether it changed."""
    file = settings_file(agent, scope, cwd)
    old = _read(file)
    if old is None:
        return file, False
    return file, _write(file, old, _without_ours(file, old, agent))


def status(cwd: str | None = None) -> list[dict]:
    """For each agent and scope: the settings file and the events DevTrace is hooked into
    (an empty list: not installed; `problem`: the file could not be read)."""
    found = []
    for agent in AGENTS:
        for scope in SCOPES:
            file = settings_file(agent, scope, cwd)
            row: dict[str, Any] = {"agent": agent, "scope": scope, "file": file, "events": [], "problem": None}
            try:
                text = _read(file)
                root = _parse(file, text) if text else None
            except DevtraceError as exc:
                row["problem"] = str(exc)
            else:
                hooks = root.get("hooks") if root is not None else None
                for event in _AGENTS[agent][2]:
                    groups = hooks.get(event) if hooks is not None and hooks.items is not None else None
                    if groups is not None and any(_mine(g.value, agent) for _, g in groups.items or ()):
                        row["events"].append(event)
            found.append(row)
    return found


def _check(agent: str, scope: str) -> None:
    if agent not in _AGENTS:
        raise DevtraceError(f"unknown agent {agent!r}: DevTrace hooks into {', '.join(AGENTS)}")
    if scope not in SCOPES:
        raise DevtraceError(f"unknown scope {scope!r}: use user or project")


def _read(file: str) -> str | None:
    try:
        with open(file, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DevtraceError(f"cannot read {file} ({getattr(exc, 'strerror', None) or exc}); left as it was") from None
    return text if text.strip() else None


def _parse(file: str, text: str) -> jsonspan.Node:
    try:
        root = jsonspan.parse(text)
    except ValueError as exc:
        raise DevtraceError(f"{file} is not valid JSON ({exc}); DevTrace left it as it was") from None
    if not isinstance(root.value, dict):
        raise DevtraceError(f"{file} does not hold a JSON object; DevTrace left it as it was")
    hooks = root.get("hooks")
    if hooks is not None and not isinstance(hooks.value, dict):
        raise DevtraceError(f"`hooks` in {file} is not an object; DevTrace left the file as it was")
    for _, event in (hooks.items if hooks is not None else ()):
        if not isinstance(event.value, list):
            raise DevtraceError(f"an event under `hooks` in {file} is not a list; DevTrace left the file as it was")
    return root


def _is_mine(hook, agent: str) -> bool:
    command = hook.get("command") if isinstance(hook, dict) else None
    return isinstance(command, str) and "devtrace.capture.hooks.record" in command and f" {agent}" in command


def _mine(group, agent: str) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return isinstance(hooks, list) and any(_is_mine(h, agent) for h in hooks)


def _without_ours(file: str, text: str, agent: str) -> str:
    """The text with DevTrace's hook entries cut out: a group holding only DevTrace's hook
    goes whole, an event left empty goes, and `hooks` too if nothing is left in it."""
    while True:
        root = _parse(file, text)
        hooks = root.get("hooks")
        target = None
        for _, event in (hooks.items if hooks is not None else ()):
            for _, group in event.items:
                if _mine(group.value, agent):
                    inner = group.get("hooks")
                    if all(_is_mine(h, agent) for h in inner.value):
                        target = [(root, hooks), (hooks, event), (event, group)]
                    else:
                        target = [(root, hooks), (hooks, event), (event, group), (group, inner),
                                  *[(inner, h) for _, h in inner.items if _is_mine(h.value, agent)][:1]]
                    break
            if target:
                break
        if target is None:
            return text
        # cut the innermost item, or its container where the item is the container's only one
        while len(target) > 1 and len(target[-1][0].items) == 1:
            target.pop()
        container, node = target[-1]
        text = _cut(text, container, node)


def _cut(text: str, container: jsonspan.Node, node: jsonspan.Node) -> str:
    items = [n for _, n in container.items or ()]
    index = items.index(node)
    if len(items) == 1:
        start, end = container.start + 1, container.end - 1
    elif index > 0:
        start, end = items[index - 1].end, node.end
    else:
        start, end = node.member_start, items[1].member_start
    return text[:start] + text[end:]


def _append_group(file: str, text: str, event: str, group: dict) -> str:
    root = _parse(file, text)
    hooks = root.get("hooks")
    if hooks is None:
        return _append(text, root, 1, {event: [group]}, key="hooks")
    groups = hooks.get(event)
    if groups is None:
        return _append(text, hooks, 2, [group], key=event)
    return _append(text, groups, 3, group)


def _append(text: str, container: jsonspan.Node, depth: int, value, key: str | None = None) -> str:
    """Add `value` (as member `key` of an object) after the container's last item, in the
    file's own layout: its indent unit and line ending, or one line if the file is one line."""
    newline = "\r\n" if "\r\n" in text else "\n"
    unit = _indent_unit(text)
    if unit is None:
        piece = (json.dumps(key) + ": " if key is not None else "") + json.dumps(value)
        if container.items:
            return text[:container.items[-1][1].end] + ", " + piece + text[container.items[-1][1].end:]
        return text[:container.start + 1] + piece + text[container.end - 1:]
    body = json.dumps(value, indent=unit).replace("\n", newline + unit * depth)
    piece = unit * depth + (json.dumps(key) + ": " if key is not None else "") + body
    if container.items:
        end = container.items[-1][1].end
        return text[:end] + "," + newline + piece + text[end:]
    return text[:container.start + 1] + newline + piece + newline + unit * (depth - 1) + text[container.end - 1:]


def _indent_unit(text: str) -> str | None:
    """The file's indent unit (the first indented line's indent), None for a one-line file."""
    stripped = text.strip()
    if "\n" not in stripped:
        return None
    for line in stripped.splitlines()[1:]:
        indent = line[:len(line) - len(line.lstrip(" \t"))]
        if indent:
            return indent
    return "  "


def _write(file: str, old: str | None, new: str) -> bool:
    if new == old:
        return False
    if old is None and not new.endswith("\n"):
        new += "\n"
    folder = os.path.dirname(file)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(file)}.devtrace-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(new)
        if old is not None:
            os.chmod(tmp, os.stat(file).st_mode & 0o7777)
        os.replace(tmp, file)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DevtraceError(f"cannot write {file} ({exc.strerror}); left as it was") from None
    return True
