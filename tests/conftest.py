"""Shared fixtures: a secret for keyed hashing, stores parametrised over every backend, and the
committed example case built once per session.

``any_store`` runs a test once per store. The Neo4j store needs a live server: ``NEO4J_URI``
(with ``NEO4J_PASSWORD``) if set, else the repo's launcher ``tools/neo4j-dev`` when Java and
Maven are present; otherwise the Neo4j runs are skipped with the reason — and in CI
(``CI=true``) a skipped Neo4j test fails the run (see ``.ci/run``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.store import Store
from ringmap.testing import ingest_case
from ringmap.tests.browser.chromium import chromium
from ringmap.tests.example_case import STRIKEBACK

pytest_plugins = ["neo4j_fixtures"]  # the live server, neo4j_store_factory, the CI rule

# No per-example deadline: CI and these 2-core machines are shared, and a slow example is not a
# failure of the property under test.
settings.register_profile("ringmap", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ringmap")

TEST_SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _session_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Packages that session- and module-scoped fixtures write are signed with a key of the
    test session, never with the user's key (``~/.config/ringmap/signing.key``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("RINGMAP_SIGNING_KEY", raising=False)
        patch.setenv("RINGMAP_SIGNING_KEY_FILE",
                     str(tmp_path_factory.mktemp("signing") / "signing.key"))
        yield


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test hashes with a known key, signs with a key of its own and writes its audit
    log into its own tmp dir."""
    monkeypatch.setenv("RINGMAP_SECRET", TEST_SECRET)
    monkeypatch.delenv("RINGMAP_SIGNING_KEY", raising=False)
    monkeypatch.setenv("RINGMAP_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    monkeypatch.setenv("RINGMAP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("RINGMAP_OPERATION_KEYS_DIR", str(tmp_path / "operations"))
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.delenv("RINGMAP_STORE", raising=False)


StoreFactory = Callable[[], Store]

STORE_KINDS = ["embedded", "neo4j"]


@pytest.fixture(params=STORE_KINDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of fresh, empty stores of one kind; each call reopens the same case."""
    opened: list[Store] = []
    if request.param == "embedded":
        path = tmp_path / "case.db"

        def make() -> Store:
            store = EmbeddedStore(path)
            opened.append(store)
            return store
    else:
        make = request.getfixturevalue("neo4j_store_factory")
    yield make
    for store in opened:
        store.close()


@pytest.fixture
def any_store(store_factory: StoreFactory) -> Store:
    """A fresh, empty store, once per backend."""
    return store_factory()


@pytest.fixture
def wiped(tmp_path: Path) -> Iterator[Callable[[Store], Store]]:
    """Empties a store of ``store_factory``'s kind: a Neo4j database is wiped, an embedded
    case is left and a new case file opened."""
    opened: list[Store] = []

    def wipe(store: Store) -> Store:
        if isinstance(store, EmbeddedStore):
            fresh = EmbeddedStore(tmp_path / f"wiped-{len(opened)}.db")
            opened.append(fresh)
            return fresh
        store.wipe()  # type: ignore[attr-defined]
        return store

    yield wipe
    for store in opened:
        store.close()


@pytest.fixture
def store_opener(store_factory: StoreFactory, request: pytest.FixtureRequest,
                 tmp_path: Path) -> tuple[str, dict[str, str]]:
    """How another process opens the store of ``store_factory``: the case file or Neo4j URI
    to give :func:`~ringmap.graphs.store.open_store`, and the environment it needs."""
    if request.node.callspec.params["store_factory"] == "embedded":
        return str(tmp_path / "case.db"), dict(os.environ)
    server = request.getfixturevalue("neo4j_server")
    return server.uri, {**os.environ, **server.env}


@pytest.fixture(scope="session")
def strikeback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """The example case, ingested and with its cells detected, in an embedded store (read it,
    never write to it: the session shares it)."""
    if not (STRIKEBACK / "case.yaml").is_file():
        pytest.skip("examples/strikeback is not in this checkout")
    folder = tmp_path_factory.mktemp("strikeback")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RINGMAP_SECRET", TEST_SECRET)
        store = EmbeddedStore(folder / "case.db")
        ingest_case(store, STRIKEBACK, folder / "quarantine", detect=True)
    yield store
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for a module's browser tests (see ringmap.tests.browser.chromium)."""
    with chromium() as launched:
        yield launched
