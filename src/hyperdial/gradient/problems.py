"""Classic models as bilevel problems: ridge, L2 logistic regression and kernel ridge.

Each holds a training split (the inner problem) and a validation split (the outer loss) and
gives what :func:`~hyperdial.gradient.implicit.hyperoptimize` needs: the inner optimum, the
validation loss and its gradients, Hessian-vector products and the mixed derivative. All
hyperparameters are positive and handled as their logarithms.

Penalties are ``½ Σ_j λ_{g(j)} w_j²`` on a per-sample-averaged loss, with one ``λ`` shared by
all features (``penalty="shared"``), one per feature (``"per_feature"``) or one per group
(an integer array giving each feature's group). The intercept is never penalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg as sla
from scipy.special import expit, log_expit

from hyperdial.gradient.implicit import BilevelProblem

__all__ = ["KernelRidgeProblem", "LogisticProblem", "RidgeProblem", "penalty_groups"]

#: Above this many coefficients the logistic problem is solved without forming its Hessian.
_DENSE_LIMIT = 2000


def _as_2d(name: str, x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity; impute or drop those values first")
    return arr


def _as_1d(name: str, y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y, dtype=float).reshape(-1)
    if arr.size != n:
        raise ValueError(f"{name} must have {n} entries (one per sample), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def penalty_groups(penalty: Any, n_features: int) -> np.ndarray:
    """Each feature's hyperparameter index for ``penalty`` (``"shared"``, ``"per_feature"`` or groups).

    Example:
        >>> penalty_groups("shared", 3).tolist(), penalty_groups([0, 0, 1], 3).tolist()
        ([0, 0, 0], [0, 0, 1])
    """
    if isinstance(penalty, str):
        if penalty == "shared":
            return np.zeros(n_features, dtype=int)
        if penalty == "per_feature":
            return np.arange(n_features)
        raise ValueError(f"penalty must be 'shared', 'per_feature' or an array of group ids, got {penalty!r}")
    groups = np.asarray(penalty)
    if groups.shape != (n_features,) or groups.dtype.kind not in "iu":
        raise ValueError(f"penalty as groups must be {n_features} integers (one group id per feature), got {penalty!r}")
    _, inverse = np.unique(groups, return_inverse=True)
    return inverse.astype(int)


class _Linear(BilevelProblem):
    """Shared parts of the linear models: design with an optional unpenalised intercept column."""

    def __init__(
        self, x: Any, y: Any, x_val: Any, y_val: Any, *, penalty: Any = "per_feature", fit_intercept: bool = True
    ) -> None:
        x = _as_2d("x", x)
        x_val = _as_2d("x_val", x_val)
        if x_val.shape[1] != x.shape[1]:
            raise ValueError(f"x_val has {x_val.shape[1]} features, x has {x.shape[1]}; they must match")
        self.y = _as_1d("y", y, x.shape[0])
        self.y_val = _as_1d("y_val", y_val, x_val.shape[0])
        self.fit_intercept = bool(fit_intercept)
        self.n_features = x.shape[1]
        self.groups = penalty_groups(penalty, self.n_features)
        self.n_hyper = int(self.groups.max()) + 1 if self.n_features else 0
        self.x = self._design(x)
        self.x_val = self._design(x_val)

    def _design(self, x: np.ndarray) -> np.ndarray:
        return np.hstack([x, np.ones((x.shape[0], 1))]) if self.fit_intercept else x

    def _penalty(self, log_hyper: np.ndarray) -> np.ndarray:
        lam = np.exp(np.asarray(log_hyper, dtype=float))[self.groups]
        return np.concatenate([lam, [0.0]]) if self.fit_intercept else lam

    def cross(self, w: np.ndarray, log_hyper: np.ndarray, q: np.ndarray) -> np.ndarray:
        # ∂/∂log λ_g of ∇_w L = λ_g w_j for j in group g
        p = self.n_features
        lam = np.exp(np.asarray(log_hyper, dtype=float))[self.groups]
        return np.bincount(self.groups, weights=lam * w[:p] * q[:p], minlength=self.n_hyper)


class RidgeProblem(_Linear):
    """Ridge regression: ``L(w) = ‖Xw - y‖² / (2n) + ½ Σ λ_j w_j²``; validation loss is the mean squared error.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(30, 3)); y = x[:, 0] + 0.1 * rng.normal(size=30)
        >>> p = RidgeProblem(x[:20], y[:20], x[20:], y[20:], penalty="shared")
        >>> value, grad, w, q = p.hypergradient(np.log([0.1]))
        >>> grad.shape
        (1,)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        n = self.x.shape[0]
        self._gram = self.x.T @ self.x / n
        self._xty = self.x.T @ self.y / n

    def hessian(self, w: np.ndarray, log_hyper: np.ndarray) -> np.ndarray:
        return self._gram + np.diag(self._penalty(log_hyper))

    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        h = self.hessian(np.empty(0), log_hyper)
        try:
            return sla.cho_solve(sla.cho_factor(h, lower=True), self._xty)
        except np.linalg.LinAlgError:  # an unpenalised, rank-deficient design
            return np.linalg.lstsq(h, self._xty, rcond=None)[0]

    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._gram @ v + self._penalty(log_hyper) * v

    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        r = self.x_val @ w - self.y_val
        m = r.size
        return float(r @ r / m), 2.0 * self.x_val.T @ r / m, np.zeros(self.n_hyper)

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        r = self._design(_as_2d("x", x)) @ w - np.asarray(y, dtype=float)
        return float(np.mean(r * r))


