"""The model registry: every training run is a version; one version is active.

    <path>/models/v1/  model.json + metadata.json    one directory per training run
    <path>/models/v2/  ...
    <path>/model-xgb/  model.json + metadata.json    a copy of the active version

`<path>/model-xgb/model.json` is where DevTrace 0.2.0 documented the model, and what
capture checks (one `os.path` test) to decide whether to score: promoting a version copies
its files there, each replaced atomically. The version id is also stored inside model.json
(a booster attribute), so a scorer never pairs a model with the wrong id.
"""

import json
import os
import re
import shutil
from dataclasses import dataclass

from devtrace import paths
from devtrace.errors import DevtraceError
from devtrace.ml.features import FEATURES

VERSION_ATTR = "devtrace_version"
_VERSION = re.compile(r"^v(\d+)$")


@dataclass
class Model:
    booster: object
    metadata: dict
    directory: str

    @property
    def ref(self) -> str:
        """The version id recorded with every score this model writes (`model_ref`)."""
        return self.booster.attr(VERSION_ATTR) or self.metadata.get("version") or "unversioned"


def active_dir(path=None) -> str:
    return os.path.join(paths.store_dir(path), paths.ACTIVE_MODEL_DIR)


def versions_dir(path=None) -> str:
    return os.path.join(paths.store_dir(path), paths.VERSIONS_DIR)


def register(booster, metadata: dict, path=None) -> str:
    """Store a trained model as the next version; returns its id (v1, v2, ...)."""
    root = versions_dir(path)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        raise DevtraceError(f"cannot create the model registry at {root}: {exc.strerror}") from None
    number = max((int(m.group(1)) for m in map(_VERSION.match, os.listdir(root)) if m), default=0) + 1
    while True:  # mkdir is the lock: two concurrent runs never share a version
        version = f"v{number}"
        try:
            os.mkdir(os.path.join(root, version))
            break
        except FileExistsError:
            number += 1
    metadata["version"] = version
    write_artifacts(os.path.join(root, version), booster, metadata)
    return version


def write_artifacts(directory: str, booster, metadata: dict) -> None:
    """model.json and metadata.json in `directory`, each written to a temporary name first."""
    booster.set_attr(**{VERSION_ATTR: metadata["version"]})
    try:
        os.makedirs(directory, exist_ok=True)
        tmp_model = os.path.join(directory, f".model.{os.getpid()}.tmp.json")  # .json: saved as JSON
        booster.save_model(tmp_model)
        _write_json(os.path.join(directory, paths.METADATA_FILE), metadata)
        os.replace(tmp_model, os.path.join(directory, paths.MODEL_FILE))
    except OSError as exc:
        raise DevtraceError(f"cannot write the model to {directory}: {exc.strerror}") from None


def list_versions(path=None) -> list[dict]:
    """Metadata of every registered version, oldest first, with `active` set on one."""
    root = versions_dir(path)
    if not os.path.isdir(root):
        return []
    active = active_version(path)
    found = []
    for name in os.listdir(root):
        match = _VERSION.match(name)
        if match and os.path.isfile(os.path.join(root, name, paths.MODEL_FILE)):
            metadata = _read_metadata(os.path.join(root, name)) or {"version": name}
            found.append((int(match.group(1)), {**metadata, "active": name == active}))
    return [metadata for _, metadata in sorted(found, key=lambda item: item[0])]


def active_version(path=None) -> str | None:
    metadata = _read_metadata(active_dir(path))
    return metadata.get("version") if metadata else None


def promote(version: str, path=None) -> dict:
    """Make `version` the active model (also how to roll back to an earlier one)."""
    source = os.path.join(versions_dir(path), version)
    if not _VERSION.match(version) or not os.path.isfile(os.path.join(source, paths.MODEL_FILE)):
        known = ", ".join(v["version"] for v in list_versions(path)) or "none yet"
        raise DevtraceError(f"no model version {version!r} in {versions_dir(path)} (versions: {known})")
    load(source)  # refuse to activate a damaged version
    target = active_dir(path)
    try:
        os.makedirs(target, exist_ok=True)
        for name in (paths.METADATA_FILE, paths.MODEL_FILE):  # model.json last: it is what capture checks
            tmp = os.path.join(target, f".{name}.{os.getpid()}.tmp")
            shutil.copyfile(os.path.join(source, name), tmp)
            os.replace(tmp, os.path.join(target, name))
    except OSError as exc:
        raise DevtraceError(f"cannot activate {version} in {target}: {exc.strerror}") from None
    return _read_metadata(target)


def load(directory: str | os.PathLike) -> Model:
    """A model directory's booster and metadata, or one sentence saying what is wrong."""
    from devtrace.ml import xgb

    directory = os.fspath(directory)
    model_file = os.path.join(directory, paths.MODEL_FILE)
    if not os.path.isfile(model_file):
        raise DevtraceError(f"no model in {directory} (model.json not found; train one with `devtrace ml train`)")
    metadata = _read_metadata(directory)
    if metadata is None:
        raise DevtraceError(f"{os.path.join(directory, paths.METADATA_FILE)} is missing or not valid JSON")
    xgboost = xgb.load()
    try:
        booster = xgboost.Booster(model_file=model_file)
    except xgboost.core.XGBoostError:
        raise DevtraceError(f"{model_file} is not a readable XGBoost model (corrupt or truncated)") from None
    names = list(booster.feature_names or [])
    if names != FEATURES:
        raise DevtraceError(
            f"the model in {directory} uses features ({', '.join(names) or 'unnamed'}) but this DevTrace "
            f"computes ({', '.join(FEATURES)}); retrain it with `devtrace ml train`"
        )
    booster.set_param({"nthread": os.cpu_count() or 1})
    return Model(booster, metadata, directory)


def _read_metadata(directory: str) -> dict | None:
    try:
        with open(os.path.join(directory, paths.METADATA_FILE), encoding="utf-8") as f:
            metadata = json.load(f)
    except (OSError, ValueError):
        return None
    return metadata if isinstance(metadata, dict) else None


def _write_json(file: str, data: dict) -> None:
    tmp = f"{file}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, file)
