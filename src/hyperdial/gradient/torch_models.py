"""Implicit hypergradients of per-layer weight decay for small PyTorch models.

The training objective is ``L(w, λ) = loss(model_w(X), y) + ½ Σ_g λ_g ‖w_g‖²`` with one
``λ_g`` per layer (or per tensor, or shared); the validation loss is ``loss(model_w(X_val),
y_val)``. At a local minimum of ``L`` the implicit function theorem gives the hypergradient
(Lorraine, Vicol, Duvenaud, AISTATS 2020, Eq. 5), with Hessian-vector products by double
back-propagation (Pearlmutter 1994) and, for small models, the exact Hessian. Everything
runs in float64 on a copy of the model, with full-batch L-BFGS for the inner problem
(warm-started from the previous solution: the objective is not convex, so each solve
continues the same local minimum as the hyperparameters move).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from hyperdial.gradient.implicit import BilevelProblem

__all__ = ["WeightDecayProblem"]

_EXACT_LIMIT = 3000


class WeightDecayProblem(BilevelProblem):
    """Per-layer weight decay of a PyTorch model as a :class:`~hyperdial.gradient.implicit.BilevelProblem`.

    Args:
        model: A ``torch.nn.Module`` (copied, in float64; the original is not touched).
        loss: ``(output, target) -> scalar`` such as ``torch.nn.functional.cross_entropy``.
        x, y, x_val, y_val: Training and validation data (tensors or arrays).
        penalty: ``"per_layer"`` (one decay per module's weights; biases not decayed),
            ``"per_tensor"``, ``"shared"`` or a mapping of parameter name to group index
            (names absent from it are not decayed).
        max_iter: L-BFGS iterations per inner solve (then, up to 3000 parameters, damped Newton
            steps with the exact Hessian polish the minimum).
        tol: Gradient-norm tolerance of the inner solve.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        >>> x = torch.randn(40, 3); y = x[:, :1] ** 2
        >>> p = WeightDecayProblem(model, torch.nn.functional.mse_loss, x[:30], y[:30], x[30:], y[30:])
        >>> p.n_hyper, p.layer_names
        (2, ['0', '2'])
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        x: Any,
        y: Any,
        x_val: Any,
        y_val: Any,
        *,
        penalty: str | Mapping[str, int] = "per_layer",
        max_iter: int = 200,
        tol: float = 1e-10,
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"WeightDecayProblem(model={model!r}): expected a torch.nn.Module")
        if not callable(loss):
            raise TypeError(f"WeightDecayProblem(loss={loss!r}): expected a callable (output, target) -> scalar")
        self.model = copy.deepcopy(model).to(torch.float64)
        self.loss_fn = loss
        self.x, self.y = self._tensor(x), self._tensor(y, target=True)
        self.x_val, self.y_val = self._tensor(x_val), self._tensor(y_val, target=True)
        self.names = [n for n, p in self.model.named_parameters() if p.requires_grad]
        params = dict(self.model.named_parameters())
        self.shapes = [params[n].shape for n in self.names]
        self.sizes = [params[n].numel() for n in self.names]
        self.n_params = int(sum(self.sizes))
        groups, self.layer_names = self._groups(penalty)
        self.n_hyper = len(self.layer_names)
        # index of each flat coordinate's group (-1: not decayed)
        self._coord_group = torch.tensor(
            np.concatenate([np.full(s, groups[n]) for n, s in zip(self.names, self.sizes)]), dtype=torch.long
        )
        self._decayed = self._coord_group >= 0
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.w0 = self._flat_params().numpy().copy()

    def _tensor(self, a: Any, target: bool = False) -> torch.Tensor:
        t = torch.as_tensor(a)
        return t if (target and not t.is_floating_point()) else t.to(torch.float64)

    def _groups(self, penalty: Any) -> tuple[dict[str, int], list[str]]:
        if isinstance(penalty, Mapping):
            unknown = set(penalty) - set(self.names)
            if unknown:
                raise ValueError(f"penalty names unknown parameters {sorted(unknown)}; the model has {self.names}")
            ids = sorted(set(penalty.values()))
            remap = {g: i for i, g in enumerate(ids)}
            return {n: remap[penalty[n]] if n in penalty else -1 for n in self.names}, [str(g) for g in ids]
        if penalty == "shared":
            return {n: 0 for n in self.names}, ["all"]
        if penalty == "per_tensor":
            return {n: i for i, n in enumerate(self.names)}, list(self.names)
        if penalty == "per_layer":
            layers: list[str] = []
            out: dict[str, int] = {}
            for n in self.names:
                module, _, leaf = n.rpartition(".")
                if leaf == "bias":
                    out[n] = -1
                    continue
                if module not in layers:
                    layers.append(module)
                out[n] = layers.index(module)
            if not layers:
                raise ValueError("penalty='per_layer': the model has no weights to decay")
            return out, layers
        raise ValueError(
            f"penalty must be 'per_layer', 'per_tensor', 'shared' or a mapping of parameter name to group, "
            f"got {penalty!r}"
        )

    # -- flat parameter vectors ---------------------------------------------------------------
    def _flat_params(self) -> torch.Tensor:
        params = dict(self.model.named_parameters())
        return torch.cat([params[n].detach().reshape(-1) for n in self.names])

    def _unflatten(self, w: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for name, shape, chunk in zip(self.names, self.shapes, torch.split(w, self.sizes)):
            out[name] = chunk.reshape(shape)
        return out

    def _lam(self, log_hyper: Any) -> torch.Tensor:
        lam = torch.exp(torch.as_tensor(np.asarray(log_hyper, dtype=float), dtype=torch.float64))
        full = torch.zeros(self.n_params, dtype=torch.float64)
        full[self._decayed] = lam[self._coord_group[self._decayed]]
        return full

    def _data_loss(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(functional_call(self.model, self._unflatten(w), (x,)), y)

    def _train_loss(self, w: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        return self._data_loss(w, self.x, self.y) + 0.5 * torch.sum(lam * w * w)

    # -- BilevelProblem -----------------------------------------------------------------------------
    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        lam = self._lam(log_hyper)
        start = self.w0 if w0 is None else w0
        w = torch.tensor(np.asarray(start, dtype=float), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [w],
            lr=1.0,
            max_iter=self.max_iter,
            tolerance_grad=max(self.tol, 1e-7),
            tolerance_change=1e-16,
            history_size=50,
            line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            value = self._train_loss(w, lam)
            value.backward()
            return value

        opt.step(closure)
        w = w.detach()
        if self.n_params <= _EXACT_LIMIT:
            w = self._newton(w, lam)
        return w.numpy().copy()

    def _newton(self, w: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """Polish to the local minimum with damped Newton steps (quadratic convergence, exact hypergradients)."""

        def f(t: torch.Tensor) -> torch.Tensor:
            return self._train_loss(t, lam)

        value = float(f(w))
        for _ in range(50):
            wt = w.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(wt), wt)
            if float(g.norm()) <= self.tol:
                break
            h = torch.autograd.functional.hessian(f, w)
            damping = 0.0
            eye = torch.eye(self.n_params, dtype=torch.float64)
            while True:
                try:
                    chol = torch.linalg.cholesky(h + damping * eye)
                    break
                except RuntimeError:  # not positive definite here: damp towards gradient descent
                    damping = max(2 * damping, 1e-8 * float(h.diagonal().abs().max()) + 1e-12)
            step = torch.cholesky_solve(g[:, None], chol)[:, 0]
            t = 1.0
            while t > 1e-10:
                new = w - t * step
                new_value = float(f(new))
                if new_value <= value - 1e-4 * t * float(g @ step):
                    break
                t *= 0.5
            else:
                break  # no decrease possible in floating point: at the minimum
            w, value = new, new_value
        return w

    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        value = self._data_loss(wt, self.x_val, self.y_val)
        (grad,) = torch.autograd.grad(value, wt)
        return value.item(), grad.numpy(), np.zeros(self.n_hyper)

    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(self._train_loss(wt, self._lam(log_hyper)), wt, create_graph=True)
        (hv,) = torch.autograd.grad(g, wt, grad_outputs=torch.as_tensor(v, dtype=torch.float64))
        return hv.numpy()

    def hessian(self, w: np.ndarray, log_hyper: np.ndarray) -> np.ndarray | None:
        if self.n_params > _EXACT_LIMIT:
            return None
        lam = self._lam(log_hyper)
        h = torch.autograd.functional.hessian(lambda t: self._train_loss(t, lam), torch.as_tensor(w))
        return h.numpy()

    def cross(self, w: np.ndarray, log_hyper: np.ndarray, q: np.ndarray) -> np.ndarray:
        # ∂/∂log λ_g of ∇_w L = λ_g w_j for the coordinates j of group g
        lam = self._lam(log_hyper).numpy()
        contrib = lam * w * q
        idx = self._coord_group.numpy()
        keep = idx >= 0
        return np.bincount(idx[keep], weights=contrib[keep], minlength=self.n_hyper)

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        with torch.no_grad():
            wt = torch.as_tensor(w, dtype=torch.float64)
            return float(self._data_loss(wt, self._tensor(x), self._tensor(y, True)))

    def load_into(self, model: torch.nn.Module, w: np.ndarray) -> torch.nn.Module:
        """Copy the flat parameters ``w`` (e.g. ``HyperResult.w``) into ``model`` (in its own dtype)."""
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self._unflatten(torch.as_tensor(w, dtype=torch.float64)).items():
                params[name].copy_(value.to(params[name].dtype))
        return model
