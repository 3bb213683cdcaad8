"""Cold-start items through attributes: MovieLens-1M, MetaHIN splits.

Protocol (as shared/data/PEERS.md states it): training data is ``meta_training`` only; for
each user of ``item_cold_testing`` with at least one rating >= 4, the 737 cold-start movies of
that split are ranked (none has a training interaction); positives are the user's movies rated
>= 4, the user's lower-rated movies stay among the candidates; Recall@20 and NDCG@20 averaged
over users, with 95% bootstrap intervals over users, and each method's ratio to
``--baseline`` (default attribute-kNN) with a paired bootstrap interval over the same users.

Selection: a validation split is carved from ``meta_training`` without touching the test: the
movies of its latest release year (1997, 10% of its movies) lose their training
interactions, which become ``valid``; they are then cold-start items as the test movies are,
newer than every training movie and of a year the graph does not know, as the test movies
(1998-2000) are, and every learned model picks its epoch on them with the same protocol
(``--valid random``: a seeded random 10% of the training movies instead, the protocol
before 2026-11-29). The other MetaHIN splits (warm_up, user_cold_testing,
user_and_item_cold_testing) stay out of the graph.

Also printed, for comparison with the MetaHIN paper's table: per-user nDCG@5 over the user's
own rated test movies (ranked by score, gain = rating, linear), averaged over users with at
least two rated test movies. Training time per epoch: benchmarks/system.py. Usage::

    .venv/bin/python -m benchmarks.ml1m ../shared/data/ml1m_coldstart [--epochs N] [--train '{...}']
        [--runs path-gnn,hybrid] [--options '{"hybrid": {"model": "path-gnn"}}']
"""

from __future__ import annotations

import argparse
import dataclasses
import platform

import numpy as np
import torch

from benchmarks.cold_items import keep_attribute_kinds, test_at_20
from benchmarks.report import (
    add_paired,
    add_run_arguments,
    command_line,
    print_paired,
    print_table,
    selected_row,
    strategy_options,
    train_config,
    with_ci,
    write_results,
)
from graphrec.evaluation import Protocol
from graphrec.strategies import run_strategy
from kg.tables import KGTables
from loaders import get_loader

SCENARIO = "movies"
PROTOCOL = Protocol("full", min_weight=4.0, candidates="split")
#: how the validation movies are chosen (see cold_item_splits)
VALID_SPLITS = ("newest", "random")
DEFAULT_RUNS = ("popularity,attribute-popularity,content-popularity,attribute-knn,joint:mf,"
                "joint:lightgcn,joint:lightgcn:0.5,path-gnn")


def cold_item_splits(tables: KGTables, valid_share: float = 0.1, seed: int = 0,
                     valid: str = "newest") -> KGTables:
    """``meta_training`` -> train minus the validation movies -> valid,
    ``item_cold_testing`` -> test; other splits dropped.

    Args:
        valid_share: the least share of the training movies that become validation movies.
        seed: draws the movies of ``valid = "random"``.
        valid: ``"newest"``: whole release years, latest first, until ``valid_share`` of the
            training movies is reached (1997 alone on MetaHIN's split: 304 of 2,938 movies),
            so the validation movies are newer than every training movie and their year is
            unknown to the graph, as the test movies' years (1998-2000) are;
            ``"random"``: a seeded random ``valid_share`` of the training movies.
    """
    if valid not in VALID_SPLITS:
        raise ValueError(f"valid must be one of {list(VALID_SPLITS)}, not {valid!r}")
    inter = tables.interactions
    inter = inter[inter["split"].isin(["meta_training", "item_cold_testing"])].copy()
    train_items = np.sort(inter.loc[inter["split"] == "meta_training", "item_id"].unique())
    if valid == "random":
        rng = np.random.default_rng(seed)
        valid_items = set(rng.choice(train_items, size=int(valid_share * len(train_items)),
                                     replace=False))
    else:
        valid_items = newest_items(tables, train_items, valid_share)
    split = np.where(inter["split"] == "item_cold_testing", "test",
                     np.where(inter["item_id"].isin(valid_items), "valid", "train"))
    inter["split"] = split
    return dataclasses.replace(tables, interactions=inter.reset_index(drop=True))


def newest_items(tables: KGTables, items: np.ndarray, share: float) -> set:
    """The ``items`` of the latest release years (``year`` attribute), whole years, newest
    first, until at least ``share`` of ``items``; items without a year are never chosen."""
    attrs = tables.item_attributes
    years = attrs[(attrs["kind"] == "year") & attrs["item_id"].isin(set(items))]
    year = years.drop_duplicates("item_id").set_index("item_id")["value"].astype(float)
    if year.empty:
        raise ValueError("valid = 'newest' needs a year attribute on the training items")
    chosen: set = set()
    for value in sorted(year.unique(), reverse=True):
        if len(chosen) >= share * len(items):
            break
        chosen |= set(year.index[year == value])
    return chosen


