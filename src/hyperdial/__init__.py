"""hyperdial: hyperparameter tuning with a small core and every strategy around it.

Example:
    >>> import hyperdial
    >>> study = hyperdial.create_study(seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=30, show_progress=False)
    >>> abs(study.best_params["x"] - 1) < 0.5
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from hyperdial.history import History
from hyperdial.multi_objective import hypervolume
from hyperdial.pruners import BOHBPruner, Decision, HyperbandPruner, MedianPruner, NopPruner, PercentilePruner, Pruner
from hyperdial.samplers import (
    AutoSampler,
    CmaEsSampler,
    CoarseToFineSampler,
    DifferentialEvolutionSampler,
    GeneticSampler,
    GPSampler,
    GridSampler,
    NSGAIISampler,
    QMCSampler,
    RandomSampler,
    Sampler,
    SearchSpaceExhausted,
    TPESampler,
)
from hyperdial.schedulers import PBT
from hyperdial.space import Categorical, Distribution, Fixed, Float, Int, SearchSpace
from hyperdial.stopping import NoImprovement, Stopper, TargetValue, Timeout
from hyperdial.storages import InMemoryStorage, JournalFileStorage, SQLiteStorage, Storage, get_storage
from hyperdial.study import (
    MaxTrialsReached,
    StaleTrialError,
    Study,
    create_study,
    delete_study,
    list_studies,
    load_study,
)
from hyperdial.trial import Direction, FailReason, FrozenTrial, Trial, TrialPruned, TrialState


def __getattr__(name: str):
    # scikit-learn helpers load on first use, so `import hyperdial` stays fast.
    if name == "cross_validate":
        from hyperdial.sklearn import cross_validate

        return cross_validate
    if name in ("visualization", "importance"):  # subpackages, loaded on first use (no plotting library)
        import importlib

        return importlib.import_module(f"hyperdial.{name}")
    raise AttributeError(f"module 'hyperdial' has no attribute {name!r}")


try:
    __version__ = version("hyperdial")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AutoSampler",
    "Categorical",
    "CmaEsSampler",
    "CoarseToFineSampler",
    "Decision",
    "DifferentialEvolutionSampler",
    "Direction",
    "BOHBPruner",
    "Distribution",
    "FailReason",
    "Fixed",
    "Float",
    "FrozenTrial",
    "GPSampler",
    "GeneticSampler",
    "GridSampler",
    "History",
    "HyperbandPruner",
    "InMemoryStorage",
    "JournalFileStorage",
    "Int",
    "MaxTrialsReached",
    "MedianPruner",
    "NSGAIISampler",
    "NoImprovement",
    "NopPruner",
    "PBT",
    "PercentilePruner",
    "Pruner",
    "QMCSampler",
    "RandomSampler",
    "SQLiteStorage",
    "Sampler",
    "SearchSpace",
    "SearchSpaceExhausted",
    "StaleTrialError",
    "Stopper",
    "Storage",
    "Study",
    "TPESampler",
    "TargetValue",
    "Timeout",
    "Trial",
    "TrialPruned",
    "TrialState",
    "__version__",
    "create_study",
    "cross_validate",
    "delete_study",
    "get_storage",
    "hypervolume",
    "importance",
    "list_studies",
    "load_study",
    "visualization",
]
