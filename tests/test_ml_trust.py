"""ML input a model cannot learn from, and numbers that make a useless model, end in one
sentence, and nothing is registered."""

import math

import polars as pl
import pytest

from tests.ml_support import add_events, cli


def one_sentence(done) -> str:
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def registered(store) -> list:
    return sorted(p.name for p in (store / "models").iterdir()) if (store / "models").exists() else []


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("productivity_label", math.nan, "productivity_label is not a number (NaN or infinite) in 3 of 3000 rows"),
        ("productivity_label", math.inf, "productivity_label is infinite in 3 of 3000 rows"),
        ("duration_ms", math.inf, "duration_ms is infinite in 3 of 3000 rows: fix or drop those rows"),
        ("duration_ms", -math.inf, "duration_ms is infinite in 3 of 3000 rows"),
    ],
)
def test_training_refuses_values_that_are_not_numbers(tmp_path, dataset, column, value, message):
    frame = pl.read_csv(dataset)
    bad = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(value).otherwise(pl.col(column).cast(pl.Float64)).alias(column)
    )
    for name in ("bad.csv", "bad.parquet"):
        file = tmp_path / name
        bad.write_csv(file) if name.endswith(".csv") else bad.write_parquet(file)
        done = cli("ml", "train", "--dataset", str(file), "--path", str(tmp_path / "store"), cwd=tmp_path, ok=False)
        assert message in one_sentence(done), name
    assert registered(tmp_path / "store") == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--learning-rate", "inf", "--learning-rate must be above 0 and at most 1 (got inf)"),
        ("--learning-rate", "nan", "--learning-rate must be above 0 and at most 1 (got nan)"),
        ("--learning-rate", "1.5", "--learning-rate must be above 0 and at most 1 (got 1.5)"),
        ("--min-child-weight", "nan", "--min-child-weight must be a number from 0 up (got nan)"),
        ("--min-child-weight", "inf", "--min-child-weight must be a number from 0 up (got inf)"),
        ("--min-child-weight", "-1", "--min-child-weight must be a number from 0 up (got -1)"),
        ("--pseudo-weight", "nan", "--pseudo-weight must be greater than 0 and at most 1"),
    ],
)
def test_training_refuses_parameters_that_make_a_useless_model(tmp_path, dataset, option, value, message):
    source = ["--from-store"] if option == "--pseudo-weight" else ["--dataset", str(dataset)]
    if option == "--pseudo-weight":
        cli("init", "--path", str(tmp_path / "store"), cwd=tmp_path)
    done = cli("ml", "train", *source, option, value, "--path", str(tmp_path / "store"), cwd=tmp_path, ok=False)
    assert message in one_sentence(done)
    assert registered(tmp_path / "store") == []


def test_explain_refuses_a_negative_sample(tmp_path, dataset, model_store):
    done = cli("ml", "explain", "--dataset", str(dataset), "--sample", "-1", "--path", str(model_store),
               cwd=tmp_path, ok=False)
    assert "--sample is a number of rows, 0 for all (got -1)" in one_sentence(done)


def test_metadata_names_the_dataset_file_only(tmp_path, dataset):
    import json

    cli("ml", "train", "--dataset", str(dataset), "--path", str(tmp_path / "store"), "--n-estimators", "5", cwd=tmp_path)
    metadata = json.loads((tmp_path / "store" / "models" / "v1" / "metadata.json").read_text())
    assert metadata["source"] == f"dataset:{dataset.name}"
    assert str(dataset.parent) not in (tmp_path / "store" / "models" / "v1" / "metadata.json").read_text()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "json"])
def test_export_to_a_full_disk_says_so(tmp_path, store, fmt):
    add_events(store, 3)
    done = cli("export", "--format", fmt, "--out", "/dev/full", "--path", str(store), cwd=tmp_path, ok=False)
    assert one_sentence(done) == "devtrace: cannot write /dev/full: No space left on device\n"
