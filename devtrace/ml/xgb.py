"""Importing XGBoost the way DevTrace runs it: without scikit-learn, with sleeping threads.

- `import xgboost` imports scikit-learn (about 1 s on these machines, more than a whole
  training run) only to build its scikit-learn estimator classes, which DevTrace does not
  use. When nothing has imported xgboost yet, scikit-learn is hidden for that one import.
  A process that wants xgboost's scikit-learn estimators imports xgboost (or scikit-learn)
  before DevTrace does, and gets them in full.
- XGBoost's OpenMP threads spin while they wait for each other by default. On a machine
  that is busy with other work (a developer's, where DevTrace scores in the background)
  a spinning thread keeps its partner off the CPU: training 50k rows took 14-19 s instead
  of 1 s with two threads on two busy cores. OMP_WAIT_POLICY=PASSIVE (unless the user set
  it) makes them sleep instead; it must be set before the OpenMP runtime loads.
"""

import importlib
import os
import sys


def load():
    """The xgboost module, imported as described above if nothing has imported it yet."""
    if "xgboost" in sys.modules:
        return sys.modules["xgboost"]
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "sklearn" in sys.modules:
        return importlib.import_module("xgboost")
    sys.modules["sklearn"] = None  # makes `import sklearn` raise ImportError
    try:
        return importlib.import_module("xgboost")
    finally:
        del sys.modules["sklearn"]
