"""Pytest plugin: a live Neo4j server for the tests, and the CI rule that it may not be missing.

The server is ``NEO4J_URI`` (with ``NEO4J_USERNAME``/``NEO4J_PASSWORD``/``NEO4J_DATABASE``) when
set, else one started for the session by ``tools/neo4j-dev/neo4j-dev`` (Java and Maven needed)
on a free port with a temporary data directory and a random password, stopped at the end.
Without either, Neo4j tests skip with the reason — unless ``CI`` is set and
``RINGMAP_REQUIRE_NEO4J=1``, where a skipped Neo4j test is reported as a failure.

Every test gets an empty database: the tests wipe it, and wipe it again at the end of the
session. A ``NEO4J_URI`` database that holds data at the start is refused (skip) unless
``RINGMAP_NEO4J_WIPE=1``, so that the tests never wipe a real case.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ringmap.graphs.neo4j_store import Neo4jStore
from ringmap.graphs.store import Store

LAUNCHER = Path(__file__).resolve().parents[1] / "tools" / "neo4j-dev" / "neo4j-dev"
START_TIMEOUT_S = 600
_ANY_NODE = "MATCH (n) RETURN count(n) > 0 AS found"

# read at import: the autouse fixture of conftest removes NEO4J_URI from each test's environment
_ENV = {name: os.environ.get(name) for name in
        ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE")}


@dataclass(frozen=True)
class Neo4jServer:
    """Where the test server listens and how to log in."""

    uri: str
    username: str
    password: str | None
    database: str
    env: dict[str, str]  # the environment a subprocess needs to reach it
    home: Path | None = None  # the tools/neo4j-dev state dir of a launched server

    def connect(self, **options: int) -> Neo4jStore:
        """A store on the test database."""
        return Neo4jStore.connect(self.uri, database=self.database, username=self.username,
                                  password=self.password, **options)


def require_neo4j() -> bool:
    """Whether a skipped Neo4j test must fail the run (CI with ``RINGMAP_REQUIRE_NEO4J=1``)."""
    return bool(os.environ.get("CI")) and os.environ.get("RINGMAP_REQUIRE_NEO4J") == "1"


def _launched(tmp: Path) -> Iterator[Neo4jServer]:
    if not (shutil.which("java") and shutil.which("mvn")):
        pytest.skip("no Neo4j: set NEO4J_URI and NEO4J_PASSWORD, or install java and mvn so "
                    "that tools/neo4j-dev can start one")
    password = secrets.token_urlsafe(18)
    env = {**os.environ, "NEO4J_PASSWORD": password, "RINGMAP_NEO4J_HOME": str(tmp)}
    try:
        started = subprocess.run(
            [str(LAUNCHER), "start", "--port", "0", "--data", str(tmp / "data")], env=env,
            capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"tools/neo4j-dev did not start within {START_TIMEOUT_S} s")
    ready = [line.split()[1] for line in started.stdout.splitlines()
             if line.startswith("READY ")]
    if started.returncode != 0 or not ready:
        last = (started.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"tools/neo4j-dev start failed: {last}")
    server = Neo4jServer(ready[0], "neo4j", password, "neo4j",
                         {"NEO4J_URI": ready[0], "NEO4J_USERNAME": "neo4j",
                          "NEO4J_PASSWORD": password, "NEO4J_DATABASE": "neo4j"}, tmp)
    try:
        yield server
    finally:
        subprocess.run([str(LAUNCHER), "stop", "--wipe"], env=env, capture_output=True,
                       timeout=120, check=False)


def _external(uri: str) -> Iterator[Neo4jServer]:
    env = {k: v for k, v in _ENV.items() if v is not None}
    home = os.environ.get("RINGMAP_NEO4J_HOME")  # a tools/neo4j-dev server of one's own
    server = Neo4jServer(uri, _ENV["NEO4J_USERNAME"] or "neo4j", _ENV["NEO4J_PASSWORD"],
                         _ENV["NEO4J_DATABASE"] or "neo4j", env, Path(home) if home else None)
    with server.connect() as store:
        if store.query(_ANY_NODE)[0]["found"] and os.environ.get("RINGMAP_NEO4J_WIPE") != "1":
            pytest.skip(f"NEO4J_URI database {server.database!r} holds data the tests would "
                        "wipe; use an empty database or set RINGMAP_NEO4J_WIPE=1")
    yield server
    with server.connect() as store:
        store.wipe()


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """The live Neo4j server of this test session (skips when there is none)."""
    if _ENV["NEO4J_URI"]:
        yield from _external(_ENV["NEO4J_URI"])
    else:
        yield from _launched(tmp_path_factory.mktemp("neo4j-dev"))


@pytest.fixture
def neo4j_store_factory(neo4j_server: Neo4jServer) -> Iterator[Callable[[], Store]]:
    """A factory of stores on the test database, emptied before the test."""
    opened: list[Neo4jStore] = []

    def make() -> Store:
        store = neo4j_server.connect()
        opened.append(store)
        return store

    with neo4j_server.connect() as store:
        store.wipe()
    yield make
    for store in opened:
        store.close()


def _uses_neo4j(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return ("neo4j" in params.values() or item.get_closest_marker("neo4j") is not None
            or any("neo4j" in name for name in getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on Neo4j ``neo4j`` (select with ``-m neo4j``)."""
    for item in items:
        if _uses_neo4j(item):
            item.add_marker(pytest.mark.neo4j)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI with ``RINGMAP_REQUIRE_NEO4J=1``, a skipped Neo4j test is a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and require_neo4j() and _uses_neo4j(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Neo4j test skipped but RINGMAP_REQUIRE_NEO4J=1 in CI: {reason}"
