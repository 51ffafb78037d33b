// @name who-used-identifier
// @description Who used a phone, SIM, device, email, IP, card or wallet: people, accounts and SIMs tied to it.
// @param identifier: node(Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument|Account)
// @param limit: int = 100
// @column user: party
// @column type: str
// @column role: str
// @column link: str
// @column first_seen: datetime
// @column last_seen: datetime
MATCH (x:Phone|SimCard|Device|Email|IPAddress|PaymentCard|FinancialAccount|IdDocument|Account
         {id: $identifier})
      <-[r:USES|HOLDS|REGISTERED_TO|LOGGED_IN_FROM|LOGGED_IN_ON|SIM_IN|HAS_NUMBER]-(u)
RETURN u.id AS user, split(u.id, ':')[0] AS type, u.role AS role, type(r) AS link,
       r.first_seen AS first_seen, r.last_seen AS last_seen
ORDER BY link, user
LIMIT $limit
