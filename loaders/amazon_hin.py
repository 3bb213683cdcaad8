"""Amazon e-commerce HIN (github librahu/HIN-Datasets-for-Recommendation-and-Network-Embedding).

Files: ``user_item.dat`` (``user<TAB>item<TAB>rating<TAB>unix_time``), ``item_brand.dat``
(``item,brand``), ``item_category.dat`` (``item,category``, several per item) and
``item_view.dat`` (``item,item`` co-views). One product category, so one scenario.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from kg import schema
from kg.tables import make_tables
from loaders.base import Dataset, check_unique, parse_float, parse_id, parse_int, read_records

logger = logging.getLogger(__name__)


def _item_pairs(path: Path, what: str) -> tuple[list[int], list[int], list[int]]:
    left, right, lines = [], [], []
    for line, (a, b) in read_records(path, ",", 2):
        left.append(parse_id(a, path, line, "item id"))
        right.append(parse_id(b, path, line, f"{what} id"))
        lines.append(line)
    return left, right, lines


def load_amazon_hin(path: str | Path, scenario: str = "amazon") -> Dataset:
    """Load the Amazon HIN data set.

    Args:
        path: folder with the four ``.dat`` files.
        scenario: scenario name given to its items.

    Returns:
        :class:`Dataset` with brand and category attributes, ``ALSO_VIEWED`` links and a
        single split ``all`` (temporal splits are made by the evaluation). The graph holds the
        2,753 rated items; co-view lines touching items nobody rated, and self co-views, are
        dropped and counted in ``info``.
    """
    root = Path(path)
    schema.check_scenario(scenario)
    f = root / "user_item.dat"
    users, items, weights, ts, lines = [], [], [], [], []
    for line, (u, i, r, t) in read_records(f, "\t", 4):
        users.append(parse_id(u, f, line, "user id"))
        items.append(parse_id(i, f, line, "item id"))
        weights.append(parse_float(r, f, line, "rating"))
        ts.append(parse_int(t, f, line, "timestamp"))
        lines.append(line)
    check_unique(list(zip(users, items, strict=True)), lines, f, "user-item pair")

    bi, bb, bl = _item_pairs(root / "item_brand.dat", "brand")
    check_unique(bi, bl, root / "item_brand.dat", "item (one brand per item)")
    ci, cc, cl = _item_pairs(root / "item_category.dat", "category")
    check_unique(list(zip(ci, cc, strict=True)), cl, root / "item_category.dat",
                 "item-category pair")
    vi, vo, vl = _item_pairs(root / "item_view.dat", "item")
    check_unique(list(zip(vi, vo, strict=True)), vl, root / "item_view.dat", "co-view pair")

    def iid(i: int) -> str:
        return f"i{i}"

    item_ids = sorted(set(items))
    known = {iid(i) for i in item_ids}
    views = pd.DataFrame({"item_id": [iid(a) for a in vi], "other_id": [iid(b) for b in vo]})
    self_views = views["item_id"] == views["other_id"]
    rated = views["item_id"].isin(known) & views["other_id"].isin(known)
    views = views[~self_views & rated].assign(relation=schema.ALSO_VIEWED)
    attrs = pd.concat([
        pd.DataFrame({"item_id": [iid(i) for i in bi], "kind": "brand", "value": bb}),
        pd.DataFrame({"item_id": [iid(i) for i in ci], "kind": "category", "value": cc}),
    ], ignore_index=True)
    attrs_kept = attrs["item_id"].isin(known)
    info = {"self_coviews_dropped": int(self_views.sum()),
            "coviews_of_unrated_items_dropped": int((~rated & ~self_views).sum()),
            "attributes_of_unrated_items_dropped": int((~attrs_kept).sum())}
    logger.info("amazon-hin: %s", info)
    attrs = attrs[attrs_kept]
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": [scenario]}),
        users=pd.DataFrame({"user_id": [f"u{u}" for u in sorted(set(users))]}),
        items=pd.DataFrame({"item_id": [iid(i) for i in item_ids], "scenario": scenario}),
        interactions=pd.DataFrame({
            "user_id": [f"u{u}" for u in users], "item_id": [iid(i) for i in items],
            "scenario": scenario, "weight": weights, "ts": ts, "split": "all",
        }),
        item_attributes=attrs,
        item_links=views,
    ).validate()
    return Dataset("amazon-hin", tables, info)
