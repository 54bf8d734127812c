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
from devtrace.capture.hooks import jsonspan, launcher
from devtrace.capture.hooks.agents import REGISTRY
from devtrace.errors import DevtraceError

SCOPES = ("user", "project")
_BOM = "\ufeff"


def settings_file(agent: str, scope: str, cwd: str | None = None) -> str:
    """The agent's settings file: in the home folder (or where the agent's own variable puts
    it, e.g. $CODEX_HOME), or in the project (the git work tree holding `cwd`, else `cwd`)."""
    _check(agent, scope)
    if scope == "user":
        return REGISTRY[agent].user_settings()
    here = os.path.abspath(cwd or os.getcwd())
    return os.path.join(git.find_repo(here) or here, REGISTRY[agent].settings)


def hook_command(agent: str, path: str | None = None) -> str:
    """What the agent runs: DevTrace's sh hook by absolute path, which starts this interpreter's
    drainer (see launcher)."""
    from devtrace.capture.hooks.shells import sh_quote

    return " ".join(sh_quote(word) for word in launcher.argv(agent, path))


def install(agent: str, scope: str = "user", path: str | None = None, cwd: str | None = None) -> tuple[str, bool]:
    """Add (or update) DevTrace's entries; returns the file and whether it changed."""
    file = settings_file(agent, scope, cwd)
    old = _read(file)
    spec = REGISTRY[agent]
    text = _without_ours(file, old or "{\n}\n", agent)
    hook = {**spec.entry, "type": "command", "command": hook_command(agent, path)}
    for event in spec.events:  # a turn's or session's end is no tool's: no matcher there
        group = {"matcher": spec.tool, "hooks": [hook]} if event in spec.tool_events() else {"hooks": [hook]}
        text = _append_group(file, text, event, group)
    return file, _write(file, old, text)


def after_install(agent: str, scope: str, file: str) -> list[str]:
    """What the user must still do or know once the entries are in: the status warnings of the
    file just written (Codex: trust them in /hooks; a missing interpreter; a second scope)."""
    return [w for row in status() if row["agent"] == agent and row["file"] == file for w in row["warnings"]]


def uninstall(agent: str, scope: str = "user", cwd: str | None = None) -> tuple[str, bool]:
    """Remove DevTrace's entries only; returns the file and whether it changed."""
    file = settings_file(agent, scope, cwd)
    old = _read(file)
    if old is None:
        return file, False
    new = _without_ours(file, old, agent)
    if new != old and _parse(file, new).value == {}:
        return file, _remove(file)  # nothing left: the file (and its folder) DevTrace created go
    return file, _write(file, old, new)


def status(cwd: str | None = None) -> list[dict]:
    """For each agent and scope: the settings file and the events DevTrace is hooked into
    (an empty list: not installed; `problem`: the file could not be read); `trust`: Codex's
    trust in the entries, or Gemini's in the folder `cwd`; `warnings`: why the entries record
    nothing or twice; `notes`: where they record nothing (Gemini in an untrusted folder)."""
    found = []
    for agent in REGISTRY:
        for scope in SCOPES:
            file = settings_file(agent, scope, cwd)
            row: dict[str, Any] = {"agent": agent, "scope": scope, "file": file, "events": [], "problem": None, "trust": None,
                   "warnings": [], "notes": []}
            try:
                text = _read(file)
                root = _parse(file, text) if text else None
            except DevtraceError as exc:
                row["problem"] = str(exc)
            else:
                hooks = root.get("hooks") if root is not None else None
                for event in REGISTRY[agent].events:
                    groups = hooks.get(event) if hooks is not None and hooks.items is not None else None
                    if groups is not None and any(_mine(g.value, agent) for _, g in groups.items or ()):
                        row["events"].append(event)
                if row["events"] and hooks is not None:
                    spec = REGISTRY[agent]
                    row["trust"], row["warnings"], row["notes"] = spec.check(
                        file, hooks.value, lambda hook, a=agent: _is_mine(hook, a), cwd or os.getcwd())
                    row["warnings"] += _checks(agent, hooks.value)
            found.append(row)
    for agent in REGISTRY:
        rows = [r for r in found if r["agent"] == agent and r["events"]]
        if len(rows) > 1:
            twice = ("the agent runs DevTrace's hook twice per command (recorded once, by its call id)"
                     if REGISTRY[agent].call_id({"tool_use_id": "x"}) else "every command is recorded twice")
            for r in rows:
                r["warnings"].append(f"installed at both user and project scope: {twice};"
                                     f" uninstall one (devtrace hook uninstall {agent} --scope ...)")
    return found


def _checks(agent: str, hooks: dict) -> list[str]:
    """What stops an installed entry from recording (a missing interpreter), or has it run
    twice (DevTrace's entry twice in one event)."""
    found = []
    commands = {h.get("command") for groups in hooks.values() if isinstance(groups, list) for g in groups
                if isinstance(g, dict) for h in g.get("hooks", []) if _is_mine(h, agent)}
    for command in sorted(commands):
        for program in launcher.programs(command):
            if not os.access(program, os.X_OK if not program.endswith(".sh") else os.R_OK):
                what = "hook script" if program.endswith(".sh") else "interpreter"
                found.append(f"the {what} the hook runs is gone ({program}): nothing is recorded;"
                             f" run devtrace hook install {agent} again from DevTrace's environment")
    for event, groups in hooks.items():
        if isinstance(groups, list) and sum(_mine(g, agent) for g in groups) > 1:
            found.append(f"DevTrace's hook is in {event} more than once: the agent runs it twice per command")
    return found


def _check(agent: str, scope: str) -> None:
    if agent not in REGISTRY:
        raise DevtraceError(f"unknown agent {agent!r}: DevTrace hooks into {', '.join(REGISTRY)}")
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
    return text if text.strip(_BOM + " \t\r\n") else None


def _parse(file: str, text: str) -> jsonspan.Node:
    try:
        root = jsonspan.parse(text, skip=len(_BOM) if text.startswith(_BOM) else 0)
    except ValueError as exc:
        raise DevtraceError(f"{file} is not valid JSON ({exc}); DevTrace left it as it was") from None
    if not isinstance(root.value, dict):
        raise DevtraceError(f"{file} does not hold a JSON object; DevTrace left it as it was")
    hooks = root.get("hooks")
    if hooks is not None and not isinstance(hooks.value, dict):
        raise DevtraceError(f"`hooks` in {file} is not an object; DevTrace left the file as it was")
    for name, event in (hooks.items if hooks is not None else ()):
        # other members (Gemini's `"enabled": true`) are not DevTrace's business; an event it
        # writes to must be a list
        if not isinstance(event.value, list) and any(name in spec.events for spec in REGISTRY.values()):
            raise DevtraceError(f"`hooks.{name}` in {file} is not a list; DevTrace left the file as it was")
    return root


def _is_mine(hook, agent: str) -> bool:
    return isinstance(hook, dict) and launcher.is_agent_hook(hook.get("command"), agent)


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
            for _, group in (event.items if isinstance(event.value, list) else ()):
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


def _remove(file: str) -> bool:
    try:
        os.unlink(file)
    except OSError as exc:
        raise DevtraceError(f"cannot remove {file} ({exc.strerror}); left as it was") from None
    try:
        os.rmdir(os.path.dirname(file))  # only if empty: the agent's folder DevTrace made
    except OSError:
        pass
    return True


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
