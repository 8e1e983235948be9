"""Benchmark problems: BBOB (``ioh``), scikit-learn tuning after Bayesmark, mixed spaces.

``all_problems()`` lists every problem by name; ``get_problems(patterns)`` selects them by
name or glob (``bbob-*-2d``) or category (``sklearn``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from functools import cache

from benchmarks.problems.base import Category, Problem
from benchmarks.problems.bbob import bbob_problems
from benchmarks.problems.mixed import mixed_problems
from benchmarks.problems.sklearn_tasks import sklearn_problems

__all__ = ["Category", "Problem", "all_problems", "get_problem", "get_problems", "select_problems"]


@cache
def _registry() -> dict[str, Problem]:
    return {p.name: p for p in [*bbob_problems(), *sklearn_problems(), *mixed_problems()]}


def all_problems() -> list[Problem]:
    """Every problem, in a fixed order."""
    return list(_registry().values())


def get_problem(name: str) -> Problem:
    """One problem by exact name."""
    try:
        return _registry()[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; see `python -m benchmarks list`") from None


def get_problems(patterns: Sequence[str] | None = None) -> list[Problem]:
    """Problems matching any of ``patterns`` (names, globs or category names); all when empty."""
    probs = all_problems()
    if not patterns:
        return probs
    cats = {c.value for c in Category}
    out = []
    for p in probs:
        for pat in patterns:
            if (pat in cats and p.category.value == pat) or fnmatch.fnmatchcase(p.name, pat):
                out.append(p)
                break
    if not out:
        raise ValueError(f"no problem matches {list(patterns)}; see `python -m benchmarks list`")
    return out


def select_problems(patterns: list[str] | None, profile_problems: tuple[str, ...]) -> list[str]:
    """Problem names for ``--problems`` under a profile.

    A category or glob selects within the profile's problems (``--profile quick --problems
    sklearn``: the quick profile's scikit-learn problems), a problem named exactly runs even
    outside it; with no patterns, the profile's problems (every problem for a profile without a
    list).
    """
    problems = [p.name for p in get_problems(patterns or list(profile_problems) or None)]
    if patterns and profile_problems:
        chosen = [p for p in problems if p in profile_problems or p in patterns]
        problems = chosen or problems
    return problems
