"""ML commands: `devtrace ml generate|train|score|models|promote|explain` and `devtrace label`.

Polars, XGBoost and altair are imported inside the commands: `devtrace --help` and the
other commands do not pay for them.
"""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from devtrace.cli.options import JsonOption, PathOption
from devtrace.cli.progress import progress_bar, spinner
from devtrace.errors import DevtraceError
from devtrace.ml import defaults
from devtrace.readable import value as shown

ml_app = typer.Typer(
    name="ml",
    help="Bootstrap data, train, score and explain the productivity model.",
    no_args_is_help=True,
)

ModelDirOption = Annotated[
    Optional[Path],
    typer.Option("--model-dir", help="Model directory (default: the store's active model, <path>/model-xgb)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(ml_app)
    app.command("label")(label)


@ml_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write: .csv, .json, .jsonl or .parquet.")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Number of events.")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same file.")] = 42,
) -> None:
    """Write synthetic bootstrap events with a productivity_label (sessions, retries, timeouts)."""
    from devtrace.analytics.formats import format_of
    from devtrace.ml.datasets import write_dataset
    from devtrace.ml.synthetic import generate as generate_events

    format_of(out)
    with spinner(f"Generating {rows:,} events"):
        frame = generate_events(rows, seed)
        write_dataset(frame, out)
    typer.echo(f"Wrote {frame.height:,} events ({frame.get_column('session_id').n_unique():,} sessions) to {out}")


@ml_app.command("train")
def train(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", "-d", help="Labeled dataset (.csv, .json, .jsonl or .parquet).")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="Train on the store: human, else outcome, else pseudo-labels.")] = False,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Also write model.json and metadata.json here.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train/validation split and of XGBoost.")] = defaults.SEED,
    n_estimators: Annotated[int, typer.Option("--n-estimators", help="Most boosting rounds (early stopping may use fewer).")] = defaults.N_ESTIMATORS,
    max_depth: Annotated[int, typer.Option("--max-depth", help="Tree depth.")] = defaults.MAX_DEPTH,
    learning_rate: Annotated[float, typer.Option("--learning-rate", help="Shrinkage per round (eta).")] = defaults.LEARNING_RATE,
    min_child_weight: Annotated[float, typer.Option("--min-child-weight", help="Least weight in a leaf.")] = defaults.MIN_CHILD_WEIGHT,
    early_stopping_rounds: Annotated[
        int, typer.Option("--early-stopping-rounds", help="Stop after this many rounds without a better validation MAE (0: never).")
    ] = defaults.EARLY_STOPPING_ROUNDS,
    pseudo_weight: Annotated[
        float, typer.Option("--pseudo-weight", help="Weight of a pseudo-label relative to a human label (with --from-store).")
    ] = defaults.PSEUDO_WEIGHT,
    outcome_weight: Annotated[
        float, typer.Option("--outcome-weight", help="Weight of an outcome label relative to a human label (with --from-store).")
    ] = defaults.OUTCOME_WEIGHT,
    promote: Annotated[
        Optional[bool], typer.Option("--promote/--no-promote", help="Make this version active (default: only if there is no active model).")
    ] = None,
    central: Annotated[
        Optional[str],
        typer.Option("--central", help="Train on the central database's training_set (every machine); publish the result to the server."),
    ] = None,
    path: PathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train an XGBoost model, register it as a new version, and report its metrics."""
    from devtrace.ml import pipeline, training
    from devtrace.ml.datasets import read_dataset

    if sum((dataset is not None, from_store, central is not None)) != 1:
        raise DevtraceError("give one of --dataset FILE, --from-store or --central DB")
    if central is not None:
        from devtrace.central.db import describe
        from devtrace.sync.push import client_for

        client_for(path)  # where the result goes: refuse before training, not after
        data = training.store_training_data(pipeline.read_training_set(central=central), pseudo_weight, outcome_weight)
        source, weight = f"central:{describe(central)}", pseudo_weight
    elif dataset is not None:
        data = training.dataset_training_data(read_dataset(dataset))
        source, weight = f"dataset:{dataset.name}", None  # the file name only: no home folder in metadata
    else:
        data = training.store_training_data(pipeline.read_training_set(path), pseudo_weight, outcome_weight)
        source, weight = "store", pseudo_weight  # the metadata lives in the store it describes
    with progress_bar("Training", total=n_estimators) as advance:
        metadata = pipeline.train_and_register(
            data,
            source=source,
            path=path,
            out_dir=out_dir,
            promote=promote,
            pseudo_weight=weight,
            outcome_weight=None if dataset is not None else outcome_weight,
            seed=seed,
            on_round=advance,
            n_estimators=n_estimators,
            max_depth=max_depth,
            learning_rate=learning_rate,
            min_child_weight=min_child_weight,
            early_stopping_rounds=early_stopping_rounds or None,
        )
    if central is not None:
        from devtrace.sync.model_exchange import publish

        metadata["published_as"] = publish(metadata["version"], path)["version"]
    if as_json:
        typer.echo(json.dumps(metadata, indent=2))
        return
    if metadata.get("unchanged"):
        typer.echo(f"Unchanged, still {metadata['version']}: the same data and parameters trained it "
                   "(no new version registered)")
        return
    _print_training(metadata, out_dir)
    if central is not None:
        typer.echo(f"Published to the server as {metadata['published_as']} "
                   f"(an admin approves it: devtrace server models approve {metadata['published_as']})")


@ml_app.command("publish")
def publish(
    version: Annotated[str, typer.Argument(help="Local version to upload, e.g. v2 (see `devtrace ml models`).")],
    path: PathOption = None,
) -> None:
    """Upload a local model version (model.json, metadata.json, sha256) to the central server."""
    from devtrace.sync.model_exchange import publish as publish_version

    answer = publish_version(version, path)
    state = "published" if answer.get("created") else "was already on the server"
    typer.echo(f"{version} {state} as {answer['version']} (sha256 {answer['sha256'][:12]}…); "
               f"an admin makes it active: devtrace server models approve {answer['version']}")


@ml_app.command("pull")
def pull(path: PathOption = None) -> None:
    """Download the organisation's approved model, check its sha256, register and activate it."""
    from devtrace.sync.model_exchange import pull as pull_model

    result = pull_model(path)
    if result["downloaded"]:
        typer.echo(f"Pulled {result['central_version']}: registered as {result['version']} and active; "
                   "new events are scored with it.")
    else:
        typer.echo(f"{result['central_version']} is already the active model ({result['version']}); nothing downloaded.")


