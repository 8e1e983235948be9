"""Named run profiles: which problems, seeds, budgets and sizes each part uses by default.

``quick`` is the subset meant to finish in under an hour on 2 cores (its sample-efficiency
part dominates); ``full`` is the whole suite (CPU-days on 2 cores: shard it). Any profile
value can be overridden on the command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["PROFILES", "Profile"]


@dataclass(frozen=True)
class Profile:
    """Defaults of one profile."""

    problems: tuple[str, ...]
    seeds: int
    budget: int
    overhead_trials: tuple[int, ...]
    overhead_samplers: tuple[str, ...] | None
    parallel_trials: int
    parallel_cores: tuple[int, ...]
    mf_seeds: int
    mf_resource_factor: int
    notes: str = ""
    optimizers: tuple[str, ...] = field(default_factory=tuple)


QUICK_PROBLEMS = (
    "bbob-f1-2d",
    "bbob-f10-2d",
    "bbob-f15-2d",
    "bbob-f21-2d",
    "bbob-f1-5d",
    "bbob-f10-5d",
    "bbob-f15-5d",
    "bbob-f21-5d",
    "bbob-f10-10d",
    "bbob-f21-10d",
    "sk-knn-wine",
    "sk-svm-breast_cancer",
    "sk-dt-wine",
    "sk-gb-diabetes",
    "sk-lasso-diabetes",
    "mixed-model-wine",
    "mixed-synthetic",
)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        problems=("bbob-f1-2d", "sk-dt-wine", "mixed-synthetic"),
        seeds=1,
        budget=6,
        overhead_trials=(20,),
        overhead_samplers=("random", "tpe"),
        parallel_trials=4,
        parallel_cores=(1,),
        mf_seeds=1,
        mf_resource_factor=2,
        notes="a few seconds per part: for the smoke test",
    ),
    "quick": Profile(
        problems=QUICK_PROBLEMS,
        seeds=3,
        budget=100,
        overhead_trials=(100, 1000),
        overhead_samplers=None,
        parallel_trials=20,
        parallel_cores=(1, 2),
        mf_seeds=3,
        mf_resource_factor=20,
        notes="17 problems x 3 seeds at budget 100; <1 h on 2 cores (sample efficiency dominates)",
    ),
    "full": Profile(
        problems=(),  # every problem
        seeds=10,
        budget=100,
        overhead_trials=(100, 1000, 10000),
        overhead_samplers=None,
        parallel_trials=40,
        parallel_cores=tuple(sorted({1, 2, os.cpu_count() or 1})),
        mf_seeds=10,
        mf_resource_factor=40,
        notes="every problem x 10 seeds: CPU-days on 2 cores, shard it with --shard i/n",
    ),
}
