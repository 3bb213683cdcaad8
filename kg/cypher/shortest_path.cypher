// Shortest path from a user to an item (typically of another scenario), through
// interactions, attributes and item links; the scenario hub nodes are not crossed.
// @param user str
// @param item str
MATCH (u:User {user_id: $user}), (i:Item {item_id: $item})
MATCH p = shortestPath((u)-[*..8]-(i))
WHERE none(r IN relationships(p) WHERE type(r) = 'IN_SCENARIO')
RETURN length(p) AS hops,
       [n IN nodes(p) | coalesce(n.item_id, n.user_id, n.name, n.key)] AS path,
       [r IN relationships(p) | type(r)] AS relations
