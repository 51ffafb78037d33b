"""Per-source property values: which source's value a case shows, and where sources disagree.

Every load of an evidence file *states* the properties of each node and relationship it saw
(its rows merged, later rows overwriting). The stores keep every load's statement beside the
value they show, which is materialised so that reads and queries stay as fast as before:

- a property shows the value of the best-graded load that stated it, the newest on a tie
  (:func:`rank`): a lower-graded source never overwrites a higher-graded one;
- ``first_seen``, ``last_seen`` and ``count`` are not contested but widened over every
  source (:data:`~ringmap.graphs.codec.WIDENED`), as repeated sightings widen them;
- two loads *disagree* on a property when they state different values for it
  (:func:`disputed`).

Grades of both schemes are ordered by :meth:`~ringmap.graphs.model.Grading.reliability`
(Admiralty ``A1`` first, then ``B1``, ``A2`` ...; UK 3x5x2 ``1A`` equal to ``A1``).

>>> from datetime import UTC, datetime
>>> from ringmap.graphs.model import FileLoad, Grading
>>> def load(grade, name):
...     return FileLoad(sha256="0", source_file=name, mapping="m", mapping_digest="d",
...                     run_id="r", grading=Grading.parse(grade),
...                     ingested_at=datetime(2026, 1, 1, tzinfo=UTC))
>>> stated = [(load("A1", "exhibits.csv"), 1, {"name": "Maria Santos", "role": "suspect"}),
...           (load("C3", "tip.csv"), 2, {"name": "Paolo Soriano", "role": "mule"})]
>>> shown_props(stated)
{'name': 'Maria Santos', 'role': 'suspect'}
>>> disputed(stated)
['name', 'role']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from ringmap.graphs.codec import WIDENED, merge_props
from ringmap.graphs.model import FileLoad, Grading, GradingScheme, Statement

__all__ = ["Rank", "Stated", "disputed", "rank", "shown_props", "statements"]

Stated = tuple[FileLoad, int, dict[str, Any]]
"""One load's statement of an item: the load, its number in the store (later loads have larger
numbers) and the properties it stated."""

Rank = tuple[float, datetime, int]


def rank(load: FileLoad, number: int) -> Rank:
    """How far a load's values are preferred: by grading, then the newest (ingest time, then
    the store's load number)."""
    grading = load.grading
    return _reliability(grading.scheme, grading.grade), load.ingested_at, number


@cache
def _reliability(scheme: GradingScheme, grade: str) -> float:
    """:meth:`Grading.reliability` of a grade, worked out once (an ingest ranks the
    statements of every item that two loads state: tens of thousands of times a few
    gradings)."""
    return Grading(scheme=scheme, grade=grade).reliability()


def shown_props(stated: Iterable[Stated]) -> dict[str, Any]:
    """The values a case shows for an item stated by these loads: each property from the
    best-ranked load that stated it; widened properties over all of them."""
    shown: dict[str, Any] = {}
    for _load, _number, props in sorted(stated, key=lambda s: rank(s[0], s[1])):
        merge_props(shown, props)
    return shown


def statements(item: str, stated: Sequence[Stated]) -> list[Statement]:
    """Every value of every property of ``item``, by property, the best-ranked source first,
    each marked whether it is the value shown."""
    shown = shown_props(stated)
    out = [
        Statement(item=item, property=name, value=value, shown=shown.get(name) == value,
                  source_file=load.source_file, sha256=load.sha256, mapping=load.mapping,
                  run_id=load.run_id, ingested_at=load.ingested_at, grading=load.grading)
        for load, _number, props in sorted(stated, key=lambda s: rank(s[0], s[1]), reverse=True)
        for name, value in props.items()
    ]
    out.sort(key=lambda s: s.property)  # stable: each property's sources stay best first
    return out


def disputed(stated: Iterable[Stated]) -> list[str]:
    """The properties these loads state different values for, sorted (widened properties
    are never disputed)."""
    values: dict[str, set[Any]] = {}
    for _load, _number, props in stated:
        for name, value in props.items():
            if name not in WIDENED:
                values.setdefault(name, set()).add(_canonical(value))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def _canonical(value: Any) -> Any:
    """``value`` itself when it can be compared by hash, else its canonical JSON."""
    try:
        hash(value)
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)
    return value
