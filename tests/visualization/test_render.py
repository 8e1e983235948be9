"""Both renderers draw every kind: matplotlib to PNG / SVG, plotly to figures and HTML."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import hyperdial
from hyperdial import visualization as vis

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is not installed: pip install -e '.[plot]'")
plotly = pytest.importorskip("plotly", reason="the plot extra is not installed: pip install -e '.[plot]'")

KINDS = ["history", "parallel", "slice", "contour", "importance", "intermediate", "edf", "timeline"]


def _data(study, kind):
    return vis.KINDS[kind](study)


@pytest.mark.parametrize("kind", KINDS)
def test_matplotlib_renders_png(mixed_study, kind, tmp_path):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    path = vis.save(_data(mixed_study, kind), tmp_path / f"{kind}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend


@pytest.mark.parametrize("kind", KINDS)
def test_plotly_figure_has_traces(mixed_study, kind):
    fig = vis.to_plotly(_data(mixed_study, kind))
    assert len(fig.data) >= 1 and mixed_study.name in fig.layout.title.text


def test_notes_are_drawn(mixed_study):
    data = vis.optimization_history(mixed_study)
    fig = vis.to_plotly(data)
    assert any("pruned" in a.text for a in fig.layout.annotations)
    mfig = vis.to_matplotlib(data)
    assert "pruned" in mfig.get_supxlabel()


def test_pareto_renders_in_2d_and_3d(two_objective_study, tmp_path):
    vis.save(vis.pareto_front(two_objective_study), tmp_path / "p2.png")
    study = hyperdial.create_study(directions=["minimize"] * 3, seed=0)
    study.optimize(lambda t: (lambda x: (x, 1 - x, x * x))(t.suggest_float("x", 0, 1)), n_trials=6, show_progress=False)
    d = vis.pareto_front(study)
    assert vis.save(d, tmp_path / "p3.svg").read_text().startswith("<?xml")
    assert vis.to_plotly(d).data[0].type == "scatter3d"


def test_curves_render(tmp_path):
    X, y = load_iris(return_X_y=True)
    lc = vis.learning_curve(DecisionTreeClassifier(random_state=0), X, y, cv=3, train_sizes=[0.5, 1.0])
    vis.save(lc, tmp_path / "lc.png")
    assert len(vis.to_plotly(lc).data) == 2


def test_save_html_is_self_contained(mixed_study, tmp_path):
    path = vis.save(vis.slices(mixed_study), tmp_path / "s.html")
    text = path.read_text()
    assert "<script src=" not in text.replace('"', "").replace("'", "") and "Plotly.newPlot" in text
    assert len(text) > 1_000_000  # plotly.js itself is inside
    with pytest.raises(ValueError, match=r"use a .png, .svg, .pdf or .html"):
        vis.save(vis.slices(mixed_study), tmp_path / "s.jpg")


def test_plot_shortcut_and_backend_check(mixed_study):
    fig = vis.plot(mixed_study, "history", backend="matplotlib")
    assert type(fig).__name__ == "Figure"
    with pytest.raises(ValueError, match="backend='bokeh'"):
        vis.plot(mixed_study, "history", backend="bokeh")
    with pytest.raises(TypeError, match=r"must come from a hyperdial\.visualization builder"):
        vis.to_matplotlib({"kind": "history"})


def test_import_does_not_load_plot_libraries():
    code = (
        "import sys, hyperdial, hyperdial.visualization, hyperdial.importance;"
        "print(sorted(m for m in ('plotly', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
