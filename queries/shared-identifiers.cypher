// @name shared-identifiers
// @description What a and b share, as `ringmap shared` finds it: identifiers (accounts, phones, SIMs, devices, emails, IPs, cards, wallets, IDs) and places tied to both, directly or through an account or person; the nearest and least shared first.
// @param a: node(Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument)
// @param b: node(Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument)
// @param limit: int = 100
// @column identifier: party
// @column type: str
// @column hops_a: int
// @column via_a: party
// @column hops_b: int
// @column via_b: party
// @column ties: int
// Each side reaches x in one hop, or in two through an account or person (via: the first by
// id; empty when x is tied directly), never through the other side's entity. ties counts the
// entities x is tied to, less those it contacted itself: the more, the more of a hub it is.
MATCH (a:Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument
         {id: $a}),
      (b:Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument
         {id: $b})
WHERE a <> b
CALL (a, b) {
  MATCH (a)--(x) WHERE x <> b
  RETURN x, 1 AS hops, null AS via
  UNION
  MATCH (a)--(m:Account|Person)--(x) WHERE m <> b AND x <> a AND x <> b
  RETURN x, 2 AS hops, m.id AS via
}
WITH a, b, x, min(hops) AS hops_a, min(via) AS via_a
WHERE x:Account OR x:Phone OR x:SimCard OR x:Device OR x:Email OR x:IPAddress
   OR x:PaymentCard OR x:FinancialAccount OR x:IdDocument OR x:Location
CALL (a, b, x) {
  MATCH (b)--(x)
  RETURN 1 AS hops, null AS via
  UNION
  MATCH (b)--(m:Account|Person)--(x) WHERE m <> a
  RETURN 2 AS hops, m.id AS via
}
WITH x, hops_a, via_a, min(hops) AS hops_b, min(via) AS via_b
CALL (x) {
  MATCH (x)-[r]-(o)
  WHERE type(r) <> 'MEMBER_OF' AND NOT (type(r) = 'CONTACTED' AND startNode(r) = x)
  RETURN count(DISTINCT o) AS ties
}
RETURN x.id AS identifier, split(x.id, ':')[0] AS type,
       hops_a, CASE WHEN hops_a = 1 THEN null ELSE via_a END AS via_a,
       hops_b, CASE WHEN hops_b = 1 THEN null ELSE via_b END AS via_b, ties
ORDER BY hops_a + hops_b, ties, identifier
LIMIT $limit
