"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["from_registry", "require"]


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


def from_registry(kind: str, base: type, registry: Mapping[str, Callable[..., Any]], spec: Any, options: dict) -> Any:
    """A plug-in (sampler, pruner) from its name in ``registry``, or the object itself."""
    if isinstance(spec, base):
        if options:
            raise ValueError(f"{kind} options can only be given with a {kind} name")
        return spec
    if isinstance(spec, type) and issubclass(spec, base):
        return spec(**options)
    if not isinstance(spec, str):
        raise TypeError(f"{kind} must be a name or a {base.__name__}, got {type(spec).__name__}")
    factory = registry.get(spec.lower())
    if factory is None:
        raise ValueError(f"unknown {kind} {spec!r}; choose one of {sorted(registry)} or pass a {base.__name__} object")
    try:
        return factory(**options)
    except TypeError as exc:
        raise TypeError(f"{kind} {spec!r}: bad options {options}: {exc}") from None
