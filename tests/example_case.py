"""The committed synthetic example case, ``examples/strikeback``, for tests that read it.

The ``strikeback`` fixture (conftest) builds it once per session; tests load its evidence into
another store (a Neo4j one, say) with :func:`ringmap.testing.ingest_case`.
"""

from __future__ import annotations

from pathlib import Path

#: The example case folder (``ringmap run examples/strikeback``).
STRIKEBACK = Path(__file__).resolve().parents[1] / "examples" / "strikeback"
