"""Automatic capture: shell hooks (bash, zsh, fish) and coding-agent hooks (Claude Code, Codex,
Gemini CLI). The shells run only builtins on the prompt's path, the agents a POSIX sh script
(agent.sh); both spool a record per command (or per hook call) for the drainer, which builds
the events through the writer and capture.recorder.
The agents are described in hooks.agents.REGISTRY. Standard library only."""

SHELLS = ("bash", "zsh", "fish")
