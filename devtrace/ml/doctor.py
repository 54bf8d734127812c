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
    finally:
        conn.close()
    checks.extend(_shells(path))
    model = _model(path)
    checks.append(model)
    if pending is not None:
        checks.append(_scores(path, pending, has_model=model.status == OK))
    return checks


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