@ml_app.command("score")
def score(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", "-d", help="Dataset to score (.csv, .json, .jsonl or .parquet).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Scored copy of the dataset (.csv, .json, .jsonl or .parquet).")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Score the store's unscored events instead.")] = False,
    central: Annotated[Optional[str], typer.Option("--central", help="Score the central store's unscored events "
                                                   "(SQLite file or postgresql://...) with its approved model.")] = None,
    model_dir: ModelDirOption = None,
    path: PathOption = None,
) -> None:
    """Add predicted_productivity (0-100), top_contribution_feature and _value to every row."""
    from devtrace.ml import pipeline, registry

    if central:
        if dataset or out or pending or model_dir:
            raise DevtraceError("--central scores the central store with its approved model: leave out the other options")
        from devtrace.central.lake import scoring as lake_scoring

        with progress_bar("Scoring central events") as advance:
            count = lake_scoring.score_central(central, on_rows=advance)
        typer.echo(f"Scored {count:,} central events; their scores reach the lake with the next flush")
        return

    directory = str(model_dir) if model_dir else registry.active_dir(path)
    if pending:
        if dataset or out:
            raise DevtraceError("--pending scores the store: leave out --dataset and --out")
        from devtrace.capture.scorer import has_model
        from devtrace.ml.autoscore import READER_WAIT_SECONDS, score_pending
        from devtrace.paths import store_dir

        chosen = str(model_dir) if model_dir else None
        if not has_model(store_dir(path), chosen):
            registry.load(directory)  # says in one sentence that there is no model to score with
        with progress_bar("Scoring pending events") as advance:  # under the scoring lock, as every scorer
            count = score_pending(path, chosen, wait=READER_WAIT_SECONDS, on_rows=advance)
        typer.echo(f"Scored {count:,} pending events")
        return
    if dataset is None or out is None:
        raise DevtraceError("give --dataset FILE and --out FILE (or --pending to score the store)")
    with progress_bar("Scoring") as advance:
        rows = pipeline.score_dataset(directory, dataset, out, on_rows=advance)
    typer.echo(f"Scored {rows:,} rows into {out}")


