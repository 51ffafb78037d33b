// @name money-trail
// @description Money into a card or wallet (payments and the victims who paid them) and out of it (payments and where they went), in time order.
// @param instrument: node(PaymentCard|FinancialAccount)
// @param limit: int = 500
// @column direction: str
// @column payment: node
// @column time: datetime
// @column amount: money
// @column currency: str
// @column channel: str
// @column counterparty: party
// @column country: str
CALL {
  MATCH (:PaymentCard|FinancialAccount {id: $instrument})<-[:PAID_TO]-(p:Payment)
  OPTIONAL MATCH (v:Person)-[:PAID]->(p)
  OPTIONAL MATCH (v)-[:LOCATED_IN]->(k:Country)
  RETURN 'in' AS direction, p, v.id AS counterparty, coalesce(k.code, v.nationality) AS country
  UNION ALL
  MATCH (:PaymentCard|FinancialAccount {id: $instrument})<-[:PAID_FROM]-(p:Payment)
  OPTIONAL MATCH (p)-[:PAID_TO]->(t)
  RETURN 'out' AS direction, p, t.id AS counterparty, null AS country
}
RETURN direction, p.id AS payment, p.time AS time, p.amount AS amount, p.currency AS currency,
       p.channel AS channel, counterparty, country
ORDER BY time IS NULL, time, payment, direction, coalesce(counterparty, ''),
         coalesce(country, '')
LIMIT $limit
