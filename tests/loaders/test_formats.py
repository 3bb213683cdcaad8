"""amazon-hin, xmarket, ml1m, tabular and synthetic loaders on tiny files."""

import json

import numpy as np
import pytest

from kg.errors import ConfigError, DataError
from loaders import SyntheticConfig, generate_synthetic, get_loader
from tests.helpers import assert_same_tables


def test_amazon_hin(tmp_path):
    (tmp_path / "user_item.dat").write_text("1\t10\t5\t100\n2\t10\t4\t200\n2\t11\t3\t300\n")
    (tmp_path / "item_brand.dat").write_text("10,7\n11,8\n")
    (tmp_path / "item_category.dat").write_text("10,1\n10,2\n11,2\n12,2\n")
    (tmp_path / "item_view.dat").write_text("10,10\n10,11\n11,12\n")
    ds = get_loader("amazon-hin")(tmp_path)
    t = ds.tables
    assert t.counts()["items"] == 2 and t.counts()["interactions"] == 3
    assert list(t.item_links["relation"]) == ["ALSO_VIEWED"]
    assert ds.info == {"self_coviews_dropped": 1, "coviews_of_unrated_items_dropped": 1,
                       "attributes_of_unrated_items_dropped": 1}
    assert t.interactions["ts"].tolist() == [100, 200, 300]
    (tmp_path / "user_item.dat").write_text("1\t10\tfive\t100\n")
    with pytest.raises(DataError, match=r"user_item.dat:1: rating must be a finite number"):
        get_loader("amazon-hin")(tmp_path)


def test_negative_numeric_ids_are_refused(tmp_path):
    (tmp_path / "user_item.dat").write_text("1\t10\t5\t100\n-2\t10\t4\t200\n")
    for name in ("item_brand.dat", "item_category.dat", "item_view.dat"):
        (tmp_path / name).write_text("10,7\n")
    with pytest.raises(DataError, match=r"user_item.dat:2: user id must be a non-negative "
                                        r"integer, got '-2'"):
        get_loader("amazon-hin")(tmp_path)


def test_xmarket_ids_are_letters_and_digits(tmp_path):
    (tmp_path / "uk_5core.txt").write_text("userId itemId rate date\nA X1 5.0 2018-01-01\n"
                                           "-5 X1 4.0 2018-01-02\n")
    with pytest.raises(DataError, match=r"uk_5core.txt:3: userId must be letters and digits"):
        get_loader("xmarket")(tmp_path)


def test_xmarket_links_the_same_product_across_markets(tmp_path):
    (tmp_path / "uk_5core.txt").write_text(
        "userId itemId rate date\nA X1 5.0 2018-01-01\nB X1 4.0 2018-01-02\nA X2 1.0 2018-01-03\n"
        "A X1 3.0 2019-01-01\n")
    (tmp_path / "de_5core.txt").write_text("userId itemId rate date\nA X1 2.0 2018-02-01\n")
    ds = get_loader("xmarket")(tmp_path)
    t = ds.tables
    assert t.item_links[["item_id", "other_id", "relation"]].values.tolist() == [
        ["de:X1", "uk:X1", "SAME_PRODUCT"]]
    assert ds.info["repeats_collapsed"] == {"de": 0, "uk": 1}
    repeated = t.interactions.set_index(["user_id", "item_id"]).loc[("uk:A", "uk:X1")]
    assert repeated["weight"] == 3.0  # the latest line wins
    assert "uk:A" in set(t.users["user_id"]) and "de:A" in set(t.users["user_id"])
    with pytest.raises(DataError, match="have no _5core.txt"):
        get_loader("xmarket")(tmp_path, markets="fr")
    with pytest.raises(DataError, match="duplicate user-item pair"):
        get_loader("xmarket")(tmp_path, repeats="error")


def test_ml1m(tmp_path):
    (tmp_path / "movies_extrainfos.dat").write_text(
        "1::Toy::1995::G::x::Animation, Comedy::John L::Pete D (story by), Joss W::A, B::plot::u\n"
        "2::Heat::1995::R::x::Crime::Michael M::N/A::C::plot\n", encoding="utf-8")
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    splits = {"meta_training": ({"1": [1, 2, 1]}, {"1": [5, 3, 4]}),
              "warm_up": ({"2": [1]}, {"2": [2]})}
    for name in ("user_cold_testing", "item_cold_testing", "user_and_item_cold_testing"):
        splits[name] = ({"2": [2]}, {"2": [5]}) if name == "item_cold_testing" else ({}, {})
    for name, (x, y) in splits.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(x))
        (tmp_path / f"{name}_y.json").write_text(json.dumps(y))
    ds = get_loader("ml1m")(tmp_path)
    t = ds.tables
    attrs = set(map(tuple, t.item_attributes.values.tolist()))
    assert {("m1", "writer", "Pete D"), ("m1", "genre", "Comedy"), ("m1", "decade", "1990s"),
            ("m2", "rated", "R")} <= attrs
    assert not any(k == "writer" and i == "m2" for i, k, _ in attrs)  # N/A is no writer
    assert ds.info["repeats_collapsed"] == 1
    row = t.interactions.set_index(["user_id", "item_id"]).loc[("u1", "m1")]
    assert row["weight"] == 4.0 and row["split"] == "meta_training"
    good_users = (tmp_path / "users.dat").read_text()
    (tmp_path / "users.dat").write_text(good_users + "2::F::1::10::48067\n")
    with pytest.raises(DataError, match=r"users.dat:3: duplicate user id '2' \(first seen on "
                                        r"line 2\)"):
        get_loader("ml1m")(tmp_path)
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n2::::56::16::70072\n")
    with pytest.raises(DataError, match=r"users.dat:2: gender of user 2 is empty"):
        get_loader("ml1m")(tmp_path)
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n")
    with pytest.raises(DataError, match=r"warm_up.json: user 2 \(rated in split warm_up\) is "
                                        r"not in users.dat"):
        get_loader("ml1m")(tmp_path)
    assert set(t.user_attributes["kind"]) == {"gender", "age", "occupation"}
    (tmp_path / "warm_up_y.json").write_text(json.dumps({"2": [2, 3]}))
    with pytest.raises(DataError, match="1 movies but 2 ratings"):
        get_loader("ml1m")(tmp_path)


