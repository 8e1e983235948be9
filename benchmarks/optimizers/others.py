"""The other anchors: Hyperopt TPE, SMAC3's HPO facade, scikit-optimize's GP, plain random search.

How each handles conditional parameters:

* Hyperopt: natively, through a nested ``hp.choice`` tree (:meth:`Space.to_hyperopt`).
* SMAC3: natively, through ConfigSpace conditions (:meth:`Space.to_configspace`); its
  random forest sees inactive parameters as a default value.
* scikit-optimize: not at all: every parameter is sampled and modelled, inactive ones are
  dropped before the objective sees the configuration (so they are pure noise to its GP).
* Random search: samples only active parameters (:meth:`Space.sample`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmarks.optimizers.base import AskTellOptimizer, Optimizer
from benchmarks.problems.base import Problem
from benchmarks.space import Space

__all__ = ["HyperoptTPE", "RandomSearch", "SkoptGP", "SmacHPO"]


class RandomSearch(AskTellOptimizer):
    """Uniform random search over the space, independent of every library (the score's 0 line)."""

    name = "random-search"
    library = "numpy"

    def start(self, space: Space, budget: int, seed: int) -> None:
        self._space = space
        self._rng = np.random.default_rng(seed)

    def suggest(self) -> dict[str, Any]:
        return self._space.sample(self._rng)

    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        pass


class HyperoptTPE(Optimizer):
    """``hyperopt.fmin(algo=tpe.suggest)`` with its defaults; ``rstate`` seeded."""

    name = "hyperopt-tpe"
    library = "hyperopt"
    requires = ("hyperopt",)

    def minimize(self, problem: Problem, budget: int, seed: int) -> list[float]:
        import logging

        from hyperopt import STATUS_OK, Trials, fmin, tpe

        logging.getLogger("hyperopt").setLevel(logging.ERROR)
        losses: list[float] = []

        def objective(sample: Mapping[str, Any]) -> dict[str, Any]:
            loss = problem(problem.space.from_hyperopt(sample))
            losses.append(loss)
            return {"loss": loss, "status": STATUS_OK}

        fmin(
            objective,
            problem.space.to_hyperopt(),
            algo=tpe.suggest,
            max_evals=budget,
            trials=Trials(),
            rstate=np.random.default_rng(seed),
            show_progressbar=False,
        )
        return losses


class SmacHPO(AskTellOptimizer):
    """SMAC3's ``HyperparameterOptimizationFacade`` (random forest + log EI) with its defaults.

    ``n_trials`` is the budget; the run directory is a temporary folder removed afterwards.
    """

    name = "smac-hpo"
    library = "smac"
    requires = ("smac", "ConfigSpace")

    def start(self, space: Space, budget: int, seed: int) -> None:
        import logging

        from smac import HyperparameterOptimizationFacade, Scenario

        logging.getLogger("smac").setLevel(logging.ERROR)
        self._space = space
        self._dir = tempfile.mkdtemp(prefix="smac-bench-")
        scenario = Scenario(
            space.to_configspace(seed),
            deterministic=True,
            n_trials=budget,
            seed=seed,
            output_directory=self._dir,
        )
        self._facade = HyperparameterOptimizationFacade(
            scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=40
        )
        self._info: Any = None

    def suggest(self) -> dict[str, Any]:
        self._info = self._facade.ask()
        return self._space.from_configspace(self._info.config)

    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self._facade.tell(self._info, TrialValue(cost=loss))

    def minimize(self, problem: Problem, budget: int, seed: int) -> list[float]:
        try:
            return super().minimize(problem, budget, seed)
        finally:
            shutil.rmtree(getattr(self, "_dir", ""), ignore_errors=True)


class SkoptGP(AskTellOptimizer):
    """scikit-optimize's ``Optimizer(base_estimator="GP")`` with its defaults (gp_hedge, 10 initial points)."""

    name = "skopt-gp"
    library = "scikit-optimize"
    requires = ("skopt",)

    def unavailable(self) -> str | None:
        reason = super().unavailable()
        if reason:
            return reason
        try:  # old skopt releases break on new numpy at the first ask/tell, not at import
            from skopt import Optimizer as SkOpt

            o = SkOpt([(0.0, 1.0), (0.0, 1.0)], base_estimator="GP", n_initial_points=2, random_state=0)
            for _ in range(3):
                x = o.ask()
                o.tell(x, float(sum(x)))
        except Exception as exc:
            return f"scikit-optimize is broken here: {type(exc).__name__}: {exc}".splitlines()[0][:300]
        return None

    def start(self, space: Space, budget: int, seed: int) -> None:
        from skopt import Optimizer as SkOpt

        self._space = space
        self._opt = SkOpt(space.to_skopt(), base_estimator="GP", random_state=seed)
        self._x: list[Any] = []

    def suggest(self) -> dict[str, Any]:
        self._x = self._opt.ask()
        return self._space.from_skopt(self._x)

    def observe(self, config: Mapping[str, Any], loss: float) -> None:
        self._opt.tell(self._x, loss)
