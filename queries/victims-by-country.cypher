// @name victims-by-country
// @description Victims of each cell (one cell or every cell of the run; one country or all), by the victim's country.
// @param run: run
// @param cell: cell = null
// @param country: country = null
// @param limit: int = 1000
// @column cell: str
// @column country: str
// @column victims: int
// A cell's victims as ringmap.analysis.victims defines them (the cell report counts the same):
// the victims its side contacted, and the victims who paid into its cards and wallets. Its
// side: its members, the accounts and numbers its member people use, the people who use its
// member accounts. A card or wallet goes to the cell with most claims on it (a person of its
// side holding it, a victim it contacted paying into it; ties: the first cell id), so every
// cell of the run is counted before $cell applies. A victim contacted by two cells counts for
// both.
MATCH (c:Cell {run_id: $run})<-[:MEMBER_OF]-(m)
OPTIONAL MATCH (m)-[:USES]-(o)
WHERE (m:Person AND (o:Account OR o:Phone)) OR (m:Account AND o:Person)
WITH c, collect(m) + collect(o) AS side
UNWIND side AS agent
WITH DISTINCT c, agent
OPTIONAL MATCH (agent)-[:CONTACTED]-(:Account|Phone)<-[:USES]-(v:Person {role: 'victim'})
WITH c, collect(DISTINCT agent) AS side, collect(DISTINCT v) AS contacted
WITH collect({cell: c, side: side, contacted: contacted}) AS cells
WITH cells, COLLECT {
    UNWIND cells AS x
    CALL (x) {
        UNWIND x.side AS who
        MATCH (who:Person)-[:HOLDS]->(k:PaymentCard|FinancialAccount)
        RETURN k, who
        UNION
        UNWIND x.contacted AS who
        MATCH (who)-[:PAID]->(:Payment)-[:PAID_TO]->(k:PaymentCard|FinancialAccount)
        RETURN k, who
    }
    WITH k, x.cell.cell_id AS cell, count(DISTINCT who) AS claims
    ORDER BY claims DESC, cell
    WITH k, collect(cell)[0] AS owner
    RETURN {card: k, cell: owner}
} AS owned
UNWIND cells AS x
WITH x.cell AS c, x.contacted + COLLECT {
    UNWIND [o IN owned WHERE o.cell = x.cell.cell_id | o.card] AS k
    MATCH (k)<-[:PAID_TO]-(:Payment)<-[:PAID]-(v:Person {role: 'victim'})
    RETURN v
} AS found
WHERE $cell IS NULL OR c.cell_id = $cell
UNWIND found AS v
WITH DISTINCT c, v
OPTIONAL MATCH (v)-[:LOCATED_IN]->(k:Country)
WITH c.cell_id AS cell, coalesce(k.code, v.nationality, '??') AS country, v
WHERE $country IS NULL OR country = $country
RETURN cell, country, count(DISTINCT v) AS victims
ORDER BY cell, victims DESC, country
LIMIT $limit