class LogisticProblem(_Linear):
    """L2-regularised logistic regression (labels 0/1); validation loss is the mean log loss.

    ``L(w) = (1/n) Σ [log(1 + e^{z_i}) - y_i z_i] + ½ Σ λ_{g(j)} w_j²`` with ``z = Xw``; the
    inner problem is solved by Newton's method with a backtracking line search to a gradient
    norm of ``tol`` (tight, so that hypergradients are exact to ~1e-8); above 2,000
    coefficients by a trust-region Newton-Krylov method on Hessian-vector products, and the
    hypergradient then needs ``solver="cg"`` or ``"neumann"``.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import scale
        >>> x, y = load_breast_cancer(return_X_y=True); x = scale(x)
        >>> p = LogisticProblem(x[:300], y[:300], x[300:], y[300:], penalty="shared")
        >>> value, grad, w, q = p.hypergradient([0.0])
        >>> bool(grad[0] > 0)    # λ = 1 is too strong: the validation loss falls as λ falls
        True
    """

    def __init__(self, *args: Any, tol: float = 1e-14, max_newton: int = 100, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not set(np.unique(self.y)) <= {0.0, 1.0} or not set(np.unique(self.y_val)) <= {0.0, 1.0}:
            raise ValueError("LogisticProblem: y and y_val must be 0/1 labels; encode the classes first")
        self.tol = float(tol)
        self.max_newton = int(max_newton)

    def _objective(self, w: np.ndarray, lam: np.ndarray) -> float:
        z = self.x @ w
        return float(np.mean(-log_expit(z) + (1 - self.y) * z) + 0.5 * np.sum(lam * w * w))

    def _grad_norm(self, w: np.ndarray, lam: np.ndarray) -> float:
        return float(np.linalg.norm(self.x.T @ (expit(self.x @ w) - self.y) / self.x.shape[0] + lam * w))

    def hessian(self, w: np.ndarray, log_hyper: np.ndarray) -> np.ndarray | None:
        if self.x.shape[1] > _DENSE_LIMIT:
            return None  # too large to form: use solver="cg" (Hessian-vector products)
        s = expit(self.x @ w)
        return (self.x.T * (s * (1 - s))) @ self.x / self.x.shape[0] + np.diag(self._penalty(log_hyper))

    def _solve_krylov(self, w: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Many features: a trust-region Newton method on Hessian-vector products (no dense Hessian)."""
        from scipy.optimize import minimize

        n = self.x.shape[0]

        def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
            z = self.x @ v
            f = float(np.mean(-log_expit(z) + (1 - self.y) * z) + 0.5 * np.sum(lam * v * v))
            return f, self.x.T @ (expit(z) - self.y) / n + lam * v

        def hessp(v: np.ndarray, p: np.ndarray) -> np.ndarray:
            s = expit(self.x @ v)
            return self.x.T @ (s * (1 - s) * (self.x @ p)) / n + lam * p

        res = minimize(fun, w, jac=True, hessp=hessp, method="trust-ncg", options={"gtol": max(self.tol, 1e-12)})
        return res.x

    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        lam = self._penalty(log_hyper)
        n, d = self.x.shape
        w = np.zeros(d) if w0 is None or np.shape(w0) != (d,) else np.array(w0, dtype=float)
        if d > _DENSE_LIMIT:
            return self._solve_krylov(w, lam)
        f = self._objective(w, lam)
        for _ in range(self.max_newton):
            s = expit(self.x @ w)
            g = self.x.T @ (s - self.y) / n + lam * w
            if np.linalg.norm(g) <= self.tol:
                break
            h = (self.x.T * (s * (1 - s))) @ self.x / n + np.diag(lam)
            try:
                step = sla.cho_solve(sla.cho_factor(h, lower=True), g)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(h, g, rcond=None)[0]
            t = 1.0
            while True:
                w_new = w - t * step
                f_new = self._objective(w_new, lam)
                if f_new <= f - 1e-4 * t * (g @ step) or t < 1e-10:
                    break
                if t == 1.0 and self._grad_norm(w_new, lam) < np.linalg.norm(g):
                    # near the optimum f changes below rounding: a full Newton step that shrinks the gradient
                    break
                t *= 0.5
            if t < 1e-10 and f_new >= f:  # no progress possible in floating point: at the optimum
                break
            w, f = w_new, f_new
        return w

    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        s = expit(self.x @ w)
        return self.x.T @ (s * (1 - s) * (self.x @ v)) / self.x.shape[0] + self._penalty(log_hyper) * v

    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        z = self.x_val @ w
        m = z.size
        value = float(np.mean(-log_expit(z) + (1 - self.y_val) * z))
        return value, self.x_val.T @ (expit(z) - self.y_val) / m, np.zeros(self.n_hyper)

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        z = self._design(_as_2d("x", x)) @ w
        y = np.asarray(y, dtype=float)
        return float(np.mean(-log_expit(z) + (1 - y) * z))


def _ard_bilinear(u: np.ndarray, za: np.ndarray, k: np.ndarray, v: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """``B_j = Σ_ab u_a K_ab (z_aj - z_bj)² v_b`` for every feature ``j`` without forming an nxnxp array."""
    kv = k @ v
    ku = k.T @ u
    cross = k @ (v[:, None] * zb)
    return (za * za).T @ (u * kv) + (zb * zb).T @ (v * ku) - 2.0 * np.sum(u[:, None] * za * cross, axis=0)


class KernelRidgeProblem(BilevelProblem):
    """Kernel ridge regression with an RBF kernel, one lengthscale per feature (ARD) and a penalty.

    ``K_ab = exp(-½ Σ_j (x_aj - x_bj)² / l_j²)``; the dual coefficients ``a = (K + μI)⁻¹ (y - ȳ)``
    minimise ``½ aᵀ(K + μI)a - (y - ȳ)ᵀa``, so ``H = K + μI`` and
    ``∂²L/∂(log l_j)∂a · q = qᵀ (K ⊙ D_j) a`` with ``D_j = (x_aj - x_bj)² / l_j²``. The
    validation mean squared error depends on the lengthscales directly as well (through
    ``K(X_val, X)``), which :meth:`validation` returns as the direct term.

    Hyperparameters (log scale): ``[log l_1, ..., log l_p, log μ]`` (``lengthscale="per_feature"``)
    or ``[log l, log μ]`` (``"shared"``).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(60, 2)); y = np.sin(2 * x[:, 0])
        >>> p = KernelRidgeProblem(x[:40], y[:40], x[40:], y[40:])
        >>> p.n_hyper
        3
    """

    def __init__(self, x: Any, y: Any, x_val: Any, y_val: Any, *, lengthscale: str = "per_feature") -> None:
        self.x = _as_2d("x", x)
        self.x_val = _as_2d("x_val", x_val)
        if self.x_val.shape[1] != self.x.shape[1]:
            raise ValueError(f"x_val has {self.x_val.shape[1]} features, x has {self.x.shape[1]}; they must match")
        self.y = _as_1d("y", y, self.x.shape[0])
        self.y_val = _as_1d("y_val", y_val, self.x_val.shape[0])
        if lengthscale not in ("per_feature", "shared"):
            raise ValueError(f"lengthscale must be 'per_feature' or 'shared', got {lengthscale!r}")
        self.lengthscale = lengthscale
        p = self.x.shape[1]
        self.n_hyper = (p if lengthscale == "per_feature" else 1) + 1
        self.y_mean = float(self.y.mean())
        self._cache: tuple[bytes, np.ndarray] | None = None

    def _ell(self, log_hyper: np.ndarray) -> np.ndarray:
        p = self.x.shape[1]
        log_ell = np.asarray(log_hyper[:-1], dtype=float)
        return np.exp(log_ell if self.lengthscale == "per_feature" else np.full(p, log_ell[0]))

    def kernel(self, log_hyper: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
        """``K(xa, xb)`` at the given lengthscales."""
        ell = self._ell(log_hyper)
        za, zb = xa / ell, xb / ell
        sq = np.sum(za * za, 1)[:, None] + np.sum(zb * zb, 1)[None, :] - 2.0 * za @ zb.T
        return np.exp(-0.5 * np.maximum(sq, 0.0))

    def _k(self, log_hyper: np.ndarray) -> np.ndarray:
        key = np.asarray(log_hyper, dtype=float).tobytes()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.kernel(log_hyper, self.x, self.x))
        return self._cache[1]

    def hessian(self, w: np.ndarray, log_hyper: np.ndarray) -> np.ndarray:
        k = self._k(log_hyper)
        return k + np.exp(log_hyper[-1]) * np.eye(k.shape[0])

    def solve(self, log_hyper: np.ndarray, w0: np.ndarray | None = None) -> np.ndarray:
        h = self.hessian(np.empty(0), np.asarray(log_hyper, dtype=float))
        return sla.cho_solve(sla.cho_factor(h, lower=True), self.y - self.y_mean)

    def hvp(self, w: np.ndarray, log_hyper: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._k(log_hyper) @ v + np.exp(log_hyper[-1]) * v

    def _per_feature(self, grad: np.ndarray) -> np.ndarray:
        return grad if self.lengthscale == "per_feature" else np.array([grad.sum()])

    def cross(self, w: np.ndarray, log_hyper: np.ndarray, q: np.ndarray) -> np.ndarray:
        ell = self._ell(log_hyper)
        z = self.x / ell
        lengths = _ard_bilinear(q, z, self._k(log_hyper), w, z)
        return np.concatenate([self._per_feature(lengths), [np.exp(log_hyper[-1]) * (q @ w)]])

    def validation(self, w: np.ndarray, log_hyper: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        ell = self._ell(log_hyper)
        kv = self.kernel(log_hyper, self.x_val, self.x)
        r = kv @ w + self.y_mean - self.y_val
        m = r.size
        u = 2.0 * r / m
        direct = _ard_bilinear(u, self.x_val / ell, kv, w, self.x / ell)
        return float(r @ r / m), kv.T @ u, np.concatenate([self._per_feature(direct), [0.0]])

    def predict(self, w: np.ndarray, log_hyper: np.ndarray, x: Any) -> np.ndarray:
        """Predictions at ``x`` from dual coefficients ``w``."""
        return self.kernel(np.asarray(log_hyper, dtype=float), _as_2d("x", x), self.x) @ w + self.y_mean

    def loss(self, w: np.ndarray, log_hyper: np.ndarray, x: Any, y: Any) -> float:
        r = self.predict(w, log_hyper, x) - np.asarray(y, dtype=float)
        return float(np.mean(r * r))
