// @name contacts-of-account
// @description Accounts and numbers an account or number contacted or was contacted by, with when and how often.
// @param account: node(Account|Phone)
// @param limit: int = 100
// @column contact: party
// @column direction: str
// @column channel: str
// @column first_seen: datetime
// @column last_seen: datetime
// @column count: int
MATCH (a:Account|Phone {id: $account})-[r:CONTACTED]-(c)
WHERE c <> a
RETURN c.id AS contact, CASE WHEN startNode(r) = a THEN 'out' ELSE 'in' END AS direction,
       r.channel AS channel, r.first_seen AS first_seen, r.last_seen AS last_seen,
       r.count AS count
ORDER BY contact, direction
LIMIT $limit
