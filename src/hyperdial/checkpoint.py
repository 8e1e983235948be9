"""Checkpoints: a trial's model state kept by the study's storage, beside the event log.

A checkpoint is one bytes blob per ``(trial, step)`` in the storage's key-value side table
(:meth:`~hyperdial.storages.Storage.get_blob`), so it works wherever the study lives: in
memory (also from process workers, whose storage calls go to the driver), SQLite,
PostgreSQL / MySQL. What can be saved:

* ``bytes`` / ``bytearray`` / ``memoryview``: stored as they are, loaded back as ``bytes``;
* a path (``pathlib.Path`` or ``os.PathLike``): the file's content, loaded back as bytes or
  written to ``path=``;
* a PyTorch ``nn.Module`` / optimizer (anything torch with ``state_dict``) or a dict of
  tensors: its ``state_dict`` through ``torch.save`` (torch imported lazily); loading gives
  the state dict, or loads it into ``into=`` and returns that object;
* anything else picklable (a scikit-learn estimator fitted with ``partial_fit`` or
  ``warm_start``, numpy arrays, dicts): pickled; loading gives a new object.

Every blob starts with a small header (magic, format), so loading something that is not a
checkpoint, or a checkpoint of another format than expected, fails with a clear error.

Which checkpoints stay (``keep=`` of :meth:`Trial.save_checkpoint`):

* ``"running"`` (default): deleted when the trial finishes, unless a scheduler holds them
  (population-based training keeps possible donors' states until it releases them);
* ``"complete"``: kept when the trial completes (reload the best model later), deleted
  when it is pruned or fails;
* ``"all"``: never deleted automatically (:func:`release_checkpoints` deletes them).

Example:
    >>> import hyperdial
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> study = hyperdial.create_study(seed=0)
    >>> trial = study.ask()
    >>> clf = SGDClassifier(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    >>> trial.save_checkpoint(clf, step=1, keep="complete")
    >>> again = trial.load_checkpoint(step=1)
    >>> bool((again.coef_ == clf.coef_).all())
    True
    >>> _ = study.tell(trial, 0.5)
    >>> load_checkpoint(study, trial.number, step=1).coef_.shape
    (3, 4)
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperdial._imports import require
from hyperdial.trial import TrialState

if TYPE_CHECKING:
    from hyperdial.study import Study
    from hyperdial.trial import FrozenTrial

logger = logging.getLogger("hyperdial")

__all__ = [
    "CHECKPOINT_ATTR",
    "HOLD_ATTR",
    "KEEP_POLICIES",
    "MAX_CHECKPOINT_BYTES",
    "checkpoint_key",
    "dumps",
    "load_checkpoint",
    "loads",
    "release_checkpoints",
]

#: Trial system attribute listing the saved checkpoints: ``{"keep": policy, "steps": [...]}``.
CHECKPOINT_ATTR = "checkpoint"
#: Trial system attribute set by a scheduler that still needs the trial's checkpoints.
HOLD_ATTR = "checkpoint_hold"
KEEP_POLICIES = ("running", "complete", "all")
#: Largest checkpoint stored (SQLite's and PostgreSQL's blob limit is about 1 GB).
MAX_CHECKPOINT_BYTES = 900 * 2**20

_MAGIC = b"HDCK"
_VERSION = 1
_FORMATS = {b"B": "bytes", b"F": "file", b"P": "pickle", b"T": "torch"}
_CODES = {v: k for k, v in _FORMATS.items()}
_LAST = "last"


def checkpoint_key(number: int, step: int | None) -> str:
    """The blob key of trial ``number``'s checkpoint at ``step`` (``None``: the latest one saved without a step)."""
    return f"checkpoint/{number}/{_LAST if step is None else int(step)}"


def _is_torch(obj: Any) -> bool:
    mod = type(obj).__module__
    if mod.startswith("torch"):
        return True
    if isinstance(obj, Mapping) and obj:
        return all(type(v).__module__.startswith("torch") for v in obj.values())
    return False


