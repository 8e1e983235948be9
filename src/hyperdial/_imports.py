"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` telling which extra provides it.

    Example:
        >>> require("json", "core").dumps(1)
        '1'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is needed for this feature but is not installed: pip install 'hyperdial[{extra}]' ({exc})"
        ) from None
