// @name devices-of-account
// @description Devices an account was used on (LOGGED_IN_ON), with when and how often.
// @param account: node(Account)
// @param limit: int = 100
// @column device: party
// @column kind: str
// @column make: str
// @column model: str
// @column first_seen: datetime
// @column last_seen: datetime
// @column count: int
MATCH (:Account {id: $account})-[r:LOGGED_IN_ON]->(d:Device)
RETURN d.id AS device, d.kind AS kind, d.make AS make, d.model AS model,
       r.first_seen AS first_seen, r.last_seen AS last_seen, r.count AS count
ORDER BY device
LIMIT $limit
