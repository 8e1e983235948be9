"""A study report: one self-contained HTML file (plotly.js embedded, no network needed).

It holds the best trials, every plot that applies to the study (and why the others do
not), the parameter importances by two methods, the search space and the environment
the study recorded.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hyperdial._imports import require
from hyperdial.trial import FrozenTrial, TrialState
from hyperdial.visualization._data import (
    PlotData,
    contour,
    importance_data,
    intermediate_values,
    optimization_history,
    parallel_coordinates,
    param_importances,
    slices,
)
from hyperdial.visualization._frame import frame_of
from hyperdial.visualization._results import edf, pareto_front, timeline, validation_curve

__all__ = ["build_report", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1rem 2rem; color: #222; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; font-size: .9rem; } .plot { margin: 1rem 0 2rem; }
nav a { margin-right: .8rem; } code { background: #f4f4f4; padding: 0 .2rem; }
"""


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{_esc(_num(c))}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _params_text(t: FrozenTrial) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in t.params.items())


def _best_section(study: Any) -> str:
    done = study.get_trials([TrialState.COMPLETE])
    if not done:
        return "<p>No COMPLETE trial yet.</p>"
    if len(study.directions) == 1:
        sign = 1 if study.direction.value == "minimize" else -1
        ranked = sorted(done, key=lambda t: sign * t.values[0])[:10]
        caption = f"The {len(ranked)} best of {len(done)} complete trials ({study.direction.value})."
    else:
        ranked = study.best_trials[:25]
        caption = f"The Pareto front: {len(study.best_trials)} non-dominated trials of {len(done)} (first 25 shown)."
    rows = [[t.number, ", ".join(_num(v) for v in t.values), _params_text(t), _num(t.duration or 0.0)] for t in ranked]
    return f"<p class=muted>{_esc(caption)}</p>" + _table(["trial", "value(s)", "params", "seconds"], rows, {0, 3})


def _summary(study: Any, frame: Any) -> str:
    counts = [(s.name.lower(), frame.count(s)) for s in TrialState if frame.count(s)]
    dirs = ", ".join(d.value for d in study.directions)
    rows = [
        ["trials", ", ".join(f"{n} {s}" for s, n in counts) or "none"],
        ["directions", dirs],
        ["seed", study.seed],
        ["storage", getattr(study.storage, "url", type(study.storage).__name__)],
    ]
    start, finish = frame.times()
    if np.isfinite(start).any():
        first = _dt.datetime.fromtimestamp(float(np.nanmin(start))).isoformat(timespec="seconds")
        last_t = np.nanmax(finish) if np.isfinite(finish).any() else np.nanmax(start)
        last = _dt.datetime.fromtimestamp(float(last_t)).isoformat(timespec="seconds")
        rows.append(["ran", f"{first} to {last}"])
    failed = [t for t in frame.trials if t.state == TrialState.FAILED]
    if failed:
        reasons: dict[str, int] = {}
        for t in failed:
            key = str(t.fail_reason or "unknown")
            reasons[key] = reasons.get(key, 0) + 1
        rows.append(["failures", ", ".join(f"{n} {r}" for r, n in reasons.items())])
    return _table(["", ""], rows)


def _space_section(study: Any, frame: Any) -> str:
    space = study.space
    n = max(frame.n, 1)
    rows = []
    for name, ax in frame.params.items():
        active = int(np.count_nonzero(~np.isnan(ax.values)))
        if ax.is_categorical:
            desc = "categorical: " + ", ".join(ax.labels())
        else:
            desc = f"{ax.kind} in [{_num(ax.low)}, {_num(ax.high)}]" + (", log scale" if ax.log else "")
        when = ""
        if space is not None and name in space.dists and space.dists[name].when:
            when = json.dumps(space.dists[name].when, default=str)
        rows.append([name, desc, when, f"{active} of {frame.n} trials ({active / n:.0%})"])
    if not rows:
        return "<p>No parameters recorded yet.</p>"
    kind = "declared" if space is not None else "define-by-run (as the trials suggested it)"
    return f"<p class=muted>Search space: {kind}.</p>" + _table(
        ["parameter", "distribution", "when", "present in"], rows
    )


def _env_section(study: Any) -> str:
    env = study.environment
    if not env:
        return "<p>The study recorded no environment.</p>"
    rows = []
    git = env.get("git") or {}
    for key, value in env.items():
        if key in ("packages", "git"):
            continue
        rows.append([key, value if not isinstance(value, (dict, list)) else json.dumps(value, default=str)])
    if git:
        rows.append(
            ["git commit", (git.get("commit") or "none") + (" (uncommitted changes)" if git.get("dirty") else "")]
        )
    rows += [[name, version] for name, version in sorted((env.get("packages") or {}).items())]
    return _table(["recorded", "value"], rows)


def _importance_section(study: Any, target: Any, seed: int) -> tuple[str, list[Any]]:
    from hyperdial.importance import evaluate

    results: list[Any] = []
    errors: list[str] = []
    for method in ("fanova", "ped-anova"):
        try:
            results.append(evaluate(study, method=method, target=target, seed=seed))
        except ValueError as exc:
            errors.append(f"{method}: {exc}")
    if not results:
        return "<p>" + _esc("; ".join(errors)) + "</p>", []
    names = list(results[0].importances)
    rows = [[n, *[f"{r.importances.get(n, 0.0):.1%}" for r in results]] for n in names]
    notes = "".join(f"<p class=muted>{_esc(r.method)}: {_esc('; '.join(r.notes) or 'all trials')}</p>" for r in results)
    return _table(["parameter", *[r.method for r in results]], rows) + notes, results


