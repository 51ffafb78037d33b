// @name money-by-cell
// @description Payments made by the victims each cell contacted, per currency: count, payers and total.
// @param run: run
// @param cell: cell = null
// @param limit: int = 1000
// @column cell: str
// @column currency: str
// @column payments: int
// @column payers: int
// @column total: money
// A victim contacted by two cells counts for both; the cell's side is as in victims-by-country.
MATCH (c:Cell {run_id: $run})<-[:MEMBER_OF]-(m)
WHERE $cell IS NULL OR c.cell_id = $cell
OPTIONAL MATCH (m)-[:USES]-(o)
WHERE (m:Person AND (o:Account OR o:Phone)) OR (m:Account AND o:Person)
WITH c, collect(m) + collect(o) AS side
UNWIND side AS agent
WITH DISTINCT c, agent
MATCH (agent)-[:CONTACTED]-(:Account|Phone)<-[:USES]-(v:Person {role: 'victim'})
WITH DISTINCT c, v
MATCH (v)-[:PAID]->(p:Payment)
RETURN c.cell_id AS cell, coalesce(p.currency, '??') AS currency, count(p) AS payments,
       count(DISTINCT v) AS payers, sum(p.amount) AS total
ORDER BY cell, currency
LIMIT $limit
