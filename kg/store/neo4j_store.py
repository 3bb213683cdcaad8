"""The knowledge graph in a real Neo4j (5.26 LTS or 2025.x), through the official driver.

Writes create the uniqueness constraints first, then send batched, idempotent
``UNWIND $rows AS row MERGE ...`` transactions, so a load that was cut off (server killed,
network lost) can simply be run again: nothing is duplicated and nothing is lost. A first load
into an empty database takes a bulk path instead (``CREATE``, interactions grouped by user),
which writes the same graph about three times faster; its re-run after a cut goes through
``MERGE``. Values always
travel as parameters; the only names put into query text are relationship types built from
attribute kinds, which :mod:`kg.schema` has checked against a strict identifier pattern.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import neo4j
import pandas as pd
from tqdm.auto import tqdm

from kg import schema
from kg.errors import StoreError
from kg.progress import live_bar
from kg.store.base import LoadReport
from kg.store.datasets import DatasetRecord, check_load, incomplete_message
from kg.tables import KGTables, make_tables

logger = logging.getLogger(__name__)

CONSTRAINTS = [
    f"CREATE CONSTRAINT graphrec_{label.lower()}_key IF NOT EXISTS "
    f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
    for label, key in schema.NODE_KEYS.items()
] + [
    f"CREATE INDEX graphrec_item_scenario IF NOT EXISTS FOR (n:{schema.ITEM}) ON (n.scenario)",
    f"CREATE INDEX graphrec_attribute_kind IF NOT EXISTS FOR (n:{schema.ATTRIBUTE}) "
    "ON (n.kind)",
    "CREATE INDEX graphrec_interacted_scenario IF NOT EXISTS "
    f"FOR ()-[r:{schema.INTERACTED}]-() ON (r.scenario)",
    "CREATE CONSTRAINT graphrec_dataset_key IF NOT EXISTS "
    "FOR (n:GraphrecDataset) REQUIRE n.key IS UNIQUE",
]

#: transactions in flight for the relationships of a bulk (first) load
BULK_PARALLEL = 2

# one node per loaded data set (kg.store.datasets.DatasetRecord): not part of the knowledge
# graph, never read as one; `finished` stays null until the load's last write
DATASET_LABEL = "GraphrecDataset"


@dataclass(frozen=True)
class Neo4jConfig:
    """Where the Neo4j server is and how to log in.

    The CLI fills it from ``NEO4J_URI``, ``NEO4J_USER``, ``NEO4J_PASSWORD`` and
    ``NEO4J_DATABASE`` (or the state file of ``graphrec neo4j start``); the library never reads
    the environment itself. The password is left out of ``repr``.

    Attributes:
        uri: ``bolt://host:port`` for one server, ``neo4j://`` or ``neo4j+s://`` for a cluster or
            Aura (routing).
        user: user name (ignored when ``password`` is None, i.e. auth disabled).
        password: password, or None for a server without authentication.
        database: database name; every session names it.
        batch_size: rows per write transaction.
        max_retry_time: seconds the driver keeps retrying a transaction that failed for a
            transient reason (lost connection, leader switch) before giving up.
    """

    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)
    database: str = "neo4j"
    batch_size: int = 10_000
    max_retry_time: float = 30.0

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.password else None


def _batches(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _records(df: pd.DataFrame, columns: dict[str, str]) -> list[dict]:
    """Rows of ``df`` as dicts with short keys, missing values as None (Cypher null)."""
    out = pd.DataFrame({short: df[col] for short, col in columns.items()})
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def _node_query(label: str, key: dict[str, str], other: dict[str, str], create: bool) -> str:
    """``UNWIND $rows`` query writing ``label`` nodes: ``CREATE`` with every property (bulk
    path), or ``MERGE`` on the key and ``SET`` of the others. ``label`` and the property names
    are fixed identifiers of :mod:`kg.schema`, never input."""
    def props(mapping: dict[str, str]) -> str:
        return ", ".join(f"{prop}: row.{short}" for prop, short in mapping.items())
    if create:
        return f"UNWIND $rows AS row CREATE (:{label} {{{props({**key, **other})}}})"
    query = f"UNWIND $rows AS row MERGE (n:{label} {{{props(key)}}})"
    if other:
        query += " SET " + ", ".join(f"n.{prop} = row.{short}" for prop, short in other.items())
    return query


def _grouped_by_user(inter: pd.DataFrame, columns: dict[str, str]) -> list[dict]:
    """Interaction rows grouped per user: ``{"u": user, "x": [{"i", "s", "w", "t", "sp"}],
    "n": count}``; a user with very many interactions is split over several rows."""
    rows = _records(inter.sort_values("user_id", kind="stable"), columns)
    out: list[dict] = []
    for row in rows:
        user = row.pop("u")
        if out and out[-1]["u"] == user and len(out[-1]["x"]) < 1000:
            out[-1]["x"].append(row)
        else:
            out.append({"u": user, "x": [row]})
    for row in out:
        row["n"] = len(row["x"])
    return out


def _weighted_batches(rows: list[dict], size: int) -> Iterator[list[dict]]:
    """Batches of about ``size`` graph elements (a row counts ``row["n"]``, or 1)."""
    batch: list[dict] = []
    weight = 0
    for row in rows:
        batch.append(row)
        weight += row.get("n", 1)
        if weight >= size:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


class Neo4jStore:
    """Knowledge graph in Neo4j. One driver per store; use as a context manager.

    Args:
        config: connection settings.

    Raises:
        StoreError: the server cannot be reached or refuses the credentials.
    """

    def __init__(self, config: Neo4jConfig):
        self.config = config
        try:
            # our own queries name types that may not exist yet (SAME_PRODUCT on a graph without
            # links); the server's "unknown type" notices would only be noise
            self._driver = neo4j.GraphDatabase.driver(
                config.uri, auth=config.auth, notifications_min_severity="OFF",
                max_transaction_retry_time=config.max_retry_time)
        except (neo4j.exceptions.ConfigurationError, ValueError) as exc:
            raise StoreError(f"invalid Neo4j URI {config.uri!r}: {exc}") from exc
        try:
            self._driver.verify_connectivity()
        except neo4j.exceptions.AuthError as exc:
            self._driver.close()
            raise StoreError(f"Neo4j at {config.uri} refused the credentials of user "
                             f"{config.user!r}; check NEO4J_USER / NEO4J_PASSWORD") from exc
        except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError) as exc:
            self._driver.close()
            raise StoreError(f"cannot reach Neo4j at {config.uri}: {exc}. Start one with "
                             "`graphrec neo4j start` or set NEO4J_URI") from exc

    def __repr__(self) -> str:
        return f"Neo4jStore({self.config!r})"

    def __enter__(self) -> Neo4jStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the driver (the driver does not close itself on garbage collection)."""
        self._driver.close()

    # -- low level -----------------------------------------------------------------------------

    def run_read(self, query: str, **params) -> list[dict]:
        """Run a read query in a managed (retried) transaction; rows as dicts."""
        def work(tx: neo4j.ManagedTransaction) -> list[dict]:
            return [r.data() for r in tx.run(query, params)]
        return self._execute(lambda s: s.execute_read(work), query)

    def read_frame(self, query: str, columns: list[str], **params) -> pd.DataFrame:
        """Run a read query and return its rows as a DataFrame with ``columns`` (fast path for
        large results: no per-row dicts)."""
        def work(tx: neo4j.ManagedTransaction) -> list[list]:
            return tx.run(query, params).values()
        rows = self._execute(lambda s: s.execute_read(work), query)
        return pd.DataFrame(rows, columns=columns)

    def run_write(self, query: str, **params) -> list[dict]:
        """Run a write query in a managed (retried) transaction; rows as dicts."""
        def work(tx: neo4j.ManagedTransaction) -> list[dict]:
            return [r.data() for r in tx.run(query, params)]
        return self._execute(lambda s: s.execute_write(work), query)

    def _execute(self, fn: Callable[[neo4j.Session], list[dict]], query: str) -> list[dict]:
        try:
            with self._driver.session(database=self.config.database) as session:
                return fn(session)
        except neo4j.exceptions.CypherSyntaxError as exc:
            raise StoreError(f"Cypher syntax error: {exc.message}") from exc
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            first = " ".join(query.split())[:120]
            raise StoreError(f"Neo4j query failed ({first} ...): {exc}") from exc

    def _auto(self, query: str) -> None:
        """Schema commands run in auto-commit transactions."""
        try:
            with self._driver.session(database=self.config.database) as session:
                session.run(query).consume()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            raise StoreError(f"Neo4j schema command failed ({query}): {exc}") from exc

    # -- schema and load -----------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints and indexes (idempotent) and wait for them."""
        for statement in CONSTRAINTS:
            self._auto(statement)
        self._auto("CALL db.awaitIndexes(300)")

    def _write_rows(self, query: str, rows: list[dict], bar: tqdm | None,
                    parallel: int = 1) -> None:
        """Send ``rows`` in batches; ``parallel`` > 1 keeps that many transactions in flight
        (bulk path only: the client packs the next batch while the server writes one)."""
        batches = _weighted_batches(rows, self.config.batch_size)
        if parallel <= 1:
            for batch in batches:
                self.run_write(query, rows=batch)
                if bar is not None:
                    bar.update(sum(row.get("n", 1) for row in batch))
            return
        with ThreadPoolExecutor(parallel) as pool:
            pending = set()
            for batch in batches:
                if len(pending) >= parallel:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        n = future.result()
                        if bar is not None:
                            bar.update(n)
                pending.add(pool.submit(self._write_batch, query, batch))
            for future in pending:
                n = future.result()
                if bar is not None:
                    bar.update(n)

    def _write_batch(self, query: str, batch: list[dict]) -> int:
        self.run_write(query, rows=batch)
        return sum(row.get("n", 1) for row in batch)

    def load(self, tables: KGTables, *, dataset: DatasetRecord | None = None,
             merge: bool = False, progress: bool = True, mode: str = "auto") -> LoadReport:
        """Validate ``tables`` and upsert them into Neo4j (see the module docstring).

        The verdict is the local store's on the same sequence of loads: the incoming tables
        and then the stored graph merged with them must pass every rule, and a data set
        different from the stored one(s) is refused unless ``merge`` (:mod:`kg.store.datasets`).
        Checks run before the first write: a refused load writes nothing. The load is recorded
        as started before its first write and finished after its last; a load cut off in
        between is reported by :meth:`read`, :meth:`datasets` and ``graphrec kg stats``.

        ``mode``: ``"auto"`` writes a first load into an empty database with ``CREATE`` (bulk
        path) and every other load with idempotent ``MERGE``; ``"create"`` or ``"merge"``
        force one (``"create"`` only into an empty database). A cut-off bulk load is re-run
        through the ``MERGE`` path (the database is no longer empty), which completes it.

        Raises:
            DataError: the tables, or the graph they would make, break a rule.
            DatasetConflictError: the data sets would mix.
        """
        tables = tables.validate()
        record = (dataset or DatasetRecord()).starting(tables)
        t0 = time.perf_counter()
        self.ensure_schema()
        held = self.datasets()
        check_load(held, record, merge=merge, shared_ids=lambda: self._existing_ids(tables),
                   where=f"Neo4j at {self.config.uri}")
        empty = not held and not self._has_nodes()
        if not empty:
            self._read_tables().union(tables).validate()
        if mode not in ("auto", "create", "merge"):
            raise StoreError(f"load mode must be 'auto', 'create' or 'merge', not {mode!r}")
        if mode == "create" and not empty:
            raise StoreError("the CREATE path needs an empty database; use mode='merge'")
        create = empty if mode == "auto" else mode == "create"
        self._write_record(record)
        steps = self._load_steps(tables, create=create)
        total = sum(count for *_, count in steps)
        seconds: dict[str, float] = {}
        nodes: dict[str, int] = {}
        rels: dict[str, int] = {}
        with tqdm(total=total, desc="neo4j load", unit="row", disable=not live_bar(progress),
                  leave=False) as bar:
            for name, query, rows, kind, count in steps:
                start = time.perf_counter()
                bar.set_postfix_str(name)
                # relationships of a first load in BULK_PARALLEL concurrent transactions: the client
                # packs one batch while the server writes another (CREATE takes no range locks)
                self._write_rows(query, rows, bar, BULK_PARALLEL if create and kind == "rel" else 1)
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                target = nodes if kind == "node" else rels
                target[name] = target.get(name, 0) + count
        self._write_record(record.finishing())
        seconds["total"] = time.perf_counter() - t0
        return LoadReport(nodes=nodes, relationships=rels, seconds=seconds,
                          mode="create" if create else "merge")

    def _write_record(self, record: DatasetRecord) -> None:
        self.run_write(f"MERGE (d:{DATASET_LABEL} {{key: $key}}) SET d = $props, d.key = $key",
                       key=record.key, props=record.to_dict())

    def _has_nodes(self) -> bool:
        return bool(self.run_read("MATCH (n) RETURN 1 AS x LIMIT 1"))

    def _existing_ids(self, tables: KGTables) -> int:
        """How many of ``tables``' user and item ids already have a node."""
        n = 0
        for label, ids in ((schema.USER, tables.users["user_id"]),
                           (schema.ITEM, tables.items["item_id"])):
            key = schema.NODE_KEYS[label]
            for batch in _batches(list(ids), self.config.batch_size * 5):
                n += self.run_read(f"UNWIND $ids AS id MATCH (n:{label} {{{key}: id}}) "
                                   "RETURN count(n) AS n", ids=batch)[0]["n"]
        return n

    def datasets(self) -> list[DatasetRecord]:
        """The data sets loaded into this database, oldest first; ``finished`` is None for a
        load that was cut off (or is running)."""
        rows = self.run_read(f"MATCH (d:{DATASET_LABEL}) RETURN properties(d) AS d "
                             "ORDER BY d.started")
        return [DatasetRecord.from_dict(r["d"]) for r in rows]

    def _load_steps(self, t: KGTables, create: bool = False
                    ) -> list[tuple[str, str, list[dict], str, int]]:
        """(name, query, rows, node|rel, graph elements) in dependency order.

        ``create``: the database is known to be empty, so nodes and relationships are written
        with ``CREATE`` (no existence check; the uniqueness constraints still guard the node
        keys) and interactions are sent grouped by user (one user lookup per batch row). The
        graph written is the same as the ``MERGE`` path's (a test compares them).
        """
        verb = "CREATE" if create else "MERGE"
        attrs = pd.concat([t.item_attributes[["kind", "value"]],
                           t.user_attributes[["kind", "value"]]]).drop_duplicates()
        attrs = attrs.assign(key=[schema.attribute_key(k, v)
                                  for k, v in zip(attrs["kind"], attrs["value"], strict=True)])
        # (label, row key of its key property, other properties -> row keys, rows)
        node_specs = [
            (schema.SCENARIO, "s", {}, _records(t.scenarios, {"s": "scenario"})),
            (schema.USER, "u", {}, _records(t.users, {"u": "user_id"})),
            (schema.ITEM, "i", {"scenario": "s"},
             _records(t.items, {"i": "item_id", "s": "scenario"})),
            (schema.ATTRIBUTE, "key", {"kind": "kind", "value": "value"},
             _records(attrs, {"key": "key", "kind": "kind", "value": "value"})),
        ]
        steps = [(label, _node_query(label, {schema.NODE_KEYS[label]: key}, other, create),
                  rows, "node", len(rows)) for label, key, other, rows in node_specs]
        rows = _records(t.items, {"i": "item_id", "s": "scenario"})
        steps.append((schema.IN_SCENARIO,
                      "UNWIND $rows AS row MATCH (i:Item {item_id: row.i}) "
                      f"MATCH (s:Scenario {{name: row.s}}) {verb} (i)-[:IN_SCENARIO]->(s)",
                      rows, "rel", len(rows)))
        for label, table, id_col in ((schema.ITEM, t.item_attributes, "item_id"),
                                     (schema.USER, t.user_attributes, "user_id")):
            key_prop = schema.NODE_KEYS[label]
            for kind, part in table.groupby("kind", sort=True):
                rel = schema.has_kind_type(str(kind))  # validated identifier
                part = part.assign(key=[schema.attribute_key(str(kind), v) for v in part["value"]])
                rows = _records(part, {"id": id_col, "key": "key"})
                steps.append((rel,
                              f"UNWIND $rows AS row MATCH (n:{label} {{{key_prop}: row.id}}) "
                              f"MATCH (a:Attribute {{key: row.key}}) {verb} (n)-[:{rel}]->(a)",
                              rows, "rel", len(rows)))
        columns = {"u": "user_id", "i": "item_id", "s": "scenario", "w": "weight", "t": "ts",
                   "sp": "split"}
        if create:
            steps.append((schema.INTERACTED,
                          "UNWIND $rows AS row MATCH (u:User {user_id: row.u}) "
                          "UNWIND row.x AS x MATCH (i:Item {item_id: x.i}) "
                          "CREATE (u)-[:INTERACTED {scenario: x.s, weight: x.w, ts: x.t, "
                          "split: x.sp}]->(i)",
                          _grouped_by_user(t.interactions, columns), "rel",
                          len(t.interactions)))
        else:
            steps.append((schema.INTERACTED,
                          "UNWIND $rows AS row MATCH (u:User {user_id: row.u}) "
                          "MATCH (i:Item {item_id: row.i}) MERGE (u)-[r:INTERACTED]->(i) "
                          "SET r.scenario = row.s, r.weight = row.w, r.ts = row.t, "
                          "r.split = row.sp",
                          _records(t.interactions, columns), "rel", len(t.interactions)))
        for relation, part in t.item_links.groupby("relation", sort=True):
            rel = schema.check_item_link_type(str(relation))
            rows = _records(part, {"a": "item_id", "b": "other_id"})
            steps.append((rel,
                          f"UNWIND $rows AS row MATCH (a:Item {{item_id: row.a}}) "
                          f"MATCH (b:Item {{item_id: row.b}}) {verb} (a)-[:{rel}]->(b)",
                          rows, "rel", len(rows)))
        return steps

    # -- embeddings ----------------------------------------------------------------------------

    def write_embeddings(self, label: str, ids: list[str], vectors: list[list[float]],
                         index_name: str | None = None, progress: bool = True) -> int:
        """Set ``n.embedding`` on the nodes of ``label`` with the given keys and (re)create a
        cosine vector index on it. Returns the number of nodes updated.

        Raises:
            StoreError: a key has no node (load the graph first) or the dimensions differ.
        """
        if label not in (schema.USER, schema.ITEM):
            raise StoreError(f"embeddings are written for {schema.USER} or {schema.ITEM}, "
                             f"not {label!r}")
        dims = {len(v) for v in vectors}
        if len(dims) != 1:
            raise StoreError(f"all embeddings must have one dimension, got {sorted(dims)}")
        dim = int(dims.pop())
        key = schema.NODE_KEYS[label]
        query = (f"UNWIND $rows AS row MATCH (n:{label} {{{key}: row.id}}) "
                 "CALL db.create.setNodeVectorProperty(n, 'embedding', row.v) "
                 "RETURN count(n) AS n")
        rows = [{"id": i, "v": [float(x) for x in v]} for i, v in zip(ids, vectors, strict=True)]
        written = 0
        with tqdm(total=len(rows), desc=f"{label} embeddings", disable=not live_bar(progress),
                  leave=False) as bar:
            for batch in _batches(rows, self.config.batch_size):
                written += self.run_write(query, rows=batch)[0]["n"]
                bar.update(len(batch))
        if written != len(rows):
            raise StoreError(f"{len(rows) - written} of {len(rows)} {label} ids have no node in "
                             "Neo4j; load the run's graph first")
        name = index_name or f"graphrec_{label.lower()}_embedding"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise StoreError(f"index name {name!r} must be a plain identifier")
        existing = self.run_read("SHOW VECTOR INDEXES YIELD name, options WHERE name = $name "
                                 "RETURN options", name=name)
        if existing:
            config = existing[0]["options"]["indexConfig"]
            if int(config.get("vector.dimensions", -1)) != dim:
                self._auto(f"DROP INDEX {name}")
        self._auto(f"CREATE VECTOR INDEX {name} IF NOT EXISTS FOR (n:{label}) ON n.embedding "
                   f"OPTIONS {{indexConfig: {{`vector.dimensions`: {dim}, "
                   "`vector.similarity_function`: 'cosine'}}")
        self._auto("CALL db.awaitIndexes(300)")
        return written

    # -- read ----------------------------------------------------------------------------------

    def read(self, scenarios: Iterable[str] | None = None) -> KGTables:
        """The graph (or the part touching ``scenarios``) as normalised canonical tables.

        Raises:
            StoreError: a load into this database was cut off (re-run it).
        """
        problem = incomplete_message(self.datasets(), f"Neo4j at {self.config.uri}")
        if problem:
            raise StoreError(problem)
        return self._read_tables(scenarios)

    def _read_tables(self, scenarios: Iterable[str] | None = None) -> KGTables:
        p = {"scenarios": None if scenarios is None else sorted(set(scenarios))}
        item_filter = "WHERE $scenarios IS NULL OR i.scenario IN $scenarios"

        def frame(query: str, columns: list[str]) -> pd.DataFrame:
            return self.read_frame(query, columns, **p)

        scen = frame("MATCH (s:Scenario) WHERE $scenarios IS NULL OR s.name IN $scenarios "
                     "RETURN s.name AS scenario", ["scenario"])
        items = frame(f"MATCH (i:Item) {item_filter} "
                      "RETURN i.item_id AS item_id, i.scenario AS scenario",
                      ["item_id", "scenario"])
        inter = frame(f"MATCH (u:User)-[r:INTERACTED]->(i:Item) {item_filter} "
                      "RETURN u.user_id AS user_id, i.item_id AS item_id, r.scenario AS scenario,"
                      " r.weight AS weight, r.ts AS ts, r.split AS split",
                      ["user_id", "item_id", "scenario", "weight", "ts", "split"])
        if scenarios is None:
            users = frame("MATCH (u:User) RETURN u.user_id AS user_id", ["user_id"])
        else:
            users = pd.DataFrame({"user_id": inter["user_id"].unique()})
        item_attrs = frame(f"MATCH (i:Item)-[r]->(a:Attribute) {item_filter} "
                           "RETURN i.item_id AS item_id, a.kind AS kind, a.value AS value",
                           ["item_id", "kind", "value"])
        user_attrs = frame("MATCH (u:User)-[r]->(a:Attribute) "
                           "RETURN u.user_id AS user_id, a.kind AS kind, a.value AS value",
                           ["user_id", "kind", "value"])
        user_attrs = user_attrs[user_attrs["user_id"].isin(set(users["user_id"]))]
        link_types = "|".join(schema.ITEM_LINK_TYPES)  # fixed identifiers, not input
        links = frame(f"MATCH (i:Item)-[r:{link_types}]->(j:Item) "
                      "WHERE $scenarios IS NULL OR (i.scenario IN $scenarios AND "
                      "j.scenario IN $scenarios) "
                      "RETURN i.item_id AS item_id, j.item_id AS other_id, type(r) AS relation",
                      ["item_id", "other_id", "relation"])
        return make_tables(scenarios=scen, users=users, items=items, interactions=inter,
                           item_attributes=item_attrs, user_attributes=user_attrs,
                           item_links=links).normalized()

    def stats(self) -> dict:
        """Counts per label, relationship type and scenario, laid out as
        :func:`kg.store.base.stats_from_tables`."""
        nodes = {label: self.run_read(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
                 for label in schema.NODE_LABELS}
        rels = {r["type"]: r["n"] for r in self.run_read(
            "MATCH ()-[r]->() RETURN type(r) AS type, count(r) AS n ORDER BY type")}
        per = {}
        for r in self.run_read(
                "MATCH (s:Scenario) "
                "OPTIONAL CALL (s) { MATCH (i:Item {scenario: s.name}) RETURN count(i) AS items } "
                "OPTIONAL CALL (s) { MATCH (u:User)-[x:INTERACTED {scenario: s.name}]->() "
                "  RETURN count(x) AS interactions, count(DISTINCT u) AS users } "
                "RETURN s.name AS name, items, users, interactions ORDER BY name"):
            per[r["name"]] = {"items": r["items"], "users": r["users"],
                              "interactions": r["interactions"]}
        return {
            "totals": {"users": nodes[schema.USER], "items": nodes[schema.ITEM],
                       "interactions": rels.get(schema.INTERACTED, 0),
                       "scenarios": nodes[schema.SCENARIO],
                       "attributes": nodes[schema.ATTRIBUTE]},
            "nodes": nodes,
            "relationships": {k: v for k, v in sorted(rels.items()) if v},
            "scenarios": per,
        }

    def clear(self) -> None:
        """Delete every node and relationship, in batches (constraints stay)."""
        # relationships first, in bounded transactions: DETACH DELETE of 10,000 nodes at once
        # would delete all their relationships in one transaction (over a million on
        # MovieLens-1M, beyond the server's transaction memory)
        self._auto("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS")
        self._auto("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
