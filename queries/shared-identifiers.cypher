// @name shared-identifiers
// @description Identifiers (accounts, phones, SIMs, devices, emails, IPs, cards, wallets, IDs) tied directly to both a and b.
// @param a: node(Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument)
// @param b: node(Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument)
// @param limit: int = 100
// @column identifier: party
// @column type: str
// @column link_a: str
// @column link_b: str
MATCH (a:Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument
         {id: $a})
      -[ra:USES|HOLDS|REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON|SIM_IN|HAS_NUMBER|CONTACTED]-(x)
      -[rb:USES|HOLDS|REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON|SIM_IN|HAS_NUMBER|CONTACTED]-
      (b:Person|Account|Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument
         {id: $b})
WHERE x <> a AND x <> b
  AND (x:Account OR x:Phone OR x:SimCard OR x:Device OR x:Email OR x:IPAddress
       OR x:PaymentCard OR x:FinancialAccount OR x:IdDocument)
RETURN DISTINCT x.id AS identifier, split(x.id, ':')[0] AS type, type(ra) AS link_a,
       type(rb) AS link_b
ORDER BY identifier, link_a, link_b
LIMIT $limit