def _plans(study: Any, frame: Any, importances: list[Any]) -> list[tuple[str, str, Callable[[], PlotData]]]:
    """(anchor, heading, builder) of every plot the report tries, in order."""
    m = len(study.directions)
    plans: list[tuple[str, str, Callable[[], PlotData]]] = []
    if m in (2, 3):
        plans.append(("pareto", "Pareto front", lambda: pareto_front(study)))
    targets = [None] if m == 1 else list(range(m))
    for tgt in targets:
        suffix = "" if tgt is None else f" (objective {tgt})"
        key = "" if tgt is None else f"-{tgt}"
        plans.append(
            (f"history{key}", "Optimization history" + suffix, lambda t=tgt: optimization_history(study, target=t))
        )
    first = targets[0]
    suffix = "" if first is None else " (objective 0)"
    plans += [
        ("importance", "Importance (fANOVA)" + suffix, _importance_plan(study, first, importances)),
        ("slice", "Slice plot" + suffix, lambda: slices(study, target=first)),
        ("parallel", "Parallel coordinates" + suffix, lambda: parallel_coordinates(study, target=first)),
        ("contour", "Contour plot" + suffix, lambda: contour(study, target=first)),
        ("intermediate", "Intermediate values", lambda: intermediate_values(study)),
        ("edf", "Empirical distribution" + suffix, lambda: edf(study, target=first)),
        ("timeline", "Timeline", lambda: timeline(study)),
    ]
    cv = any("cv" in t.user_attrs or "split_test_scores" in t.user_attrs for t in frame.trials[:50])
    if cv and m == 1:
        for name in list(frame.params)[:3]:
            plans.append((f"validation-{name}", f"Validation curve: {name}", lambda n=name: validation_curve(study, n)))
    return plans


def _importance_plan(study: Any, target: Any, importances: list[Any]) -> Callable[[], PlotData]:
    """The fANOVA bars, from the result the importance table already computed when there is one."""
    done = [r for r in importances if r.method == "fANOVA"]
    if done:
        return lambda: importance_data(done[0], study.name)
    return lambda: param_importances(study, target=target)


def build_report(study: Any, *, seed: int = 0) -> str:
    """The report of ``study`` as one HTML string (see :func:`write_report`)."""
    require("plotly", "plot")
    from plotly.offline import get_plotlyjs

    from hyperdial.visualization._plotly import render

    frame = frame_of(study)
    importance_html, importances = _importance_section(study, 0 if len(study.directions) > 1 else None, seed)
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)
    skipped: list[tuple[str, str]] = []
    plots: list[str] = []
    for anchor, heading, build in _plans(study, frame, importances):
        try:
            data = build()
        except ValueError as exc:  # EmptyStudyError and "does not apply" both say why
            skipped.append((heading, str(exc)))
            continue
        fig = render(data)
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"plot-{anchor}",
            config={"displaylogo": False, "responsive": True},
        )
        plots.append(anchor)
        sections.append((anchor, heading, f'<div class="plot" data-kind="{_esc(data.kind)}">{div}</div>'))
    nav = " ".join(f'<a href="#{_esc(a)}">{_esc(h)}</a>' for a, h, _ in sections)
    body = [
        f"<h1>Study {_esc(study.name)}</h1>",
        f"<p class=muted>hyperdial report, {_esc(_dt.datetime.now().isoformat(timespec='seconds'))}</p>",
        _summary(study, frame),
        f"<nav>{nav}</nav>",
        "<h2 id=best>Best trials</h2>",
        _best_section(study),
        "<h2 id=importances>Parameter importance</h2>",
        importance_html,
    ]
    body += [f"<h2 id={_esc(a)}>{_esc(h)}</h2>{content}" for a, h, content in sections]
    if skipped:
        body.append("<h2 id=skipped>Plots that do not apply</h2>")
        body.append(_table(["plot", "why"], [[h, why] for h, why in skipped]))
    body += [
        "<h2 id=space>Search space</h2>",
        _space_section(study, frame),
        "<h2 id=environment>Environment</h2>",
        _env_section(study),
    ]
    meta = json.dumps({"plots": plots, "skipped": [h for h, _ in skipped]})
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>hyperdial report: {_esc(study.name)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        f'<script type="application/json" id="hyperdial-report">{_esc(meta)}</script>'
        "</head><body>" + "\n".join(body) + "</body></html>\n"
    )


def write_report(study: Any, path: str | Path, *, seed: int = 0) -> Path:
    """Write a self-contained HTML report of ``study`` to ``path`` (works offline).

    Args:
        study: The study (its stored trials and attributes are read).
        path: Where to write, e.g. ``"report.html"``.
        seed: Seeds the importance estimates and any subsampling.

    Example:
        >>> import tempfile, hyperdial
        >>> from hyperdial.visualization import write_report
        >>> study = hyperdial.create_study(seed=0)
        >>> study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5, show_progress=False)
        >>> write_report(study, tempfile.mkdtemp() + "/report.html").name
        'report.html'
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"path={str(path)!r}: the report is HTML; use a file name ending in .html")
    text = build_report(study, seed=seed)
    path.write_text(text, encoding="utf-8")
    return path
