"""issue 12: every attempt of the Cypher corpus is refused by the text guard (the fast run;
``test_cypher_guard_neo4j.py`` runs them against the real server)."""

from __future__ import annotations

from collections import Counter

from ringmap.queries.guard import WriteRefused, check_read_only
from ringmap.tests.attack.cypher_corpus import ATTEMPTS, DISGUISES


def test_issue_12_at_least_200_attempts_of_every_family() -> None:
    families = Counter(payload.family for _, payload, _ in ATTEMPTS)
    assert len(ATTEMPTS) >= 200, len(ATTEMPTS)
    assert set(families) == {"write", "procedure", "admin", "function"}
    assert len(DISGUISES) >= 15


def test_issue_12_the_text_guard_refuses_every_attempt() -> None:
    passed = []
    for label, _, statement in ATTEMPTS:
        try:
            check_read_only(statement)
        except WriteRefused:
            continue
        passed.append((label, statement))
    assert passed == []
