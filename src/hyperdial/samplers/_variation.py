"""Variation operators of the evolutionary samplers, on unit-cube vectors.

Numeric dimensions (floats, ints, stepped floats: ordered, so arithmetic on them makes sense;
the space maps a value back to its cell) use real-coded operators; categorical dimensions use
operators of their own that only ever pick one of the parents' categories or a random one,
never a rounded blend of two category codes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bounce_back",
    "de_rand_1_bin",
    "polynomial_mutation",
    "random_category",
    "sbx",
    "uniform_crossover",
]


def random_category(n_choices: np.ndarray, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """The unit-cube code (cell centre) of a uniformly drawn category for each categorical dimension."""
    k = np.floor(rng.random(len(n_choices) if size is None else size) * n_choices)
    return (k + 0.5) / n_choices


def sbx(p1: np.ndarray, p2: np.ndarray, eta: float, rng: np.random.Generator, prob_var: float = 0.5) -> np.ndarray:
    """Simulated binary crossover on [0, 1] (Deb & Agrawal 1995, bounded form of Deb et al. 2002's code).

    Each variable crosses with probability ``prob_var``; of the two children one is returned.
    The spread factor ``beta_q`` follows eq. (3)-(4) of Deb & Agrawal with the bound-aware
    ``alpha = 2 - beta^-(eta+1)``, so children stay inside [0, 1].
    """
    d = len(p1)
    y1, y2 = np.minimum(p1, p2), np.maximum(p1, p2)
    diff = y2 - y1
    cross = (rng.random(d) < prob_var) & (diff > 1e-14)
    u = rng.random(d)
    swap = rng.random(d) < 0.5
    pick_second = rng.random() < 0.5
    child = np.where(pick_second, p2, p1).astype(float).copy()
    if not cross.any():
        return child
    safe = np.where(diff > 1e-14, diff, 1.0)
    e1 = 1.0 / (eta + 1.0)

    def beta_q(beta: np.ndarray) -> np.ndarray:
        alpha = 2.0 - beta ** -(eta + 1.0)
        return np.where(u <= 1.0 / alpha, (u * alpha) ** e1, (1.0 / np.maximum(2.0 - u * alpha, 1e-300)) ** e1)

    c1 = 0.5 * ((y1 + y2) - beta_q(1.0 + 2.0 * y1 / safe) * diff)
    c2 = 0.5 * ((y1 + y2) + beta_q(1.0 + 2.0 * (1.0 - y2) / safe) * diff)
    c1, c2 = np.clip(c1, 0.0, 1.0), np.clip(c2, 0.0, 1.0)
    a, b = np.where(swap, c2, c1), np.where(swap, c1, c2)
    child[cross] = (b if pick_second else a)[cross]
    return child


def polynomial_mutation(x: np.ndarray, eta: float, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Bounded polynomial mutation on [0, 1] (Deb & Goyal 1996; the form in Deb et al. 2002's code).

    Each variable mutates with probability ``prob`` by ``delta_q``, whose distribution has
    index ``eta`` and never leaves the bounds.
    """
    d = len(x)
    y = np.asarray(x, dtype=float).copy()
    hit = rng.random(d) < prob
    r = rng.random(d)
    if not hit.any():
        return y
    d1, d2 = y, 1.0 - y
    p = 1.0 / (eta + 1.0)
    lo = r < 0.5
    val_lo = 2.0 * r + (1.0 - 2.0 * r) * (1.0 - d1) ** (eta + 1.0)
    val_hi = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * (1.0 - d2) ** (eta + 1.0)
    dq = np.where(lo, np.maximum(val_lo, 0.0) ** p - 1.0, 1.0 - np.maximum(val_hi, 0.0) ** p)
    y[hit] = np.clip(y[hit] + dq[hit], 0.0, 1.0)
    return y


def uniform_crossover(p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each gene from either parent with probability 1/2 (Syswerda 1989): for categorical codes."""
    return np.where(rng.random(len(p1)) < 0.5, p1, p2)


def bounce_back(v: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Repair mutant coordinates outside [0, 1] to halfway between the target and the violated bound.

    Price, Storn & Lampinen 2005 ("Differential Evolution: a practical approach", section 4.4):
    keeps the search's distribution near the bound instead of piling points onto it.
    """
    out = v.copy()
    low, high = v < 0.0, v > 1.0
    out[low] = target[low] / 2.0
    out[high] = (target[high] + 1.0) / 2.0
    return out


def de_rand_1_bin(
    target: np.ndarray,
    r1: np.ndarray,
    r2: np.ndarray,
    r3: np.ndarray,
    F: float,
    CR: float,
    is_cat: np.ndarray,
    n_choices: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """DE/rand/1/bin (Storn & Price 1997, eq. (2) mutation and (4) binomial crossover) on [0, 1].

    Numeric genes: ``v = x_r1 + F (x_r2 - x_r3)``, repaired by :func:`bounce_back`. Categorical
    genes have no difference vector: where ``x_r2`` and ``x_r3`` differ (the difference is not
    zero) the mutant takes a random category with probability ``F``, else ``x_r1``'s category.
    Crossover takes each gene from the mutant with probability ``CR`` and at least one gene
    (``j_rand``) always.
    """
    d = len(target)
    v = r1 + F * (r2 - r3)
    v = bounce_back(v, target)
    if is_cat.any():
        cat = np.flatnonzero(is_cat)
        moved = (np.abs(r2[cat] - r3[cat]) > 1e-12) & (rng.random(len(cat)) < F)
        v[cat] = np.where(moved, random_category(n_choices[cat], rng), r1[cat])
    take = rng.random(d) < CR
    take[rng.integers(d)] = True
    return np.where(take, v, target)
