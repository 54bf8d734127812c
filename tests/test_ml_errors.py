"""Every bad input of the ML commands ends in one clear line on stderr and exit status 1."""

import json

import polars as pl
import pytest

from tests.support import devtrace_here


def fails(cwd, *args: str) -> str:
    done = devtrace_here(*args, cwd=cwd, text=True)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("devtrace: ")
    return done.stderr.removeprefix("devtrace: ").strip()


def test_training_needs_productivity_label(tmp_path, dataset):
    pl.read_csv(dataset).drop("productivity_label").write_csv(tmp_path / "unlabelled.csv")
    assert fails(tmp_path, "ml", "train", "--dataset", "unlabelled.csv") == "productivity_label is required for training"


def test_empty_datasets(tmp_path, dataset):
    (tmp_path / "empty.csv").write_text("")
    assert fails(tmp_path, "ml", "train", "--dataset", "empty.csv") == "dataset empty.csv is empty"
    pl.read_csv(dataset).head(0).write_csv(tmp_path / "header-only.csv")
    assert fails(tmp_path, "ml", "train", "--dataset", "header-only.csv") == "the dataset has no rows"
    pl.read_csv(dataset).head(0).write_parquet(tmp_path / "none.parquet")
    assert fails(tmp_path, "ml", "score", "--model-dir", "m", "--dataset", "none.parquet", "--out", "o.csv") \
        .startswith("no model in m")


def test_non_numeric_values(tmp_path, dataset, model_store):
    frame = pl.read_csv(dataset)
    text_duration = pl.col("duration_ms").cast(pl.String)
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("n/a")).otherwise(text_duration).alias("duration_ms")
    ).write_csv(tmp_path / "bad.csv")
    message = "column duration_ms holds a value that is not a number: 'n/a'"
    assert fails(tmp_path, "ml", "train", "--dataset", "bad.csv") == message
    assert fails(tmp_path, "ml", "score", "--model-dir", str(model_store / "model-xgb"), "--dataset", "bad.csv",
                 "--out", "o.csv") == message
    frame.with_columns(pl.lit("great").alias("productivity_label")).write_csv(tmp_path / "bad-label.csv")
    assert fails(tmp_path, "ml", "train", "--dataset", "bad-label.csv") == \
        "column productivity_label holds a value that is not a number: 'great'"
    frame.with_columns(pl.lit(140.0).alias("productivity_label")).write_csv(tmp_path / "high.csv")
    assert fails(tmp_path, "ml", "train", "--dataset", "high.csv") == \
        "productivity_label must be between 0 and 100 (found 140)"


def test_missing_and_corrupt_model_directories(tmp_path, dataset, model_store):
    score = ("ml", "score", "--dataset", str(dataset), "--out", "o.csv", "--model-dir")
    assert fails(tmp_path, *score, "nowhere") == \
        "no model in nowhere (model.json not found; train one with `devtrace ml train`)"
    assert fails(tmp_path, "ml", "score", "--dataset", str(dataset), "--out", "o.csv", "--path", "empty-store") \
        .startswith("no model in empty-store/model-xgb")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text((model_store / "model-xgb" / "model.json").read_text()[:500])
    (broken / "metadata.json").write_text((model_store / "model-xgb" / "metadata.json").read_text())
    assert fails(tmp_path, *score, "broken") == f"{broken.name}/model.json is not a readable XGBoost model (corrupt or truncated)"
    (broken / "model.json").write_text((model_store / "model-xgb" / "model.json").read_text())
    (broken / "metadata.json").write_text("{not json")
    assert fails(tmp_path, *score, "broken") == "broken/metadata.json is missing or not valid JSON"
    assert not (tmp_path / "o.csv").exists()


def test_a_model_with_other_features(tmp_path, dataset):
    """A model trained on other columns (like DevTrace 0.2.0's) is refused, not misused."""
    from devtrace.ml import xgb

    xgboost = xgb.load()
    frame = pl.read_csv(dataset)
    columns = ["duration_ms", "exit_code", "files_touched_count", "lines_added", "lines_deleted"]
    matrix = xgboost.DMatrix(frame.select(columns).to_numpy(), label=frame["productivity_label"].to_numpy(),
                             feature_names=columns)
    old = tmp_path / "old-model"
    old.mkdir()
    xgboost.train({"max_depth": 2}, matrix, 3).save_model(old / "model.json")
    (old / "metadata.json").write_text(json.dumps({"rows": frame.height, "features": columns}))
    message = fails(tmp_path, "ml", "score", "--model-dir", "old-model", "--dataset", str(dataset), "--out", "o.csv")
    assert message.startswith("the model in old-model uses features (duration_ms, exit_code, files_touched_count")
    assert message.endswith("retrain it with `devtrace ml train`")
    assert fails(tmp_path, "ml", "explain", "--model-dir", "old-model", "--dataset", str(dataset)) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ml", "train"), "give one of --dataset FILE, --from-store or --central DB"),
        (("ml", "train", "--dataset", "x.csv", "--from-store"), "give one of --dataset FILE, --from-store or --central DB"),
        (("ml", "train", "--dataset", "missing.csv"), "dataset missing.csv does not exist"),
        (("ml", "train", "--dataset", "data.tsv"), "cannot tell the format of data.tsv: name it .csv, .json, .jsonl or .parquet"),
        (("ml", "generate", "--out", "data.txt"), "cannot tell the format of data.txt: name it .csv, .json, .jsonl or .parquet"),
        (("ml", "score", "--dataset", "x.csv"), "give --dataset FILE and --out FILE (or --pending to score the store)"),
        (("ml", "promote", "v7", "--path", "st"), "no model version 'v7' in st/models (versions: none yet)"),
        (("ml", "train", "--from-store", "--path", "st"), "no DevTrace store at st (create one with `devtrace init --path st`)"),
    ],
)
def test_usage_errors(tmp_path, args, message):
    assert fails(tmp_path, *args) == message
