"""Gaussian-process Bayesian optimisation with numpy and scipy (no torch).

* Kernel: Matérn 5/2 with one lengthscale per parameter (automatic relevance
  determination). Int and stepped parameters enter the kernel at the centre of their
  cell, so points in one cell are one point to the model (Garrido-Merchán &
  Hernández-Lobato 2020); categorical parameters contribute a Hamming distance with
  their own lengthscale. Inactive conditional parameters sit outside the cube, so the
  model separates configurations by which parameters they use.
* Hyperparameters: maximum marginal likelihood with analytic gradients (Rasmussen &
  Williams 2006, eq. 5.9), multi-start L-BFGS-B (a fixed start and random ones drawn from
  the trial's generator, so proposals replay exactly), with a weak log-normal prior on
  lengthscales.
* Outputs are standardised after a Yeo-Johnson power transform (as in HEBO, Cowen-Rivers
  et al. 2022), which tames outliers and heavy tails. From five parameters the GP's
  constant prior mean is the worst value observed rather than the average (De Ath et al.
  2021, "What do you mean? The role of the mean function in Bayesian optimisation"): far
  from the data the model then expects no improvement, so expected improvement stops
  sending trials to the unexplored corners of the cube, where in many dimensions the
  variance alone would keep it.
* Acquisition: log expected improvement computed without underflow (Ament et al. 2023,
  "Unexpected improvements to expected improvement", eq. 9), maximised over scrambled
  Sobol' candidates and perturbations of the best points, then refined by L-BFGS-B on
  the continuous parameters.
* Trials still running enter as fantasies at the posterior mean ("kriging believer",
  Ginsbourger et al. 2010), so parallel workers get different proposals.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve, solve_triangular
from scipy.linalg.lapack import dpotrf as _dpotrf
from scipy.linalg.lapack import dpotri as _dpotri
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr
from scipy.stats import qmc

from hyperdial.constraints import constrained_proposal
from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import PARTIAL_VALUE_ATTR, TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["OPTIMUM_TRIED_ATTR", "GPSampler", "log_expected_improvement", "refit_point"]

#: Trial attribute set when the acquisition's optimum was a configuration already tried and the
#: proposal is the best untried one instead.
OPTIMUM_TRIED_ATTR = "gp_optimum_tried"

_SQRT5 = math.sqrt(5.0)
_INACTIVE = -1.0  # where an inactive numeric parameter sits (outside the cube)
_LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate everywhere (Mächler 2012)."""
    return np.where(x > -math.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_expected_improvement(z: np.ndarray) -> np.ndarray:
    """``log(phi(z) + z * Phi(z))``: the log of EI divided by the posterior standard deviation.

    Stable for very negative ``z``, where EI itself underflows to 0.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh * zh) / math.sqrt(2 * math.pi) + zh * ndtr(zh))
    zl = z[~hi]
    # phi(z) + z Phi(z) = phi(z) * (1 - |z| * sqrt(pi/2) * erfcx(|z| / sqrt(2))) for z < 0
    mid = zl > -1e6
    log_ratio = np.log(-zl[mid]) + np.log(erfcx(-zl[mid] / math.sqrt(2))) + 0.5 * math.log(math.pi / 2)
    low = np.empty_like(zl)
    low[mid] = -0.5 * zl[mid] ** 2 - _LOG_2PI_HALF + _log1mexp(log_ratio)
    # Far tail: phi(z) / z^2 asymptotically.
    low[~mid] = -0.5 * zl[~mid] ** 2 - _LOG_2PI_HALF - 2 * np.log(-zl[~mid])
    out[~hi] = low
    return out


def refit_point(n: int) -> int:
    """The number of finished trials whose full hyperparameter fit warm-starts the fit at ``n``.

    ``n`` itself below 20; above, the last term of 20, 24, 29, 35, ... (each a fifth more,
    rounded up) not exceeding ``n``: about 16 full fits in the first 200 trials.
    """
    if n <= 20:
        return n
    c = 20
    while (nxt := math.ceil(c * 1.2)) <= n:
        c = nxt
    return c


_YJ_LAMBDAS = np.linspace(-3.0, 5.0, 161)


def _yeo_johnson(x: np.ndarray) -> np.ndarray:
    """Yeo-Johnson power transform with the maximum-likelihood exponent (Yeo & Johnson 2000).

    ``psi(x, lam) = ((1 + x)^lam - 1) / lam`` for ``x >= 0`` and
    ``-((1 - x)^(2 - lam) - 1) / (2 - lam)`` for ``x < 0``; ``lam`` maximises the normal
    log-likelihood ``-n/2 log var(psi) + (lam - 1) sum sign(x) log(1 + |x|)``, searched on a
    0.05 grid over [-3, 5] in one vectorised pass (scipy's scalar search costs ~10 ms a call).
    """
    pos = x >= 0
    a = np.log1p(np.abs(x))  # log(1 + |x|)
    lam = _YJ_LAMBDAS[:, None]
    p = np.where(pos, lam, 2.0 - lam)  # the exponent each side uses
    safe = np.where(np.abs(p) < 1e-8, 1.0, p)
    psi = np.where(np.abs(p) < 1e-8, a, np.expm1(np.clip(p * a, -700, 700)) / safe)
    psi = np.where(pos, psi, -psi)
    with np.errstate(divide="ignore", invalid="ignore"):
        llf = -0.5 * len(x) * np.log(psi.var(axis=1)) + (_YJ_LAMBDAS - 1.0) * np.sum(np.sign(x) * a)
    llf[~np.isfinite(llf)] = -np.inf
    if not np.isfinite(llf).any():
        return x
    out = psi[int(np.argmax(llf))]
    return out if np.all(np.isfinite(out)) else x


class _Model:
    """An exact GP on encoded inputs with Matérn 5/2 ARD numeric and Hamming categorical distances."""

    def __init__(self, num: np.ndarray, cat: np.ndarray, y: np.ndarray) -> None:
        self.num, self.cat, self.y = num, cat, y
        self.n_num, self.n_cat = num.shape[1], cat.shape[1]
        self._pair: tuple[int, np.ndarray] | None = None
        self._seen: set[bytes] | None = None  # the training inputs' rows as bytes, for tried()
        self.ls_prior = (math.log(0.5), 1.5)  # log lengthscale ~ N(mean, sd^2)
        self.ls_max = 20.0

    def _sqdist(self, num_a, cat_a, num_b, cat_b, inv_ls2_num, inv_ls2_cat) -> np.ndarray:
        d = np.zeros((num_a.shape[0], num_b.shape[0]))
        if self.n_num:
            a = num_a * np.sqrt(inv_ls2_num)
            b = num_b * np.sqrt(inv_ls2_num)
            d = (a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :]
            np.maximum(d, 0.0, out=d)
        if self.n_cat:
            d = d + ((cat_a[:, None, :] != cat_b[None, :, :]) * inv_ls2_cat).sum(2)
        return d

    @staticmethod
    def _matern(d2: np.ndarray) -> np.ndarray:
        r = np.sqrt(d2)
        return (1 + _SQRT5 * r + 5.0 / 3.0 * d2) * np.exp(-_SQRT5 * r)

    def _pairwise(self) -> np.ndarray:
        """Per-dimension squared differences between training inputs, ``(n * n, k)``, computed once.

        The marginal likelihood is evaluated ~100 times per fit; with these the squared
        distance and every lengthscale gradient are one matrix-vector product each.
        """
        if getattr(self, "_pair", None) is None or self._pair[0] != len(self.y):
            n = len(self.y)
            cols = [(self.num[:, i][:, None] - self.num[:, i][None, :]) ** 2 for i in range(self.n_num)]
            cols += [(self.cat[:, j][:, None] != self.cat[:, j][None, :]).astype(float) for j in range(self.n_cat)]
            P = np.stack(cols, axis=-1).reshape(n * n, -1) if cols else np.zeros((n * n, 0))
            self._pair = (n, P)
        return self._pair[1]

    def neg_log_marginal(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log marginal likelihood (plus the lengthscale prior) and its gradient.

        Rasmussen & Williams (2006), eq. 5.8 for the value and eq. 5.9 for the gradient
        ``0.5 * tr((alpha alpha^T - K^-1) dK/dtheta)``.
        """
        k = self.n_num + self.n_cat
        log_ls, log_s2, log_noise = theta[:k], theta[k], theta[k + 1]
        inv_ls2 = np.exp(-2 * log_ls)
        s2, noise = math.exp(log_s2), math.exp(log_noise) + 1e-6
        n = len(self.y)
        P = self._pairwise()
        d2 = (P @ inv_ls2).reshape(n, n) if k else np.zeros((n, n))
        r = np.sqrt(d2)
        e = np.exp(-_SQRT5 * r)
        K0 = (1 + _SQRT5 * r + 5.0 / 3.0 * d2) * e
        K = s2 * K0
        K[np.diag_indices(n)] += noise
        L, info = _dpotrf(K, lower=1, clean=1, overwrite_a=0)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve((L, True), self.y)
        nll = 0.5 * self.y @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
        # Prior: log lengthscale ~ N(log 0.5, 1.5^2) keeps lengthscales from running off with few points.
        prior_mu, prior_sd = self.ls_prior
        nll += 0.5 * (((log_ls - prior_mu) / prior_sd) ** 2).sum()
        Kinv, info = _dpotri(L, lower=1)
        if info != 0:
            return 1e10, np.zeros_like(theta)
        Kinv = Kinv + np.tril(Kinv, -1).T  # dpotri fills the lower triangle only
        W = np.outer(alpha, alpha) - Kinv  # dL/dK = 0.5 * W
        grad = np.empty_like(theta)
        # dK/dlog_ls_i = s2 * 5/3 * (1 + sqrt5 r) e * (delta_i / ls_i)^2
        if k:
            common = (W * (s2 * (5.0 / 3.0)) * (1 + _SQRT5 * r) * e).ravel()
            grad[:k] = -0.5 * (common @ P) * inv_ls2
        grad[:k] += (log_ls - prior_mu) / prior_sd**2
        grad[k] = -0.5 * np.sum(W * K0) * s2
        grad[k + 1] = -0.5 * np.trace(W) * (noise - 1e-6)
        return float(nll), grad

    def fit(self, start: np.ndarray | None, rng: np.random.Generator, restarts: int = 3) -> np.ndarray:
        """Maximise the marginal likelihood by L-BFGS-B from ``start`` (if given), a fixed default and
        ``restarts - 1`` random points; ``restarts=0`` with a start refines that start alone."""
        k = self.n_num + self.n_cat
        bounds = [(math.log(1e-2), math.log(self.ls_max))] * k + [
            (math.log(0.05), math.log(20.0)),
            (math.log(1e-6), math.log(2.0)),
        ]
        starts = [start] if start is not None and len(start) == k + 2 else []
        if restarts > 0 or not starts:
            starts.append(np.concatenate([np.full(k, math.log(0.5)), [0.0, math.log(1e-3)]]))
        for _ in range(restarts - 1):
            starts.append(np.array([rng.uniform(lo, hi) for lo, hi in bounds]))
        best, best_val = starts[0], math.inf
        for x0 in starts:
            x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = minimize(
                    self.neg_log_marginal, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 200}
                )
            if res.fun < best_val:
                best, best_val = res.x, res.fun
        self.set_params(best)
        return best

    def set_params(self, theta: np.ndarray) -> None:
        k = self.n_num + self.n_cat
        self.theta = theta
        self.inv_ls2 = np.exp(-2 * theta[:k])
        self.s2 = math.exp(theta[k])
        self.noise = math.exp(theta[k + 1]) + 1e-6
        self._factor()

    def _factor(self) -> None:
        K = self.s2 * self._matern(
            self._sqdist(self.num, self.cat, self.num, self.cat, self.inv_ls2[: self.n_num], self.inv_ls2[self.n_num :])
        )
        K[np.diag_indices_from(K)] += self.noise
        self.L = cho_factor(K, lower=True)
        self.alpha = cho_solve(self.L, self.y)

    def add_fantasies(self, num: np.ndarray, cat: np.ndarray) -> None:
        """Condition on pending points at their posterior mean (the mean stays, the variance shrinks)."""
        if len(num) == 0:
            return
        mean, _ = self.predict(num, cat)
        self.num = np.vstack([self.num, num])
        self.cat = np.vstack([self.cat, cat])
        self._seen = None
        self.y = np.concatenate([self.y, mean])
        self._factor()

    def tried(self, rows: np.ndarray) -> np.ndarray:
        """Whether each row of inputs (numeric then categorical) equals a training input (fantasies included)."""
        if self._seen is None:
            self._seen = {r.tobytes() for r in np.hstack([self.num, self.cat])}
        seen = self._seen
        return np.array([r.tobytes() in seen for r in rows], dtype=bool)

    def predict(self, num: np.ndarray, cat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Ks = self.s2 * self._matern(
            self._sqdist(num, cat, self.num, self.cat, self.inv_ls2[: self.n_num], self.inv_ls2[self.n_num :])
        )
        mean = Ks @ self.alpha
        v = solve_triangular(self.L[0], Ks.T, lower=True)
        var = np.maximum(self.s2 - (v * v).sum(0), 1e-12)
        return mean, np.sqrt(var)

    def predict_grad(self, num: np.ndarray, cat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at each row, with their gradients in its numeric inputs.

        ``d k(x, x_i) / d x_j = -s2 * 5/3 * (1 + sqrt5 r) exp(-sqrt5 r) * (x_j - x_ij) / l_j^2`` for
        the Matérn 5/2 kernel; the mean's gradient is ``dk^T alpha`` and the variance's
        ``-2 dk^T K^-1 k``. Shapes: ``(B,)``, ``(B,)``, ``(B, n_num)``, ``(B, n_num)``.
        """
        inv_num = self.inv_ls2[: self.n_num]
        d2 = self._sqdist(num, cat, self.num, self.cat, inv_num, self.inv_ls2[self.n_num :])
        r = np.sqrt(d2)
        e = np.exp(-_SQRT5 * r)
        ks = self.s2 * (1 + _SQRT5 * r + 5.0 / 3.0 * d2) * e
        g = -self.s2 * (5.0 / 3.0) * (1 + _SQRT5 * r) * e
        dk = g[:, :, None] * (num[:, None, :] - self.num[None, :, :]) * inv_num  # (B, N, n_num)
        mean = ks @ self.alpha
        kinv_k = cho_solve(self.L, ks.T).T
        var = self.s2 - np.einsum("bn,bn->b", ks, kinv_k)
        ok = var > 1e-12
        sd = np.where(ok, np.sqrt(np.maximum(var, 1e-12)), 1e-6)
        dmean = np.einsum("n,bnd->bd", self.alpha, dk)
        dsd = np.where(ok[:, None], -np.einsum("bn,bnd->bd", kinv_k, dk) / sd[:, None], 0.0)
        return mean, sd, dmean, dsd


class GPSampler(Sampler):
    """Gaussian-process Bayesian optimisation (single objective).

    Args:
        n_startup_trials: Trials proposed by a scrambled Sobol' sequence before the model
            starts; ``None`` (the default): ``2 d + 1`` for ``d`` parameters, at least 5 and at
            most 10.
        n_candidates: Quasi-random candidates scored per proposal (plus local perturbations).
        max_observations: Fit on at most this many trials (the best and the most recent).
        prior_mean: The GP's constant prior mean: ``"mean"``, the average of the (warped)
            observations; ``"worst"``, the worst of them, so the model expects nothing better
            where it has no data; ``"auto"`` (the default): ``"worst"`` from
            ``worst_mean_min_dim`` parameters, ``"mean"`` below.

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=GPSampler(), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2) ** 2, n_trials=20, show_progress=False)
        >>> abs(study.best_params["x"] - 2) < 0.1
        True
    """

    name = "gp"
    #: Best candidates refined by L-BFGS-B, and its iteration cap.
    n_refine = 10
    refine_maxiter = 100
    #: Smallest space for which ``prior_mean="auto"`` means ``"worst"`` (see :meth:`uses_worst_mean`).
    worst_mean_min_dim = 5
    joint = True

    def __init__(
        self,
        *,
        n_startup_trials: int | None = None,
        n_candidates: int = 1024,
        max_observations: int = 500,
        prior_mean: str = "auto",
    ) -> None:
        for label, v, lo in (
            ("n_startup_trials", 10 if n_startup_trials is None else n_startup_trials, 1),
            ("n_candidates", n_candidates, 8),
            ("max_observations", max_observations, 10),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"GPSampler: {label} must be an integer >= {lo}, got {v!r}")
        if prior_mean not in ("auto", "mean", "worst"):
            raise ValueError(f"GPSampler: prior_mean must be 'auto', 'mean' or 'worst', got {prior_mean!r}")
        self.prior_mean = prior_mean
        self.n_startup_trials = n_startup_trials
        self.n_candidates = n_candidates
        self.max_observations = max_observations
        self._startup = QMCSampler("sobol")
        self._seed = 0
        self._fits: dict[Any, np.ndarray] = {}

    def bind(self, seed: int) -> None:
        self._seed = seed
        self._startup.bind(seed)

    def startup_size(self, dim: int) -> int:
        """Quasi-random trials before the model, for a space of ``dim`` parameters.

        The automatic count ``2 d + 1`` (5 to 10) lets the model start sooner in small spaces:
        on the scikit-learn problems of the benchmark suite (1-5 parameters, development seeds
        100-109) it raised the score at 50 evaluations by 3.4 +- 2.0 points over a fixed 10.
        """
        if self.n_startup_trials is not None:
            return self.n_startup_trials
        return min(10, max(5, 2 * dim + 1))

    def uses_worst_mean(self, dim: int) -> bool:
        """Whether the prior mean is the worst observation, for a space of ``dim`` parameters.

        With the average as prior mean, expected improvement far from the data is that of a
        coin toss around the average, and in many dimensions most of the cube is far: on
        10-d BBOB f21 (101 peaks) 28 of the last 50 trials went to the plateau between the
        peaks, on average; with the worst value, none did. Development seeds (BBOB 5-34,
        scikit-learn 100-129), score at 100 / 50 evaluations: 10-d BBOB f10 +9.2 / +14.0 and
        f21 +8.6 / +5.3; the five 5-parameter problems +1.5 / +6.1 on average (f10 +4.3, f15
        +0.7, f21 -0.9, gradient boosting +14.0, decision tree -10.5 at 100). Below five
        parameters it lost (10 seeds: 2-d Gallagher f21 and the 3-parameter SVM each ran
        into a poor local optimum), so there the average stays.
        """
        if self.prior_mean == "auto":
            return dim >= self.worst_mean_min_dim
        return self.prior_mean == "worst"

    # -- encoding -------------------------------------------------------------------------------
    @staticmethod
    def _layout(space: SearchSpace) -> tuple[list[int], list[int], np.ndarray]:
        num = [i for i, n in enumerate(space.names) if not isinstance(space.dists[n], Categorical)]
        cat = [i for i, n in enumerate(space.names) if isinstance(space.dists[n], Categorical)]
        cells = np.array([space.dists[space.names[i]].size for i in num], dtype=float)
        return num, cat, cells

    @staticmethod
    def _encode(U: np.ndarray, space: SearchSpace, layout: Any) -> tuple[np.ndarray, np.ndarray]:
        """Unit-cube rows (nan = inactive) to the model's numeric and categorical inputs."""
        num, cat, cells = layout
        X = U[:, num].copy()
        finite = np.isfinite(cells)
        if finite.any():
            k = cells[finite]
            X[:, finite] = (np.clip(np.floor(X[:, finite] * k), 0, k - 1) + 0.5) / k
        X[np.isnan(X)] = _INACTIVE
        C = np.full((len(U), len(cat)), -1.0)
        for j, i in enumerate(cat):
            K = space.dists[space.names[i]].size
            col = U[:, i]
            ok = ~np.isnan(col)
            C[ok, j] = np.clip(np.floor(col[ok] * K), 0, K - 1)
        return X, C

    @staticmethod
    def _warp(loss: np.ndarray) -> np.ndarray:
        y = loss - np.median(loss)
        scale = np.std(y)
        if scale > 0:
            y = _yeo_johnson(y / scale)
        sd = np.std(y)
        return (y - y.mean()) / (sd if sd > 0 else 1.0)

    # -- proposals --------------------------------------------------------------------------------
    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> Proposal:
        if history.n_objectives != 1:
            raise ValueError("GPSampler supports one objective; use TPESampler for several")
        done, pruned = self._observed(history)
        # Pruned trials with a value (their last report) count towards the start-up, as in TPE:
        # otherwise every start-up point a pruner stops adds another quasi-random one, and
        # pruning turns the search into QMC. Trials whose value a pruner's view hides (BOHB's
        # budgets) are no evidence at the modelled budget and do not count.
        seen = len(done) + int(np.count_nonzero(~np.isnan(history.Y[pruned, 0])))
        if seen < self.startup_size(space.dim) or len(done) < 2 or space.dim == 0:
            p = self._startup.sample(history, space, rng)
            p.attrs["sampler"] = "gp-startup"
            return p
        layout = self._layout(space)
        loss, U, model = self._model(history, space, layout, done)
        self._fit(model, history, space, layout, done)
        best_y = float(model.y.min())
        # Pending points: running trials, and pruned ones, whose final value is unknown too.
        # Without the pruned ones the variance where a pruner keeps stopping trials never
        # shrinks, and the acquisition proposes the same point again and again.
        running = np.concatenate([history.numbers(TrialState.RUNNING), pruned[-self.max_observations :]])
        if len(running):
            Ur = history.matrix(space, running)
            Ur = Ur[~np.all(np.isnan(Ur), axis=1)]
            model.add_fantasies(*self._encode(Ur, space, layout))
            # The believed values count as observations: no improvement is expected where they sit.
            best_y = float(min(best_y, model.y.min()))
        # Outcome constraints: expected improvement times the probability of feasibility (hyperdial.constraints).
        attrs: dict[str, Any] = {"sampler": "gp"}
        top = U[np.argsort(loss)[:5]]  # the best trials: starts for local candidates
        u = constrained_proposal(self, history, model, space, layout, done, top, rng, _Model)
        if u is None:
            u, optimum_tried = self._optimise_acquisition(model, space, layout, top, best_y, rng)
            if optimum_tried:
                attrs[OPTIMUM_TRIED_ATTR] = True
        return Proposal(space.decode(u), attrs)

    @staticmethod
    def _observed(history: History) -> tuple[np.ndarray, np.ndarray]:
        """(trials modelled at their value, pruned trials treated as pending), both by number.

        A pruned trial is observed at its last reported value when that value is an unbiased
        estimate of the final one (``system_attrs["partial_value"] == "unbiased"``, set by
        fold-level cross-validation: the running mean of the folds so far); other pruned
        trials (a learning curve cut short) are pending points with unknown values.
        """
        done = history.numbers(TrialState.COMPLETE)
        pruned = history.numbers(TrialState.PRUNED)
        if len(pruned):
            unbiased = np.array(
                [
                    history.trials[i].system_attrs.get(PARTIAL_VALUE_ATTR) == "unbiased"
                    and not np.isnan(history.Y[i]).any()
                    for i in pruned
                ],
                dtype=bool,
            )
            if unbiased.any():
                done = np.sort(np.concatenate([done, pruned[unbiased]]))
                pruned = pruned[~unbiased]
        return done, pruned

    def _model(
        self, history: History, space: SearchSpace, layout: Any, done: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, _Model]:
        """An unfitted model of these trials: (their losses, unit-cube rows, the model)."""
        loss = history.losses(done)[:, 0]
        if len(done) > self.max_observations:
            keep = np.unique(
                np.concatenate(
                    [
                        np.argsort(loss)[: self.max_observations // 2],
                        np.arange(len(done))[-self.max_observations // 2 :],
                    ]
                )
            )
            done, loss = done[keep], loss[keep]
        U = history.matrix(space, done)
        X, C = self._encode(U, space, layout)
        y = self._warp(loss)
        if self.uses_worst_mean(space.dim):
            y = y - y.max()  # the zero prior mean is now the worst value seen
        return loss, U, _Model(X, C, y)

    def _fit(self, model: _Model, history: History, space: SearchSpace, layout: Any, done: np.ndarray) -> None:
        """Fit the kernel hyperparameters, warm-started from the last full fit on a prefix of the history.

        A full fit (three L-BFGS-B starts) runs on the first ``c`` finished trials, ``c`` from
        :func:`refit_point`: every count below 20, then whenever the data grew by a fifth.
        In between, one L-BFGS-B run starts from that fit's optimum. The full fit depends
        only on those ``c`` trials and the study's seed, so a resumed study (or another
        process) recomputes the same state and proposes exactly what an uninterrupted one
        would; the in-memory cache only saves the recomputation.
        """
        c = refit_point(len(done))
        prefix = done[:c]
        key = (
            tuple((n, d.key) for n, d in space.dists.items()),
            self._seed,
            prefix.tobytes(),
            history.Y[prefix].tobytes(),
        )
        theta = self._fits.get(key)
        if theta is None:
            base = model if c == len(done) else self._model(history, space, layout, prefix)[2]
            theta = base.fit(None, np.random.default_rng([self._seed, c]), restarts=self._fit_starts(space.dim))
            self._fits[key] = theta
            while len(self._fits) > 4:
                self._fits.pop(next(iter(self._fits)))
        if c == len(done):
            model.set_params(theta)
        else:
            model.fit(theta, np.random.default_rng(0), restarts=0)

    @staticmethod
    def _fit_starts(dim: int) -> int:
        """L-BFGS-B starts of a full hyperparameter fit: 3 below 8 dimensions, then one per dimension.

        The ARD marginal likelihood gains local optima with its lengthscales; on 10-d BBOB
        (f10, f21; development seeds 5-19) ten starts instead of three raised the score at
        100 evaluations by 5.6 +- 2.9 points. The extra starts extend the same random stream,
        so the best marginal likelihood found can only rise. Below 8 dimensions more starts did
        not help (5-d BBOB: +1.4 +- 1.6; the scikit-learn problems: -2.0 +- 6.0).
        """
        return 3 if dim < 8 else dim

    def _candidates(self, space: SearchSpace, top: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # An integer seed, not the generator itself: scipy spawns a child from a generator's
        # SeedSequence, whose spawn counter lives outside the state a study repositions per trial.
        sob = qmc.Sobol(space.dim, scramble=True, rng=int(rng.integers(2**63))).random(self.n_candidates)
        local = []
        for row in top:
            base = np.where(np.isnan(row), rng.random(space.dim), row)
            local.append(np.clip(base + rng.normal(0, 0.05, (64, space.dim)), 0, 1))
            flip = base[None, :].repeat(16, 0)  # one coordinate resampled: moves along categoricals too
            idx = rng.integers(0, space.dim, 16)
            flip[np.arange(16), idx] = rng.random(16)
            local.append(flip)
        return np.vstack([sob, *local])

    def _score(self, model: _Model, U: np.ndarray, space: SearchSpace, layout: Any, best_y: float) -> np.ndarray:
        """``log EI + log sd`` of each row, computed once per distinct model input (``-inf`` where tried).

        Rows that encode alike (one int cell, one category) are one point to the model and
        get bitwise-equal scores, so ties break by row order rather than by floating-point
        noise that depends on memory alignment: a resumed study then picks the same start.
        """
        if space.conditions:
            U = np.where(space.active_mask(U), U, np.nan)
        X, C = self._encode(U, space, layout)
        rows, first, inverse = np.unique(np.hstack([X, C]), axis=0, return_index=True, return_inverse=True)
        mean, sd = model.predict(X[first], C[first])
        score = log_expected_improvement((best_y - mean) / sd) + np.log(sd)
        # A configuration already tried (or pending) teaches nothing new: in spaces of integers
        # and categories the acquisition can otherwise settle on one cell and propose it until
        # the budget runs out (seen on kNN's three discrete parameters).
        score[model.tried(rows)] = -np.inf
        return score[inverse.ravel()]

    def _optimise_acquisition(self, model, space, layout, top, best_y, rng) -> tuple[np.ndarray, bool]:
        """The unit-cube row to propose, and whether the acquisition's optimum was a tried point (so
        another was taken): the model then expects little anywhere, which a caller may act on."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Sobol's balance warning for n != 2**m
            cand = self._candidates(space, top, rng)
        score = self._score(model, cand, space, layout, best_y)
        order = np.argsort(-score, kind="stable")[: self.n_refine]
        best_u, best_s = cand[order[0]], score[order[0]]
        cont = [i for i, n in enumerate(space.names) if space.dists[n].size == math.inf]
        if not cont:
            return best_u, False
        # All starts refined together: one L-BFGS-B run on the sum of their (independent)
        # acquisitions, each evaluation one batched posterior with gradients.
        raws = cand[order]
        starts = np.where(space.active_mask(raws), raws, np.nan) if space.conditions else raws
        X0, C0 = self._encode(starts, space, layout)
        num_index = {i: j for j, i in enumerate(layout[0])}
        pos = [num_index[i] for i in cont]
        free = ~np.isnan(starts[:, cont])  # inactive parameters stay outside the cube
        x0 = np.where(free, starts[:, cont], 0.5)
        res = minimize(
            self._neg_acquisition_sum,
            x0.ravel(),
            args=(model, X0, C0, pos, free, best_y),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * x0.size,
            options={"maxiter": self.refine_maxiter},
        )
        V = np.clip(res.x.reshape(x0.shape), 0.0, 1.0)
        values = -self._acquisition(V, model, X0, C0, pos, free, best_y)[0]
        # L-BFGS-B stops on the box's bounds, so a refined point can land exactly on a point
        # already tried (a corner, or an edge shared with an earlier refinement); evaluating
        # it again teaches nothing (bbob-f15-2d lost 2-5 of 100 evaluations this way).
        X = X0.copy()
        X[:, pos] = np.where(free, V, _INACTIVE)
        tried = model.tried(np.hstack([X, C0]))
        b = int(np.argmin(values))
        optimum_tried = bool(tried[b] and np.isfinite(values[b]) and -values[b] > best_s)
        values[tried] = np.inf
        b = int(np.argmin(values))
        if np.isfinite(values[b]) and -values[b] > best_s:
            best_u = raws[b].copy()
            best_u[cont] = np.where(free[b], V[b], raws[b, cont])
        return best_u, optimum_tried

    @staticmethod
    def _acquisition(V, model: _Model, X0, C0, pos, free, best_y) -> tuple[np.ndarray, np.ndarray]:
        """``log EI + log sd`` at each row of ``V`` (the continuous inputs ``pos``) and its gradient.

        With ``z = (best - mu) / sd``: ``d log EI / dz = Phi(z) / (phi(z) + z Phi(z))`` (computed
        in log space, so it stays finite where EI underflows) and ``dz = -(dmu + z dsd) / sd``.
        """
        X = X0.copy()
        X[:, pos] = np.where(free, V, _INACTIVE)
        mean, sd, dmean, dsd = model.predict_grad(X, C0)
        z = (best_y - mean) / sd
        log_ei = log_expected_improvement(z)
        slope = np.exp(log_ndtr(z) - log_ei)[:, None]
        grad = slope * (-(dmean + z[:, None] * dsd) / sd[:, None]) + dsd / sd[:, None]
        return log_ei + np.log(sd), np.where(free, grad[:, pos], 0.0)

    @classmethod
    def _neg_acquisition_sum(cls, v, model: _Model, X0, C0, pos, free, best_y) -> tuple[float, np.ndarray]:
        value, grad = cls._acquisition(v.reshape(free.shape), model, X0, C0, pos, free, best_y)
        return -float(value.sum()), -grad.ravel()

    @classmethod
    def _neg_acquisition(cls, xc, model: _Model, X0, C0, pos, best_y) -> tuple[float, np.ndarray]:
        """``-(log EI + log sd)`` at one point (``X0`` with ``xc`` at ``pos``) and its gradient in ``xc``."""
        free = np.ones((1, len(pos)), dtype=bool)
        value, grad = cls._acquisition(np.asarray(xc)[None, :], model, X0, C0, pos, free, best_y)
        return -float(value[0]), -grad[0]

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        return dist.from_unit(rng.random())

    def __repr__(self) -> str:
        return f"GPSampler(n_startup_trials={self.n_startup_trials}, prior_mean={self.prior_mean!r})"
