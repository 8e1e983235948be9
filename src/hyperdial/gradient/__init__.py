"""Gradient-based tuning of differentiable hyperparameters.

Two families:

* **online** (PyTorch, ``pip install 'hyperdial[torch]'``): optimizers whose learning rate
  adapts by hypergradient descent while the model trains (:class:`SGDHD`, :class:`AdamHD`,
  :class:`AdamWHD`; Baydin et al., ICLR 2018);
* **implicit** (numpy / scipy; torch for neural networks): the gradient of a validation
  loss with respect to regularisation hyperparameters through the training optimum
  (implicit function theorem; Pedregosa 2016, Lorraine et al. 2020), an outer optimizer in
  log space, and scikit-learn estimators that pick their own regularisation this way.

Torch-based names load torch on first use, so ``import hyperdial.gradient`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "SGDHD": "hyperdial.gradient.online",
    "AdamHD": "hyperdial.gradient.online",
    "AdamWHD": "hyperdial.gradient.online",
    "apply_lr": "hyperdial.gradient.online",
    "HypergradientController": "hyperdial.gradient.online",
    "WeightDecayProblem": "hyperdial.gradient.torch_models",
    "AveragedProblem": "hyperdial.gradient.implicit",
    "BilevelProblem": "hyperdial.gradient.implicit",
    "HyperResult": "hyperdial.gradient.implicit",
    "HypergradientWarning": "hyperdial.gradient.implicit",
    "hyperoptimize": "hyperdial.gradient.implicit",
    "solve_hessian": "hyperdial.gradient.implicit",
    "RidgeProblem": "hyperdial.gradient.problems",
    "LogisticProblem": "hyperdial.gradient.problems",
    "KernelRidgeProblem": "hyperdial.gradient.problems",
    "HyperRidge": "hyperdial.gradient.estimators",
    "HyperLogisticRegression": "hyperdial.gradient.estimators",
    "HyperKernelRidge": "hyperdial.gradient.estimators",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperdial.gradient' has no attribute {name!r}")
    if module in ("hyperdial.gradient.online", "hyperdial.gradient.torch_models"):
        from hyperdial._imports import require

        require("torch", "torch")
    return getattr(importlib.import_module(module), name)
