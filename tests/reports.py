"""A small, valid cell report for tests that save or draw cells without detecting them."""

from __future__ import annotations

from typing import Any

from ringmap.graphs.model import CellReport, Money


def a_report(**fields: Any) -> CellReport:
    """A report of one agent with no victims, money or infrastructure, ``fields`` changed.

    >>> a_report(victims=3).victims
    3
    """
    empty = Money(payments=0, by_currency={}, usd=0.0, unconverted=0, undated=0, fx_table="")
    base: dict[str, Any] = {
        "agents": 1, "units": 1, "persons": [], "accounts": [], "confidence": 1.0,
        "infrastructure": {}, "sites": [], "victims": 0, "victims_by_country": {},
        "money": empty, "reports": [], "key_players": [], "centrality": {}, "brokers": [],
        "bridging_identifiers": []}
    return CellReport.model_validate(base | fields)
