"""Privacy transforms: pseudonyms (scanned on the real Neo4j), user attributes, isolation, DP."""

import json
import math

import pytest
import torch
from scipy.stats import norm
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.config import RunConfig
from graphrec.serving.dp import analytic_gaussian_sigma, privatise_embeddings
from kg import schema
from kg.errors import ConfigError, DataError
from kg.privacy import (
    KEY_ENV,
    PrivacyConfig,
    isolate_scenarios,
    pseudonym,
    pseudonymise_users,
    resolve_key,
)
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables

KEY = "a-test-key-of-32-characters-long"


def test_pseudonyms_are_keyed_deterministic_and_replace_every_user_id():
    tables = tiny_tables()
    out = pseudonymise_users(tables, KEY)
    raw = set(tables.users["user_id"])
    for name, col in (("users", "user_id"), ("interactions", "user_id"),
                      ("user_attributes", "user_id")):
        values = set(out.table(name)[col])
        assert not values & raw, name
        assert all(v.startswith("p_") and len(v) == 26 for v in values)
    assert pseudonym("u1", KEY) == pseudonym("u1", KEY) != pseudonym("u1", KEY + "x")
    assert len(out.interactions) == len(tables.interactions)
    out.validate()  # the graph stays consistent: every interaction's user exists


def test_the_key_is_required_long_enough_and_never_echoed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)  # the library never reads the environment itself
    with pytest.raises(ConfigError, match=KEY_ENV):
        resolve_key(None)
    with pytest.raises(ConfigError, match=KEY_ENV):
        PrivacyConfig(pseudonymise=True).apply(tiny_tables())
    with pytest.raises(ConfigError, match="too short") as err:
        resolve_key("short-secret")
    assert "short-secret" not in str(err.value)
    assert resolve_key(KEY) == KEY
    assert PrivacyConfig(key="own-key-0123456789").with_key(KEY).key == "own-key-0123456789"
    assert PrivacyConfig().with_key(KEY).key == KEY
    assert KEY not in repr(PrivacyConfig(pseudonymise=True, key=KEY))


@pytest.mark.neo4j
def test_no_raw_user_id_reaches_neo4j(neo4j_store, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_store.config.uri)
    if neo4j_store.config.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_store.config.password)
    monkeypatch.setenv(KEY_ENV, KEY)
    raw = set(generate_synthetic(SyntheticConfig(n_users=120)).tables.users["user_id"])
    result = CliRunner().invoke(app, ["kg", "load", "synthetic", "--store", "neo4j", "--quiet",
                                      "-o", "n_users=120", "--pseudonymise"])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    values = set()
    for query in ("MATCH (n) UNWIND keys(n) AS k RETURN n[k] AS v",
                  "MATCH ()-[r]->() UNWIND keys(r) AS k RETURN r[k] AS v"):
        for row in neo4j_store.run_read(query):
            v = row["v"]
            values.update(map(str, v) if isinstance(v, list) else [str(v)])
    assert not values & raw  # not one raw user id among all property values
    assert not any(KEY in v for v in values)
    users = neo4j_store.run_read("MATCH (u:User) RETURN u.user_id AS id")
    assert len(users) == len(raw)
    assert {r["id"] for r in users} == {pseudonym(u, KEY) for u in raw}


@pytest.mark.parametrize("keep", [True, False])
def test_user_attributes_can_stay_out(tmp_path, keep):
    store = str(tmp_path / "store")
    flag = "--user-attributes" if keep else "--no-user-attributes"
    result = CliRunner().invoke(app, ["kg", "load", "synthetic", "--dir", store, "--quiet",
                                      "-o", "n_users=60", flag])
    assert result.exit_code == 0, result.output
    stats = json.loads(CliRunner().invoke(app, ["kg", "stats", "--dir", store, "--json"]
                                          ).output)
    assert ("HAS_REGION" in stats["relationships"]) == keep


def test_isolated_scenario_keeps_only_aggregated_item_links():
    tables = generate_synthetic(SyntheticConfig(n_users=200)).tables
    out = isolate_scenarios(tables, ["clothing"], min_support=3)
    assert not (out.interactions["scenario"] == "clothing").any()
    assert set(out.users["user_id"]) == set(out.interactions["user_id"])
    links = out.item_links[out.item_links["relation"] == schema.CO_INTERACTED]
    assert len(links) > 0
    # every link has the support it claims: >= 3 distinct users took both items
    train = tables.interactions[tables.interactions["split"] == "train"]
    takers = train.groupby("item_id")["user_id"].agg(set)
    for a, b in links[["item_id", "other_id"]].head(200).itertuples(index=False):
        assert len(takers[a] & takers[b]) >= 3
    assert set(out.items["item_id"]) == set(tables.items["item_id"])  # items stay
    with pytest.raises(DataError, match="min_support must be at least 2"):
        isolate_scenarios(tables, ["clothing"], min_support=1)
    with pytest.raises(DataError, match=r"unknown scenario\(s\) \['nope'\]"):
        isolate_scenarios(tables, ["nope"])


def test_privacy_section_of_the_config(tmp_path):
    raw = {"data": {"loader": "synthetic"}, "train": {"target": "cosmetics"},
           "privacy": {"pseudonymise": True, "user_attributes": False, "isolate": "shoes"}}
    cfg = RunConfig.from_dict(raw)
    assert cfg.privacy.isolate == ("shoes",) and not cfg.privacy.user_attributes
    with pytest.raises(ConfigError, match=r"unknown privacy option\(s\) \['salt'\]"):
        RunConfig.from_dict({**raw, "privacy": {"salt": "x"}})


def test_gaussian_noise_scale_meets_the_privacy_condition():
    for eps in (0.5, 1.0, 4.0):
        sigma = analytic_gaussian_sigma(eps, 1e-5)
        a, b = 2.0 / (2 * sigma), eps * sigma / 2.0
        delta = norm.cdf(a - b) - math.exp(eps) * norm.cdf(-a - b)
        assert delta <= 1e-5 < norm.cdf(a / 0.99 - b * 0.99) - math.exp(eps) * norm.cdf(
            -a / 0.99 - b * 0.99)  # and 1% less noise would break it
        if eps < 1:  # tighter than the classic bound where that bound is valid
            assert sigma < 2.0 * math.sqrt(2 * math.log(1.25 / 1e-5)) / eps
    assert analytic_gaussian_sigma(1.0, 1e-5) > analytic_gaussian_sigma(2.0, 1e-5)
    with pytest.raises(ConfigError, match="epsilon must be > 0"):
        analytic_gaussian_sigma(0.0, 1e-5)


def test_privatised_embeddings_are_unit_vectors_plus_calibrated_noise():
    vectors = torch.randn(4000, 16) * 5
    out = privatise_embeddings(vectors, 2.0, 1e-5, seed=0)
    sigma = analytic_gaussian_sigma(2.0, 1e-5)
    noise = out - torch.nn.functional.normalize(vectors, dim=1)
    assert abs(noise.std().item() - sigma) < 0.02 * sigma
    assert torch.equal(out, privatise_embeddings(vectors, 2.0, 1e-5, seed=0))
