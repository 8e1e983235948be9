"""Every part of the benchmark suite on a tiny budget and one seed, so the suite cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_part_runs_on_the_smoke_profile(tmp_path):
    pytest.importorskip("ioh", reason="the bench extra is not installed: pip install -e '.[bench]'")
    pytest.importorskip("optuna", reason="the bench extra is not installed: pip install -e '.[bench]'")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--profile", "smoke", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for part in ("hyperdial-auto", "lc-synthetic"):
        assert part in out
    assert any(tmp_path.rglob("*.json")), "no result was cached"
    report = subprocess.run(
        [sys.executable, "-m", "benchmarks", "report", "--profile", "smoke", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-3000:]


def test_a_category_selects_within_the_profile():
    from benchmarks.problems import select_problems  # not benchmarks.__main__: it silences loggers on import
    from benchmarks.profiles import PROFILES

    quick = PROFILES["quick"].problems
    chosen = select_problems(["sklearn"], quick)
    assert chosen and set(chosen) <= set(quick)
    assert len(select_problems(["sklearn"], ())) > len(chosen)  # the full profile has every problem
    outside = next(p for p in select_problems(None, ()) if p not in quick)
    assert select_problems([outside], quick) == [outside]  # a name runs even outside the profile
