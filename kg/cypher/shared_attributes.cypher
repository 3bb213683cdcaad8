// Attributes (brand, category, ...) carried by items of both scenarios, most bridging first.
// @param scenario_a str
// @param scenario_b str
// @param kind str null
// @param limit int 10 1..10000
MATCH (a:Attribute)<--(i:Item)
WHERE i.scenario IN [$scenario_a, $scenario_b] AND ($kind IS NULL OR a.kind = $kind)
WITH a,
     sum(CASE WHEN i.scenario = $scenario_a THEN 1 ELSE 0 END) AS items_a,
     sum(CASE WHEN i.scenario = $scenario_b THEN 1 ELSE 0 END) AS items_b
WHERE items_a > 0 AND items_b > 0
RETURN a.kind AS kind, a.value AS value, items_a, items_b
ORDER BY items_a * items_b DESC, kind, value
LIMIT $limit
