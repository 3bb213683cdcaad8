"""The MovieLens-1M benchmark's validation split (benchmarks.ml1m.cold_item_splits) and its
--kinds option (benchmarks.cold_items.keep_attribute_kinds)."""

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
