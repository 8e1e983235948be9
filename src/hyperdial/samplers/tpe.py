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
parents have been chosen. Several objectives follow MOTPE (Ozaki et al. 2020; 2022 JAIR):
the good group is filled front by front, the front that does not fit is cut by greedy
hypervolume subset selection, and good kernels are weighted by their hypervolume contribution
(see :mod:`hyperdial.samplers._motpe`). Outcome constraints with one objective follow c-TPE
(Watanabe & Hutter 2023): one density ratio per constraint next to the objective's (see
``constraint_model``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, ndtri

from hyperdial.constraints import any_violation, constraint_matrix, feasible_first, violations
from hyperdial.samplers._motpe import motpe_good_weights, motpe_ranking
from hyperdial.samplers.base import Proposal, Sampler
from hyperdial.samplers.qmc import QMCSampler
from hyperdial.space import Categorical, Distribution, SearchSpace
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.history import History

__all__ = ["TPESampler", "default_gamma"]

_LOG_TINY = -700.0
# The reductions behind ndarray.sum / max / all / any, called without their Python wrappers
# (the same C loops, so the same numbers; the wrappers cost more than the work on small arrays).
_SUM, _MAX, _ALL, _ANY = np.add.reduce, np.maximum.reduce, np.logical_and.reduce, np.logical_or.reduce
_RUNNING = np.iinfo(np.int64).max  # the trial number given to running trials in the bad group
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PRIOR_MASS = math.log(ndtr(0.5) - ndtr(-0.5))  # log P(0 <= N(0.5, 1) <= 1)
_PRIOR_LO = float(ndtr(-0.5 / 1.0))  # the prior kernel N(0.5, 1): ndtr at the cube's lower end
_PRIOR_WIDTH = float(ndtr((1.0 - 0.5) / 1.0) - ndtr(-0.5 / 1.0))  # and its mass inside the cube
#: With several objectives and no ``n_ei_candidates``: this many candidates per started
#: :data:`MULTI_OBJECTIVE_EI_DIMS` dimensions of the joint kernel.
MULTI_OBJECTIVE_EI_CANDIDATES = 24
MULTI_OBJECTIVE_EI_DIMS = 8


def default_gamma(n: int) -> int:
    """Size of the good group: 10 % of the observations, at most 25 (Optuna's and Hyperopt's rule)."""
    return min(int(math.ceil(0.1 * n)), 25)


def _ramp_of_ranks(ranks: np.ndarray, n: int) -> np.ndarray:
    """Weights of ``n`` bad observations by age rank (0 = oldest; Bergstra et al. 2013).

    Once there are 25 or more, all but the newest 25 ramp linearly from ``1 / n`` up to 1
    (``np.linspace(1 / n, 1, n - 25)``), so older observations weigh less; computed from the
    ranks directly, since ``n`` grows by one per proposal and a cached ramp would never hit.
    """
    if n < 25:
        return np.ones(len(ranks))
    step = (1.0 - 1.0 / n) / (n - 26) if n > 26 else 0.0
    return np.where(ranks < n - 25, 1.0 / n + ranks * step, 1.0)


def _rank_by_number(numbers: np.ndarray) -> np.ndarray:
    """Rank of each entry of ``numbers`` (distinct, non-negative, plus ``_RUNNING``) in ascending order.

    Trial numbers are small distinct integers, so a counting pass replaces an O(m log m) sort.
    Running trials (``_RUNNING``) rank last, in their given order, as a stable sort puts them.
    """
    top = int(_MAX(numbers)) + 1 if len(numbers) else 0
    if top <= _RUNNING:  # no running trial
        seen = np.zeros(top, dtype=np.intp)
        seen[numbers] = 1
        return seen.cumsum().take(numbers) - 1
    real = numbers < _RUNNING
    rank = np.empty(len(numbers), dtype=np.intp)
    rank[real] = _rank_by_number(numbers[real]) if real.any() else 0
    n_real = int(real.sum())
    rank[~real] = np.arange(n_real, len(numbers))
    return rank


