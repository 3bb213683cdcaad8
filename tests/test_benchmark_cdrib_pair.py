"""A CDRIB-format pair made from item categories (benchmarks.cdrib_pair) loads with the cdrib
loader, keeps each person one id across the two domains, and follows the authors' split."""

import pandas as pd
import pytest

from benchmarks.cdrib_pair import domain_interactions, domain_name, split_pair, write_pair
from kg.tables import make_tables
from loaders import load_dataset

N = 50  # users 0..49 in both domains; users 50..54 in domain "x" only


def _tables():
    """User k rates items x{k}, x{k+1} (category x) and y{k}, y{k+1} (category y), modulo N;
    item ``both`` has both categories and is left out of the pair."""
    inter = [(f"p{k}", f"{c}{(k + d) % N:02d}") for k in range(N) for c in "xy" for d in (0, 1)]
    inter += [(f"p{k}", "x00") for k in range(N, N + 5)] + [("p0", "both")]
    items = sorted({i for _, i in inter})
    attrs = [(i, "category", c) for i in items for c in "xy" if i.startswith(c)]
    attrs += [("both", "category", "x"), ("both", "category", "y")]
    frame = pd.DataFrame(inter, columns=["user_id", "item_id"])
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["shop"]}),
        users=pd.DataFrame({"user_id": sorted(set(frame["user_id"]))}),
        items=pd.DataFrame({"item_id": items, "scenario": "shop"}),
        interactions=frame.assign(scenario="shop", weight=1.0, ts=None, split="all"),
        item_attributes=pd.DataFrame(attrs, columns=["item_id", "kind", "value"]),
    ).validate()


def _pair(tmp_path, seed=0):
    domains = domain_interactions(_tables(), "category", ("x", "y"))
    splits = split_pair({domain_name("category", v): f for v, f in domains.items()}, seed)
    write_pair(splits, tmp_path, {"seed": seed})
    return splits


def test_the_pair_loads_and_keeps_one_id_per_person_across_domains(tmp_path):
    _pair(tmp_path)
    loaded = load_dataset("cdrib", tmp_path)
    assert loaded.info["common_users"] == N
    inter = loaded.tables.interactions
    # every rating of the two categories is in the pair once; "both" is left out
    assert len(inter) == 4 * N + 5
    assert not inter["item_id"].str.contains("both").any()
    # item ids are positions among the domain's training items, which hold every item here
    names = {d: sorted({f"{d[0]}{k:02d}" for k in range(N)}) for d in ("x", "y")}

    def original(row):
        domain, _, pos = row.item_id.partition(":")
        return int(names[domain][int(pos)][1:])

    inter = inter.assign(k=inter.apply(original, axis=1))
    for user, rows in inter[inter["user_id"].str.startswith("u")].groupby("user_id"):
        # one person: the same two item numbers k, k+1 in both domains
        by_domain = rows.groupby("scenario")["k"].apply(frozenset).to_dict()
        assert by_domain["x"] == by_domain["y"], user
        assert len(by_domain["x"]) == 2
    # the five x-only users are domain users with ids from C on
    assert set(inter.loc[inter["user_id"].str.startswith("x:"), "user_id"]) == {
        f"x:u{N + i}" for i in range(5)}


def test_held_out_users_follow_the_authors_ranges(tmp_path):
    splits = _pair(tmp_path)
    cut = int(0.1 * N)
    for domain, users in (("x", set(range(9 * cut, N))), ("y", set(range(8 * cut, 9 * cut)))):
        parts = splits[domain]
        held = set(parts["valid"]["user"]) | set(parts["test"]["user"])
        assert held == users
        assert not held & set(parts["train"]["user"])
        assert len(parts["valid"]) + len(parts["test"]) == 2 * len(users)


def test_the_split_is_seeded(tmp_path):
    first = _pair(tmp_path / "a", seed=3)
    again = _pair(tmp_path / "b", seed=3)
    other = _pair(tmp_path / "c", seed=4)
    assert all(first[d][s].equals(again[d][s]) for d in first for s in first[d])
    assert not all(first[d][s].equals(other[d][s]) for d in first for s in first[d])
    assert (tmp_path / "a" / "x_y" / "train.txt").read_bytes() == \
        (tmp_path / "b" / "x_y" / "train.txt").read_bytes()


def test_names_and_bad_attributes():
    assert domain_name("category", "1") == "category1"
    assert domain_name("genre", "Comedy") == "Comedy"
    assert domain_name("genre", "Sci-Fi") == "genreSciFi"
    with pytest.raises(ValueError, match="no item attribute 'brand'"):
        domain_interactions(_tables(), "brand", ("x", "y"))
    with pytest.raises(ValueError, match="no item has category = 'z'"):
        domain_interactions(_tables(), "category", ("x", "z"))


def test_the_cdrib_benchmark_selects_on_the_sampled_valid_protocol_when_asked(tmp_path,
                                                                               monkeypatch):
    """``--select sampled`` scores validation as each row's positive among the test's draw
    of 999 negatives (expected ties), and says so in its results; ``full`` ranks all items."""
    import json
    import sys

    import benchmarks.cdrib as cdrib
    import benchmarks.report as report
    from benchmarks.report import train_config
    from graphrec.strategies import run_strategy

    _pair(tmp_path / "pair")
    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    rows = {}
    for select in ("full", "sampled"):
        monkeypatch.setattr(sys, "argv", ["cdrib", str(tmp_path / "pair"), "--strategies",
                                          "item-knn,popularity", "--select", select, "--tag",
                                          select])
        cdrib.main()
        (written,) = (tmp_path / "results").glob(f"*_{select}.json")
        payload = json.loads(written.read_text())
        rows[select] = {r["domain"]: r["valid_ndcg@20"] for r in payload["rows"]
                        if r["method"] == "item-knn"}
        # every other method is paired with item-kNN of its own direction
        for row in payload["rows"]:
            if row["method"] == "popularity":
                knn = next(r for r in payload["rows"]
                           if r["method"] == "item-knn" and r["domain"] == row["domain"])
                paired = next(c for c in row["vs_item-knn"]
                              if c["measure"] == "mrr_expected")
                assert paired["difference"] == pytest.approx(
                    row["sampled_expected"]["mrr"] - knn["sampled_expected"]["mrr"])
                assert "values" not in row["sampled_expected"]
        assert ("sampled negatives" in payload["protocol"]) == (select == "sampled")
    tables = load_dataset("cdrib", tmp_path / "pair").tables
    first = sorted(rows["full"])[0]
    config = train_config("{}", None, seed=0)
    for domain in rows["full"]:
        for select, protocol in (("full", None),
                                 ("sampled", cdrib.valid_protocol(domain, first))):
            expected = run_strategy("item-knn", tables, domain, config, progress=False,
                                    protocol=protocol).valid_score
            assert rows[select][domain] == pytest.approx(expected, abs=1e-4)
    assert rows["full"] != rows["sampled"]
