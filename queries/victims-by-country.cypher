// @name victims-by-country
// @description Victims each cell contacted, by the victim's country (one cell or every cell of the run; one country or all).
// @param run: run
// @param cell: cell = null
// @param country: country = null
// @param limit: int = 1000
// @column cell: str
// @column country: str
// @column victims: int
// A cell's side: its members, the accounts and numbers its member people use, the people who
// use its member accounts. A victim contacted by two cells counts for both.
MATCH (c:Cell {run_id: $run})<-[:MEMBER_OF]-(m)
WHERE $cell IS NULL OR c.cell_id = $cell
OPTIONAL MATCH (m)-[:USES]-(o)
WHERE (m:Person AND (o:Account OR o:Phone)) OR (m:Account AND o:Person)
WITH c, collect(m) + collect(o) AS side
UNWIND side AS agent
WITH DISTINCT c, agent
MATCH (agent)-[:CONTACTED]-(:Account|Phone)<-[:USES]-(v:Person {role: 'victim'})
WITH DISTINCT c, v
OPTIONAL MATCH (v)-[:LOCATED_IN]->(k:Country)
WITH c.cell_id AS cell, coalesce(k.code, v.nationality, '??') AS country, v
WHERE $country IS NULL OR country = $country
RETURN cell, country, count(DISTINCT v) AS victims
ORDER BY cell, victims DESC, country
LIMIT $limit
