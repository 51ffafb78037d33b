// @name accounts-on-device
// @description Accounts that were used on a device (LOGGED_IN_ON), with when and how often.
// @param device: node(Device)
// @param limit: int = 100
// @column account: party
// @column first_seen: datetime
// @column last_seen: datetime
// @column count: int
MATCH (a:Account)-[r:LOGGED_IN_ON]->(:Device {id: $device})
RETURN a.id AS account, r.first_seen AS first_seen, r.last_seen AS last_seen, r.count AS count
ORDER BY account
LIMIT $limit
