"""One lake job in a process of its own: `python -m devtrace.central.lake.job JOB ...` with the
central database's URL in $DEVTRACE_CENTRAL_DB (never in argv, which `ps` shows every user: a
PostgreSQL URL may hold a password) prints its result as JSON (or {"error": sentence}, exit 1).

The server runs its timed flush and the admin API's retention and erasure this way, never in
its own process: DuckDB reads the embedded default's SQLite file through its own copy of
SQLite, and two copies of SQLite in one process break each other's file locks (SQLite's
documented "multiple copies" hazard: "disk I/O error", or worse)."""

import json
import os
import subprocess
import sys

from devtrace.errors import DevtraceError

DB_VARIABLE = "DEVTRACE_CENTRAL_DB"


def run(job: str, db_url: str, *args: str) -> dict:
    """Run a job in a child process; its result, or DevtraceError with its sentence."""
    done = subprocess.run([sys.executable, "-m", "devtrace.central.lake.job", job, *args],
                          capture_output=True, text=True, env={**os.environ, DB_VARIABLE: db_url})
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DevtraceError(f"the lake {job} stopped without an answer: {done.stderr.strip()[-500:]}") from None
    if "error" in answer:
        raise DevtraceError(answer["error"])
    return answer


def main(argv: list[str]) -> int:
    from devtrace.central.lake import admin, flush

    job, *args = argv
    db_url = os.environ.get(DB_VARIABLE, "")
    try:
        if not db_url:
            raise DevtraceError(f"${DB_VARIABLE} names no central database")
        if job == "flush":
            result = flush.flush(db_url, data_path=args[0] or None)._asdict()
        elif job == "erase":
            result = admin.erase(db_url, args[0], actor=args[1])._asdict()
        elif job == "retention":
            result = admin.retention(db_url, int(args[0]), actor=args[1])._asdict()
        else:
            raise DevtraceError(f"unknown lake job {job!r}")
    except DevtraceError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
