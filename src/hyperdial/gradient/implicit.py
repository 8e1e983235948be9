"""Implicit hypergradients and the outer optimizer that follows them.

For a training objective ``L(w, λ)`` with optimum ``w*(λ)`` (``∇_w L(w*, λ) = 0``) and a
validation loss ``V(w, λ)``, the implicit function theorem gives

    dV/dλ = ∂V/∂λ - (∂²L/∂λ∂w) H⁻¹ ∇_w V,      H = ∇²_w L(w*, λ)

(Pedregosa, "Hyperparameter optimization with approximate gradient", ICML 2016, Eq. 3-4;
Lorraine, Vicol, Duvenaud, "Optimizing Millions of Hyperparameters by Implicit
Differentiation", AISTATS 2020, Eq. 5). The linear solve ``q = H⁻¹ ∇_w V`` is

* ``"exact"``: a Cholesky factorisation of ``H`` (small models);
* ``"cg"``: conjugate gradients with Hessian-vector products, warm-started from the previous
  outer step's ``q`` (HOAG, Algorithm 1 step ii);
* ``"neumann"``: ``H⁻¹ ≈ a Σ_{k=0}^{K} (I - aH)^k`` (Lorraine et al., Eq. 7-8) with
  ``a = 1 / λ_max(H)``; since its error decays like ``(1 - λ_min/λ_max)^{K+1}``, a
  :class:`HypergradientWarning` says how many terms the problem's conditioning needs when
  fewer are used.

A problem (:class:`BilevelProblem`) supplies the inner solve and the derivatives;
:func:`hyperoptimize` runs the outer loop in log space (Adam on ``log λ``, warm starts of the
inner solve and of the linear solve). Two guards keep many hyperparameters from fitting the
noise of one validation split: a second split that decides which iterate to keep and when to
stop (``guard``), and cross-fitted averaging (``folds``): one path per fold of the validation
split, each following the other folds, and the mean of their log-hyperparameters.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg as sla
from scipy.sparse.linalg import LinearOperator, cg

__all__ = [
    "AveragedProblem",
    "BilevelProblem",
    "HyperResult",
    "HypergradientWarning",
    "hyperoptimize",
    "solve_hessian",
]

SOLVERS = ("exact", "cg", "neumann")


class HypergradientWarning(UserWarning):
    """A hypergradient is less accurate than asked (too few Neumann terms, CG not converged)."""


def _check_real(where: str, name: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{where}: {name} must be a finite real number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{where}: {name} must be {'>' if strict else '>='} {low}, got {value!r}")
    return float(value)


def _check_int(where: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _extreme_eigs(
    hvp: Callable[[np.ndarray], np.ndarray], n: int, hessian: Callable[[], np.ndarray | None] | None = None
) -> tuple[float, float]:
    """``λ_max`` and ``λ_min`` of a symmetric positive semi-definite operator.

    Exact from the dense Hessian when there is a small one, else Lanczos (ARPACK) on the
    Hessian-vector products, else a few power iterations.
    """
    h = hessian() if hessian is not None and n <= 3000 else None
    if h is not None:
        eigs = np.linalg.eigvalsh(h)
        return float(eigs[-1]), float(max(eigs[0], 0.0))
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    op = LinearOperator((n, n), matvec=hvp, dtype=float)
    v0 = np.random.default_rng(0).normal(size=n)  # fixed start: part of a deterministic computation
    try:
        if n <= 2:
            raise ArpackNoConvergence("too small for ARPACK", [], [])
        lmax = float(eigsh(op, k=1, which="LA", tol=1e-3, v0=v0, return_eigenvectors=False)[0])
        lmin = float(eigsh(op, k=1, which="SA", tol=1e-3, v0=v0, maxiter=20 * n, return_eigenvectors=False)[0])
        return lmax, max(lmin, 0.0)
    except (ArpackNoConvergence, ValueError):
        pass
    mat = np.column_stack([hvp(e) for e in np.eye(n)]) if n <= 200 else None
    if mat is not None:
        eigs = np.linalg.eigvalsh(0.5 * (mat + mat.T))
        return float(eigs[-1]), float(max(eigs[0], 0.0))
    v = v0 / np.linalg.norm(v0)
    lmax = 0.0
    for _ in range(100):
        u = hvp(v)
        lmax = float(v @ u)
        norm = np.linalg.norm(u)
        if norm == 0:
            return 0.0, 0.0
        v = u / norm
    return lmax, 0.0  # λ_min unknown: no warning can be given


def solve_hessian(
    b: np.ndarray,
    hvp: Callable[[np.ndarray], np.ndarray],
    *,
    solver: str = "exact",
    hessian: Callable[[], np.ndarray] | None = None,
    x0: np.ndarray | None = None,
    tol: float = 1e-10,
    maxiter: int | None = None,
    neumann_terms: int = 100,
    neumann_tol: float = 1e-6,
) -> np.ndarray:
    """Solve ``H q = b`` for a symmetric positive definite ``H`` given as Hessian-vector products.

    Args:
        b: The right-hand side (``∇_w V``).
        hvp: ``v -> H v``.
        solver: ``"exact"`` (needs ``hessian``), ``"cg"`` or ``"neumann"``.
        hessian: ``() -> H`` as a dense array, for the exact solve.
        x0: Warm start for CG (e.g. the previous outer step's solution).
        tol: Relative residual tolerance for CG.
        maxiter: CG iteration cap (default ``10 * len(b)``).
        neumann_terms: ``K``, the number of Neumann terms.
        neumann_tol: The relative accuracy below which too few Neumann terms draw a warning.

    Example:
        >>> import numpy as np
        >>> h = np.array([[2.0, 0.5], [0.5, 1.0]])
        >>> q = solve_hessian(np.ones(2), lambda v: h @ v, solver="cg")
        >>> bool(np.allclose(h @ q, 1))
        True
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    b = np.asarray(b, dtype=float)
    n = b.size
    if solver == "exact":
        if hessian is None:
            raise ValueError("solver='exact' needs the dense Hessian; this problem gives none: use solver='cg'")
        h = hessian()
        if h is None:
            raise ValueError("solver='exact' needs the dense Hessian; this problem is too large to form it: use 'cg'")
        try:
            return sla.cho_solve(sla.cho_factor(h, lower=True), b)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(h, b, rcond=None)[0]
    if solver == "cg":
        op = LinearOperator((n, n), matvec=hvp, dtype=float)
        q, info = cg(op, b, x0=x0, rtol=tol, atol=0.0, maxiter=maxiter or 10 * n)
        if info > 0:
            warnings.warn(
                f"conjugate gradients did not reach rtol={tol:g} in {info} iterations; the hypergradient is "
                "approximate (raise maxiter or use solver='exact')",
                HypergradientWarning,
                stacklevel=3,
            )
        return q
    lmax, lmin = _extreme_eigs(hvp, n, hessian)
    if lmax <= 0:
        return np.zeros_like(b)
    alpha = 1.0 / lmax
    if lmin <= 1e-12 * lmax:
        warnings.warn(
            f"the Hessian is singular (smallest eigenvalue about {lmin:.3g}, largest {lmax:.3g}): the Neumann "
            "series does not converge along its null space; use solver='exact' or 'cg', or regularise every "
            "parameter",
            HypergradientWarning,
            stacklevel=3,
        )
    elif lmin > 0:
        rate = 1.0 - lmin / lmax
        needed = math.ceil(math.log(neumann_tol) / math.log(rate)) if rate > 0 else 1
        if neumann_terms < needed:
            warnings.warn(
                f"neumann_terms={neumann_terms} is too few for this Hessian (condition number about "
                f"{lmax / lmin:.3g}): its error shrinks like {rate:.6f}^K, so about {needed} terms are needed "
                f"for relative accuracy {neumann_tol:g}; the hypergradient is biased (raise neumann_terms or use 'cg')",
                HypergradientWarning,
                stacklevel=3,
            )
    term = b.copy()
    total = b.copy()
    for _ in range(neumann_terms):
        term = term - alpha * hvp(term)
        total += term
    return alpha * total


class BilevelProblem(ABC):
    """A training problem whose optimum is differentiable in its (log-scale) hyperparameters.

    Subclasses give the inner solve and four derivatives; :meth:`hypergradient` combines them
    (IFT, module docstring). Hyperparameters are always handled in log space (``log λ``).
    """

    #: Number of hyperparameters.
    n_hyper: int

    @abstractmethod
    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        """The inner optimum ``w*(λ)``, warm-started from ``w0``."""

    @abstractmethod
    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``V``, ``∂V/∂w`` and the direct ``∂V/∂(log λ)`` (zeros when ``V`` does not depend on ``λ``)."""

    @abstractmethod
    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``∇²_w L(w, λ) v``."""

    @abstractmethod
    def cross(self, w: np.ndarray, log_hyper: np.ndarray, q: np.ndarray) -> np.ndarray:
        """``(∂²L / ∂(log λ) ∂w) q``, one entry per hyperparameter."""

    def hessian(self, w: np.ndarray, log_hyper: np.ndarray) -> np.ndarray | None:
        """``∇²_w L`` as a dense array, or ``None`` when it is too large to form."""
        return None

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        """The validation-type loss of ``w`` on other data (a test split)."""
        raise NotImplementedError(f"{type(self).__name__} does not score other data; implement loss() to do so")

    def validation_size(self) -> int | None:
        """Number of validation samples (``len(y_val)``), or ``None`` when the problem has no such split."""
        y_val = getattr(self, "y_val", None)
        return None if y_val is None else len(y_val)

    def with_validation(self, index: Any) -> BilevelProblem:
        """The same problem scored on the validation samples at ``index`` only (for ``hyperoptimize(folds=...)``).

        The default copies the problem and slices its ``x_val`` and ``y_val`` rows; problems
        that keep their validation data elsewhere override it.
        """
        if getattr(self, "x_val", None) is None or getattr(self, "y_val", None) is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no x_val / y_val to split; implement with_validation(index) "
                "to use hyperoptimize(folds=...)"
            )
        index = np.asarray(index, dtype=np.int64)
        part = copy.copy(self)
        part.x_val = self.x_val[index]
        part.y_val = self.y_val[index]
        return part

    def hypergradient(
        self,
        log_hyper: np.ndarray,
        w: np.ndarray | None = None,
        *,
        solver: str = "exact",
        q0: np.ndarray | None = None,
        tol: float = 1e-10,
        neumann_terms: int = 100,
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """The validation loss and its gradient in ``log λ`` at the inner optimum.

        Returns:
            ``(V, dV/dlog λ, w*, q)``: ``q = H⁻¹ ∇_w V`` is returned for warm starts.
        """
        log_hyper = np.asarray(log_hyper, dtype=float)
        if w is None:
            w = self.solve(log_hyper)
        value, gw, direct = self.validation(w, log_hyper)
        q = solve_hessian(
            gw,
            lambda v: self.hvp(w, log_hyper, v),
            solver=solver,
            hessian=lambda: self.hessian(w, log_hyper),
            x0=q0,
            tol=tol,
            neumann_terms=neumann_terms,
        )
        return value, direct - self.cross(w, log_hyper, q), w, q


class AveragedProblem(BilevelProblem):
    """Several problems with the same hyperparameters (e.g. the folds of a cross-validation) as one.

    The validation loss and its hypergradient are the averages over the parts, so following
    them fits the hyperparameters to K validation splits at once rather than to the noise of
    one; ``w`` is the concatenation of the parts' parameters.

    Example:
        >>> import numpy as np
        >>> from hyperdial.gradient.problems import RidgeProblem
        >>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 2)); y = x[:, 0]
        >>> folds = [RidgeProblem(x[:30], y[:30], x[30:], y[30:]), RidgeProblem(x[10:], y[10:], x[:10], y[:10])]
        >>> AveragedProblem(folds).n_hyper
        2
    """

    def __init__(self, parts: list[BilevelProblem]) -> None:
        if not parts or not all(isinstance(p, BilevelProblem) for p in parts):
            raise TypeError(f"AveragedProblem(parts={parts!r}): expected a non-empty list of BilevelProblem")
        sizes = {p.n_hyper for p in parts}
        if len(sizes) != 1:
            raise ValueError(f"AveragedProblem: the parts have different numbers of hyperparameters {sorted(sizes)}")
        self.parts = list(parts)
        self.n_hyper = sizes.pop()
        self._sizes: list[int] | None = None

    def _split(self, w: np.ndarray) -> list[np.ndarray]:
        if self._sizes is None:
            raise RuntimeError("AveragedProblem: call solve() before using parameters")
        return np.split(np.asarray(w), np.cumsum(self._sizes)[:-1])

    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        starts = self._split(w0) if w0 is not None and self._sizes is not None else [None] * len(self.parts)
        ws = [p.solve(log_hyper, s) for p, s in zip(self.parts, starts)]
        self._sizes = [w.size for w in ws]
        return np.concatenate(ws)

    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        outs = [p.validation(wi, log_hyper) for p, wi in zip(self.parts, self._split(w))]
        k = len(outs)
        return (
            sum(o[0] for o in outs) / k,
            np.concatenate([o[1] / k for o in outs]),
            sum(o[2] for o in outs) / k,
        )

    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [p.hvp(wi, log_hyper, vi) for p, wi, vi in zip(self.parts, self._split(w), self._split(v))]
        )

    def cross(self, w: np.ndarray, log_hyper: np.ndarray, q: np.ndarray) -> np.ndarray:
        return sum(p.cross(wi, log_hyper, qi) for p, wi, qi in zip(self.parts, self._split(w), self._split(q)))

    def hypergradient(self, log_hyper, w=None, *, solver="exact", q0=None, tol=1e-10, neumann_terms=100):
        # each part solves its own (block-diagonal) system: no dense joint Hessian is formed
        if w is None:
            w = self.solve(log_hyper)
        k = len(self.parts)
        q_starts = self._split(q0) if q0 is not None else [None] * k
        values, grads, qs = [], [], []
        for p, wi, qi in zip(self.parts, self._split(w), q_starts):
            v, g, _, q = p.hypergradient(log_hyper, wi, solver=solver, q0=qi, tol=tol, neumann_terms=neumann_terms)
            values.append(v)
            grads.append(g)
            qs.append(q)
        return sum(values) / k, sum(grads) / k, w, np.concatenate(qs)

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        parts = self._split(w)
        return sum(p.loss(wi, log_hyper, x, y) for p, wi in zip(self.parts, parts)) / len(parts)

    def validation_size(self) -> int | None:
        return None  # the parts' validation splits differ: there is no one split to divide

    def with_validation(self, index: Any) -> BilevelProblem:
        raise NotImplementedError(
            "AveragedProblem already averages several validation splits; use hyperoptimize(folds=None) with it, "
            "or folds=K on one of its parts"
        )


