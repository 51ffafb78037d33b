"""The standing corpus of ``ringmap cypher`` guard attempts: every statement that writes,
administers or calls a procedure outside the allowlist, each in every disguise.

A payload is what an analyst (or a statement pasted from evidence) must never get run; a
disguise is a way of spelling it that a text check might read differently from Cypher:
comments, Unicode escapes, backtick-quoted names, Unicode spaces and line breaks, subqueries.
:data:`ATTEMPTS` is every payload in every disguise. ``test_cypher_guard.py`` runs them all
against the text guard; ``test_cypher_guard_neo4j.py`` against the real server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Payload:
    """A statement the guard must refuse; ``server_reads`` when Neo4j plans it as a read (or
    cannot plan it), so that only the text check stops it."""

    family: str
    text: str
    server_reads: bool = False


def _payloads(family: str, *texts: str, server_reads: bool = False) -> list[Payload]:
    return [Payload(family, text, server_reads) for text in texts]


PAYLOADS: list[Payload] = [
    *_payloads(
        "write",
        "CREATE (n:Person {id: 'x'})",
        "MATCH (n) DETACH DELETE n",
        "MATCH (n) SET n.x = 1",
        "MATCH (n) SET n += {x: 1}",
        "MATCH (n) SET n:Evil",
        "MERGE (n:Phone {id: 'y'})",
        "MATCH (n) REMOVE n.name",
        "OPTIONAL MATCH (n) MERGE (m:X {id: 1})",
        "UNWIND [1] AS x CALL { CREATE (:X) } IN TRANSACTIONS",
        "FOREACH (i IN [1] | CREATE (:X))",
        "MATCH (n) WITH n LIMIT 1 CALL (n) { SET n.y = 2 } RETURN 1",
        "CREATE CONSTRAINT c FOR (n:X) REQUIRE n.id IS UNIQUE",
        "CREATE INDEX i FOR (n:X) ON (n.y)",
        "DROP INDEX foo IF EXISTS",
        "DROP CONSTRAINT ringmap_phone_id IF EXISTS",
    ),
    *_payloads(
        "procedure",
        "CALL dbms.killConnections(['bolt-1'])",
        "CALL dbms.killQueries(['query-1'])",
        "CALL dbms.listConfig()",
        "CALL dbms.listConnections()",
        "CALL dbms.listQueries()",
        "CALL dbms.setConfigValue('db.logs.query.enabled', 'OFF')",
        "CALL dbms.security.createUser('x', 'y', false)",
        "CALL dbms.security.listUsers()",
        "CALL dbms.showCurrentUser()",
        "CALL dbms.components()",
        "CALL dbms.procedures()",
        "CALL db.clearQueryCaches()",
        "CALL db.stats.retrieve('QUERIES')",
        "CALL db.stats.collect('QUERIES')",
        "CALL db.stats.clearAll()",
        "CALL db.createLabel('X')",
        "CALL db.createProperty('x')",
        "CALL db.createRelationshipType('X')",
        "CALL db.checkpoint()",
        "CALL db.awaitIndexes(1)",
        "CALL db.index.fulltext.queryNodes('i', 'x')",
        "CALL tx.setMetaData({a: 1})",
        "CALL db.info()",
        "CALL db.ping()",
        "CALL apoc.load.json('file:///etc/passwd')",
    ),
    *_payloads(
        "admin",
        "SHOW USERS",
        "SHOW CURRENT USER",
        "SHOW SETTINGS",
        "SHOW TRANSACTIONS",
        "SHOW DATABASES",
        "SHOW PROCEDURES",
        "SHOW FUNCTIONS",
        "SHOW ROLES",
        "SHOW PRIVILEGES",
        "SHOW SERVERS",
        "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
        "CREATE USER mallory SET PASSWORD 'secret-pass'",
        "ALTER USER neo4j SET PASSWORD 'owned-pass'",
        "CREATE DATABASE evil",
        "STOP DATABASE neo4j",
        "GRANT TRAVERSE ON GRAPH * TO reader",
        server_reads=True,
    ),
    *_payloads(
        "function",
        "RETURN dbms.info()",
        "RETURN apoc.version()",
        "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n) RETURN n', {})",
        "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
        "LOAD CSV WITH HEADERS FROM 'http://127.0.0.1:1/x.csv' AS row RETURN row",
        server_reads=True,
    ),
]


def _escaped(text: str) -> str:
    """The first letter as a Unicode escape, as Cypher decodes it."""
    return f"\\u{ord(text[0]):04x}{text[1:]}"


def _escaped_upper_hex(text: str) -> str:
    """The first letter of every word escaped, upper-case hex digits."""
    return " ".join(f"\\u{ord(w[0]):04X}{w[1:]}" if w[:1].isalpha() else w
                    for w in text.split(" "))


def _all_escaped(text: str) -> str:
    """Every letter a Unicode escape."""
    return "".join(f"\\u{ord(c):04x}" if c.isalpha() else c for c in text)


def _backticked(text: str) -> str:
    """Every dotted name part of a CALL or a namespaced function in backticks."""
    head, sep, rest = text.partition("(")
    words = head.split(" ")
    name = words[-1]
    if "." not in name:
        return text
    return " ".join([*words[:-1], ".".join(f"`{part}`" for part in name.split("."))]) + sep + rest


def _whole_backticked(text: str) -> str:
    """The dotted name of a CALL as one backtick-quoted name."""
    head, sep, rest = text.partition("(")
    words = head.split(" ")
    if "." not in words[-1]:
        return text
    return " ".join([*words[:-1], f"`{words[-1]}`"]) + sep + rest


DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "lower": str.lower,
    "mixed-case": lambda s: "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s)),
    "escaped": _escaped,
    "escaped-upper-hex": _escaped_upper_hex,
    "all-escaped": _all_escaped,
    "comment-cr": lambda s: f"RETURN 1 AS one // c\r{s}",
    "comment-ls": lambda s: f"RETURN 1 AS one // c\u2028{s}",
    "comment-nel": lambda s: f"RETURN 1 AS one // c\u0085{s}",
    "escaped-newline-in-comment": lambda s: f"RETURN 1 AS one // c\\u000a{s}",
    "block-comment": lambda s: s.replace(" ", " /* x */ ", 1),
    "comment-in-name": lambda s: s.replace(".", "/* . */.", 1),
    "backticks": _backticked,
    "whole-backticked": _whole_backticked,
    "escaped-backticks": lambda s: _escaped(_backticked(s)),
    "nbsp": lambda s: s.replace(" ", "\u00a0"),
    "ideographic-space": lambda s: s.replace(" ", "\u3000"),
    "tabs-and-breaks": lambda s: s.replace(" ", "\t\r\n"),
    "union": lambda s: f"MATCH (n) RETURN count(n) AS c UNION {s}",
    "after-a-read": lambda s: f"MATCH (n) WITH count(n) AS c {s}",
    "second-statement": lambda s: f"RETURN 1 AS one; {s}",
}

#: disguises that hide the payload from the server (in a comment there), which the text
#: check, stricter, still refuses
HIDDEN_FROM_THE_SERVER = frozenset({"comment-ls", "comment-nel"})

ATTEMPTS: list[tuple[str, Payload, str]] = list(
    {disguise(p.text): (f"{name}:{p.family}:{i}", p, disguise(p.text))
     for i, p in enumerate(PAYLOADS) for name, disguise in DISGUISES.items()}.values())
"""``(label, payload, statement)`` for every payload in every disguise, each statement once."""
