"""One agent CLI session against its scripted model, run inside a private network namespace
(`python session.py RUN.json`, started by tests/agents/harness.py under `unshare -n`).

RUN.json: agent, turns (the script), run_dir, cwd, argv, env, files, timeout. `{base}` in
argv, env values and files is replaced by the model server's URL once it listens."""

import json
import os
import signal
import subprocess
import sys
import time

import models


def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    run_dir = config["run_dir"]
    script = models.Script(config["turns"], os.path.join(run_dir, "requests.jsonl"))
    server = models.serve(config["agent"], script)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for path, text in config.get("files", {}).items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("{base}", base))
    env = {k: v.replace("{base}", base) for k, v in config["env"].items()}
    argv = [word.replace("{base}", base) for word in config["argv"]]
    if config.get("trust_codex_hooks"):
        trust_codex_hooks(env, config["cwd"])
    started = time.monotonic()
    if config.get("interactive"):
        code = interactive(config, argv, env, run_dir)
        for name, text in (("stdout", _read(os.path.join(run_dir, "screen"))), ("stderr", "")):
            with open(os.path.join(run_dir, name), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(run_dir, "result.json"), "w", encoding="utf-8") as f:
            json.dump({"exit": code, "seconds": round(time.monotonic() - started, 3)}, f)
        server.shutdown()
        return 0
    with open(os.path.join(run_dir, "stdout"), "wb") as out, open(os.path.join(run_dir, "stderr"), "wb") as err:
        try:
            done = subprocess.run(argv, cwd=config["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                  timeout=config["timeout"], start_new_session=True)
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    with open(os.path.join(run_dir, "result.json"), "w", encoding="utf-8") as f:
        json.dump({"exit": code, "seconds": round(time.monotonic() - started, 3)}, f)
    server.shutdown()
    return 0


def interactive(config: dict, argv: list[str], env: dict, run_dir: str):
    """The CLI in a tmux pane (a real terminal), driven by the config's `interactive` steps:
    ["payload", EVENT] waits for a hook payload of EVENT, ["text", S] for S on the screen,
    ["sleep", SECONDS], ["keys", KEY...] (tmux key names), ["type", TEXT], ["kill", SIGNAL] (e.g. "KILL") the CLI, ["exit"] for the CLI to end, or
    ["hangup"]: the terminal closes.
    Returns the CLI's exit status, or "timeout: STEP" (the screen is kept in run_dir/screen)."""
    socket, status = os.path.join(run_dir, "tmux.sock"), os.path.join(run_dir, "exit")
    tmux = ["tmux", "-S", socket, "-f", "/dev/null"]
    # Ctrl-C reaches the pane's whole process group: the wrapper outlives it to say the exit
    wrapped = ["sh", "-c", 'trap : INT; "$@"; echo $? > "$0"', status, *argv]
    subprocess.run([*tmux, "new-session", "-d", "-s", "cli", "-x", "160", "-y", "50", "-c", config["cwd"], "--", *wrapped],
                   env={**env, "TERM": "xterm-256color"}, check=True)
    deadline = time.monotonic() + config["timeout"]

    def screen() -> str:
        done = subprocess.run([*tmux, "capture-pane", "-p", "-t", "cli"], capture_output=True, text=True)
        if done.returncode != 0:  # the pane is gone: the last screen stays
            return ""
        with open(os.path.join(run_dir, "screen"), "w", encoding="utf-8") as f:
            f.write(done.stdout)
        return done.stdout

    def ready(kind: str, args: list) -> bool:
        if kind == "payload":
            return any(name.split(".")[0] == args[0] for name in os.listdir(os.path.join(run_dir, "payloads")))
        if kind == "text":
            return args[0] in screen()
        screen()
        return os.path.exists(status) and os.path.getsize(status) > 0  # "exit"

    try:
        for step in config["interactive"]:
            kind, args = step[0], step[1:]
            if kind == "sleep":
                time.sleep(args[0])
            elif kind == "kill":  # the CLI (the pane's wrapper's child) killed by this signal
                pane = subprocess.run([*tmux, "list-panes", "-t", "cli", "-F", "#{pane_pid}"], capture_output=True,
                                      text=True).stdout.split()[0]
                with open(f"/proc/{pane}/task/{pane}/children", encoding="ascii") as f:
                    for child in f.read().split():
                        os.kill(int(child), getattr(signal, "SIG" + args[0]))
            elif kind == "hangup":  # the terminal closes: its processes get SIGHUP
                screen()
                subprocess.run([*tmux, "kill-server"], capture_output=True)
                return "hangup"
            elif kind in ("keys", "type"):
                for key in args:  # one at a time: a TUI reads a burst of keys as a paste
                    if os.path.exists(status):
                        break  # the CLI ended on a key before (Gemini: its cancel's Ctrl-C counts toward two)
                    subprocess.run([*tmux, "send-keys", "-t", "cli", *(["-l"] if kind == "type" else []), key],
                                   capture_output=True)
                    time.sleep(0.5)
            else:
                while not ready(kind, args):
                    if time.monotonic() > deadline:
                        screen()
                        return f"timeout: {step}"
                    time.sleep(0.1)
        with open(status, encoding="utf-8") as f:
            return int(f.read().strip() or -1)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def trust_codex_hooks(env: dict, cwd: str) -> None:
    """What a user does in Codex's `/hooks`: trust every hook it lists, recorded as Codex
    records it (`[hooks.state."KEY"] trusted_hash`, the hash `hooks/list` reports)."""
    server = subprocess.Popen(["codex", "app-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env, cwd=cwd, text=True)
    try:
        hooks = _rpc(server, 1, "initialize", {"clientInfo": {"name": "devtrace-tests", "version": "1"}}) and \
            _rpc(server, 2, "hooks/list", {"cwds": [cwd]}, notify_first="initialized")
    finally:
        server.terminate()
        server.wait(10)
    lines = []
    for entry in hooks["data"]:
        for hook in entry["hooks"]:
            lines.append(f"[hooks.state.{json.dumps(hook['key'])}]\ntrusted_hash = {json.dumps(hook['currentHash'])}\n")
    with open(os.path.join(env["CODEX_HOME"], "config.toml"), "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(lines))


def _rpc(server, number: int, method: str, params: dict, notify_first: str | None = None):
    if notify_first:
        server.stdin.write(json.dumps({"method": notify_first}) + "\n")
    server.stdin.write(json.dumps({"id": number, "method": method, "params": params}) + "\n")
    server.stdin.flush()
    while True:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError(f"codex app-server ended before answering {method}")
        message = json.loads(line)
        if message.get("id") == number:
            if "error" in message:
                raise RuntimeError(f"codex app-server: {method}: {message['error']}")
            return message["result"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
