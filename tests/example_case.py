"""The committed synthetic example case, ``examples/strikeback``, for tests that read it.

The ``strikeback`` fixture (conftest) builds it once per session; :func:`ingest_example` loads
its evidence into another store (a Neo4j one, say).
"""

from __future__ import annotations

from pathlib import Path

from ringmap.graphs.store import Store
from ringmap.ingest.case import load_case
from ringmap.ingest.run import check_files, ingest_files

#: The example case folder (``ringmap run examples/strikeback``).
STRIKEBACK = Path(__file__).resolve().parents[1] / "examples" / "strikeback"


def ingest_example(store: Store, quarantine: Path) -> None:
    """Load every evidence table of the example case into ``store``."""
    ingest_files(store, check_files(load_case(STRIKEBACK)), quarantine_dir=quarantine)