@ml_app.command("models")
def models(path: PathOption = None, as_json: JsonOption = False) -> None:
    """List model versions side by side on one evaluation set (the store's held-out sessions);
    * marks the active one."""
    from devtrace.ml import registry
    from devtrace.ml.common_evaluation import compare_versions

    versions = registry.list_versions(path)
    reports, described = compare_versions(versions, path) if versions else ({}, "")
    if as_json:
        typer.echo(json.dumps([{**v, "common_evaluation": reports.get(v["version"])} for v in versions], indent=2))
        return
    if not versions:
        typer.echo(f"No model versions in {registry.versions_dir(path)} yet (devtrace ml train).")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Models in {registry.versions_dir(path)}")
    for name in ("", "version", "created", "trained on", "MAE", "exit MAE", "ρ", "exit ρ", "beats exit"):
        table.add_column(name, justify="left" if name in ("version", "created", "beats exit") else "right")
    for v in versions:
        held = reports.get(v["version"]) or v.get("metrics", {}).get("evaluation") or {}
        own = v["version"] not in reports
        table.add_row(
            "*" if v["active"] else "", v["version"] + ("†" if own and held else ""),
            v.get("created_at", "?")[5:16].replace("T", " "), f"{v.get('rows', 0):,}",
            shown(held.get("model", {}).get("mae")), shown(held.get("exit_code", {}).get("mae")),
            shown(held.get("model", {}).get("rank"), 3), shown(held.get("exit_code", {}).get("rank"), 3), _beats(held),
        )
    Console().print(table)
    typer.echo(f"Measured: {described}." + ("\n† on its own held-out rows when it was trained (not comparable)"
                                           if len(reports) < len(versions) else ""))


@ml_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="Version to activate, e.g. v2.")],
    force: Annotated[bool, typer.Option("--force", help="Promote it even if it is worse than the active model.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the background rescoring, showing its progress.")] = False,
    path: PathOption = None,
) -> None:
    """Make VERSION the active model (promoting an earlier version rolls back), unless it is
    worse than the active one on the common evaluation set; then rescore the store's events."""
    from devtrace.ml import registry
    from devtrace.ml.promotion import promote_checked

    metadata, count, note = promote_checked(version, path, force=force)
    typer.echo(f"Active model: {version} (validation MAE {shown(metadata.get('mae'))}) in {registry.active_dir(path)}")
    if note:
        typer.echo(note)
    if count and wait:
        from devtrace.ml.promotion import wait_for_rescoring

        with progress_bar("Rescoring", total=count) as advance:
            left = wait_for_rescoring(path, lambda n: advance(count - n))
        typer.echo("Every event is scored by " + version if not left else f"{left:,} events still to rescore")


