// Users who bridge two scenarios: they interacted in both (the paths transfer travels on).
// @param scenario_a str
// @param scenario_b str
// @param limit int 10 1..10000
MATCH (u:User)-[:INTERACTED]->(i:Item)
WHERE i.scenario IN [$scenario_a, $scenario_b]
WITH u,
     sum(CASE WHEN i.scenario = $scenario_a THEN 1 ELSE 0 END) AS in_a,
     sum(CASE WHEN i.scenario = $scenario_b THEN 1 ELSE 0 END) AS in_b
WHERE in_a > 0 AND in_b > 0
RETURN u.user_id AS user, in_a, in_b
ORDER BY in_a + in_b DESC, user
LIMIT $limit
