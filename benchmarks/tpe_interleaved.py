"""TPE time per trial of two versions of hyperdial (and Optuna), interleaved trial by trial in one process.

    python benchmarks/tpe_interleaved.py --base HEAD~1 [--trials 1000] [--optuna]

On a shared or virtual machine the time of one process varies by +-30 % from run to run, more
than most speed-ups; ``overhead.py`` (one process per library) cannot show a 10 % change. Here
the working tree's ``hyperdial`` and the tree of ``--base`` (exported with ``git archive`` and
imported as ``hyperdial_base``) run the same objective in one process, one ask / tell each in
turn, so both see the same host noise; each study's CPU time (``time.process_time``) is summed.
With ``--optuna`` Optuna's TPESampler takes a turn too (it pollutes the CPU caches, which slows
the others: use ``overhead.py`` for the ratio against Optuna). Same seed, so the two hyperdial
studies print the same best value when the change keeps the proposals.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent


def export_base(ref: str, into: Path) -> None:
    """The package at ``ref`` as ``hyperdial_base`` under ``into`` (absolute imports rewritten)."""
    tar = subprocess.run(["git", "archive", ref, "src/hyperdial"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar, check=True)
    (into / "src" / "hyperdial").rename(into / "hyperdial_base")
    for path in (into / "hyperdial_base").rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bfrom hyperdial(\.| import)", r"from hyperdial_base\1", text)
        text = re.sub(r"^(\s*)import hyperdial$", r"\1import hyperdial_base as hyperdial", text, flags=re.M)
        text = re.sub(r"\bhyperdial\.(?=[a-z_]+[.(\[ ])", "hyperdial_base.", text)
        path.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", default="HEAD", help="git ref to compare the working tree with")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--optuna", action="store_true", help="Optuna's TPESampler takes a turn too")
    args = ap.parse_args()
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        export_base(args.base, Path(tmp))
        sys.path.insert(0, tmp)
        sys.path.insert(0, str(ROOT / "src"))
        import hyperdial_base

        import hyperdial

        def objective(trial):
            x = [trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(4)]
            c = trial.suggest_categorical("c", ["a", "b", "c"])
            return float(np.sum((np.array(x) - 1.0) ** 2) + (c != "b"))

        studies = {
            f"base ({args.base})": hyperdial_base.create_study(sampler="tpe", seed=0),
            "working tree": hyperdial.create_study(sampler="tpe", seed=0),
        }
        base = next(iter(studies.values()))
        if not (
            type(base).__module__.startswith("hyperdial_base") and "hyperdial_base" in type(base.sampler).__module__
        ):
            raise SystemExit("the base tree did not import as a package of its own (an import was not rewritten)")
        if args.optuna:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.ERROR)
            studies["optuna"] = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        cpu = dict.fromkeys(studies, 0.0)
        gc.disable()
        try:
            for i in range(args.trials):
                for name, study in studies.items():
                    c0 = time.process_time()
                    trial = study.ask()
                    study.tell(trial, objective(trial))
                    cpu[name] += time.process_time() - c0
                if i % 100 == 99:
                    gc.collect()
        finally:
            gc.enable()
        for name, study in studies.items():
            print(f"{name:>20}: {1e3 * cpu[name] / args.trials:.3f} ms per trial (CPU), best {study.best_value:.6g}")
        names = list(studies)
        print(f"base / working tree = {cpu[names[0]] / cpu[names[1]]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
