"""Money in US dollars at the rate of the payment's date, from a dated table shipped with the code.

``fx_usd.csv`` holds ``date,currency,usd_per_unit`` rows (approximate 1 January reference rates
2010-2026). A payment converts at the nearest rate on or before its date; an undated payment at
the latest rate; a payment older than every rate, or in a currency the table lacks, is not
converted and is counted as such.

Examples
--------
>>> from datetime import date
>>> table = FxTable.load()
>>> table.to_usd(100.0, "USD", date(2014, 3, 1))
100.0
>>> round(table.to_usd(1000.0, "GBP", date(2014, 3, 1)) or 0.0, 2)
1650.0
>>> table.to_usd(5.0, "XXX", date(2014, 3, 1)) is None
True
"""

from __future__ import annotations

import bisect
import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path

from ringmap.errors import ConfigError

__all__ = ["FxTable"]


@dataclass(frozen=True)
class FxTable:
    """Dated USD rates per currency, each list sorted by date."""

    dates: dict[str, list[date]]
    rates: dict[str, list[float]]
    source: str

    @staticmethod
    def load(path: Path | None = None) -> FxTable:
        """The table in ``path``, or the one shipped with ringmap (read once)."""
        return _load(str(path) if path is not None else None)

    def rate(self, currency: str, when: date | datetime | None) -> float | None:
        """USD per unit of ``currency`` on ``when`` (nearest earlier rate); ``None`` if none."""
        dates = self.dates.get(currency.upper())
        if not dates:
            return None
        if when is None:
            return self.rates[currency.upper()][-1]
        day = when.date() if isinstance(when, datetime) else when
        i = bisect.bisect_right(dates, day)
        return self.rates[currency.upper()][i - 1] if i else None

    def to_usd(self, amount: float, currency: str, when: date | datetime | None) -> float | None:
        """``amount`` in USD at the rate of ``when``; ``None`` when there is no rate."""
        rate = self.rate(currency, when)
        return None if rate is None else amount * rate


@cache
def _load(path: str | None) -> FxTable:
    if path is None:
        text = resources.files("ringmap.analysis").joinpath("fx_usd.csv").read_text("utf-8")
        source = "ringmap analysis/fx_usd.csv"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the FX table {path}: {exc.strerror}") from None
        source = path
    rows: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for line_no, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows[row["currency"].strip().upper()].append(
                (date.fromisoformat(row["date"].strip()), float(row["usd_per_unit"])))
        except (KeyError, ValueError, AttributeError):
            raise ConfigError(f"FX table {source}, line {line_no}: expected "
                              "date,currency,usd_per_unit") from None
    ordered = {c: sorted(r) for c, r in rows.items()}
    return FxTable(
        dates={c: [d for d, _ in r] for c, r in ordered.items()},
        rates={c: [v for _, v in r] for c, r in ordered.items()},
        source=source,
    )
