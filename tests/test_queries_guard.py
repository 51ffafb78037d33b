"""``ringmap cypher``'s guard: anything that could write is refused before it is sent."""

from __future__ import annotations

import pytest

from ringmap.queries.guard import WriteRefused, check_read_only

REFUSED = [
    "CREATE (n)",
    "create (n:Person {id: 'x'})",
    "MATCH (n) SET n.x = 1",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) DELETE n",
    "MERGE (n:Phone {id: $id})",
    "MATCH (n) REMOVE n.name",
    "DROP CONSTRAINT ringmap_phone_id",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10 ROWS",
    "MATCH (n) CALL { WITH n RETURN n } IN TRANSACTIONS RETURN n",
    "UNWIND [1] AS x FOREACH (i IN [1] | CREATE (:X))",
    "CALL dbms.security.createUser('x', 'y', false)",
    "CALL db.createLabel('X')",
    "CALL db.index.fulltext.createNodeIndex('i', ['A'], ['b'])",
    "CALL apoc.create.node(['X'], {})",
    "RETURN apoc.cypher.runFirstColumnSingle('CREATE (n) RETURN n', {})",
    "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {})",
    "MATCH (n) RETURN n // harmless\nCREATE (m)",
    "MATCH (n) /* a comment */ SET n.x = 1",
    "USE system SHOW USERS",
    "GRANT ROLE admin TO bob",
    "RETURN 'unclosed",
    "MATCH (n) RETURN n /* unclosed",
    "   ",
    "CaLl   dbms.killQuery('q')",
    "MATCH (n) RETURN n UNION MATCH (m) DETACH\nDELETE m",
    "CALL db . createProperty('x')",
    # issue 12: backtick-quoted names, escapes and line breaks Cypher reads differently
    "CALL `dbms`.`killConnections`(['bolt-1'])",
    "CALL `dbms.listConfig`()",
    "CALL db.`stats`.retrieve('QUERIES')",
    "CALL db.clearQueryCaches()",
    "MATCH (n) RETURN n // c\rCREATE (m)",
    "MATCH (n) RETURN n // c\u2028CREATE (m)",
    "\\u0043REATE (n)",
    "MATCH (n) \\u0053ET n.x = 1",
    "CALL \\u0064bms.listConnections()",
    "RETURN '\\u0027 CREATE (n) //'",
    "SHOW USERS",
    "SHOW SETTINGS",
    "SHOW TRANSACTIONS",
    "show all procedures",
    "RETURN dbms.info()",
    "RETURN apoc.text.join(['a'], ',')",
    "RETURN `apoc`.`cypher`.runFirstColumnSingle('CREATE (n)', {})",
]

ALLOWED = [
    "MATCH (n:Phone) RETURN n.id LIMIT 5",
    "RETURN 'CREATE (n)' AS text",
    'RETURN "DETACH DELETE" AS text, \'it\\\'s SET\' AS other',
    "MATCH (n) WHERE n.name = 'x; DROP' RETURN n // CREATE later",
    "MATCH (n) /* MERGE ideas */ RETURN count(n)",
    "MATCH (n) RETURN n.`SET` AS s",
    "MATCH (n) WHERE n.id = $create RETURN n",
    "CALL db.labels() YIELD label RETURN label",
    "MATCH (n:Cell) CALL (n) { MATCH (n)<-[:MEMBER_OF]-(m) RETURN count(m) AS size } "
    "RETURN n.cell_id, size",
    "MATCH p = shortestPath((a:Account {id: $a})-[*..6]-(b:Account {id: $b})) RETURN p",
    "SHOW INDEXES",
    "SHOW RANGE INDEXES YIELD name RETURN name",
    "RETURN date('2014-05-02') AS d, duration.between(date(), date()) AS gap",
    "MATCH (n) WHERE n.`CREATE` = 'x' RETURN n",
    "RETURN '\\\\u0043REATE' AS escaped_backslash",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_write_statements_refused(statement: str) -> None:
    with pytest.raises(WriteRefused, match=r"^refused: "):
        check_read_only(statement)


@pytest.mark.parametrize("statement", ALLOWED)
def test_read_statements_allowed(statement: str) -> None:
    check_read_only(statement)
