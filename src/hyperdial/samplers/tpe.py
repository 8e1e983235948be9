"""Tree-structured Parzen estimator (Bergstra et al. 2011; Watanabe 2023).

The history is split into a "good" group (the best ``gamma(n)`` observations) and a
"bad" group (the rest, plus trials still running when ``constant_liar`` is on). Each
group gets a Parzen estimator: a weighted mixture with one kernel per observation and a
wide prior kernel. Candidates are drawn from the good estimator ``l`` and the one
maximising ``log l(x) - log g(x)`` is proposed (Bergstra et al. 2011, eq. 4 ordering of
expected improvement).

Everything works on the unit cube that :class:`~hyperdial.space.SearchSpace` defines:

* continuous parameters use a Gaussian truncated to ``[0, 1]``;
* int and stepped parameters use the same Gaussian *discretised* into their cells
  (the probability of a cell is the Gaussian mass over it), so the kernel knows the
  grid instead of rounding after the fact;
* categorical parameters use an Aitchison-Aitken kernel (the observed category keeps
  ``1 - b`` of the mass, the others share ``b``).

``multivariate=True`` (the default) uses one product kernel per observation over all
parameters of a group, so correlations between parameters are modelled (Falkner et al.
2018). Conditional parameters are grouped by the condition that activates them; each
active group is modelled only from the trials in which that group was active, after its
parents have been chosen. Several objectives are ranked by non-dominated sorting with
crowding distance breaking ties (after Ozaki et al. 2020, MOTPE).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, ndtri

from hyperdial.constraints import feasible_first
from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["TPESampler", "default_gamma", "nondominated_rank"]

_LOG_TINY = -700.0


def default_gamma(n: int) -> int:
    """Size of the good group: 10 % of the observations, at most 25 (Optuna's and Hyperopt's rule)."""
    return min(int(math.ceil(0.1 * n)), 25)


def _ramp_weights(n: int) -> np.ndarray:
    """Older bad observations weigh less once there are more than 25 (Bergstra et al. 2013)."""
    if n < 25:
        return np.ones(n)
    ramp = np.linspace(1.0 / n, 1.0, num=n - 25)
    return np.concatenate([ramp, np.ones(25)])


def nondominated_rank(losses: np.ndarray) -> np.ndarray:
    """Front index of each row (0 = Pareto front), all objectives minimised."""
    n = losses.shape[0]
    rank = np.full(n, -1)
    remaining = np.arange(n)
    front = 0
    while remaining.size:
        sub = losses[remaining]
        le = np.all(sub[:, None, :] <= sub[None, :, :], axis=2)
        lt = np.any(sub[:, None, :] < sub[None, :, :], axis=2)
        dominated = np.any(le & lt, axis=0)
        rank[remaining[~dominated]] = front
        remaining = remaining[dominated]
        front += 1
    return rank


def _crowding(losses: np.ndarray) -> np.ndarray:
    n, m = losses.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(losses[:, j], kind="stable")
        span = losses[order[-1], j] - losses[order[0], j]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (losses[order[2:], j] - losses[order[:-2], j]) / span
    return dist


def _order(losses: np.ndarray) -> np.ndarray:
    """Observation indices from best to worst."""
    if losses.shape[1] == 1:
        return np.argsort(losses[:, 0], kind="stable")
    rank = nondominated_rank(losses)
    crowd = np.zeros(len(rank))
    for r in np.unique(rank):
        sel = rank == r
        crowd[sel] = _crowding(losses[sel])
    return np.lexsort((-crowd, rank))


class _Parzen:
    """A mixture of per-observation kernels plus a prior kernel, over ``k`` unit-cube dimensions."""

    def __init__(self, obs: np.ndarray, weights: np.ndarray, cells: np.ndarray, is_cat: np.ndarray, prior: float):
        m, k = obs.shape
        self.k = k
        self.cells = cells
        self.is_cat = is_cat
        w = np.append(weights, prior * (weights.mean() if m else 1.0))
        self.log_w = np.log(w / w.sum())
        # Component centres; the prior's centre is 0.5 with a width covering the cube.
        self.mu = np.vstack([obs, np.full((1, k), 0.5)])
        scott = 0.2 * (m + 1) ** (-1.0 / (k + 4))
        lo = 1.0 / min(100.0, m + 1.0)
        sigma = np.full(k, min(max(scott, lo), 1.0))
        discrete = cells > 0
        sigma[discrete] = np.maximum(sigma[discrete], 0.5 / np.maximum(cells[discrete], 1))
        self.sigma = np.ones((m + 1, k))
        self.sigma[:m] = sigma
        # Truncation mass of each Gaussian on [0, 1].
        a, b = (0.0 - self.mu) / self.sigma, (1.0 - self.mu) / self.sigma
        self.log_z = np.log(np.maximum(ndtr(b) - ndtr(a), 1e-300))
        self.a, self.b = a, b
        # Categorical: observed cell and Aitchison-Aitken bandwidth per dimension.
        if is_cat.any():
            kc = np.maximum(cells, 1)
            self.cat_obs = np.where(is_cat, np.floor(self.mu * kc).clip(0, kc - 1), 0)
            kk = np.maximum(cells, 2).astype(float)
            self.cat_b = np.where(is_cat, (kk - 1) / kk * min(1.0, (m + 1) ** (-1.0 / (k + 4)) + 0.05), 0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        cdf = np.cumsum(np.exp(self.log_w))
        comp = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)
        mu, sigma = self.mu[comp], self.sigma[comp]
        lo, hi = ndtr(self.a[comp]), ndtr(self.b[comp])
        u = lo + rng.random((n, self.k)) * (hi - lo)
        x = mu + sigma * ndtri(np.clip(u, 1e-300, 1 - 1e-16))
        x = np.clip(x, 0.0, 1.0)
        cells = self.cells
        disc = cells > 0
        if disc.any():
            kc = np.maximum(cells, 1)
            x[:, disc] = (np.clip(np.floor(x[:, disc] * kc[disc]), 0, kc[disc] - 1) + 0.5) / kc[disc]
        cat = np.flatnonzero(self.is_cat)
        if cat.size:
            is_prior = comp == len(self.log_w) - 1
            for j in cat:
                K = int(cells[j])
                obs = self.cat_obs[comp, j].astype(int)
                keep = rng.random(n) >= self.cat_b[j]
                other = rng.integers(0, max(K - 1, 1), size=n)
                other = other + (other >= obs)  # uniform over the other categories
                choice = np.where(keep, obs, np.minimum(other, K - 1))
                choice = np.where(is_prior, rng.integers(0, K, size=n), choice)
                x[:, j] = (choice + 0.5) / K
        return x

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (shape ``(n, k)``) under the mixture."""
        cells = self.cells
        cont = (cells == 0) & ~self.is_cat
        total = np.broadcast_to(self.log_w, (x.shape[0], len(self.log_w))).copy()
        if cont.any():
            # Observation kernels share one width per dimension, so the squared distances of all
            # candidate / kernel pairs come from one matrix product instead of an (n, m, k) array.
            xc = x[:, cont]
            mu = self.mu[:-1, cont]
            inv = 1.0 / self.sigma[0, cont] ** 2
            q = (xc * xc) @ inv
            q = q[:, None] - 2.0 * (xc * inv) @ mu.T + ((mu * mu) @ inv)[None, :]
            norm = np.log(self.sigma[:, cont]).sum(axis=1) + self.log_z[:, cont].sum(axis=1)
            norm += 0.5 * math.log(2 * math.pi) * cont.sum()
            total[:, :-1] -= 0.5 * np.maximum(q, 0.0) + norm[None, :-1]
            zp = (xc - self.mu[-1, cont]) / self.sigma[-1, cont]
            total[:, -1] -= 0.5 * (zp * zp).sum(axis=1) + norm[-1]
        for j in np.flatnonzero(~cont):
            mu, sigma, log_z = self.mu[:, j], self.sigma[:, j], self.log_z[:, j]
            if self.is_cat[j]:
                K = int(cells[j])
                c = np.floor(x[:, j] * K).clip(0, K - 1)[:, None]
                b = self.cat_b[j]
                same = c == self.cat_obs[:, j][None, :]
                lp = np.where(same, math.log(max(1.0 - b, 1e-300)), math.log(max(b / max(K - 1, 1), 1e-300)))
                lp[:, -1] = -math.log(K)  # the prior is uniform
            else:
                K = cells[j]
                c = np.floor(x[:, j] * K).clip(0, K - 1)[:, None]
                mass = ndtr(((c + 1) / K - mu) / sigma) - ndtr((c / K - mu) / sigma)
                lp = np.log(np.maximum(mass, 1e-300)) - log_z
            total += lp
        top = total.max(axis=1)
        return top + np.log(np.exp(total - top[:, None]).sum(axis=1))


