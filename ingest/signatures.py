"""The duplicate-row signatures of one file, kept in about 8 bytes each instead of 75."""

from __future__ import annotations

import numpy as np

__all__ = ["Signatures"]

#: signatures kept in a set before they join the sorted array (about 20 MB of set)
_RECENT = 1 << 18
#: bits of the filter in front of the sorted array (32 MB): a new signature hits a set bit
#: about once in 40 at 6M signatures (one national file), and only then is it looked up
_FILTER_BITS = 28


class Signatures:
    """A set of row signatures (64-bit hashes, as :meth:`CompiledMapping.row` gives them):
    the same answers as a ``set`` of them, in far less memory.

    A set of Python ints takes about 75 bytes a signature, 470 MB for the 6.2M rows of one
    national file (issue 14). Here the latest signatures wait in a small set; the rest are
    kept in a sorted array of 8 bytes each behind a filter of their low bits, so most
    signatures (new ones) are answered by the set and one bit, and only one whose bit is set
    is looked up in the array. Nothing is approximated: a signature is a duplicate only when
    it is in the set or the array.

    >>> seen = Signatures()
    >>> seen.add(hash(("a", 1)))
    >>> hash(("a", 1)) in seen, hash(("b", 2)) in seen
    (True, False)
    """

    __slots__ = ("_bits", "_mask", "_recent", "_sorted")

    def __init__(self) -> None:
        self._recent: set[int] = set()
        self._sorted = np.empty(0, dtype=np.int64)
        # no filter until the first signatures join the array: every bit reads 0
        self._bits = bytearray(1)
        self._mask = 0

    def __contains__(self, signature: int) -> bool:
        if signature in self._recent:
            return True
        low = signature & self._mask
        if not self._bits[low >> 3] >> (low & 7) & 1:
            return False
        found = self._sorted
        at = int(np.searchsorted(found, signature))
        return at < found.size and int(found[at]) == signature

    def add(self, signature: int) -> None:
        recent = self._recent
        recent.add(signature)
        if len(recent) >= _RECENT:
            self._fold()

    def _fold(self) -> None:
        """Move the set's signatures into the sorted array and the filter."""
        if not self._mask:
            self._bits = bytearray(1 << (_FILTER_BITS - 3))
            self._mask = (1 << _FILTER_BITS) - 1
        new = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
        new.sort()
        # two sorted runs: the stable sort (timsort) merges them in one pass
        self._sorted = np.sort(np.concatenate((self._sorted, new)), kind="stable")
        low = new & self._mask
        np.bitwise_or.at(np.frombuffer(self._bits, dtype=np.uint8), low >> 3,
                         np.left_shift(1, low & 7).astype(np.uint8))
        self._recent.clear()
