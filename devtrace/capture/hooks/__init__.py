"""Automatic capture: shell hooks (bash, zsh, fish) and coding-agent hooks (Claude Code, Codex,
Gemini CLI). The shells run only builtins on the prompt's path and hand each finished command
to a detached `devtrace hook record SHELL`; agents call `devtrace hook record AGENT` with their
JSON payload. Both end in `writer.write`, which builds the event through capture.recorder.
The agents are described in hooks.agents.REGISTRY. Standard library only."""

SHELLS = ("bash", "zsh", "fish")
