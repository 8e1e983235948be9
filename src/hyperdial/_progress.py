"""A minimal progress bar on stderr: shown only when stderr is a terminal, redrawn at most 10 times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, total: int | None, timeout: float | None, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.timeout = timeout
        self.start = time.monotonic()
        self._last = 0.0
        self.done = 0

    def update(self, done: int, best: float | None) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (self.total is None or done < self.total):
            return
        self._last = now
        elapsed = now - self.start
        if self.total:
            frac = min(done / self.total, 1.0)
        elif self.timeout:
            frac = min(elapsed / self.timeout, 1.0)
        else:
            frac = None
        bar = "" if frac is None else "[" + "#" * int(frac * 24) + "." * (24 - int(frac * 24)) + "] "
        count = f"{done}/{self.total}" if self.total else f"{done}"
        best_s = "" if best is None else f"  best {best:.6g}"
        self.stream.write(f"\r{bar}{count} trials  {elapsed:6.1f}s{best_s}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
