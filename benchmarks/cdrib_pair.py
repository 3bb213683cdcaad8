"""Make a CDRIB-format pair of domains from any data set whose items carry a categorical
attribute, for checking graphrec's defaults on a cold-start-user pair they were never chosen on.

The items with attribute value A (and not B) form domain A, those with B (and not A) domain B;
items with both or neither are left out. The users with interactions in both domains are the
common users. They get ids ``0..C-1`` in a seeded random order, and every other user an id
from ``C`` on, per domain, as in the CDRIB files (README of ``shared/data``). The split follows
the CDRIB authors' (Cao et al., ICDE 2022): with ``L = int(0.1 * C)``, the common users
``[9L, C)`` are held out of the first domain (alphabetically) and ``[8L, 9L)`` out of the second;
each of a held-out user's interactions in that domain goes to ``valid.txt`` or ``test.txt`` by a
fair coin, and every other interaction to ``train.txt``. A held-out interaction whose item has no
training interaction in its domain is dropped (the protocol draws negatives from training
items). ``data_info.txt`` in each folder records the sizes.

The result loads with the ``cdrib`` loader and runs through ``benchmarks.cdrib`` unchanged::

    .venv/bin/python -m benchmarks.cdrib_pair amazon-hin ../shared/data/amazon_hin \\
        --kind category --values 1,2 --out /tmp/hin_pair
    .venv/bin/python -m benchmarks.cdrib /tmp/hin_pair --strategies popularity,item-knn,path-gnn

Interactions are de-duplicated per (user, item); ratings and times are dropped (the CDRIB files
hold neither).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from kg.files import atomic_write
from loaders import load_dataset

VALID_SHARE = 0.5  # the authors' coin: a held-out interaction goes to valid or test


def domain_name(kind: str, value: str) -> str:
    """A domain (folder and scenario) name for an attribute value: the value itself when it is
    a word (``Comedy``), else the kind and the value (``category1``); never an underscore,
    which separates the two names of a pair folder."""
    name = value if value.isalpha() else f"{kind}{value}"
    return "".join(c for c in name if c.isalnum())


def domain_interactions(tables, kind: str, values: tuple[str, str]) -> dict[str, pd.DataFrame]:
    """``{value: interactions}`` (columns ``user_id``, ``item_id``, de-duplicated) of the items
    whose attribute ``kind`` has ``value`` and not the other value."""
    attrs = tables.item_attributes
    attrs = attrs[attrs["kind"] == kind]
    if attrs.empty:
        raise ValueError(f"the data set has no item attribute {kind!r}")
    holders = {v: set(attrs.loc[attrs["value"] == v, "item_id"]) for v in values}
    for v, items in holders.items():
        if not items:
            raise ValueError(f"no item has {kind} = {v!r}")
    pairs = tables.interactions[["user_id", "item_id"]].drop_duplicates()
    a, b = values
    return {a: pairs[pairs["item_id"].isin(holders[a] - holders[b])],
            b: pairs[pairs["item_id"].isin(holders[b] - holders[a])]}


def split_pair(domains: dict[str, pd.DataFrame], seed: int) -> dict[str, dict[str, pd.DataFrame]]:
    """``{domain: {"train" | "valid" | "test": frame of int user, int item}}`` under the CDRIB
    numbering and split described in the module docstring."""
    rng = np.random.default_rng(seed)
    first, second = sorted(domains)
    common = sorted(set(domains[first]["user_id"]) & set(domains[second]["user_id"]))
    if len(common) < 10:
        raise ValueError(f"only {len(common)} users have interactions in both domains")
    order = [common[i] for i in rng.permutation(len(common))]
    size = len(order)
    cut = int(0.1 * size)
    held = {first: set(order[9 * cut:]), second: set(order[8 * cut:9 * cut])}
    common_ids = {u: i for i, u in enumerate(order)}
    out = {}
    for domain, frame in domains.items():
        frame = frame.sort_values(["user_id", "item_id"], kind="stable")
        is_held = frame["user_id"].isin(held[domain]).to_numpy()
        train = frame[~is_held]
        rest = frame[is_held]
        item_ids = {item: i for i, item in enumerate(sorted(set(train["item_id"])))}
        rest = rest[rest["item_id"].isin(item_ids)]
        to_valid = rng.random(len(rest)) < VALID_SHARE
        own = sorted(set(train["user_id"]) - common_ids.keys())
        user_ids = common_ids | {u: size + i for i, u in enumerate(own)}
        out[domain] = {name: pd.DataFrame({"user": part["user_id"].map(user_ids).astype(int),
                                           "item": part["item_id"].map(item_ids).astype(int)})
                       for name, part in (("train", train), ("valid", rest[to_valid]),
                                          ("test", rest[~to_valid]))}
    last = max(int(split["user"].max()) for d in out.values()
               for name, split in d.items() if name != "train" and len(split))
    if last != size - 1:  # the loader reads C as 1 + the largest held-out id
        raise ValueError(f"user {size - 1} has no held-out row; try another --seed")
    return out


def write_pair(splits: dict[str, dict[str, pd.DataFrame]], out: Path, facts: dict) -> None:
    """Write the folders ``X_Y`` and ``Y_X`` under ``out`` (created), each with its three
    split files and ``data_info.txt``."""
    first, second = sorted(splits)
    for domain, other in ((first, second), (second, first)):
        folder = out / f"{domain}_{other}"
        folder.mkdir(parents=True, exist_ok=True)
        info = dict(facts, domain=domain)
        for name, frame in splits[domain].items():
            text = "".join(f"{u}\t{i}\n" for u, i in frame.itertuples(index=False))
            atomic_write(folder / f"{name}.txt", text)
            info[name] = {"rows": len(frame), "users": int(frame["user"].nunique()),
                          "items": int(frame["item"].nunique())}
        atomic_write(folder / "data_info.txt", json.dumps(info, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loader", help="A registered loader, e.g. amazon-hin or ml1m.")
    parser.add_argument("path")
    parser.add_argument("--kind", required=True, help="Item attribute kind, e.g. category.")
    parser.add_argument("--values", required=True, help="Two values of it, e.g. 1,2.")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    values = tuple(args.values.split(","))
    if len(values) != 2 or values[0] == values[1]:
        raise SystemExit("--values takes two different values, e.g. 1,2")
    tables = load_dataset(args.loader, args.path).tables
    try:
        domains = domain_interactions(tables, args.kind, values)
        splits = split_pair({domain_name(args.kind, v): frame for v, frame in domains.items()},
                            args.seed)
    except ValueError as exc:
        raise SystemExit(f"{args.path}: {exc}") from None
    facts = {"source": f"{args.loader} {args.path}", "kind": args.kind, "values": list(values),
             "seed": args.seed}
    write_pair(splits, args.out, facts)
    for domain, parts in sorted(splits.items()):
        sizes = ", ".join(f"{name} {len(f):,} rows / {f['user'].nunique():,} users"
                          for name, f in parts.items())
        print(f"{domain}: {sizes}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