def metahin_ndcg5(scorer, index, tables: KGTables, block: int = 256) -> float:
    """Per-user nDCG@5 over the user's rated test movies (gain = rating); users are scored
    ``block`` at a time against every test movie (a conditional model's query covers a
    whole block at once)."""
    inter = tables.interactions
    test = inter[inter["split"] == "test"]
    counts = test.groupby("user_id").size()
    users = counts.index[counts >= 2].to_numpy()
    if len(users) == 0:
        return float("nan")
    movies = np.sort(test["item_id"].unique())
    column = {movie: c for c, movie in enumerate(movies)}
    items = torch.as_tensor(index.index("item", movies))
    rows = {user: rows for user, rows in test[test["user_id"].isin(set(users))]
            .groupby("user_id")}
    discounts = 1.0 / np.log2(np.arange(2, 7))
    values = []
    for start in range(0, len(users), block):
        part = users[start:start + block]
        scores = scorer.score(torch.as_tensor(index.index("user", part)), items).numpy()
        for r, user in enumerate(part):
            mine = rows[user]
            own = scores[r, [column[m] for m in mine["item_id"]]]
            ratings = mine["weight"].to_numpy()
            order = np.argsort(-own, kind="stable")[:5]
            ideal = np.sort(ratings)[::-1][:5]
            dcg = (ratings[order] * discounts[:len(order)]).sum()
            values.append(dcg / (ideal * discounts[:len(ideal)]).sum())
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--runs", default=DEFAULT_RUNS,
                        help="Comma-separated baselines or strategy:model[:id_dropout].")
    parser.add_argument("--valid", choices=VALID_SPLITS, default="newest",
                        help="Validation movies: the newest release year(s) or a random "
                             "10%% of the training movies.")
    parser.add_argument("--kinds", default=None,
                        help="Keep only these movie attribute kinds after the split, e.g. "
                             "writer,director,year (default: all).")
    add_run_arguments(parser, "ml1m_cold_items_<tag>", baseline="attribute-knn")
    args = parser.parse_args()
    tables = cold_item_splits(get_loader("ml1m")(args.path).tables, seed=args.seed,
                              valid=args.valid)
    if args.kinds is not None:  # after the split: validation movies are chosen by year
        tables = keep_attribute_kinds(tables, args.kinds.split(","))
    counts = tables.interactions["split"].value_counts().to_dict()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; interactions {counts}; seed {args.seed}\n")
    lines, rows, kept = [], [], []
    options = strategy_options(args.options)
    shared: dict = {}  # path-gnn trained once for a hybrid on it (StrategyRun.once)
    for run in args.runs.split(","):
        strategy, model, dropout = (run.split(":") + ["", ""])[:3]
        extra = {"id_dropout": float(dropout)} if dropout else {}
        config = train_config(args.train, args.epochs, model=model or "lightgcn",
                              seed=args.seed, **extra)
        result = run_strategy(strategy, tables, SCENARIO, config, progress=False,
                              protocol=PROTOCOL, options=options, shared=shared)
        m, measures = test_at_20(result.scorer, result.index, tables, SCENARIO, PROTOCOL)
        kept.append(measures)
        lines.append(
            f"| {run} | {with_ci(m, 'recall@20')} | {with_ci(m, 'ndcg@20')} | "
            f"{metahin_ndcg5(result.scorer, result.index, tables):.4f} | {m['users']} | "
            f"{result.valid_score:.4f} | {result.best_epoch} |")
        rows.append(selected_row(run, result, config, m))
        print(lines[-1], flush=True)
    name = "ml1m_cold_items" + (f"_{args.tag}" if args.tag else "")
    paired, paired_columns = add_paired(rows, kept, args.baseline)
    columns = ["method", "recall@20", "ndcg@20", "valid_ndcg@20", "best_epoch", "epochs_run",
               "stopped", "seconds_to_selected_model", *paired_columns]
    write_results(name, rows, columns,
                  command_line("benchmarks.ml1m"), seed=args.seed,
                  dataset=str(args.path), protocol=str(PROTOCOL) + "; test split "
                  "item_cold_testing; epoch selected on a validation split of cold items "
                  f"({args.valid} training movies)", valid_split=args.valid,
                  attribute_kinds=args.kinds or "all")
    print()
    print_table(["method", "Recall@20 [95% CI]", "NDCG@20 [95% CI]", "MetaHIN nDCG@5", "users",
                 "valid NDCG@20", "epoch"], lines)
    print_paired(paired, args.baseline, ["method", "Recall@20", "NDCG@20"])


if __name__ == "__main__":
    main()
