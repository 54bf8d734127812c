"""Training defaults, defined once: read by `ml train`'s options, the retraining notebook's
controls, the training library and the benchmark. No imports, so the CLI can show them in
`--help` without loading Polars or XGBoost."""

N_ESTIMATORS = 600
MAX_DEPTH = 3
LEARNING_RATE = 0.15
MIN_CHILD_WEIGHT = 10.0
EARLY_STOPPING_ROUNDS = 30
PSEUDO_WEIGHT = 0.3
OUTCOME_WEIGHT = 0.6
SEED = 42

PARAMS = {
    "n_estimators": N_ESTIMATORS,
    "max_depth": MAX_DEPTH,
    "learning_rate": LEARNING_RATE,
    "min_child_weight": MIN_CHILD_WEIGHT,
    "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
}
