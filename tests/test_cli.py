"""The hyperdial command, end to end on real scikit-learn models and SQLite files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import hyperdial
from hyperdial.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SVC_SPACE = {"C": {"type": "float", "low": 0.1, "high": 10, "log": True}}


def write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def knn_config(tmp_path: Path, **extra) -> dict:
    cfg = {
        "study": "knn",
        "storage": f"sqlite:///{tmp_path / 'h.db'}",
        "objective": {
            "estimator": "sklearn.neighbors.KNeighborsClassifier",
            "data": {"dataset": "iris"},
            "cv": 3,
            "scoring": "accuracy",
        },
        "space": {"n_neighbors": {"type": "int", "low": 1, "high": 30}, "weights": ["uniform", "distance"]},
        "budget": {"n_trials": 4},
        "seed": 0,
    }
    cfg.update(extra)
    return cfg


def test_tune_runs_resumes_and_reports(tmp_path, capsys):
    cfg = write(tmp_path / "knn.yaml", knn_config(tmp_path))
    assert main(["tune", str(cfg), "--no-progress"]) == 0
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    study = hyperdial.load_study("knn", storage)
    assert len(study.trials) == 4 and study.direction.value == "maximize"  # inferred from the scorer
    assert study.system_attrs["config"]["objective"]["estimator"] == "sklearn.neighbors.KNeighborsClassifier"
    assert main(["tune", str(cfg), "--no-progress", "--n-trials", "3"]) == 0
    study = hyperdial.load_study("knn", storage)
    assert [t.number for t in study.trials] == list(range(7))
    capsys.readouterr()
    assert main(["trials", "knn", "--storage", storage, "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 7 and all("n_neighbors" in r["params"] for r in records)
    assert main(["trials", "knn", "--storage", storage, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 7 and "params_weights" in rows[0]
    assert main(["best", "knn", "--storage", storage, "--format", "json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["values"][0] == pytest.approx(study.best_value)
    assert main(["studies", "--storage", storage]) == 0
    assert "knn" in capsys.readouterr().out
    assert main(["env", "knn", "--storage", storage]) == 0
    out = capsys.readouterr().out
    assert "python" in out and "numpy" in out and "same as this environment" in out


def test_csv_data_and_conditional_space(tmp_path):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.iloc[:200, [0, 1, 2, 3, 30]]
    data.to_csv(tmp_path / "bc.csv", index=False)
    cfg = knn_config(
        tmp_path,
        objective={
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 2000},
            "data": {"csv": "bc.csv", "target": "target"},
            "preprocess": "standard",
            "cv": {"folds": 3},
            "scoring": "roc_auc",
        },
        space={
            "C": {"type": "float", "low": 1e-3, "high": 10, "log": True},
            "fit_intercept": [True, False],
            "intercept_scaling": {"type": "float", "low": 0.5, "high": 2, "when": {"fit_intercept": True}},
        },
    )
    path = write(tmp_path / "bc.yaml", cfg)
    assert main(["tune", str(path), "--no-progress", "--quiet"]) == 0
    trials = hyperdial.load_study("knn", cfg["storage"]).trials
    for t in trials:
        assert ("intercept_scaling" in t.params) == t.params["fit_intercept"]


def test_module_function_objective(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["tune", str(EXAMPLES / "custom.yaml"), "--no-progress", "--n-trials", "3"]) == 0
    study = hyperdial.load_study("custom_diabetes", "sqlite:///hyperdial.db")
    assert len(study.trials) == 3 and study.best_value < 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"budget": {"n_trials": -3}}, "budget.n_trials: must be a positive integer, got -3"),
        ({"budgett": {"n_trials": 3}}, "budgett: unknown key; did you mean 'budget'?"),
        ({"space": {"n_neigbors": [1, 2]}}, "space.n_neigbors: KNeighborsClassifier has no parameter"),
        ({"sampler": "tpee"}, "sampler: unknown sampler 'tpee'"),
        ({"objective": "no_such_module:fn"}, "objective: cannot import module 'no_such_module'"),
        ({"objective": {"estimator": "sklearn.svm.SVX", "data": {"dataset": "iris"}}}, "has no 'SVX'"),
        (
            {"objective": {"estimator": "sklearn.svm.SVC", "data": {"dataset": "irises"}}, "space": SVC_SPACE},
            "unknown dataset 'irises'",
        ),
        (
            {
                "objective": {"estimator": "sklearn.svm.SVC", "data": {"dataset": "iris"}, "scoring": "acuracy"},
                "space": SVC_SPACE,
            },
            "objective.scoring: 'acuracy' is not a scikit-learn scorer",
        ),
        ({"space": {"C": {"type": "float", "low": 2, "high": 1}}}, "low must be <= high"),
        ({"direction": "up"}, "direction: must be minimize or maximize"),
    ],
)
def test_bad_configs_exit_2_naming_the_key(tmp_path, capsys, change, message):
    cfg = knn_config(tmp_path)
    cfg.update(change)
    path = write(tmp_path / "bad.yaml", cfg)
    assert main(["tune", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "h.db").exists()  # nothing ran


def test_bad_yaml_missing_csv_column_unknown_study_bad_storage(tmp_path, capsys):
    (tmp_path / "broken.yaml").write_text("space: [unclosed")
    assert main(["tune", str(tmp_path / "broken.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    cfg = knn_config(tmp_path, objective={"estimator": "sklearn.svm.SVC", "data": {"csv": "d.csv", "target": "label"}})
    cfg["space"] = {"C": {"type": "float", "low": 0.1, "high": 1}}
    assert main(["tune", str(write(tmp_path / "c.yaml", cfg))]) == 2
    assert "no column 'label'" in capsys.readouterr().err
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    hyperdial.create_study("exists", storage)
    assert main(["best", "nope", "--storage", storage]) == 2
    assert "existing studies: 'exists'" in capsys.readouterr().err
    assert main(["studies", "--storage", "sqlite:////no/such/dir/x.db"]) == 2
    assert "cannot be opened" in capsys.readouterr().err


def test_changed_space_is_refused_with_the_differences(tmp_path, capsys):
    cfg = knn_config(tmp_path)
    path = write(tmp_path / "knn.yaml", cfg)
    assert main(["tune", str(path), "--no-progress", "--quiet"]) == 0
    cfg["space"]["n_neighbors"]["high"] = 50
    write(path, cfg)
    assert main(["tune", str(path), "--no-progress"]) == 2
    assert "changed n_neighbors" in capsys.readouterr().err


def test_the_console_script_end_to_end(tmp_path):
    cfg = write(tmp_path / "knn.yaml", knn_config(tmp_path, budget={"n_trials": 3}))
    proc = subprocess.run(
        [sys.executable, "-m", "hyperdial.cli", "tune", str(cfg)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "n_neighbors=" in proc.stdout
    version = subprocess.run([sys.executable, "-m", "hyperdial.cli", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("hyperdial ")


def test_worker_joins_a_study_started_by_tune(tmp_path):
    cfg_path = write(tmp_path / "knn.yaml", knn_config(tmp_path, budget={"n_trials": 3}))
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    assert main(["tune", str(cfg_path), "--no-progress", "--quiet"]) == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hyperdial.cli",
            "worker",
            "--storage",
            storage,
            "--study",
            "knn",
            "--config",
            str(cfg_path),
            "--n-trials",
            "2",
            "--quiet",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert [t.number for t in hyperdial.load_study("knn", storage).trials] == list(range(5))
    assert main(["worker", "--storage", storage, "--study", "nope", "--config", str(cfg_path)]) == 2


def test_plot_and_report_commands(tmp_path, capsys):
    pytest.importorskip("plotly", reason="the plot extra is not installed: pip install -e '.[plot]'")
    cfg = write(tmp_path / "knn.yaml", knn_config(tmp_path, budget={"n_trials": 6}))
    assert main(["tune", str(cfg), "--no-progress", "--quiet"]) == 0
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    png, svg, html = tmp_path / "h.png", tmp_path / "s.svg", tmp_path / "c.html"
    assert main(["plot", "knn", "history", "-o", str(png), "--storage", storage]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and f"wrote {png}" in capsys.readouterr().err
    assert main(["plot", "knn", "slice", "-o", str(svg), "--storage", storage, "--params", "n_neighbors"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml")
    assert main(["plot", "knn", "importance", "-o", str(html), "--storage", storage, "--method", "ped-anova"]) == 0
    assert "PED-ANOVA" in html.read_text()
    assert main(["plot", "knn", "validation_curve", "-o", str(png), "--storage", storage, "--params", "weights"]) == 0
    report = tmp_path / "report.html"
    assert main(["report", "knn", "-o", str(report), "--storage", storage, "--quiet"]) == 0
    text = report.read_text()
    assert "Validation curve: n_neighbors" in text and "Study knn" in text
    capsys.readouterr()
    # Bad input exits 2 with a message naming the problem.
    assert main(["plot", "knn", "history", "-o", str(tmp_path / "h.jpg"), "--storage", storage]) == 2
    assert "use a .png, .svg, .pdf or .html" in capsys.readouterr().err
    assert main(["plot", "knn", "slice", "-o", str(png), "--storage", storage, "--params", "depth"]) == 2
    assert "['depth'] not in study" in capsys.readouterr().err
    assert main(["plot", "knn", "pareto", "-o", str(png), "--storage", storage]) == 2
    assert "one objective; use the optimization history" in capsys.readouterr().err
    assert main(["plot", "knn", "timeline", "-o", str(png), "--storage", storage, "--params", "weights"]) == 2
    assert "--params does not apply" in capsys.readouterr().err
    assert main(["plot", "knn", "validation_curve", "-o", str(png), "--storage", storage]) == 2
    assert main(["plot", "nope", "history", "-o", str(png), "--storage", storage]) == 2
    assert main(["plot", "knn", "histogram", "-o", str(png), "--storage", storage]) == 2
    assert main(["report", "knn", "-o", str(tmp_path / "r.pdf"), "--storage", storage]) == 2
