"""Retract a load: what one evidence file (or every file of one ingest run) contributed leaves
the case, exactly, in one transaction (:meth:`~ringmap.graphs.store.Store.retract`).

The load stays in the ledger, marked with who retracted it, when and why; the same file can then
be ingested again.
"""

from __future__ import annotations

from pathlib import Path

from ringmap.audit import current_user
from ringmap.errors import NotFound
from ringmap.fileio import input_file
from ringmap.graphs.model import FileLoad, Retracted, Retraction
from ringmap.graphs.store import Store
from ringmap.ingest.readers import scan_file

__all__ = ["loads_of", "retract"]


def loads_of(store: Store, target: str) -> list[FileLoad]:
    """The loads in the case that ``target`` names: an evidence file (by its SHA-256, with
    whatever mapping it was loaded) or an ingest run's id (every file it loaded).

    Raises
    ------
    NotFound
        If no load in the case matches, or every one that does is retracted already.
    """
    path = Path(target)
    if path.is_file():
        input_file(path)
        sha256 = scan_file(path, None)
        found = [f for f in store.file_loads() if f.sha256 == sha256]
        what = f"{target} (SHA-256 {sha256[:12]})"
    else:
        found = [f for f in store.file_loads() if f.run_id == target]
        what = f"ingest run {target}"
    if not found:
        raise NotFound(f"{what} was never loaded into this case: name an evidence file or an "
                       "ingest run (ringmap stats lists them)")
    active = [f for f in found if f.retracted is None]
    if not active:
        raise NotFound(f"{what} was retracted already; nothing to retract")
    return active


def retract(store: Store, loads: list[FileLoad], reason: str) -> Retracted:
    """Retract ``loads`` (see :func:`loads_of`) for ``reason``, by the current user.

    Raises
    ------
    NotFound
        If a load is no longer in the ledger (retracted meanwhile): nothing is changed.
    """
    return store.retract(loads, Retraction(user=current_user(), reason=reason))
