"""Every named query on the Strikeback example case: rows on the embedded store, and the same
rows on Neo4j (the Neo4j leg runs when a server is available)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.queries.catalog import catalog
from ringmap.queries.engine import run_named
from ringmap.tests.example_case import ingest_example


def _first(store: Store, rel: str, src_type: str | None = None,
           dst_type: str | None = None) -> tuple[str, str]:
    for edge in store.edges([rel]):
        if (src_type is None or edge.src.startswith(src_type + ":")) and (
                dst_type is None or edge.dst.startswith(dst_type + ":")):
            return edge.src, edge.dst
    raise AssertionError(f"the example case has no {rel} from {src_type} to {dst_type}")


def _shared_pair(store: Store) -> tuple[str, str]:
    """Two accounts seen on the same device."""
    on_device: dict[str, list[str]] = defaultdict(list)
    for edge in store.edges(["LOGGED_IN_ON"]):
        on_device[edge.dst].append(edge.src)
    pair = next(accounts for accounts in on_device.values() if len(accounts) > 1)
    return pair[0], pair[1]


def _calls(store: Store) -> dict[str, dict[str, str]]:
    """Parameters that name real entities of the case, for every named query."""
    account, device = _first(store, "LOGGED_IN_ON")
    a, b = _shared_pair(store)
    latest = store.latest_cells()
    assert latest is not None
    return {
        "accounts-on-device": {"device": device},
        "devices-of-account": {"account": account},
        "who-used-identifier": {"identifier": _first(store, "HAS_NUMBER")[1]},
        "shared-identifiers": {"a": a, "b": b},
        "contacts-of-account": {"account": _first(store, "CONTACTED", "Account")[0]},
        "agents-at-site": {"site": _first(store, "ARRESTED_AT")[1]},
        "reports-for-account": {"account": _first(store, "NAMES", dst_type="Account")[1]},
        "cell-members": {"cell": latest[1][0].cell_id},
        "victims-by-country": {},
        "money-by-cell": {},
        "money-trail": {"instrument": _first(store, "PAID_TO")[1]},
        "top-brokers": {},
        "cross-border-summary": {},
    }


def test_every_query_answers_on_the_example(strikeback: EmbeddedStore) -> None:
    calls = _calls(strikeback)
    assert set(calls) == set(catalog())
    for name, params in calls.items():
        assert run_named(strikeback, name, params).rows, name


def test_same_rows_on_neo4j(
    strikeback: EmbeddedStore, neo4j_store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    neo4j = neo4j_store_factory()
    ingest_example(neo4j, tmp_path / "quarantine")
    run = strikeback.analysis_runs()[-1]
    neo4j.save_cells(run, strikeback.load_cells(run.run_id))  # the very same cells
    assert neo4j.counts() == strikeback.counts()
    for name, params in _calls(strikeback).items():
        for reveal in (False, True):
            expected = run_named(strikeback, name, params, reveal=reveal).rows
            assert run_named(neo4j, name, params, reveal=reveal).rows == expected, name
