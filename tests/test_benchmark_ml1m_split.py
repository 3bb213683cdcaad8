"""The MovieLens-1M benchmark's validation split (benchmarks.ml1m.cold_item_splits), its
--kinds option (benchmarks.cold_items.keep_attribute_kinds) and its MetaHIN nDCG@5."""

import dataclasses

import pandas as pd
import pytest

from benchmarks.cold_items import keep_attribute_kinds
from benchmarks.ml1m import cold_item_splits, newest_items
from kg.tables import make_tables


def _movies(years: dict[str, int | None]):
    """One user rates every movie in ``meta_training`` and one cold movie ``t`` in
    ``item_cold_testing``; ``years`` gives each training movie's year (None: no year)."""
    movies = list(years) + ["t"]
    inter = [("u1", m, "movies", 5.0, None, "meta_training") for m in years]
    inter += [("u1", "t", "movies", 4.0, None, "item_cold_testing"),
              ("u2", "m0", "movies", 4.0, None, "warm_up")]
    attrs = [(m, "year", str(y)) for m, y in years.items() if y is not None]
    attrs += [("t", "year", "2000")]
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["movies"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2"]}),
        items=pd.DataFrame({"item_id": movies, "scenario": "movies"}),
        interactions=pd.DataFrame(inter, columns=["user_id", "item_id", "scenario", "weight",
                                                  "ts", "split"]),
        item_attributes=pd.DataFrame(attrs, columns=["item_id", "kind", "value"]),
    ).validate()


def test_newest_takes_whole_release_years_latest_first_until_the_share():
    years = {f"m{n}": 1990 + n // 4 for n in range(20)}  # four movies a year, 1990-1994
    years["m20"] = None
    tables = _movies(years)
    items = pd.Series(list(years)).to_numpy()
    # 10% of 21 movies is 2.1: the whole of 1994 (4 movies), never a part of a year
    assert newest_items(tables, items, 0.1) == {"m16", "m17", "m18", "m19"}
    # 25% is 5.25: 1994 and 1993
    assert newest_items(tables, items, 0.25) == {f"m{n}" for n in range(12, 20)}
    split = cold_item_splits(tables, valid_share=0.1).interactions
    by_split = split.groupby("split")["item_id"].apply(set).to_dict()
    assert by_split["valid"] == {"m16", "m17", "m18", "m19"}
    assert by_split["test"] == {"t"}
    # training keeps the other movies (the one without a year included); warm_up is dropped
    assert by_split["train"] == {f"m{n}" for n in range(16)} | {"m20"}
    assert set(split["split"]) == {"train", "valid", "test"}


def test_random_validation_is_seeded_and_the_split_name_is_checked():
    tables = _movies({f"m{n}": 1990 + n for n in range(20)})
    first = cold_item_splits(tables, valid="random", seed=3).interactions
    again = cold_item_splits(tables, valid="random", seed=3).interactions
    assert first.equals(again)
    assert (first["split"] == "valid").sum() == 2  # int(0.1 * 20)
    with pytest.raises(ValueError, match="valid must be one of"):
        cold_item_splits(tables, valid="oldest")


def test_keeping_attribute_kinds_drops_the_others_and_refuses_unknown_kinds():
    tables = _movies({"m0": 1990, "m1": 1991})
    extra = pd.DataFrame([("m0", "genre", "Drama"), ("t", "genre", "Comedy")],
                         columns=["item_id", "kind", "value"])
    tables = dataclasses.replace(tables, item_attributes=pd.concat(
        [tables.item_attributes, extra], ignore_index=True)).validate()
    kept = keep_attribute_kinds(tables, ["genre"]).item_attributes
    assert set(map(tuple, kept.to_numpy())) == {("m0", "genre", "Drama"), ("t", "genre", "Comedy")}
    assert keep_attribute_kinds(tables, ["genre", "year"]).item_attributes.shape[0] == 5
    with pytest.raises(SystemExit, match=r"no item attribute kind\(s\) \['writer'\]"):
        keep_attribute_kinds(tables, ["genre", "writer"])


def test_metahin_ndcg5_ranks_each_users_rated_test_movies_by_score_with_ratings_as_gains():
    import math

    import torch

    from benchmarks.ml1m import metahin_ndcg5
    from graphrec.data.graph import build_graph

    inter = [("u1", "a", 5.0), ("u1", "b", 1.0), ("u1", "c", 3.0),  # scored c > b > a
             ("u2", "a", 4.0), ("u2", "b", 2.0),                     # scored b > a
             ("u3", "c", 5.0)]                                       # one movie: left out
    frame = pd.DataFrame(inter, columns=["user_id", "item_id", "weight"])
    frame["scenario"], frame["ts"], frame["split"] = "movies", None, "test"
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": ["movies"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2", "u3"]}),
        items=pd.DataFrame({"item_id": ["a", "b", "c"], "scenario": "movies"}),
        interactions=frame[["user_id", "item_id", "scenario", "weight", "ts", "split"]],
    ).validate()
    _, index = build_graph(tables, splits=("test",))
    score_of = {"a": 0.1, "b": 0.5, "c": 0.9}

    class Fixed:
        def score(self, users, items):
            names = [index.ids["item"][i] for i in items.tolist()]
            return torch.tensor([[score_of[n] for n in names]] * len(users))

    def dcg(gains):
        return sum(g / math.log2(r + 2) for r, g in enumerate(gains))

    u1 = dcg([3.0, 1.0, 5.0]) / dcg([5.0, 3.0, 1.0])
    u2 = dcg([2.0, 4.0]) / dcg([4.0, 2.0])
    for block in (1, 256):  # the same value whichever number of users a block holds
        assert metahin_ndcg5(Fixed(), index, tables, block=block) == pytest.approx(
            (u1 + u2) / 2)