def dumps(obj: Any) -> bytes:
    """A checkpoint blob (header + payload) for ``obj``; see the module docstring for what is accepted.

    Raises:
        TypeError: ``obj`` cannot be serialised (e.g. it holds a lambda or an open file).
        FileNotFoundError: ``obj`` is a path that does not exist.
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        fmt, payload = "bytes", bytes(obj)
    elif isinstance(obj, (str, os.PathLike)) and not isinstance(obj, (bytes,)):
        if isinstance(obj, str):
            raise TypeError(
                f"save_checkpoint({obj!r}): a str is ambiguous; pass pathlib.Path({obj!r}) for a file, "
                "or .encode() it for bytes"
            )
        path = Path(obj)
        if not path.is_file():
            raise FileNotFoundError(f"save_checkpoint({str(path)!r}): no such file to store as a checkpoint")
        fmt, payload = "file", path.read_bytes()
    elif _is_torch(obj):
        torch = require("torch", "torch")
        state = obj.state_dict() if hasattr(obj, "state_dict") else dict(obj)
        buf = io.BytesIO()
        torch.save(state, buf)
        fmt, payload = "torch", buf.getvalue()
    else:
        try:
            payload = pickle.dumps(obj, protocol=5)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TypeError(
                f"save_checkpoint: cannot pickle {type(obj).__name__} ({exc}); save bytes, a file path, "
                "a torch module's state, or a picklable object (a fitted scikit-learn estimator)"
            ) from None
        fmt = "pickle"
    return _MAGIC + bytes([_VERSION]) + _CODES[fmt] + payload


def _parse(data: bytes, where: str) -> tuple[str, memoryview]:
    if len(data) < 6 or data[:4] != _MAGIC:
        raise ValueError(f"{where}: the stored blob is not a hyperdial checkpoint (bad header)")
    if data[4] != _VERSION:
        raise ValueError(
            f"{where}: checkpoint format version {data[4]} is not supported (this hyperdial reads {_VERSION})"
        )
    fmt = _FORMATS.get(data[5:6])
    if fmt is None:
        raise ValueError(f"{where}: unknown checkpoint format code {data[5:6]!r}")
    return fmt, memoryview(data)[6:]


def loads(
    data: bytes, *, into: Any = None, path: str | os.PathLike | None = None, where: str = "load_checkpoint"
) -> Any:
    """The object a :func:`dumps` blob holds.

    Args:
        data: The blob.
        into: For a torch checkpoint, a module / optimizer to ``load_state_dict`` into (returned).
        path: For a file checkpoint, where to write it (the path is returned).
    """
    fmt, payload = _parse(data, where)
    if into is not None and fmt != "torch":
        raise ValueError(f"{where}(into=...): only torch checkpoints load into an object; this one is {fmt}")
    if path is not None and fmt not in ("file", "bytes"):
        raise ValueError(f"{where}(path=...): only file or bytes checkpoints are written to a path; this one is {fmt}")
    if fmt in ("bytes", "file"):
        if path is not None:
            Path(path).write_bytes(payload)
            return Path(path)
        return bytes(payload)
    if fmt == "pickle":
        return pickle.loads(payload)
    torch = require("torch", "torch")
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    if into is None:
        return state
    if not hasattr(into, "load_state_dict"):
        raise TypeError(f"{where}(into={type(into).__name__}): expected a torch module or optimizer")
    into.load_state_dict(state)
    return into


def check_size(data: bytes, where: str) -> None:
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise ValueError(
            f"{where}: the checkpoint is {len(data) / 2**20:.0f} MiB, over the {MAX_CHECKPOINT_BYTES / 2**20:.0f} MiB "
            "a storage blob holds; save less (a model's state_dict without the optimizer, or half precision), "
            "or write large files yourself and store their path with set_user_attr"
        )


def check_keep(keep: Any, where: str) -> str:
    if keep not in KEEP_POLICIES:
        raise ValueError(f"{where}(keep={keep!r}): choose one of {list(KEEP_POLICIES)}")
    return keep


def _steps(t: FrozenTrial) -> list[Any]:
    meta = (t._system or {}).get(CHECKPOINT_ATTR) or {}
    return list(meta.get("steps", []))


def load_checkpoint(
    study: Study, number: int, *, step: int | None = None, into: Any = None, path: str | os.PathLike | None = None
) -> Any:
    """Load trial ``number``'s checkpoint from ``study`` (e.g. the best trial's model after a run).

    Args:
        step: The step it was saved at; ``None``: the one saved without a step, or else the
            latest step saved.
        into / path: See :func:`loads`.

    Raises:
        KeyError: there is no such checkpoint (never saved, or already cleaned up).
    """
    _, data = _find(study, number, step)
    if data is None:
        h = study.sync()
        saved = _steps(h.trials[number]) if 0 <= number < len(h.trials) else []
        raise KeyError(
            f"trial {number} has no checkpoint{'' if step is None else f' at step {step}'} "
            f"(saved: {saved or 'none'}); it was never saved or was cleaned up when the trial finished "
            "(save with keep='complete' or 'all' to keep it)"
        )
    return loads(data, into=into, path=path, where=f"load_checkpoint(trial {number})")


def _find(study: Study, number: int, step: int | None) -> tuple[str, bytes | None]:
    sid = study._info.id
    key = checkpoint_key(number, step)
    data = study.storage.get_blob(sid, key)
    if data is None and step is None:
        h = study.sync()
        steps = [s for s in _steps(h.trials[number]) if s != _LAST] if 0 <= number < len(h.trials) else []
        if steps:
            key = checkpoint_key(number, max(steps))
            data = study.storage.get_blob(sid, key)
    return key, data


def delete_trial_checkpoints(study: Study, t: FrozenTrial) -> int:
    """Delete every checkpoint recorded on ``t``; returns how many keys were cleared."""
    steps = _steps(t)
    for s in steps:
        study.storage.set_blob(study._info.id, checkpoint_key(t.number, None if s == _LAST else s), None)
    return len(steps)


def on_finished(study: Study, t: FrozenTrial) -> None:
    """Apply ``t``'s keep policy now that it finished (the study calls this)."""
    meta = (t._system or {}).get(CHECKPOINT_ATTR)
    if not meta or (t._system or {}).get(HOLD_ATTR):
        return
    keep = meta.get("keep", "running")
    if keep == "all" or (keep == "complete" and t.state == TrialState.COMPLETE):
        return
    try:
        delete_trial_checkpoints(study, t)
    except Exception as exc:  # a failed cleanup must not fail the tell; release_checkpoints retries it
        logger.warning("could not delete the checkpoints of trial %d: %s", t.number, exc)


def release_checkpoints(study: Study, numbers: Any = None, *, keep_complete: bool = False) -> int:
    """Delete the checkpoints of finished trials, held or kept ones included.

    Args:
        numbers: Trial numbers to clean (default: every finished trial).
        keep_complete: Spare COMPLETE trials' checkpoints.

    Returns:
        The number of checkpoint keys cleared.
    """
    h = study.sync()
    wanted = range(len(h.trials)) if numbers is None else numbers
    n = 0
    for number in wanted:
        t = h.trials[int(number)]
        if not t.state.is_finished or (keep_complete and t.state == TrialState.COMPLETE):
            continue
        n += delete_trial_checkpoints(study, t)
    return n
