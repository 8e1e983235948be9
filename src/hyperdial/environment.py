"""What a result was produced with: Python, platform, package versions, git commit, seeds.

Versions come from installed package metadata, never by importing the packages, so
capturing the environment is cheap and has no side effects.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

__all__ = ["capture_environment", "environment_differences"]

#: Packages whose versions are recorded when installed.
PACKAGES = (
    "hyperdial",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "xgboost",
    "lightgbm",
    "catboost",
    "statsmodels",
    "cmaes",
    "optuna",
)


def _git(cwd: str) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def capture_environment(seed: int | None = None, cwd: str | None = None) -> dict[str, Any]:
    """A JSON-compatible record of the running environment.

    Example:
        >>> env = capture_environment(seed=0)
        >>> {"python", "platform", "packages", "git", "seed"} <= set(env)
        True
    """
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": packages,
        "git": _git(cwd or os.getcwd()),
        "seed": seed,
    }


def environment_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a recorded environment and the current one (seeds aside)."""
    out = []
    for key in ("python", "platform", "machine"):
        if recorded.get(key) != current.get(key):
            out.append(f"{key}: {recorded.get(key)} -> {current.get(key)}")
    old, new = recorded.get("packages", {}), current.get("packages", {})
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out.append(f"{name}: {old.get(name, 'absent')} -> {new.get(name, 'absent')}")
    og, ng = recorded.get("git") or {}, current.get("git") or {}
    if og.get("commit") != ng.get("commit"):
        out.append(f"git commit: {og.get('commit')} -> {ng.get('commit')}")
    return out
