"""`devtrace doctor`: the store's checks (devtrace.store.health), then its model and scores."""

import os

from devtrace import paths
from devtrace.errors import DevtraceError
from devtrace.ml import registry
from devtrace.store.health import NOTE, OK, PROBLEM, Check, pending_scores, store_checks


def examine(path: str | os.PathLike | None = None) -> list[Check]:
    checks, conn = store_checks(path)
    checks += _agent_hooks()
    if conn is None:
        return checks
    try:
        pending = pending_scores(conn)
        checks.extend(_identities(path, conn))
    finally:
        conn.close()
    checks.extend(_shells(path))
    model = _model(path)
    checks.append(model)
    if pending is not None:
        checks.append(_scores(path, pending, has_model=model.status == OK))
    return checks


# Commands recorded under another key than the current one, with text that could re-key them,
# and no mapping yet (a key set by hand: `key rotate` and `sync login` re-key themselves).
_NOT_REKEYED = """
SELECT count(DISTINCT e.command_hash) FROM command_events AS e
WHERE e.key_fingerprint IS NOT ? AND e.command_text IS NOT NULL
    AND instr(e.command_text, '<redacted>') = 0 AND e.command_text NOT LIKE '% …'
    AND NOT EXISTS (SELECT 1 FROM command_identity AS i WHERE i.command_hash = e.command_hash)
"""


def _identities(path, conn) -> list[Check]:
    """A note when commands recorded under an older key could be counted as one with the
    current key's (docs/store/privacy.md, one identity across keys)."""
    import sqlite3

    from devtrace.capture.identity import key_fingerprint
    from devtrace.capture.rekey import key_before_change

    key = key_before_change(paths.store_dir(path))
    if key is None:
        return []  # the key check says why
    try:
        apart = conn.execute(_NOT_REKEYED, (key_fingerprint(key),)).fetchone()[0]
    except sqlite3.OperationalError:  # a store this DevTrace has not migrated yet: the schema check says so
        return []
    if not apart:
        return []
    return [Check("identity", NOTE, f"{apart:,} command{'' if apart == 1 else 's'} recorded under another key than "
                  "the current one count apart from the same commands under it",
                  "devtrace key rekey (re-hashes them from their stored text)")]


def _shells(path) -> list[Check]:
    """The shells whose hook writes here: a problem for each that runs commands unrecorded."""
    from devtrace.capture.hooks import sessions

    rows = sessions.status(paths.store_dir(path))
    stopped = [row for row in rows if not row["active"]]
    if stopped:
        return [Check("shells", PROBLEM, sessions.describe(row),
                      "load the hook after whatever sets PROMPT_COMMAND or precmd_functions, or open a new shell")
                for row in stopped]
    if rows:
        return [Check("shells", OK, f"{len(rows)} live shell{'' if len(rows) == 1 else 's'} with the hook loaded, recording")]
    return []


def _agent_hooks() -> list[Check]:
    """Installed agent hooks that record nothing (Codex not trusting them, a gone interpreter)
    or everything twice (two scopes). Nothing when no agent hook is installed."""
    from devtrace.capture.hooks import install

    rows = [r for r in install.status() if r["events"]]
    found = [Check("hooks", PROBLEM, f"{r['agent']} ({r['scope']} scope): {w}", f"devtrace hook status lists {r['file']}")
             for r in rows for w in r["warnings"]]
    found += [Check("hooks", NOTE, f"{r['agent']} ({r['scope']} scope): {n}") for r in rows for n in r["notes"]]
    if rows and not found:
        found.append(Check("hooks", OK, "agent hooks: " + ", ".join(f"{r['agent']} ({r['scope']})" for r in rows)))
    return found


def _model(path) -> Check:
    directory = registry.active_dir(path)
    if not os.path.isfile(os.path.join(directory, paths.MODEL_FILE)):
        return Check("model", NOTE, "no active model: events are not scored", "devtrace ml train --from-store (or --dataset)")
    try:
        model = registry.load(directory)
    except DevtraceError as exc:
        return Check("model", PROBLEM, f"the active model does not load: {exc}",
                     "devtrace ml promote VERSION (devtrace ml models lists them) or devtrace ml train")
    return Check("model", OK, f"active model {model.ref} loads and uses this DevTrace's features")


def _scores(path, pending: int, has_model: bool) -> Check:
    if not pending:
        return Check("scores", OK, "every event is scored")
    events = f"{pending:,} event{'' if pending == 1 else 's'}"
    if not has_model:
        return Check("scores", NOTE, f"{events} without a score (no usable active model)")
    failure = _last_scorer_failure(path)
    action = "devtrace ml score --pending (devtrace events also scores them first)"
    if failure:
        return Check("scores", PROBLEM, f"{events} wait for a score; the background scorer last failed: {failure}", action)
    return Check("scores", NOTE, f"{events} wait for a score", action)


def _last_scorer_failure(path) -> str:
    try:
        with open(os.path.join(paths.store_dir(path), paths.SCORER_LOG), encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