class TPESampler(Sampler):
    """Tree-structured Parzen estimator.

    Args:
        n_startup_trials: Trials proposed by a scrambled Sobol' sequence before the model starts.
        n_ei_candidates: Candidates drawn from the good estimator per proposal.
        gamma: ``n -> size of the good group``; :func:`default_gamma` by default.
        multivariate: One joint kernel over all parameters of a group (True) or one per parameter.
        prior_weight: Weight of the wide prior kernel relative to an average observation.
        constant_liar: Count trials still running as bad observations, so parallel workers
            spread out instead of proposing the same point.
        consider_pruned: Use pruned trials (ranked after complete ones, later-pruned first).
        max_bad: Keep at most this many bad observations (the newest: older ones weigh ~1/n).

    Example:
        >>> import hyperdial
        >>> study = hyperdial.create_study(sampler=TPESampler(), seed=0)
        >>> study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 2) ** 2, n_trials=40, show_progress=False)
        >>> abs(study.best_params["x"] - 2) < 0.5
        True
    """

    name = "tpe"
    joint = True

    def __init__(
        self,
        *,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Any = None,
        multivariate: bool = True,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        consider_pruned: bool = True,
        max_bad: int = 1000,
    ) -> None:
        for label, v, lo in (("n_startup_trials", n_startup_trials, 0), ("n_ei_candidates", n_ei_candidates, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"TPESampler: {label} must be an integer >= {lo}, got {v!r}")
        if not prior_weight > 0:
            raise ValueError(f"TPESampler: prior_weight must be > 0, got {prior_weight!r}")
        if gamma is not None and not callable(gamma):
            raise TypeError("TPESampler: gamma must be a function n -> size of the good group")
        self.n_startup_trials = n_startup_trials
        self.n_ei_candidates = n_ei_candidates
        self.gamma = gamma or default_gamma
        self.multivariate = multivariate
        self.prior_weight = float(prior_weight)
        self.constant_liar = constant_liar
        self.consider_pruned = consider_pruned
        if isinstance(max_bad, bool) or not isinstance(max_bad, int) or max_bad < 25:
            raise ValueError(f"TPESampler: max_bad must be an integer >= 25, got {max_bad!r}")
        self.max_bad = max_bad
        self._startup = QMCSampler("sobol")
        self._ranking_cache: tuple[int, Any] | None = None
        self._space_info: tuple[SearchSpace, Any, list[list[int]]] | None = None

    def bind(self, seed: int) -> None:
        self._startup.bind(seed)

    # -- observations ---------------------------------------------------------------------------
    def _ranking(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ordered observation numbers best first, the numbers of running trials, n complete)."""
        key = history.version
        if self._ranking_cache is not None and self._ranking_cache[0] == key and self._ranking_cache[1] is history:
            return self._ranking_cache[2]
        done = history.numbers(TrialState.COMPLETE)
        ordered = done[_order(history.losses(done))] if len(done) else done
        ordered = feasible_first(history, done, ordered)  # infeasible trials go to the "bad" group
        if self.consider_pruned:
            pruned = history.numbers(TrialState.PRUNED)
            if len(pruned):
                Y = history.losses(pruned)
                has = ~np.isnan(Y).any(axis=1)
                pruned = pruned[has]
                steps = np.array([history.trials[i].last_step or 0 for i in pruned])
                if len(pruned):
                    later_first = np.lexsort((history.losses(pruned)[:, 0], -steps))
                    ordered = np.concatenate([ordered, pruned[later_first]])
        running = history.numbers(TrialState.RUNNING) if self.constant_liar else np.empty(0, dtype=int)
        out = (ordered, running, len(done))
        self._ranking_cache = (key, history, out)
        return out

    def _fit_sample(
        self,
        X: np.ndarray,
        n_good: int,
        order_numbers: np.ndarray,
        running_X: np.ndarray,
        cells: np.ndarray,
        is_cat: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """One proposal for the dimensions in ``X`` (rows in best-first order, no nan)."""
        good = X[:n_good]
        bad = np.vstack([X[n_good:], running_X]) if len(running_X) else X[n_good:]
        bad_numbers = np.concatenate([order_numbers[n_good:], np.full(len(running_X), np.iinfo(np.int64).max)])
        if len(bad) < 25:
            w_bad = np.ones(len(bad))
        else:
            w_bad = np.empty(len(bad))
            w_bad[np.argsort(bad_numbers, kind="stable")] = _ramp_weights(len(bad))
            if len(bad) > self.max_bad:
                # The ramp gives the oldest observations weights near 1/n: keeping the newest
                # max_bad changes the estimator little and bounds the cost of long studies.
                keep = np.argsort(-w_bad, kind="stable")[: self.max_bad]
                bad, w_bad = bad[keep], w_bad[keep]
        l_est = _Parzen(good, np.ones(len(good)), cells, is_cat, self.prior_weight)
        g_est = _Parzen(bad, w_bad, cells, is_cat, self.prior_weight)
        cand = l_est.sample(self.n_ei_candidates, rng)
        score = l_est.log_pdf(cand) - g_est.log_pdf(cand)
        return cand[int(np.argmax(score))]

    @staticmethod
    def _kinds(dists: list[Distribution]) -> tuple[np.ndarray, np.ndarray]:
        cells = np.array([0 if d.size == math.inf else int(d.size) for d in dists], dtype=float)
        is_cat = np.array([isinstance(d, Categorical) for d in dists])
        return cells, is_cat

    # -- proposals ------------------------------------------------------------------------------
    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        ordered, running, n_done = self._ranking(history)
        if n_done < self.n_startup_trials or len(ordered) < 2 or space.dim == 0:
            p = self._startup.sample(history, space, rng)
            p.attrs["sampler"] = "tpe-startup"
            return p
        X_all = history.matrix(space, ordered)
        R_all = history.matrix(space, running) if len(running) else np.empty((0, space.dim))
        if self._space_info is None or self._space_info[0] is not space:
            kinds = self._kinds([space.dists[n] for n in space.names])
            self._space_info = (space, kinds, self._groups(space))
        _, (cells, is_cat), groups = self._space_info
        u = np.full(space.dim, np.nan)
        for dims in groups:
            if space.conditions:
                probe = u.copy()
                probe[np.isnan(probe)] = 0.5
                if not space.active_mask(probe[None, :])[0][dims[0]]:
                    continue
            rows = ~np.isnan(X_all[:, dims]).any(axis=1)
            X = X_all[rows][:, dims]
            if len(X) < 2:
                u[dims] = rng.random(len(dims))
                continue
            n_good = max(1, min(self.gamma(len(X)), len(X) - 1))
            R = R_all[:, dims]
            R = R[~np.isnan(R).any(axis=1)]
            if self.multivariate:
                u[dims] = self._fit_sample(X, n_good, ordered[rows], R, cells[dims], is_cat[dims], rng)
            else:
                for j, d in enumerate(dims):
                    u[d] = self._fit_sample(X[:, [j]], n_good, ordered[rows], R[:, [j]], cells[[d]], is_cat[[d]], rng)[
                        0
                    ]
        return Proposal(space.decode(np.nan_to_num(u, nan=0.5)), {"sampler": "tpe"})

    def _groups(self, space: SearchSpace) -> list[list[int]]:
        """Dimensions grouped by the condition that activates them, parents' groups first."""
        groups: dict[Any, list[int]] = {}
        for i, name in enumerate(space.names):
            cond = space.conditions.get(name)
            key = None if cond is None else tuple(sorted((p, tuple(map(repr, v))) for p, v in cond.items()))
            groups.setdefault(key, []).append(i)
        return sorted(groups.values(), key=lambda g: g[0])

    def sample_one(self, history: History, name: str, dist: Distribution, rng: np.random.Generator) -> Any:
        ordered, running, n_done = self._ranking(history)
        col = history.columns.get((name, dist.key))
        if n_done < self.n_startup_trials or col is None:
            return dist.from_unit(rng.random())
        x = history.X[ordered, col]
        keep = ~np.isnan(x)
        X = x[keep][:, None]
        if len(X) < 2:
            return dist.from_unit(rng.random())
        r = history.X[running, col] if len(running) else np.empty(0)
        R = r[~np.isnan(r)][:, None]
        n_good = max(1, min(self.gamma(len(X)), len(X) - 1))
        cells, is_cat = self._kinds([dist])
        u = self._fit_sample(X, n_good, ordered[keep], R, cells, is_cat, rng)
        return dist.from_unit(float(u[0]))

    def __repr__(self) -> str:
        return f"TPESampler(multivariate={self.multivariate}, n_startup_trials={self.n_startup_trials})"
