"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ringmap.errors import ExportError

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it, so it is whole or absent."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)  # gone already once the rename happened
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from None