def write_tabular(tmp_path, ratings: str):
    (tmp_path / "ratings.csv").write_text(ratings)
    (tmp_path / "items.csv").write_text("iid,market,brand,cats\ni1,uk,acme,a|b\ni2,de,acme,b\n")
    (tmp_path / "map.toml").write_text(
        '[interactions]\npath = "ratings.csv"\nuser = "uid"\nitem = "iid"\n'
        'scenario = "market"\nweight = "stars"\nsplit = "split"\n'
        '[items]\npath = "items.csv"\nitem = "iid"\nscenario = "market"\nseparator = "|"\n'
        'attributes = { brand = "brand", category = "cats" }\n')
    return tmp_path / "map.toml"


def test_tabular_maps_columns_and_reports_lines(tmp_path):
    good = "uid,iid,market,stars,split\nu1,i1,uk,5,train\nu1,i2,de,3,test\n"
    ds = get_loader("tabular")(write_tabular(tmp_path, good))
    assert ds.tables.counts()["item_attributes"] == 5
    assert set(ds.split_names) == {"train", "test"}
    bad = "uid,iid,market,stars,split\nu1,i1,uk,5,train\nu2,i2,de,lots,train\n"
    with pytest.raises(DataError, match=r"ratings.csv:3: weight must be a number"):
        get_loader("tabular")(write_tabular(tmp_path, bad))
    wrong_scenario = "uid,iid,market,stars,split\nu1,i1,de,5,train\n"
    with pytest.raises(DataError, match=r"items.csv:2: item 'i1' is in scenario 'uk'"):
        get_loader("tabular")(write_tabular(tmp_path, wrong_scenario))
    missing = "user,iid,market,stars,split\nu1,i1,uk,5,train\n"
    with pytest.raises(DataError, match=r"column 'uid' \(mapped as 'user'\) not found"):
        get_loader("tabular")(write_tabular(tmp_path, missing))
    opaque = "uid,iid,market,stars,split\n-5,i1,uk,5,train\n007,i1,uk,4,train\n"
    assert set(get_loader("tabular")(write_tabular(tmp_path, opaque)).tables.users["user_id"]) \
        == {"-5", "007"}  # ids are opaque strings
    padded = "uid,iid,market,stars,split\nu1,i1,uk,5,train\nu2 ,i1,uk,4,train\n"
    with pytest.raises(DataError, match=r"ratings.csv:3: id 'u2 ' in column 'uid' has "
                                        r"surrounding spaces"):
        get_loader("tabular")(write_tabular(tmp_path, padded))
    latin1 = "uid,iid,market,stars,split\nu1,i1,uk,5,train\nu\xe9,i1,uk,4,train\n"
    (tmp_path / "ratings.csv").write_bytes(latin1.encode("latin-1"))
    with pytest.raises(DataError, match=r"ratings.csv:3: bytes are not valid UTF-8"):
        get_loader("tabular")(tmp_path / "map.toml")
    (tmp_path / "ratings.csv").write_bytes(b"uid,iid,market,stars,split\nu1,i1,uk,5,t\x00\n")
    with pytest.raises(DataError, match=r"ratings.csv:2: binary data"):
        get_loader("tabular")(tmp_path / "map.toml")
    (tmp_path / "map.toml").write_text('[interactions]\npath = "ratings.csv"\ncolour = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['colour'\]"):
        get_loader("tabular")(tmp_path / "map.toml")


def test_synthetic_is_deterministic_and_plants_a_shared_taste():
    a = generate_synthetic(SyntheticConfig(seed=5))
    b = generate_synthetic(SyntheticConfig(seed=5))
    assert_same_tables(a.tables, b.tables)
    c = generate_synthetic(SyntheticConfig(seed=6))
    assert not a.tables.interactions.equals(c.tables.interactions)
    inter = a.tables.interactions
    taste = a.info["user_taste"]
    item_taste = a.info["item_taste"]
    match = np.mean([taste[u] == item_taste[i]
                     for u, i in zip(inter["user_id"], inter["item_id"], strict=True)])
    assert match > 3 / a.info["config"]["n_tastes"]  # far above chance in every scenario
    cold = set(inter.loc[inter["split"] != "train", "item_id"]) - set(
        inter.loc[inter["split"] == "train", "item_id"])
    assert cold, "cold-start items exist"


def test_synthetic_adversarial_scenario_inverts_preferences():
    ds = generate_synthetic(SyntheticConfig(adversarial=True, seed=1))
    inter = ds.tables.interactions
    taste, item_taste = ds.info["user_taste"], ds.info["item_taste"]
    per = {s: np.mean([taste[u] == item_taste[i] for u, i in zip(g["user_id"], g["item_id"],
                                                                    strict=True)])
           for s, g in inter.groupby("scenario")}
    assert per["outlet"] < 1 / 8 < per["clothing"]


def test_unknown_loader_and_option():
    with pytest.raises(ConfigError, match=r"Could not resolve loader 'cdribb' among choices"):
        get_loader("cdribb")
    with pytest.raises(ConfigError, match="unknown synthetic option"):
        get_loader("synthetic")(None, n_user=3)
