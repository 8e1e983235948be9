"""Plots of a study: plot-agnostic data builders and two renderers (plotly, matplotlib).

Each builder reads a study's stored trials and returns a dataclass of numpy arrays
(tests check those); :func:`to_plotly` draws it as an interactive figure and
:func:`to_matplotlib` as a static one; :func:`plot` does both steps and :func:`save`
writes PNG, SVG, PDF or HTML. plotly and matplotlib are imported only when a figure is
drawn (``pip install 'hyperdial[plot]'``).

Kinds: ``history``, ``parallel``, ``slice``, ``contour``, ``importance``, ``intermediate``,
``validation_curve``, ``learning_curve``, ``pareto``, ``edf``, ``timeline``.

Example:
    >>> import hyperdial
    >>> from hyperdial import visualization as vis
    >>> study = hyperdial.create_study(seed=0)
    >>> study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2, n_trials=10, show_progress=False)
    >>> data = vis.optimization_history(study)
    >>> len(data.values)
    10
    >>> fig = vis.to_matplotlib(data)  # or vis.to_plotly(data), or vis.plot(study, "history")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hyperdial.visualization._data import (
    ContourData,
    ContourPair,
    HistoryData,
    ImportanceData,
    IntermediateData,
    ParallelData,
    PlotData,
    SliceData,
    contour,
    intermediate_values,
    optimization_history,
    parallel_coordinates,
    param_importances,
    slices,
)
from hyperdial.visualization._frame import EmptyStudyError, ParamAxis
from hyperdial.visualization._results import (
    EDFData,
    LearningCurveData,
    ParetoData,
    TimelineData,
    ValidationCurveData,
    edf,
    learning_curve,
    pareto_front,
    timeline,
    validation_curve,
)

__all__ = [
    "KINDS",
    "ContourData",
    "ContourPair",
    "EDFData",
    "EmptyStudyError",
    "HistoryData",
    "ImportanceData",
    "IntermediateData",
    "LearningCurveData",
    "ParallelData",
    "ParamAxis",
    "ParetoData",
    "PlotData",
    "SliceData",
    "TimelineData",
    "ValidationCurveData",
    "contour",
    "edf",
    "intermediate_values",
    "learning_curve",
    "optimization_history",
    "parallel_coordinates",
    "param_importances",
    "pareto_front",
    "plot",
    "save",
    "slices",
    "timeline",
    "to_matplotlib",
    "to_plotly",
    "validation_curve",
    "write_report",
]

#: Plot kinds built from a study alone, by name (``learning_curve`` also needs the data).
KINDS: dict[str, Callable[..., PlotData]] = {
    "history": optimization_history,
    "parallel": parallel_coordinates,
    "slice": slices,
    "contour": contour,
    "importance": param_importances,
    "intermediate": intermediate_values,
    "validation_curve": validation_curve,
    "pareto": pareto_front,
    "edf": edf,
    "timeline": timeline,
}


def to_plotly(data: PlotData) -> Any:
    """An interactive ``plotly.graph_objects.Figure`` of the data of any builder."""
    from hyperdial.visualization._plotly import render

    return render(data)


def to_matplotlib(data: PlotData) -> Any:
    """A static ``matplotlib.figure.Figure`` (Agg canvas, no pyplot state touched)."""
    from hyperdial.visualization._matplotlib import render

    return render(data)


def plot(study: Any, kind: str, *, backend: str = "plotly", **options: Any) -> Any:
    """Build the data of plot ``kind`` for ``study`` and draw it.

    Args:
        kind: One of :data:`KINDS`.
        backend: ``"plotly"`` (interactive) or ``"matplotlib"`` (static).
        options: Passed to the builder (``target=``, ``params=``, ...).

    Example:
        >>> import hyperdial
        >>> from hyperdial.visualization import plot
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5, show_progress=False)
        >>> type(plot(study, "edf", backend="matplotlib")).__name__
        'Figure'
    """
    builder = KINDS.get(kind)
    if builder is None:
        raise ValueError(f"kind={kind!r} is not a plot kind; use one of {sorted(KINDS)}")
    renderers = {"plotly": to_plotly, "matplotlib": to_matplotlib}
    if backend not in renderers:
        raise ValueError(f"backend={backend!r}: use 'plotly' or 'matplotlib'")
    return renderers[backend](builder(study, **options))


def save(data: PlotData, path: str | Path) -> Path:
    """Draw ``data`` and write it: ``.html`` with plotly (self-contained), ``.png``/``.svg``/``.pdf`` with matplotlib.

    Example:
        >>> import tempfile, hyperdial
        >>> from hyperdial.visualization import optimization_history, save
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, show_progress=False)
        >>> save(optimization_history(study), tempfile.mkdtemp() + "/h.svg").suffix
        '.svg'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        fig = to_plotly(data)
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    elif suffix in (".png", ".svg", ".pdf"):
        fig = to_matplotlib(data)
        fig.savefig(str(path), dpi=110)
    else:
        raise ValueError(f"path={str(path)!r}: use a .png, .svg, .pdf or .html file name")
    return path


def write_report(study: Any, path: str | Path, **options: Any) -> Path:
    """Write one self-contained HTML report of ``study``; see :func:`hyperdial.visualization.report.write_report`."""
    from hyperdial.visualization.report import write_report as _write

    return _write(study, path, **options)
