"""`devtrace demo`, teams part: two machines sync to a server the demo starts on loopback,
then one dashboard query answers over both. Real processes, the commands a team runs."""

import select
import subprocess
import sys
import time
from pathlib import Path

from devtrace.errors import DevtraceError


def start_server(db: Path, env: dict) -> tuple[subprocess.Popen, str]:
    """`devtrace server --db DB --port 0` (a free loopback port); returns it and its address."""
    process = subprocess.Popen([sys.executable, "-m", "devtrace", "server", "--db", str(db), "--port", "0"],
                               env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if select.select([process.stderr], [], [], 0.2)[0]:
            line = process.stderr.readline()
            if "DevTrace server on " in line:
                return process, line.split("DevTrace server on ", 1)[1].split()[0]
    process.kill()
    raise DevtraceError("devtrace demo: the central server did not start")


def teams(demo, workdir: Path) -> None:
    """Two machines (the demo's store and a second one) push to one server; a query over both."""
    demo.console.rule("6. Teams: devtrace server, devtrace sync, devtrace sql --central")
    central = workdir / "central.db"
    server, address = start_server(central, demo.env)
    try:
        second = workdir / "store-desktop"
        demo.devtrace("init", "--path", str(second))
        for machine, store in (("laptop", demo.store), ("desktop", second)):
            token = demo.devtrace("server", "token", "create", "--name", machine, "--scope", "ingest",
                                  "--db", str(central)).stdout.strip()
            demo.console.print(f"$ devtrace server token create --name {machine} --scope ingest --db {central.name}",
                               style="bold", markup=False, highlight=False)
            demo.show("teams", "sync", "login", "--server", address, "--token", token, "--path", str(store))
            if store == second:
                for command in (["git", "status", "--short"], [sys.executable, "test_calc.py"]):
                    demo.devtrace("run", "--agent", "desktop-agent", "--path", str(store), "--",
                                  *command, check=False)
            demo.show("teams", "sync", "--path", str(store))
        demo.show("teams", "sql", "--central", str(central),
                  "SELECT machine, agent_id, count(*) AS commands, count(*) FILTER (WHERE failed) AS failures "
                  "FROM events GROUP BY ALL ORDER BY machine, agent_id")
    finally:
        server.terminate()
        server.wait(timeout=30)