@ml_app.command("explain")
def explain(
    dataset: Annotated[Optional[Path], typer.Option("--dataset", "-d", help="Dataset to explain.")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help="Explain the store's events.")] = False,
    event: Annotated[Optional[list[str]], typer.Option("--event", "-e", help="Event id to give reasons for (repeatable).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Without --event: reasons for the last N events.")] = 5,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Reasons per event.")] = 3,
    sample: Annotated[int, typer.Option("--sample", help="Rows used for global importance (0: all).")] = 20_000,
    charts: Annotated[Optional[Path], typer.Option("--charts", help="Folder for importance/reasons charts (.html and .png).")] = None,
    model_dir: ModelDirOption = None,
    path: PathOption = None,
    as_json: JsonOption = False,
) -> None:
    """Global importance (mean |SHAP|) and per-event top-k reasons, optionally as charts."""
    from devtrace.ml import explain as explaining
    from devtrace.ml import pipeline, registry
    from devtrace.ml.datasets import read_dataset

    if (dataset is None) == (not from_store):
        raise DevtraceError("give either --dataset FILE or --from-store")
    model = registry.load(str(model_dir) if model_dir else registry.active_dir(path))
    frame = read_dataset(dataset) if dataset is not None else pipeline.read_training_set(path)
    with spinner("Computing SHAP values"):
        result = explaining.explain(model, frame, events=event, limit=limit, top_k=top_k, sample=sample or None)
        written = explaining.save_charts(result, charts) if charts else []
    if as_json:
        typer.echo(json.dumps({
            "model": model.ref, "base_value": result.base_value, "rows": result.rows,
            "local_accuracy_error": result.local_accuracy_error,
            "importance": result.importance.to_dicts(), "reasons": result.reasons.to_dicts(), "charts": written,
        }, indent=2))
        return
    from devtrace.cli.render import print_frame

    print_frame(result.importance, title=f"Global importance of {model.ref} over {result.rows:,} rows")
    print_frame(result.reasons, title=f"Top {top_k} reasons per event (base value {result.base_value:.2f})")
    typer.echo(f"Local accuracy: contributions + base value = model output within {result.local_accuracy_error:.2g}")
    for file in written:
        typer.echo(f"Wrote {file}")


def label(
    event_id: Annotated[str, typer.Argument(metavar="EVENT_ID", help="Event id (see `devtrace events`).")],
    value: Annotated[float, typer.Argument(metavar="VALUE", help="Productivity from 0 to 100.")],
    by: Annotated[Optional[str], typer.Option("--by", metavar="NAME", help="Who is labeling.")] = None,
    note: Annotated[Optional[str], typer.Option("--note", metavar="TEXT", help="Why, in a few words.")] = None,
    path: PathOption = None,
) -> None:
    """Label an event's productivity (0-100); the latest label of an event counts."""
    from devtrace.store.labels import label as add_label

    add_label(event_id, value, by=by, note=note, path=path)
    typer.echo(f"Labeled {event_id}: {value:g}" + (f" by {by}" if by else ""))


def evaluation_lines(held: dict) -> list[str]:
    """The model beside the mean and the exit-code-only baseline on the held-out rows."""
    lines = [f"Held-out {held.get('split', 'rows')}: {held['rows']:,} rows · the model {held['verdict']}",
             f"{'':12}{'MAE':>8}{'rank ρ':>8}"]
    for name, title in (("model", "model"), ("mean", "mean"), ("exit_code", "exit code")):
        lines.append(f"{title:12}{held[name]['mae']:8.3f}{held[name]['rank']:8.3f}")
    lines.append(f"{'exit class':14}{'rows':>7}{'model MAE':>11}{'exit MAE':>10}{'model ρ':>9}{'exit ρ':>8}")
    for c in held["by_exit_class"]:
        lines.append(f"{c['exit_class']:14}{c['rows']:>7,}{c['model_mae']:11.3f}{c['exit_code_mae']:10.3f}"
                     f"{c['model_rank']:9.3f}{c['exit_code_rank']:8.3f}")
    return lines


def _print_training(metadata: dict, out_dir) -> None:
    metrics = metadata["metrics"]
    state = "active" if metadata["active"] else f"not active: devtrace ml promote {metadata['version']}"
    typer.echo(f"Model {metadata['version']} ({state}): {metadata['trees']} trees, "
               f"{metadata['train_rows']:,} training / {metadata['validation_rows']:,} validation rows")
    typer.echo(f"{'':12}{'MAE':>8}{'RMSE':>8}{'R²':>8}")
    for name in ("train", "validation", "baseline_validation"):
        m = metrics[name]
        typer.echo(f"{name.replace('baseline_validation', 'baseline'):12}{m['mae']:8.3f}{m['rmse']:8.3f}{m['r2']:8.3f}")
    held = metrics.get("evaluation")
    if held:
        for line in evaluation_lines(held):
            typer.echo(line)
    if out_dir:
        typer.echo(f"Wrote model.json and metadata.json to {out_dir}")


def _beats(evaluation: dict) -> str:
    if not evaluation:
        return "—"
    verdict = evaluation["verdict"]
    return "yes" if verdict.startswith("beats") else "not enough data" if verdict.startswith("not enough") else "NO"
