"""Process set-up every benchmark entry point runs before importing a numerical library.

Fairness between libraries needs the same single-threaded BLAS everywhere, and readable
logs need every library's progress bars and INFO logging off. Both must happen before
numpy, torch, scikit-learn or any optimizer is imported, so entry points import this
module first (``benchmarks/__main__.py`` does).
"""

from __future__ import annotations

import logging
import os
import warnings

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)

_DONE = False


def cap_threads(n: int = 1) -> None:
    """Cap BLAS / OpenMP threads at ``n`` for this process and its children."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    # Offline at run time: no library may reach the network (hub downloads, telemetry).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")


def quiet() -> None:
    """Silence progress output and INFO logging of every library the suite uses."""
    for name in ("optuna", "hyperopt", "smac", "ConfigSpace", "skopt", "hyperdial", "distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    # Optuna resets its logger's level on first use; its adapter silences it after import.


def setup(threads: int = 1) -> None:
    """Cap threads and silence libraries, once per process."""
    global _DONE
    cap_threads(threads)
    if _DONE:
        return
    _DONE = True
    try:  # torch reads its own setting, not only OMP_NUM_THREADS
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    except Exception:
        pass
    quiet()
