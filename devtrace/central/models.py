"""Central model versions: published, approved by an admin, the last approval is active.

A model's sha256 is computed by the publisher and checked by the server at publish and by
`ml pull` after download: it guards the model against damage in transport and storage, not
against a compromised server, which serves a model and its sha256 alike (approvals are not
signed). The server checks that what is published is an XGBoost model (its JSON format), so
a pull never finds anything else.
"""

import hashlib
import json
import re
import time

from devtrace.errors import DevtraceError


class InvalidModel(DevtraceError):
    """What was published is not an XGBoost model (the server answers 422)."""


class UnknownVersion(DevtraceError):
    """No such model version (the server answers 404)."""


VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publish(db, version: str, model_json: str, metadata: dict, checksum: str, by: str) -> bool:
    """Store a version; True if new, False if the very same model was there already."""
    if not VERSION.match(version):
        raise DevtraceError(f"a model version is 1-128 letters, digits, '_', '.', '@' or '-' (got {version!r})")
    if sha256(model_json) != checksum:
        raise DevtraceError("the model's sha256 does not match its content (damaged upload?)")
    check_xgboost(model_json)
    with db.transaction() as tx:
        rows = tx.execute("SELECT sha256 FROM models WHERE version = ?", (version,))
        if rows:
            if rows[0][0] == checksum:
                return False
            raise DevtraceError(f"version {version} is on the server already with another model")
        tx.execute("INSERT INTO models (version, sha256, model_json, metadata_json, published_by, published_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (version, checksum, model_json, json.dumps(metadata, sort_keys=True), by, time.time()))
    return True


_BOOSTERS = ("gbtree", "dart", "gblinear")


def check_xgboost(model_json: str) -> None:
    """Refuse text that is not an XGBoost model in its JSON format: {"learner": {"gradient_booster":
    {"name": gbtree|dart|gblinear, "model": {...}}, "objective": {"name": ...}, ...}, "version": [x, y, z]}."""
    try:
        model = json.loads(model_json)
    except ValueError:
        raise InvalidModel("the model is not JSON (an XGBoost model.json is)") from None
    learner = model.get("learner") if isinstance(model, dict) else None
    booster = learner.get("gradient_booster") if isinstance(learner, dict) else None
    objective = learner.get("objective") if isinstance(learner, dict) else None
    version = model.get("version") if isinstance(model, dict) else None
    if not (isinstance(booster, dict) and booster.get("name") in _BOOSTERS and isinstance(booster.get("model"), dict)
            and isinstance(objective, dict) and isinstance(objective.get("name"), str)
            and isinstance(version, list) and len(version) == 3 and all(isinstance(v, int) for v in version)):
        raise InvalidModel("the model is not an XGBoost model (no learner, gradient booster, objective and version)")


def approve(db, version: str, by: str) -> dict:
    """Make `version` the organisation's active model (one INSERT: atomic)."""
    with db.transaction() as tx:
        if not tx.execute("SELECT 1 FROM models WHERE version = ?", (version,)):
            raise UnknownVersion(f"no model version {version!r} on the server (see `devtrace server models list`)")
        tx.execute("INSERT INTO model_approvals (version, approved_by, approved_at) VALUES (?, ?, ?)",
                   (version, by, time.time()))
    approved = active(db, with_model=False)
    if approved is None:  # approvals are only ever added: the one just made is there
        raise DevtraceError(f"the approval of {version!r} was not stored")
    return approved


def active(db, *, with_model: bool) -> dict | None:
    """The approved model: version, sha256, metadata, who approved it and when (and model.json)."""
    with db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT m.version, m.sha256, m.metadata_json, a.approved_by, a.approved_at"
            + (", m.model_json" if with_model else "")
            + " FROM model_approvals AS a JOIN models AS m ON m.version = a.version ORDER BY a.id DESC LIMIT 1")
    if not rows:
        return None
    row = rows[0]
    found = {"version": row[0], "sha256": row[1], "metadata": json.loads(row[2]),
             "approved_by": row[3], "approved_at": row[4]}
    if with_model:
        found["model_json"] = row[5]
    return found


def listing(db) -> list[dict]:
    """Every version, newest first, with its validation metrics and every approval of it."""
    with db.transaction(write=False) as tx:
        models = tx.execute("SELECT version, sha256, metadata_json, published_by, published_at FROM models"
                            " ORDER BY published_at DESC")
        approvals = tx.execute("SELECT version, approved_by, approved_at, id FROM model_approvals ORDER BY id")
    current = approvals[-1][0] if approvals else None
    found = []
    for version, checksum, metadata_json, by, at in models:
        metadata = json.loads(metadata_json)
        found.append({
            "version": version, "sha256": checksum, "published_by": by, "published_at": at,
            "metrics": metadata.get("metrics", {}), "active": version == current,
            "approvals": [{"approved_by": a[1], "approved_at": a[2]} for a in approvals if a[0] == version],
        })
    return found
