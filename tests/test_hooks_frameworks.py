"""The shell hooks loaded beside real shell frameworks, as Debian packages them (installed by
.ci/install-system): bash-completion, liquidprompt and direnv in bash; zsh-autosuggestions,
zsh-syntax-highlighting, liquidprompt and direnv in zsh. Loaded before the hook and after it,
the commands are recorded as in a bare shell, and the framework keeps working."""

import os

import pytest

from tests.hook_support import Shell, shells_fixture, wait_events  # noqa: F401 (the shells fixture)

FILES = {
    "bash-completion": "/usr/share/bash-completion/bash_completion",
    "liquidprompt": "/usr/share/liquidprompt/liquidprompt",
    "zsh-autosuggestions": "/usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh",
    "zsh-syntax-highlighting": "/usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh",
}
# liquidprompt draws its own prompt: it ends in the prompt the tests wait for.
LIQUID = "LP_PS1_POSTFIX='DT> '\nsource /usr/share/liquidprompt/liquidprompt"
FRAMEWORKS = {
    "bash": f"source {FILES['bash-completion']}\n{LIQUID}\neval \"$(direnv hook bash)\"",
    "zsh": (f"source {FILES['zsh-autosuggestions']}\n{LIQUID}\neval \"$(direnv hook zsh)\"\n"
            f"source {FILES['zsh-syntax-highlighting']}"),
}


def require_frameworks() -> None:
    missing = [name for name, file in FILES.items() if not os.path.exists(file)]
    if missing:
        pytest.fail(f"these tests need the Debian packages {', '.join(missing)} (.ci/install-system installs them)")


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_commands_are_recorded_beside_the_frameworks(name, where, tmp_path, repo, store, shells):
    require_frameworks()
    loaded = FRAMEWORKS[name]
    shell = Shell(tmp_path, name, store, repo, **({"rc": loaded} if where == "before" else {"after": loaded}))
    shells.append(shell)
    (repo / ".envrc").write_text("export FROM_DIRENV=yes\n")
    shell.type("direnv allow .")
    shell.type("cd . && echo direnv:$FROM_DIRENV")
    shell.type("false")
    shell.type("sh -c 'exit 3'")
    shell.type("sleep 0.3")
    shell.type("true")
    shell.type("true")  # a repeat
    shell.type(" true")  # a leading space: not recorded
    events = wait_events(store, 7)
    assert [e["exit_code"] for e in events] == [0, 0, 1, 3, 0, 0, 0]
    assert [e["program"] for e in events] == ["direnv", "cd", "false", "sh", "sleep", "true", "true"]
    assert 300 <= events[4]["duration_ms"] < 1000, events[4]["duration_ms"]
    assert all(e["duration_ms"] is not None and e["duration_ms"] < 250 for e in events[5:])  # no prompt work in them
    screen = shell.screen()
    assert "direnv:yes" in screen  # direnv's hook still runs
    assert "__devtrace" not in screen and "command not found" not in screen and "error" not in screen.lower()