class _Kinds:
    """Which unit-cube dimensions are continuous, on a grid (int / stepped) or categorical."""

    __slots__ = ("cells", "is_cat", "discrete", "cont", "n_cont", "grid", "cat", "widths", "_per_sigma")

    def __init__(self, cells: np.ndarray, is_cat: np.ndarray) -> None:
        self.cells, self.is_cat = cells, is_cat
        self.discrete = cells > 0
        self.cont = ~(self.discrete | is_cat)
        self.n_cont = int(self.cont.sum())
        self.grid = np.flatnonzero(self.discrete & ~is_cat)
        self.cat = np.flatnonzero(is_cat)
        self.widths = [int(cells[j]) for j in self.cat]
        self._per_sigma: dict[bytes, tuple[np.ndarray, np.ndarray, Any, np.ndarray]] = {}

    def of_sigma(self, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
        """``(s, 1 / s^2, sum(log s) + n_cont log sqrt(2 pi), -1 / (2 s^2))`` over the continuous
        dimensions, computed once per bandwidth vector (it changes once per grid step of ``m``)."""
        key = sigma.tobytes()
        hit = self._per_sigma.get(key)
        if hit is None:
            s = sigma[self.cont]
            inv = 1.0 / (s * s)
            if len(self._per_sigma) > 64:
                self._per_sigma.clear()
            hit = self._per_sigma[key] = (s, inv, np.log(s).sum() + _LOG_SQRT_2PI * self.n_cont, -0.5 * inv)
        return hit


_BANDWIDTHS: dict[tuple[float, bytes, bytes], np.ndarray] = {}


def bandwidths(m: int, cells: np.ndarray, is_cat: np.ndarray) -> np.ndarray:
    """Kernel width per dimension for a group of ``m`` observations.

    Scott's rule ``0.2 (m + 1)^(-1 / (k + 4))`` on the unit cube, at least ``1 / min(100, m + 1)``,
    and at least half a cell for int / stepped / categorical dimensions. ``m + 1`` is rounded
    down to a grid of eight steps per doubling (the width moves by ~1 % a step), so the width
    of a large group stays the same for many proposals and each kernel's truncation mass can
    be cached instead of recomputed.
    """
    k = len(cells)
    size = 2.0 ** (math.floor(8.0 * math.log2(m + 1) + 1e-9) / 8.0)
    scott = 0.2 * size ** (-1.0 / (k + 4))
    lo = 1.0 / min(100.0, m + 1.0)
    width = min(max(scott, lo), 1.0)
    key = (width, cells.tobytes(), is_cat.tobytes())  # the same for every m of a grid step
    hit = _BANDWIDTHS.get(key)
    if hit is not None:
        return hit.copy()
    sigma = np.full(k, width)
    discrete = cells > 0
    if discrete.any():
        sigma[discrete] = np.maximum(sigma[discrete], 0.5 / np.maximum(cells[discrete], 1))
    if len(_BANDWIDTHS) > 4096:
        _BANDWIDTHS.clear()
    _BANDWIDTHS[key] = sigma
    return sigma.copy()


def truncation_log_mass(mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``sum_j log P(0 <= N(mu_ij, s_j^2) <= 1)`` per row: the log mass of each kernel inside the cube."""
    z = ndtr((1.0 - mu) / s)
    z -= ndtr(-mu / s)
    np.maximum(z, 1e-300, out=z)
    return _SUM(np.log(z), axis=1)


class _Features:
    """Candidate-side factors shared by the two estimators: continuous values, their squares and
    one-hot codes of the categorical dimensions (computed once per proposal)."""

    __slots__ = ("B", "sq", "prior_sq", "x")

    def __init__(
        self, x: np.ndarray, cont: np.ndarray, cat: np.ndarray, cells: np.ndarray, codes: list[np.ndarray] | None = None
    ) -> None:
        """``codes``: the categories of the categorical dimensions when known (as :meth:`_Parzen.draw`
        gives them); otherwise read from ``x``."""
        n = len(x)
        xc = x[:, cont]
        nc = xc.shape[1]
        widths = [int(cells[j]) for j in cat]
        # Columns: continuous values, one-hot categories, a constant 1, squared continuous values.
        B = np.zeros((n, 2 * nc + sum(widths) + 1))
        B[:, :nc] = xc
        off = nc
        rows = np.arange(n)
        for i, (j, K) in enumerate(zip(cat, widths)):
            if codes is None:
                c = (x[:, j] * K).astype(np.intp)
                np.minimum(c, K - 1, out=c)
            else:
                c = codes[i]
            B[rows, off + c] = 1.0
            off += K
        B[:, off] = 1.0
        sq = B[:, off + 1 :]
        np.multiply(xc, xc, out=sq)
        self.B, self.x, self.sq = B, x, sq
        self.prior_sq = -0.5 * (_SUM(sq, axis=1) - _SUM(xc, axis=1) + 0.25 * nc)


class _Parzen:
    """A mixture of per-observation kernels plus a prior kernel, over ``k`` unit-cube dimensions.

    Every observation kernel shares one bandwidth per dimension, so the log kernels of all
    candidate / observation pairs over the continuous and categorical dimensions come from
    one matrix product: ``-(x - mu)^2 / (2 s^2) = -x^2 / (2 s^2) + x mu / s^2 - mu^2 / (2 s^2)``,
    and an Aitchison-Aitken kernel is ``log(b / (K - 1)) + delta * [x == c]`` with
    ``delta = log(1 - b) - log(b / (K - 1))``, a product of one-hot codes. What does not
    depend on the candidate is folded into one constant per component when the estimator is
    built; int and stepped dimensions (a Gaussian's mass over a cell) are added per dimension.
    """

    def __init__(
        self,
        obs: np.ndarray,
        weights: np.ndarray,
        cells: np.ndarray,
        is_cat: np.ndarray,
        prior: float,
        log_z: np.ndarray | None = None,
        kinds: _Kinds | None = None,
        sigma: np.ndarray | None = None,
    ):
        m, k = obs.shape
        self.k, self.m = k, m
        self.cells = cells
        self.is_cat = is_cat
        kinds = kinds or _Kinds(cells, is_cat)
        w = np.empty(m + 1)
        w[:m] = weights
        w[m] = prior * (_SUM(w[:m]) / m if m else 1.0)
        self.log_w = np.log(w * (1.0 / _SUM(w)))
        self.obs = obs
        if sigma is None:
            sigma = bandwidths(m, cells, is_cat)
        self.sd = sigma  # the observation kernels'; the prior's is 1
        self.cont = cont = kinds.cont
        self.grid = kinds.grid  # int and stepped dimensions
        self.cat = kinds.cat
        n_cont = kinds.n_cont
        widths = kinds.widths
        D = n_cont + sum(widths)
        G = np.zeros((m, 2 * n_cont + sum(widths) + 1))  # matches the columns of _Features.B
        const = self.log_w[:m].copy()
        prior_const = float(self.log_w[m])
        self.inv = np.empty(0)
        # Continuous: truncated Gaussians on [0, 1]; z is each kernel's mass inside the cube.
        if n_cont:
            mu = obs[:, cont]
            s, inv, log_norm, half_inv = kinds.of_sigma(sigma)
            self.inv = inv
            G[:, :n_cont] = mu * inv
            const -= truncation_log_mass(mu, s) if log_z is None else log_z
            const -= 0.5 * ((mu * mu) @ inv)
            const -= log_norm
            prior_const -= n_cont * (_LOG_PRIOR_MASS + _LOG_SQRT_2PI)
        # Categorical: Aitchison-Aitken; the observed category keeps 1 - b of the mass.
        self.cat_obs: list[np.ndarray] = []
        self.cat_b: list[float] = []
        off = n_cont
        rows = np.arange(m)
        for j, K in zip(self.cat, widths):
            c = (obs[:, j] * K).astype(np.intp)
            np.minimum(c, K - 1, out=c)
            b = (max(K, 2) - 1) / max(K, 2) * min(1.0, (m + 1) ** (-1.0 / (k + 4)) + 0.05)
            log_other = math.log(max(b / max(K - 1, 1), 1e-300))
            G[rows, off + c] = math.log(max(1.0 - b, 1e-300)) - log_other
            off += K
            const += log_other
            prior_const -= math.log(K)
            self.cat_obs.append(c)
            self.cat_b.append(b)
        G[:, D] = const
        if n_cont:
            G[:, D + 1 :] = half_inv
        self.G = G
        self._tables: tuple[np.ndarray, float, np.ndarray, list[np.ndarray]] | None = None
        self.const = const
        self.prior_const = prior_const
        if len(self.grid):
            mu = obs[:, self.grid]
            s = sigma[self.grid]
            self.grid_log_z = np.log(np.maximum(ndtr((1.0 - mu) / s) - ndtr(-mu / s), 1e-300))
            self.prior_grid_log_z = _LOG_PRIOR_MASS

    def log_pdf(self, x: np.ndarray, features: _Features | None = None) -> np.ndarray:
        """Log density (a log probability over int, stepped and categorical dimensions) of each row of ``x``."""
        f = features if features is not None else _Features(x, self.cont, self.cat, self.cells)
        obs = f.B @ self.G.T  # every continuous and categorical log kernel, constants included
        prior = self.prior_const + f.prior_sq
        for i, j in enumerate(self.grid):
            K = self.cells[j]
            lo = np.clip(np.floor(x[:, j] * K), 0, K - 1)[:, None] / K
            s = self.sd[j]
            mu = self.obs[:, j][None, :]
            mass = ndtr((lo + 1.0 / K - mu) / s) - ndtr((lo - mu) / s)
            obs += np.log(np.maximum(mass, 1e-300)) - self.grid_log_z[:, i]
            pm = ndtr(lo[:, 0] + 1.0 / K - 0.5) - ndtr(lo[:, 0] - 0.5)
            prior = prior + np.log(np.maximum(pm, 1e-300)) - self.prior_grid_log_z
        top = np.maximum(_MAX(obs, axis=1), prior) if self.m else prior
        obs -= top[:, None]
        np.exp(obs, out=obs)
        return top + np.log(_SUM(obs, axis=1) + np.exp(prior - top))

    def _draw_tables(self) -> tuple[np.ndarray, float, np.ndarray, list[np.ndarray]]:
        """What :meth:`sample` needs of the components, computed once per estimator: the cumulative
        weights and their total; per component (the prior last) its centre, ``ndtr`` at the cube's
        lower end, mass inside the cube and width, side by side; and its categorical codes (the
        prior's is a placeholder, its draw replaces it). Elementwise, so the numbers a per-draw
        computation gives."""
        tables = self._tables
        if tables is None:
            m, k = self.m, self.k
            cdf = np.cumsum(np.exp(self.log_w))
            table = np.empty((m + 1, 4 * k))
            mu, lo, width, sd = table[:, :k], table[:, k : 2 * k], table[:, 2 * k : 3 * k], table[:, 3 * k :]
            mu[:m] = self.obs
            sd[:m] = self.sd
            lo[:m] = ndtr(-self.obs / self.sd)
            width[:m] = ndtr((1.0 - self.obs) / self.sd) - lo[:m]
            mu[m], lo[m], width[m], sd[m] = 0.5, _PRIOR_LO, _PRIOR_WIDTH, 1.0  # the prior kernel: N(0.5, 1)
            codes = [np.append(c, 0) for c in self.cat_obs]
            tables = self._tables = (cdf, float(cdf[-1]), table, codes)
        return tables

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.draw(n, rng)[0]

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        """``n`` draws and the category of each draw in each categorical dimension."""
        cdf, total, table, codes = self._draw_tables()
        m, k = self.m, self.k
        comp = cdf.searchsorted(rng.random(n) * total, side="right")
        np.minimum(comp, m, out=comp)
        rows = table.take(comp, axis=0)
        mu, lo, width, sigma = rows[:, :k], rows[:, k : 2 * k], rows[:, 2 * k : 3 * k], rows[:, 3 * k :]
        u = lo + rng.random((n, k)) * width
        x = mu + sigma * ndtri(u.clip(1e-300, 1 - 1e-16))
        x.clip(0.0, 1.0, out=x)
        cells = self.cells
        if len(self.grid):  # int / stepped: the centre of the cell; categorical ones are drawn below
            kc = cells[self.grid]
            x[:, self.grid] = (np.clip(np.floor(x[:, self.grid] * kc), 0, kc - 1) + 0.5) / kc
        chosen = []
        if len(self.cat):
            is_prior = comp == m
        for i, j in enumerate(self.cat):
            K = int(cells[j])
            obs = codes[i].take(comp)
            keep = rng.random(n) >= self.cat_b[i]
            other = rng.integers(0, max(K - 1, 1), size=n)
            other += other >= obs  # uniform over the other categories
            np.minimum(other, K - 1, out=other)
            choice = np.where(keep, obs, other)
            choice = np.where(is_prior, rng.integers(0, K, size=n), choice)
            x[:, j] = (choice + 0.5) / K
            chosen.append(choice)
        return x, chosen


class TPESampler(Sampler):
    """Tree-structured Parzen estimator.

    Args:
        n_startup_trials: Trials proposed by a scrambled Sobol' sequence before the model starts.
        n_ei_candidates: Candidates drawn from the good estimator per proposal; by default 24,
            and with several objectives (MOTPE) 24 per started 8 dimensions of the joint kernel
            (``24 * ceil(k / 8)``: 24 up to 8 dimensions, 96 for 30): the good group then
            spreads along the Pareto front, up to 25 kernels weighted by hypervolume
            contribution, and in many dimensions 24 draws (about one per kernel) choose mostly
            which kernel, hardly where near it. On 30-d ZDT1-3, 96 measured better than 24 and 48
            and as well as 192; on a 5-d scikit-learn problem 24 measured better than 96
            (benchmarks/RESULTS.md, "NSGA-II and multi-objective TPE vs Optuna").
        gamma: ``n -> size of the good group``; :func:`default_gamma` by default.
        multivariate: One joint kernel over all parameters of a group (True) or one per parameter.
        prior_weight: Weight of the wide prior kernel relative to an average observation.
        constant_liar: Count trials still running as bad observations, so parallel workers
            spread out instead of proposing the same point.
        consider_pruned: Use pruned trials (ranked after complete ones, later-pruned first).
        max_bad: Keep at most this many bad observations (the newest: older ones weigh ~1/n).
        constraint_model: How outcome constraints (``Trial.set_constraints``) enter a
            single-objective search. ``"ctpe"`` (default): c-TPE (Watanabe & Hutter 2023).
            The objective's good group is the best trials by value, feasible or not, up to the
            ``k = gamma(n)``-th feasible one; each constraint gets its own pair of estimators
            (trials that satisfy it / that violate it); candidates come from every good
            estimator and the proposal maximises ``sum_i -log(q_i + (1 - q_i) g_i(x) / l_i(x))``
            over the objective and the constraints, ``q_i`` the share of trials in the good
            group of ``i``; a constraint every trial satisfies drops out. While feasible trials
            are scarce (fewer than ``k``), the objective's good group is the best ``k`` by value
            and a constraint's the ``k`` least violating trials, so the search keeps both the
            objective's signal and a pull toward feasibility (c-TPE itself drops the objective
            then). ``"rank"``: one good / bad split with infeasible trials ranked after every
            feasible one, least violating first (Deb's rules). Several objectives always use
            ``"rank"`` (with MOTPE among the feasible trials): c-TPE is defined for one objective.

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
        n_ei_candidates: int | None = None,
        gamma: Any = None,
        multivariate: bool = True,
        prior_weight: float = 1.0,
        constant_liar: bool = True,
        consider_pruned: bool = True,
        max_bad: int = 1000,
        constraint_model: str = "ctpe",
    ) -> None:
        for label, v, lo in (("n_startup_trials", n_startup_trials, 0), ("n_ei_candidates", n_ei_candidates, 1)):
            if v is None and label == "n_ei_candidates":
                continue
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
        if constraint_model not in ("ctpe", "rank"):
            raise ValueError(f"TPESampler: constraint_model must be 'ctpe' or 'rank', got {constraint_model!r}")
        self.constraint_model = constraint_model
        self._startup = QMCSampler("sobol")
        self._ranking_cache: tuple[int, Any] | None = None
        self._space_info: tuple[SearchSpace, Any, list[tuple[list[int], np.ndarray, np.ndarray]]] | None = None
        self._log_z: dict[Any, tuple[bytes, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._kinds_cache: dict[tuple[bytes, bytes], _Kinds] = {}
        self._sorted: tuple[Any, ...] | None = None
        self._good_cache: dict[Any, tuple[tuple[Any, ...], _Parzen]] = {}

    def bind(self, seed: int) -> None:
        self._startup.bind(seed)

    # -- observations ---------------------------------------------------------------------------
    def _best_first(self, history: History, done: np.ndarray) -> np.ndarray:
        """Complete trials best first (ties by number), extended by insertion while trials only complete.

        A full sort costs O(n log n) per proposal; when the previous call's trials are a
        prefix of ``done`` with unchanged values, the new ones are inserted after their equals,
        which gives exactly the order of a stable sort.
        """
        if not len(done) or history.n_objectives != 1:
            # Several objectives: _ranking re-ranks the feasible trials (MOTPE); the rest go by violation.
            return done
        loss = history.Y[:, 0].take(done) * history.sign[0]  # history.losses(done)[:, 0], one column
        prev = self._sorted
        if prev is not None and prev[0] is history and len(prev[1]) <= len(done):
            k = len(prev[1])
            if _ALL(prev[1] == done[:k]) and _ALL(prev[2] == loss[:k]):
                sorted_loss, sorted_numbers = prev[3], prev[4]
                if k + 1 == len(done):  # the common case, one new trial: two slices around it
                    at = int(sorted_loss.searchsorted(loss[k], side="right"))
                    sorted_loss = np.concatenate((sorted_loss[:at], loss[k:], sorted_loss[at:]))
                    sorted_numbers = np.concatenate((sorted_numbers[:at], done[k:], sorted_numbers[at:]))
                elif k < len(done):
                    at = np.searchsorted(sorted_loss, loss[k:], side="right")
                    sorted_loss = np.insert(sorted_loss, at, loss[k:])
                    sorted_numbers = np.insert(sorted_numbers, at, done[k:])
                self._sorted = (history, done, loss, sorted_loss, sorted_numbers)
                return sorted_numbers
        order = np.argsort(loss, kind="stable")
        self._sorted = (history, done, loss, loss[order], done[order])
        return done[order]

    def _ranking(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ordered observation numbers best first, the numbers of running trials, n observations).

        Pruned trials count as observations for the start-up, as they do in the model: under
        ASHA / Hyperband most trials are pruned, and counting only COMPLETE ones kept the
        sampler in its quasi-random start-up for most of the run.
        """
        key = history.version
        if self._ranking_cache is not None and self._ranking_cache[0] == key and self._ranking_cache[1] is history:
            return self._ranking_cache[2]
        states = history.S[: len(history.trials)]  # history.numbers(state), without its wrappers
        done = (states == int(TrialState.COMPLETE)).nonzero()[0]
        ordered = self._best_first(history, done)
        violated = len(done) > 0 and any_violation(history)
        ctpe = (
            violated
            and self.constraint_model == "ctpe"
            and history.n_objectives == 1
            and bool(np.any(violations(history, done) > 0))
        )
        if violated and not ctpe:  # (with no violation anywhere feasible_first keeps the order)
            ordered = feasible_first(history, done, ordered)  # infeasible trials go to the "bad" group
        if self.consider_pruned:
            pruned = (states == int(TrialState.PRUNED)).nonzero()[0]
            if len(pruned):
                Y = history.losses(pruned)
                has = ~np.isnan(Y).any(axis=1)
                pruned = pruned[has]
                steps = np.array([history.trials[i].last_step or 0 for i in pruned])
                if len(pruned):
                    later_first = np.lexsort((history.losses(pruned)[:, 0], -steps))
                    ordered = np.concatenate([ordered, pruned[later_first]])
        if history.n_objectives > 1:  # fronts, the cut front by hypervolume subset selection (MOTPE)
            n_good = max(1, min(self.gamma(len(ordered)), len(ordered) - 1))
            ordered = motpe_ranking(history, ordered, len(done), n_good)
        running = (states == int(TrialState.RUNNING)).nonzero()[0] if self.constant_liar else np.empty(0, dtype=int)
        out = (ordered, running, len(ordered))
        cons = None
        if ctpe:  # c-TPE: the constraint values of the observations (pruned ones: unknown)
            cons = constraint_matrix(history, ordered)
            cons[len(done) :] = np.nan
        self._ranking_cache = (key, history, out, cons)
        return out

    def _constraints(self, history: History) -> np.ndarray | None:
        """The constraint values of :meth:`_ranking`'s observations (rows in its order, nan
        unknown), or None when c-TPE is off (one good / bad split)."""
        self._ranking(history)
        assert self._ranking_cache is not None
        return self._ranking_cache[3]

    def _ctpe_split(self, cons: np.ndarray, X: np.ndarray) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
        """c-TPE's objective split (good-group size) and per-constraint (good rows, bad rows) of ``X``.

        With ``k = gamma(n)``: the objective's good group is the shortest best-first prefix that
        holds ``k`` feasible observations, or the best ``k`` by value, feasible or not, while
        fewer are feasible. A constraint's good group is the observations that satisfy it, or,
        while fewer than ``k`` do, the ``k`` least violating ones (its threshold is
        ``max(0, k-th smallest value)``), so a search with no feasible trial yet still climbs
        toward feasibility. Constraints every observation satisfies are left out.
        """
        known = ~np.isnan(cons)
        feasible = np.all(known & (np.where(known, cons, 1.0) <= 0), axis=1)
        k = max(1, min(self.gamma(len(X)), len(X) - 1))
        pos = np.flatnonzero(feasible)
        n_good = int(pos[k - 1]) + 1 if len(pos) >= k else k
        splits = []
        for j in range(cons.shape[1]):
            col = cons[:, j]
            ok = ~np.isnan(col)
            vals = col[ok]
            if not np.any(vals > 0):
                continue
            threshold = max(0.0, float(np.partition(vals, min(k, len(vals)) - 1)[min(k, len(vals)) - 1]))
            splits.append((X[ok & (col <= threshold)], X[ok & (col > threshold)]))
        return n_good, splits

    def _fit_sample(
        self,
        X: np.ndarray,
        n_good: int,
        order_numbers: np.ndarray,
        running_X: np.ndarray,
        cells: np.ndarray,
        is_cat: np.ndarray,
        rng: np.random.Generator,
        cache_key: Any = None,
        good_weights: np.ndarray | None = None,
        splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
        n_objectives: int = 1,
    ) -> np.ndarray:
        """One proposal for the dimensions in ``X`` (rows in best-first order, no nan).

        With a ``cache_key`` (the group's dimensions), the bad group's per-kernel truncation
        masses are looked up by trial number (checked against the stored row) and only new
        trials' are computed: at a thousand observations that mass is most of the cost.
        ``splits`` (c-TPE): per outcome constraint, the rows that satisfy it and those that
        violate it; see ``constraint_model``.
        """
        good = X[:n_good]
        if len(running_X):
            bad = np.vstack([X[n_good:], running_X])
            bad_numbers = np.concatenate([order_numbers[n_good:], np.full(len(running_X), _RUNNING)])
        else:
            bad, bad_numbers = X[n_good:], order_numbers[n_good:]
        if len(bad) < 25:
            w_bad = np.ones(len(bad))
        else:
            w_bad = _ramp_of_ranks(_rank_by_number(bad_numbers), len(bad))
            if len(bad) > self.max_bad:
                # The ramp gives the oldest observations weights near 1/n: keeping the newest
                # max_bad changes the estimator little and bounds the cost of long studies.
                keep = np.argsort(-w_bad, kind="stable")[: self.max_bad]
                bad, w_bad, bad_numbers = bad[keep], w_bad[keep], bad_numbers[keep]
        key = (cells.tobytes(), is_cat.tobytes())
        kinds = self._kinds_cache.get(key)
        if kinds is None:
            kinds = self._kinds_cache[key] = _Kinds(cells, is_cat)
        l_est = self._good_estimator(good, good_weights, cells, is_cat, kinds, cache_key)
        log_z = None
        sigma = bandwidths(len(bad), cells, is_cat)
        if cache_key is not None and len(bad) >= 64 and kinds.n_cont:
            log_z = self._cached_log_z(cache_key, bad[:, kinds.cont], bad_numbers, kinds.of_sigma(sigma)[0])
        g_est = _Parzen(bad, w_bad, cells, is_cat, self.prior_weight, log_z, kinds, sigma)
        n_ei = self._ei_count(X.shape[1], n_objectives)
        cand, codes = l_est.draw(n_ei, rng)
        if splits is None:
            feats = _Features(cand, l_est.cont, l_est.cat, cells, codes)  # shared by both estimators
            score = l_est.log_pdf(cand, feats) - g_est.log_pdf(cand, feats)
            return cand[int(score.argmax())]
        # c-TPE (Watanabe & Hutter 2023): a density-ratio factor per constraint, candidates from
        # every good estimator, and the sum of -log(q + (1 - q) g / l) (q: the good share).
        pairs = [(l_est, g_est, len(good) / (len(good) + len(X) - n_good))]
        for sat, vio in splits:
            l_c = _Parzen(sat, np.ones(len(sat)), cells, is_cat, self.prior_weight, None, kinds)
            g_c = _Parzen(vio, np.ones(len(vio)), cells, is_cat, self.prior_weight, None, kinds)
            pairs.append((l_c, g_c, len(sat) / (len(sat) + len(vio))))
            cand = np.vstack([cand, l_c.sample(n_ei, rng)])
        feats = _Features(cand, l_est.cont, l_est.cat, cells)
        score = np.zeros(len(cand))
        for l_i, g_i, q in pairs:
            if q >= 1.0:  # everything is in the good group: the factor is flat
                continue
            ratio = g_i.log_pdf(cand, feats) - l_i.log_pdf(cand, feats)
            score -= np.logaddexp(math.log(max(q, 1e-12)), math.log1p(-q) + ratio)
        return cand[int(score.argmax())]

    def _good_estimator(
        self,
        good: np.ndarray,
        good_weights: np.ndarray | None,
        cells: np.ndarray,
        is_cat: np.ndarray,
        kinds: _Kinds,
        slot: Any,
    ) -> _Parzen:
        """The good group's estimator, reused while the group (its rows, in order, and weights) is
        unchanged: late in a study most proposals leave the best ``gamma(n)`` trials as they were."""
        key = (
            good.shape,
            good.tobytes(),
            None if good_weights is None else good_weights.tobytes(),
            cells.tobytes(),
            is_cat.tobytes(),
        )
        hit = self._good_cache.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1]
        w_good = np.ones(len(good)) if good_weights is None else good_weights  # MOTPE: hypervolume contributions
        est = _Parzen(good, w_good, cells, is_cat, self.prior_weight, None, kinds)
        self._good_cache[slot] = (key, est)
        while len(self._good_cache) > 16:
            self._good_cache.pop(next(iter(self._good_cache)))
        return est

    def _cached_log_z(self, key: Any, mu: np.ndarray, numbers: np.ndarray, s: np.ndarray) -> np.ndarray:
        """:func:`truncation_log_mass` of each row, reusing the value stored for its trial number.

        A stored value is used only when the stored row equals ``mu`` exactly and the width
        ``s`` is the one it was computed with, so the result never depends on what was
        cached before (a resumed or replayed study gets the same numbers).
        """
        width = s.tobytes()
        entry = self._log_z.get(key)
        if entry is None or entry[0] != width:
            entry = (width, np.full((mu.shape[1], 0), np.nan), np.empty(0), np.zeros(0, dtype=bool))
        _, MT, Z, stored = entry  # MT: the stored rows, one column per trial number
        top = int(_MAX(numbers)) if len(numbers) else -1
        known: np.ndarray | None = None  # None: every row is a trial's (no running ones)
        idx = numbers
        if top >= _RUNNING:  # running trials (constant liar) are not cached
            known = numbers < _RUNNING
            idx = np.where(known, numbers, 0)
            top = int(numbers[known].max()) if known.any() else -1
        if top >= len(Z):
            cap = max(top + 1, 2 * len(Z), 64)
            MT = np.hstack([MT, np.full((mu.shape[1], cap - len(Z)), np.nan)])
            Z = np.concatenate([Z, np.full(cap - len(Z), np.nan)])
            stored = np.concatenate([stored, np.zeros(cap - len(stored), dtype=bool)])
        hit = stored.take(idx)
        if known is not None:
            hit &= known
        hit &= _ALL(MT.take(idx, axis=1) == mu.T, axis=0)  # (mu is usually column-major)
        miss = ~hit
        out = Z.take(idx)
        if _ANY(miss):
            out[miss] = truncation_log_mass(mu[miss], s)
            store = miss if known is None else miss & known
            pos = store.nonzero()[0]
            if len(pos) <= 8:  # the usual one or two new trials: plain indexing
                for p, t in zip(pos.tolist(), numbers[pos].tolist()):
                    MT[:, t] = mu[p]
                    Z[t] = out[p]
                    stored[t] = True
            else:
                at = numbers[pos]
                MT[:, at] = mu[pos].T
                Z[at] = out[pos]
                stored[at] = True
        self._log_z[key] = (width, MT, Z, stored)
        while len(self._log_z) > 16:
            self._log_z.pop(next(iter(self._log_z)))
        return out

    @staticmethod
    def _kinds(dists: list[Distribution]) -> tuple[np.ndarray, np.ndarray]:
        cells = np.array([0 if d.size == math.inf else int(d.size) for d in dists], dtype=float)
        is_cat = np.array([isinstance(d, Categorical) for d in dists])
        return cells, is_cat

    # -- proposals ------------------------------------------------------------------------------
    def _ei_count(self, k: int, n_objectives: int) -> int:
        """Candidates for a proposal over ``k`` dimensions (see ``n_ei_candidates``)."""
        if self.n_ei_candidates is not None:
            return self.n_ei_candidates
        if n_objectives > 1:
            return MULTI_OBJECTIVE_EI_CANDIDATES * math.ceil(k / MULTI_OBJECTIVE_EI_DIMS)
        return 24

    def sample(self, history: History, space: SearchSpace, rng: np.random.Generator) -> dict[str, Any] | Proposal:
        ordered, running, n_done = self._ranking(history)
        if n_done < self.n_startup_trials or len(ordered) < 2 or space.dim == 0:
            p = self._startup.sample(history, space, rng)
            p.attrs["sampler"] = "tpe-startup"
            return p
        X_all = history.matrix(space, ordered)
        n_obj = history.n_objectives
        cons = self._constraints(history)
        R_all = history.matrix(space, running) if len(running) else np.empty((0, space.dim))
        if self._space_info is None or self._space_info[0] is not space:
            kinds = self._kinds([space.dists[n] for n in space.names])
            per_group = [(dims, kinds[0][dims], kinds[1][dims]) for dims in self._groups(space)]
            self._space_info = (space, kinds, per_group)
        _, (cells, is_cat), groups = self._space_info
        u = np.empty(space.dim)
        u.fill(np.nan)
        complete = not math.isnan(_SUM(X_all, axis=None))  # unit-cube values or nan: the sum is nan iff one is
        for dims, cells_g, is_cat_g in groups:
            if space.conditions:
                probe = u.copy()
                probe[np.isnan(probe)] = 0.5
                if not space.active_mask(probe[None, :])[0][dims[0]]:
                    continue
            if complete:  # every observation has every parameter: no row filter, no copy
                rows: Any = slice(None)
                X = X_all if len(dims) == space.dim else X_all[:, dims]
            else:
                rows = ~np.isnan(X_all[:, dims]).any(axis=1)
                X = X_all[rows][:, dims]
            if len(X) < 2:
                u[dims] = rng.random(len(dims))
                continue
            n_good = max(1, min(self.gamma(len(X)), len(X) - 1))
            splits = None
            if cons is not None:
                n_good, splits = self._ctpe_split(cons[rows], X)
            if len(R_all):
                R = R_all[:, dims]
                R = R[~np.isnan(R).any(axis=1)]
            else:
                R = R_all[:, : len(dims)]
            w = motpe_good_weights(history, ordered[rows][:n_good]) if n_obj > 1 else None
            if self.multivariate:
                u[dims] = self._fit_sample(
                    X, n_good, ordered[rows], R, cells_g, is_cat_g, rng, tuple(dims), w, splits, n_obj
                )
            else:
                for j, d in enumerate(dims):
                    sp = None if splits is None else [(a[:, [j]], b[:, [j]]) for a, b in splits]
                    u[d] = self._fit_sample(
                        X[:, [j]], n_good, ordered[rows], R[:, [j]], cells[[d]], is_cat[[d]], rng, (d,), w, sp, n_obj
                    )[0]
        return Proposal(space.decode(np.where(np.isnan(u), 0.5, u)), {"sampler": "tpe"})

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
        cons = self._constraints(history)
        splits = None
        if cons is not None:
            n_good, splits = self._ctpe_split(cons[keep], X)
        cells, is_cat = self._kinds([dist])
        w = motpe_good_weights(history, ordered[keep][:n_good]) if history.n_objectives > 1 else None
        u = self._fit_sample(
            X,
            n_good,
            ordered[keep],
            R,
            cells,
            is_cat,
            rng,
            good_weights=w,
            splits=splits,
            n_objectives=history.n_objectives,
        )
        return dist.from_unit(float(u[0]))

    def __repr__(self) -> str:
        return f"TPESampler(multivariate={self.multivariate}, n_startup_trials={self.n_startup_trials})"