@dataclass
class HyperResult:
    """What :func:`hyperoptimize` found.

    Attributes:
        log_hyper: The kept hyperparameters (log scale): best on the guard split when one is
            given, else best on the validation split; with ``folds``, the mean of the paths'
            kept hyperparameters.
        w: The inner optimum at ``log_hyper``.
        value: Its validation loss (on the whole validation split).
        guard_value: Its guard loss (``nan`` without a guard).
        history: One dict per inner solve: ``step``, ``log_hyper``, ``value``, ``guard``,
            ``grad_norm``; with ``folds`` also ``path`` (the fold left out, ``None`` for the
            final solve at the mean, whose ``grad_norm`` is ``nan``).
        stopped_early: Whether the guard stopped the run (any path) before its last step.
        paths: With ``folds``, one :class:`HyperResult` per path (its ``value`` is the loss on
            the folds it followed); empty otherwise.
    """

    log_hyper: np.ndarray
    w: np.ndarray
    value: float
    guard_value: float
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    paths: list[HyperResult] = field(default_factory=list)

    @property
    def hyper(self) -> np.ndarray:
        """The kept hyperparameters on their natural scale (``exp(log_hyper)``)."""
        return np.exp(self.log_hyper)


def _descend(
    problem: BilevelProblem,
    x: np.ndarray,
    *,
    n_steps: int,
    lr: float,
    solver: str,
    lo: float,
    hi: float,
    guard: Callable[[np.ndarray, np.ndarray], float] | None,
    patience: int | None,
    neumann_terms: int,
    callback: Callable[[dict[str, Any]], Any] | None,
    extra: dict[str, Any],
) -> tuple[HyperResult, bool]:
    """One Adam path; returns its result and whether the callback asked to stop."""
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    b1, b2, eps = 0.9, 0.999, 1e-8
    w = q = None
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    history: list[dict[str, Any]] = []
    since_best = 0
    stopped = interrupted = False
    for step in range(n_steps):
        w = problem.solve(x, w)
        value, grad, w, q = problem.hypergradient(x, w, solver=solver, q0=q, neumann_terms=neumann_terms)
        guard_value = float(guard(w, x)) if guard is not None else math.nan
        entry = {
            "step": step,
            "log_hyper": x.tolist(),
            "value": float(value),
            "guard": guard_value,
            "grad_norm": float(np.linalg.norm(grad)),
            **extra,
        }
        history.append(entry)
        key = guard_value if guard is not None else float(value)
        if best is None or key < best[0]:
            best = (key, float(value), x.copy(), w.copy())
            since_best = 0
        else:
            since_best += 1
        if callback is not None and callback(entry) is True:
            interrupted = True
            break
        if patience is not None and guard is not None and since_best >= patience:
            stopped = True
            break
        if not np.all(np.isfinite(grad)):
            warnings.warn(
                f"hyperoptimize: non-finite hypergradient at step {step}; stopping", HypergradientWarning, stacklevel=3
            )
            break
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        mhat = m / (1 - b1 ** (step + 1))
        vhat = v / (1 - b2 ** (step + 1))
        x = np.clip(x - lr * mhat / (np.sqrt(vhat) + eps), lo, hi)
    assert best is not None  # n_steps >= 1: at least one entry
    key, value, xb, wb = best
    result = HyperResult(
        log_hyper=xb,
        w=wb,
        value=value,
        guard_value=key if guard is not None else math.nan,
        history=history,
        stopped_early=stopped,
    )
    return result, interrupted


