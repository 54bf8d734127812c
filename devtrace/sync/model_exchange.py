"""Models between a store and the server: publish a local version, pull the approved one."""

import hashlib
import json
import os

from devtrace import paths
from devtrace.errors import DevtraceError
from devtrace.ml import registry
from devtrace.sync import config
from devtrace.sync.push import client_for


def publish(version: str, path=None, central_version: str | None = None) -> dict:
    """Upload models/<version> (model.json, metadata.json, sha256); the server names it
    `<machine>.<version>` unless told otherwise."""
    directory = os.path.join(registry.versions_dir(path), version)
    registry.load(directory)  # refuse a damaged or foreign model before sending it
    with open(os.path.join(directory, paths.MODEL_FILE), encoding="utf-8") as f:
        model_json = f.read()
    with open(os.path.join(directory, paths.METADATA_FILE), encoding="utf-8") as f:
        metadata = json.load(f)
    machine = config.read(paths.store_dir(path)).get("machine") or "local"
    name = central_version or f"{machine}.{version}"
    checksum = _sha256(model_json)
    _, _, answer = client_for(path).call("POST", "/v1/models", {
        "version": name, "model_json": model_json, "metadata": metadata, "sha256": checksum})
    return answer


def pull(path=None) -> dict:
    """Download the organisation's approved model unless it is already the active one
    (ETag), check its sha256, register it as a local version and activate it."""
    active = registry.active_version(path)
    held = _active_metadata(path).get("central_sha256") if active else None
    headers = {"If-None-Match": f'"{held}"'} if held else {}
    status, _, answer = client_for(path).call("GET", "/v1/model/active/download", headers=headers)
    if status == 304:
        return {"downloaded": False, "version": active, "central_version": _active_metadata(path).get("central_version")}
    if not isinstance(answer, dict) or not isinstance(answer.get("model_json"), str):
        raise DevtraceError("the server's answer holds no model")
    if _sha256(answer["model_json"]) != answer.get("sha256"):
        raise DevtraceError("the downloaded model does not match its sha256; nothing was changed")
    from devtrace.ml import xgb

    booster = xgb.load().Booster()
    try:
        booster.load_model(bytearray(answer["model_json"].encode()))
    except Exception:
        raise DevtraceError("the downloaded model is not a readable XGBoost model; nothing was changed") from None
    metadata = dict(answer.get("metadata") or {})
    metadata.update(central_version=answer["version"], central_sha256=answer["sha256"],
                    approved_by=answer.get("approved_by"), approved_at=answer.get("approved_at"))
    version = registry.register(booster, metadata, path)
    registry.promote(version, path)
    return {"downloaded": True, "version": version, "central_version": answer["version"]}


def _sha256(text: str) -> str:
    """The checksum the server checks and sends (devtrace.central.models.sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _active_metadata(path) -> dict:
    try:
        with open(os.path.join(registry.active_dir(path), paths.METADATA_FILE), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
