"""issue 14: the duplicate-row signatures of a file (:class:`ringmap.ingest.signatures.
Signatures`) answer exactly as a set of them, across the folds into the sorted array and
the filter's false hits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringmap.ingest import signatures
from ringmap.ingest.signatures import Signatures

_SIGNATURE = st.integers(min_value=-(2**63) + 2, max_value=2**63 - 1)


@given(st.lists(_SIGNATURE | st.integers(-40, 40), max_size=300))
def test_issue_14_signatures_answer_as_a_set(found: list[int]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        # folds every 7 signatures into a filter of 64 bits: most bits set, many false hits
        patch.setattr(signatures, "_RECENT", 7)
        patch.setattr(signatures, "_FILTER_BITS", 6)
        seen, expected = Signatures(), set()
        for signature in found:
            assert (signature in seen) == (signature in expected)
            if signature not in expected:
                seen.add(signature)
                expected.add(signature)
        assert all(signature in seen for signature in expected)
        assert not any(signature + 1 in seen for signature in expected
                       if signature + 1 not in expected and signature < 2**63 - 1)


def test_issue_14_signatures_hold_a_national_file_in_8_bytes_each() -> None:
    seen = Signatures()
    for n in range(signatures._RECENT * 3):
        seen.add(hash((n, "row")))
    assert seen._sorted.nbytes == 8 * signatures._RECENT * 3
    assert not seen._recent
    assert hash((5, "row")) in seen and hash((-5, "row")) not in seen