def hyperoptimize(
    problem: BilevelProblem,
    log_hyper0: Any,
    *,
    n_steps: int = 50,
    lr: float = 0.2,
    solver: str = "exact",
    bounds: tuple[float, float] = (-14.0, 10.0),
    guard: Callable[[np.ndarray, np.ndarray], float] | None = None,
    patience: int | None = None,
    folds: int | None = None,
    seed: int = 0,
    neumann_terms: int = 100,
    callback: Callable[[dict[str, Any]], Any] | None = None,
) -> HyperResult:
    """Gradient descent on the validation loss in log-hyperparameter space.

    The step is Adam's (Kingma & Ba 2015, Algorithm 1) on ``log λ``: scale-free, so one
    ``lr`` (a change of ``e^lr`` per step at most, roughly) suits penalties and lengthscales
    alike. Each inner solve starts from the previous optimum and each CG solve from the
    previous ``q`` (HOAG's warm starts). Every step costs one inner solve.

    With many hyperparameters (one penalty per feature) and a small validation split, the
    path keeps lowering the validation loss by fitting that split's noise, and the test loss
    rises. ``folds=K`` is a guard against this that needs no second split: the validation
    samples are divided into ``K`` folds (seeded by ``seed``), one path per fold follows the
    validation loss of the other ``K - 1`` folds, and the kept hyperparameters are the mean
    of the ``K`` paths' kept log-hyperparameters (cross-fitted bagging: the paths share the
    signal and disagree on the noise, which averaging shrinks). ``n_steps`` is then the total
    budget: ``(n_steps - 1) // K`` inner solves per path and one at the mean, whose loss on
    the whole validation split is ``value``. ``folds=4`` was chosen on development problems
    (``benchmarks/implicit_hypergradients.py``).

    Args:
        problem: The :class:`BilevelProblem`.
        log_hyper0: Starting point (log scale), one value per hyperparameter.
        n_steps: Number of inner solves (hypergradient evaluations), all paths together.
        lr: Adam step size in log space.
        solver: Linear solve for ``H⁻¹``: ``"exact"``, ``"cg"`` or ``"neumann"``.
        bounds: ``log λ`` is clipped to this range.
        guard: ``(w, log_hyper) -> loss`` on a second held-out split. When given, the kept
            iterate (of each path) is the one with the lowest guard loss (not the lowest
            validation loss).
        patience: With a guard, stop (a path) after this many steps without a guard improvement.
        folds: ``None`` (one path on the whole validation split) or ``K >= 2``: cross-fitted
            averaging of ``K`` paths as above; the problem must implement
            :meth:`BilevelProblem.with_validation`.
        seed: Seed of the division into folds.
        neumann_terms: Terms of the Neumann series when ``solver="neumann"``.
        callback: Called with each history entry; returning ``True`` stops the run (with
            ``folds``, the kept hyperparameters are then the mean over the paths run so far).

    Example:
        >>> import numpy as np
        >>> from hyperdial.gradient.problems import RidgeProblem
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(80, 5)); y = x @ [1.0, 0, 0, 0, 2] + rng.normal(size=80)
        >>> p = RidgeProblem(x[:40], y[:40], x[40:], y[40:], penalty="per_feature")
        >>> res = hyperoptimize(p, np.zeros(5), n_steps=30)
        >>> res.value < res.history[0]["value"]
        True
        >>> bagged = hyperoptimize(p, np.zeros(5), n_steps=41, folds=4)
        >>> len(bagged.paths), len(bagged.history)
        (4, 41)
    """
    where = "hyperoptimize"
    if not isinstance(problem, BilevelProblem):
        raise TypeError(f"{where}: problem must be a hyperdial.gradient.BilevelProblem, got {problem!r}")
    n_steps = _check_int(where, "n_steps", n_steps, 1)
    lr = _check_real(where, "lr", lr, low=0.0, strict=True)
    if solver not in SOLVERS:
        raise ValueError(f"{where}: solver must be one of {SOLVERS}, got {solver!r}")
    lo, hi = (float(b) for b in bounds)
    if not lo < hi:
        raise ValueError(f"{where}: bounds must be (low, high) with low < high, got {bounds!r}")
    if patience is not None:
        patience = _check_int(where, "patience", patience, 1)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an integer, got {seed!r}")
    x = np.array(log_hyper0, dtype=float).reshape(-1)
    if x.size == 1 and problem.n_hyper > 1:
        x = np.full(problem.n_hyper, x[0])
    if x.size != problem.n_hyper or not np.all(np.isfinite(x)):
        raise ValueError(
            f"{where}: log_hyper0 must hold {problem.n_hyper} finite values (or one to broadcast), got {log_hyper0!r}"
        )
    x = np.clip(x, lo, hi)
    options = dict(
        lr=lr,
        solver=solver,
        lo=lo,
        hi=hi,
        guard=guard,
        patience=patience,
        neumann_terms=neumann_terms,
        callback=callback,
    )
    if folds is None:
        result, _ = _descend(problem, x, n_steps=n_steps, extra={}, **options)
        return result
    folds = _check_int(where, "folds", folds, 2)
    size = problem.validation_size()
    if size is None or size < 2 * folds:
        raise ValueError(
            f"{where}: folds={folds} needs at least {2 * folds} validation samples (2 per fold); this problem has "
            f"{size}: lower folds or use folds=None"
        )
    per_path = (n_steps - 1) // folds
    if per_path < 1:
        raise ValueError(
            f"{where}: n_steps={n_steps} is too small for folds={folds}: each path needs one inner solve and the mean "
            f"one more, so n_steps must be >= {folds + 1}"
        )
    parts = np.array_split(np.random.default_rng(seed).permutation(size), folds)
    paths: list[HyperResult] = []
    history: list[dict[str, Any]] = []
    for k in range(folds):
        follow = np.sort(np.concatenate([parts[j] for j in range(folds) if j != k]))
        path, interrupted = _descend(
            problem.with_validation(follow), x.copy(), n_steps=per_path, extra={"path": k}, **options
        )
        paths.append(path)
        history.extend(path.history)
        if interrupted:
            break
    mean = np.clip(np.mean([p.log_hyper for p in paths], axis=0), lo, hi)
    w = problem.solve(mean, paths[-1].w)  # the paths share the training split: a warm start
    value = float(problem.validation(w, mean)[0])
    guard_value = float(guard(w, mean)) if guard is not None else math.nan
    entry = {
        "step": len(history),
        "log_hyper": mean.tolist(),
        "value": value,
        "guard": guard_value,
        "grad_norm": math.nan,
        "path": None,
    }
    history.append(entry)
    if callback is not None:
        callback(entry)
    return HyperResult(
        log_hyper=mean,
        w=w,
        value=value,
        guard_value=guard_value,
        history=history,
        stopped_early=any(p.stopped_early for p in paths),
        paths=paths,
    )
