"""Cold-start items on any data set with item attributes: graphrec's own cold-items split.

Protocol: ``[split] method = "cold-items"`` (:func:`graphrec.data.splits.cold_item_split`) on
the data set's one scenario (or ``--scenario``): a seeded 20% of its items (those with
interactions) move every interaction to ``test``, another 10% to ``valid``, the rest train.
For each user with a held-out interaction, the split's cold items are ranked (none has a
training interaction: ``Protocol(candidates="split")``), every held-out interaction is a
positive (implicit feedback), full ranking, ties by expected rank; Recall@20 and NDCG@20
averaged over users with 95% bootstrap intervals over users, and each method's ratio to
``--baseline`` (default attribute-kNN) with a paired bootstrap interval over the same users.
Learned models pick their epoch on ``valid`` (cold items too) with the same protocol; the test
split is scored once.

Rows go to ``benchmarks/results/cold_items_<dataset>.json`` and ``.md``. Usage::

    .venv/bin/python -m benchmarks.cold_items amazon-hin ../shared/data/amazon_hin
    .venv/bin/python -m benchmarks.cold_items ml1m ../shared/data/ml1m_coldstart \\
        --kinds writer,director,year --tag few_items_per_value

``--kinds`` keeps only some attribute kinds: the same items seen through attributes of another
structure (above: values with few items each, as authors and publishers of books).
"""

from __future__ import annotations

import argparse
import dataclasses

from benchmarks.report import (
    add_paired,
    add_run_arguments,
    command_line,
    machine,
    print_paired,
    print_table,
    selected_row,
    strategy_options,
    train_config,
    with_ci,
    write_results,
)
from graphrec.data.splits import cold_item_split
from graphrec.evaluation import Protocol, evaluate
from graphrec.strategies import run_strategy
from kg.tables import KGTables
from loaders import get_loader

PROTOCOL = Protocol("full", candidates="split")
DEFAULT_RUNS = ("popularity,attribute-popularity,content-popularity,attribute-knn,joint,"
                "path-gnn")
VALID, TEST = 0.1, 0.2


def test_at_20(scorer, index, tables: KGTables, scenario: str, protocol: Protocol
               ) -> tuple[dict, dict]:
    """``(metrics, measures)``: ``scenario``'s test-split Recall@20 and NDCG@20 over every
    user (95% bootstrap intervals, per-user values kept), and the measures
    :func:`~benchmarks.report.add_paired` compares (one entry of its ``kept``)."""
    m = evaluate(scorer, index, tables, scenario, "test", (20,), ("all",), protocol,
                 bootstrap=1000, keep_values=True)["all"]
    return m, {"recall@20": (m, "recall@20"), "ndcg@20": (m, "ndcg@20")}


def keep_attribute_kinds(tables: KGTables, kinds: list[str]) -> KGTables:
    """``tables`` with only the item attributes of ``kinds`` (each must be one the data set
    has): the same items and interactions seen through fewer attribute kinds."""
    attrs = tables.item_attributes
    unknown = sorted(set(kinds) - set(attrs["kind"]))
    if unknown:
        raise SystemExit(f"no item attribute kind(s) {unknown}; the data set has "
                         f"{sorted(set(attrs['kind']))}")
    return dataclasses.replace(tables, item_attributes=attrs[attrs["kind"].isin(kinds)]
                               .reset_index(drop=True)).validate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="A loader name, e.g. amazon-hin or tabular.")
    parser.add_argument("path")
    parser.add_argument("--scenario", default=None,
                        help="The scenario whose items go cold (default: the only one).")
    parser.add_argument("--runs", default=DEFAULT_RUNS,
                        help="Comma-separated baselines or learned strategies.")
    parser.add_argument("--kinds", default=None,
                        help="Keep only these item attribute kinds, e.g. writer,director,year "
                             "(default: all the loader gives).")
    add_run_arguments(parser, "cold_items_<dataset>_<tag>", baseline="attribute-knn")
    args = parser.parse_args()
    tables = get_loader(args.dataset)(args.path).tables
    if args.kinds is not None:
        tables = keep_attribute_kinds(tables, args.kinds.split(","))
    scenarios = sorted(tables.scenarios["scenario"])
    scenario = args.scenario or scenarios[0]
    if args.scenario is None and len(scenarios) > 1:
        parser.error(f"{args.dataset} has scenarios {scenarios}: pick one with --scenario")
    tables = cold_item_split(tables, scenario, VALID, TEST, seed=args.seed)
    counts = tables.interactions["split"].value_counts().to_dict()
    print(f"machine: {machine()}; interactions {counts}; seed {args.seed}\n", flush=True)
    lines, rows, kept = [], [], []
    options = strategy_options(args.options)
    shared: dict = {}  # path-gnn trained once for a hybrid on it (StrategyRun.once)
    for run in args.runs.split(","):
        config = train_config(args.train, args.epochs, seed=args.seed)
        result = run_strategy(run, tables, scenario, config, progress=False,
                              protocol=PROTOCOL, options=options, shared=shared)
        m, measures = test_at_20(result.scorer, result.index, tables, scenario, PROTOCOL)
        kept.append(measures)
        lines.append(f"| {run} | {with_ci(m, 'recall@20')} | {with_ci(m, 'ndcg@20')} | "
                     f"{m['users']} | {result.valid_score:.4f} | {result.best_epoch} | "
                     f"{result.stopped or '-'} | {result.seconds:.0f} |")
        rows.append(selected_row(run, result, config, m))
        print(lines[-1], flush=True)
    paired, paired_columns = add_paired(rows, kept, args.baseline)
    columns = ["method", "recall@20", "ndcg@20", "valid_ndcg@20", "best_epoch", "epochs_run",
               "stopped", "seconds_to_selected_model", *paired_columns]
    write_results(f"cold_items_{args.dataset}" + (f"_{args.tag}" if args.tag else ""), rows,
                  columns,
                  command_line("benchmarks.cold_items"), seed=args.seed,
                  dataset=f"{args.dataset} {args.path}, scenario {scenario}",
                  protocol=f"{PROTOCOL}; cold-items split, valid {VALID}, test {TEST} of the "
                           "items; epoch selected on valid")
    print()
    print_table(["method", "Recall@20 [95% CI]", "NDCG@20 [95% CI]", "users", "valid NDCG@20",
                 "epoch", "stopped", "seconds"], lines)
    print_paired(paired, args.baseline, ["method", "Recall@20", "NDCG@20"])


if __name__ == "__main__":
    main()
