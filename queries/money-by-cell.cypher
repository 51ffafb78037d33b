// @name money-by-cell
// @description Payments into each cell's cards and wallets, per currency: count, payers and total.
// @param run: run
// @param cell: cell = null
// @param limit: int = 1000
// @column cell: str
// @column currency: str
// @column payments: int
// @column payers: int
// @column total: money
// A cell's money as ringmap.analysis.victims defines it (the cell report counts the same):
// every payment into the cards and wallets that go to the cell, whoever paid it. A card or
// wallet goes to the cell with most claims on it (a person of its side holding it, a victim
// it contacted paying into it; ties: the first cell id), as in victims-by-country, so every
// cell of the run is counted before $cell applies, and each payment counts for one cell.
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
UNWIND owned AS o
WITH o.card AS k, o.cell AS cell
WHERE $cell IS NULL OR cell = $cell
MATCH (k)<-[:PAID_TO]-(p:Payment)
WITH DISTINCT cell, p
OPTIONAL MATCH (p)<-[:PAID]-(payer:Person)
WITH cell, coalesce(p.currency, '??') AS currency, collect(DISTINCT p) AS paid,
     collect(DISTINCT payer) AS payers
UNWIND paid AS p
RETURN cell, currency, count(p) AS payments, size(payers) AS payers, sum(p.amount) AS total
ORDER BY cell, currency
LIMIT $limit
