"""BBOB noiseless functions from the ``ioh`` package (COCO's implementation), box ``[-5, 5]^d``.

The functions are chosen to spread over BBOB's groups: separable (f1 sphere, f2 separable
ellipsoid), ill-conditioned (f10 ellipsoid, f12 bent cigar), multimodal with adequate
global structure (f15 Rastrigin), multimodal with weak global structure (f20 Schwefel,
f21 Gallagher 101 peaks, f24 Lunacek bi-Rastrigin); instance 1 of each, in 2, 5 and 10
dimensions. ``ioh`` knows every optimum (``problem.optimum.y``), so scores need no reference run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.problems.base import Category, Problem
from benchmarks.space import FloatParam, Space

__all__ = ["BBOB_DIMS", "BBOB_FUNCTIONS", "bbob_problems"]

#: fid -> short name
BBOB_FUNCTIONS: dict[int, str] = {
    1: "sphere",
    2: "ellipsoid-sep",
    10: "ellipsoid",
    12: "bent-cigar",
    15: "rastrigin",
    20: "schwefel",
    21: "gallagher101",
    24: "lunacek",
}
BBOB_DIMS = (2, 5, 10)
INSTANCE = 1


def _ioh_problem(fid: int, dim: int) -> Any:
    try:
        import ioh
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("BBOB problems need the `ioh` package: pip install -e '.[bench]'") from exc
    return ioh.get_problem(fid, INSTANCE, dim, ioh.ProblemClass.BBOB)


def _objective(fid: int, dim: int):
    problem = _ioh_problem(fid, dim)
    names = [f"x{i}" for i in range(dim)]

    def f(config: Mapping[str, Any]) -> float:
        return float(problem([config[n] for n in names]))

    return f


def _optimum(fid: int, dim: int) -> float | None:
    try:
        return float(_ioh_problem(fid, dim).optimum.y)
    except ImportError:
        return None


def bbob_problems() -> list[Problem]:
    """Every (function, dimension) pair as a :class:`Problem` named ``bbob-f{fid}-{dim}d``."""
    out = []
    for dim in BBOB_DIMS:
        for fid, short in BBOB_FUNCTIONS.items():
            space = Space([FloatParam(f"x{i}", -5.0, 5.0) for i in range(dim)])
            out.append(
                Problem(
                    name=f"bbob-f{fid}-{dim}d",
                    category=Category.BBOB_10D if dim >= 10 else Category.BBOB_LOW,
                    space=space,
                    make_objective=lambda fid=fid, dim=dim: _objective(fid, dim),
                    optimum=_optimum(fid, dim),
                    description=f"BBOB f{fid} ({short}), instance {INSTANCE}, {dim}-d, box [-5, 5]^{dim}",
                )
            )
    return out
