"""Importing XGBoost without the scikit-learn import it does not need here.

`import xgboost` imports scikit-learn (about 1 s on these machines, more than the rest of
a training run) only to build its scikit-learn estimator classes, which DevTrace does not
use. All DevTrace code imports xgboost through `load()`: when xgboost is not loaded yet,
scikit-learn is hidden for that one import. A process that wants xgboost's scikit-learn
estimators imports xgboost (or scikit-learn) before DevTrace does, and gets them in full.
"""

import importlib
import sys


def load():
    """The xgboost module, imported without scikit-learn if nothing has imported either yet."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module("xgboost")
    sys.modules["sklearn"] = None  # makes `import sklearn` raise ImportError
    try:
        return importlib.import_module("xgboost")
    finally:
        del sys.modules["sklearn"]
