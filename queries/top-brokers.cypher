// @name top-brokers
// @description Brokers between cells: people, accounts and identifiers outside any cell, and not set aside by the run as infrastructure, that touch the side of two or more cells.
// @param run: run
// @param infrastructure: infrastructure
// @param limit: int = 20
// @column broker: party
// @column type: str
// @column cells: int
// @column agents: int
// The cell's side is as in victims-by-country. $infrastructure (read from the run's summary:
// office Wi-Fi, carrier NAT, raid sites shared by more agents than the run's threshold) ties
// cells only because everyone uses it, so it is no broker and is left out.
MATCH (c:Cell {run_id: $run})<-[:MEMBER_OF]-(m)
OPTIONAL MATCH (m)-[:USES]-(o)
WHERE (m:Person AND (o:Account OR o:Phone)) OR (m:Account AND o:Person)
WITH c, collect(m) + collect(o) AS side
UNWIND side AS agent
WITH DISTINCT c, agent
MATCH (agent)-[:USES|HOLDS|REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON|SIM_IN|HAS_NUMBER|CONTACTED|
               WORKS_AT|ARRESTED_AT|SEIZED_FROM|NAMES]-(x)
WHERE NOT x.id IN $infrastructure
  AND NOT EXISTS { (x)-[:MEMBER_OF]->(:Cell {run_id: $run}) }
WITH x, count(DISTINCT c) AS cells, count(DISTINCT agent) AS agents
WHERE cells >= 2
RETURN x.id AS broker, split(x.id, ':')[0] AS type, cells, agents
ORDER BY cells DESC, agents DESC, broker
LIMIT $limit
