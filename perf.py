"""Runtime helpers for the bulk paths (ingest, projection, detection)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

__all__ = ["Progress", "paused_gc"]

Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""How library code reports progress without knowing the terminal: called with a label and a
total, it gives a context whose callback takes the position reached so far. The CLI passes one
that draws a bar; library callers pass ``None``."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk step.

    Loading and projecting build millions of small containers that stay alive (and form no
    cycles); the collector's repeated full passes over them cost more than the work itself —
    up to 5x slower Leiden runs and 3.5x slower ingest, measured.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
