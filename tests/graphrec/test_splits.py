"""Re-splitting a scenario: temporal cut, leave-one-out, cold-start items, nested training
fractions."""

import pytest

from graphrec.data.splits import (
    apply_split,
    cold_item_split,
    k_shot,
    leave_one_out,
    subsample_training,
    temporal_split,
)
from kg.errors import ConfigError, DataError
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables


@pytest.fixture(scope="module")
def tables():
    return generate_synthetic(SyntheticConfig(n_users=120, seed=1)).tables


def part(t, scenario="cosmetics"):
    inter = t.interactions
    return inter[inter["scenario"] == scenario]


def test_temporal_split_never_trains_on_the_future(tables):
    out = temporal_split(tables, "cosmetics", valid=0.1, test=0.2)
    p = part(out)
    sizes = p["split"].value_counts()
    assert sizes["test"] == round(0.2 * len(p)) and sizes["valid"] == round(0.1 * len(p))
    assert p.loc[p["split"] == "train", "ts"].max() <= p.loc[p["split"] == "valid", "ts"].min()
    assert p.loc[p["split"] == "valid", "ts"].max() <= p.loc[p["split"] == "test", "ts"].min()
    # other scenarios keep their own split
    assert part(out, "shoes")["split"].equals(part(tables, "shoes")["split"])
    with pytest.raises(DataError, match="no timestamp"):
        temporal_split(tiny_tables(), "b")
    with pytest.raises(ConfigError, match="unknown scenario 'perfume'"):
        temporal_split(tables, "perfume")


def test_leave_one_out_holds_out_each_users_latest(tables):
    p = part(leave_one_out(tables, "shoes"), "shoes")
    for _, rows in p.groupby("user_id"):
        if len(rows) < 3:
            assert set(rows["split"]) == {"train"}
            continue
        latest = rows.sort_values(["ts", "item_id"])
        assert latest["split"].iloc[-1] == "test" and latest["split"].iloc[-2] == "valid"
        assert (latest["split"].iloc[:-2] == "train").all()


def test_training_fractions_are_nested_and_leave_held_out_rows(tables):
    small = part(subsample_training(tables, "cosmetics", 0.25, seed=3))
    large = part(subsample_training(tables, "cosmetics", 0.5, seed=3))
    n_train = (part(tables)["split"] == "train").sum()
    assert (small["split"] == "train").sum() == round(0.25 * n_train)
    pairs = lambda p: set(zip(p["user_id"], p["item_id"], p["split"], strict=True))  # noqa: E731
    assert pairs(small) <= pairs(large)
    held = lambda p: pairs(p[p["split"] != "train"])  # noqa: E731
    assert held(small) == held(part(tables))
    with pytest.raises(ConfigError, match="fraction must be"):
        apply_split(tables, "cosmetics", fraction=0)
    with pytest.raises(ConfigError, match="split method must be"):
        apply_split(tables, "cosmetics", method="random")


def test_k_shot_per_user_and_per_scenario(tables):
    source = part(tables, "clothing")
    train_of = lambda p: p[p["split"] == "train"]  # noqa: E731
    per_user = k_shot(tables, "clothing", 2, "user", seed=4)
    counts = train_of(part(per_user, "clothing")).groupby("user_id").size()
    before = train_of(source).groupby("user_id").size()
    assert (counts == before.clip(upper=2)).all() and counts.index.equals(before.index)
    pairs = lambda p: set(zip(p["user_id"], p["item_id"], p["split"], strict=True))  # noqa: E731
    one = pairs(part(k_shot(tables, "clothing", 1, "user", seed=4), "clothing"))
    assert one <= pairs(part(per_user, "clothing"))  # nested for one seed
    assert pairs(source[source["split"] != "train"]) <= pairs(part(per_user, "clothing"))
    total = part(apply_split(tables, "clothing", shots=5, per="scenario"), "clothing")
    assert len(train_of(total)) == 5
    assert len(part(per_user, "shoes")) == len(part(tables, "shoes"))  # other scenarios intact
    with pytest.raises(ConfigError, match="shots must be at least 1"):
        k_shot(tables, "clothing", 0)
    with pytest.raises(ConfigError, match="per must be 'user' or 'scenario'"):
        k_shot(tables, "clothing", 3, per="item")


def test_cold_item_split_holds_out_whole_items(tables):
    out = cold_item_split(tables, "cosmetics", valid=0.1, test=0.2, seed=4)
    p = part(out)
    roles = p.groupby("item_id")["split"].agg(set)
    assert all(len(r) == 1 for r in roles)  # an item is train, valid or test, never two
    n_items = len(roles)
    counts = roles.map(lambda r: next(iter(r))).value_counts()
    assert counts["test"] == round(0.2 * n_items) and counts["valid"] == round(0.1 * n_items)
    assert len(p) == len(part(tables))  # every interaction kept, only relabelled
    assert part(out, "shoes")["split"].equals(part(tables, "shoes")["split"])
    again = part(apply_split(tables, "cosmetics", "cold-items", valid=0.1, test=0.2, seed=4))
    assert again["split"].equals(p["split"])
    assert not part(cold_item_split(tables, "cosmetics", 0.1, 0.2, seed=5))["split"].equals(
        p["split"])
    with pytest.raises(ConfigError, match="fractions summing below 1"):
        cold_item_split(tables, "cosmetics", valid=0.5, test=0.5)
    with pytest.raises(DataError, match="too few to hold out"):
        cold_item_split(tiny_tables(), "c", valid=0.0, test=0.5)
