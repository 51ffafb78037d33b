"""Agreement between two partitions: adjusted Rand index and normalised mutual information.

Both take two equally long label sequences (one label per item, any hashable labels) and return
a float; 1.0 means the same partition up to renaming. The formulas are Hubert & Arabie's ARI and
NMI with the arithmetic-mean normalisation (scikit-learn's defaults).

Examples
--------
>>> adjusted_rand_index([0, 0, 1, 1], ["a", "a", "b", "b"])
1.0
>>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 3)
-0.5
>>> normalised_mutual_information([0, 0, 1, 1], [1, 1, 0, 0])
1.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = ["adjusted_rand_index", "normalised_mutual_information"]


def _contingency(
    a: Sequence[Hashable], b: Sequence[Hashable]
) -> tuple[Counter[tuple[Hashable, Hashable]], Counter[Hashable], Counter[Hashable]]:
    if len(a) != len(b):
        raise ValueError(f"partitions differ in length: {len(a)} != {len(b)}")
    return Counter(zip(a, b, strict=True)), Counter(a), Counter(b)


def _comb2(n: int) -> float:
    return n * (n - 1) / 2.0


def adjusted_rand_index(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """The adjusted Rand index of two labelings (1 = identical, ~0 = chance).

    Parameters
    ----------
    a, b
        One label per item, in the same item order.

    Returns
    -------
    float
        ARI; 1.0 for identical partitions, including two all-singleton or one-block ones.
    """
    joint, rows, cols = _contingency(a, b)
    n = len(a)
    if n < 2:
        return 1.0
    index = sum(_comb2(c) for c in joint.values())
    sum_rows = sum(_comb2(c) for c in rows.values())
    sum_cols = sum(_comb2(c) for c in cols.values())
    expected = sum_rows * sum_cols / _comb2(n)
    maximum = (sum_rows + sum_cols) / 2.0
    if maximum == expected:  # both trivial (all singletons or one block): identical
        return 1.0
    return (index - expected) / (maximum - expected)


def _entropy(counts: Counter[Hashable], n: int) -> float:
    return -sum(c / n * math.log(c / n) for c in counts.values())


def normalised_mutual_information(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Mutual information of two labelings divided by the mean of their entropies.

    Parameters
    ----------
    a, b
        One label per item, in the same item order.

    Returns
    -------
    float
        NMI in [0, 1]; 1.0 when both partitions are trivial and equal.
    """
    joint, rows, cols = _contingency(a, b)
    n = len(a)
    if n == 0:
        return 1.0
    h_a, h_b = _entropy(rows, n), _entropy(cols, n)
    if h_a == 0.0 and h_b == 0.0:
        return 1.0
    mi = sum(c / n * math.log(c * n / (rows[x] * cols[y])) for (x, y), c in joint.items())
    return max(0.0, min(1.0, mi / ((h_a + h_b) / 2.0)))
