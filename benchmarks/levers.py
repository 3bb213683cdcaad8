"""Validation-only runs of one strategy under ``[train]`` settings: how training levers are
chosen without looking at a test split.

Each ``--train`` JSON is one row: graphrec's defaults with those settings, trained with the
data set's own benchmark protocol, selected on ``valid``. The row prints the validation score
the benchmark selects on, and on CDRIB also the authors' 999-negative draw applied to
``valid.txt`` (MRR, ties by expected rank). Test splits are never scored here.

    python -m benchmarks.levers xmarket ../shared/data/xmarket_electronics \\
        '{}' '{"loss": "softmax", "negative_sampling": "shared", "negatives": 1024}'
    python -m benchmarks.levers cdrib-game ../shared/data/cdrib_amazon '{}'
    python -m benchmarks.levers ml1m ../shared/data/ml1m_coldstart '{"temperature": 0.2}'
    python -m benchmarks.levers cdrib-game ../shared/data/cdrib_amazon '{}' --strategy hybrid \
        --options '{"hybrid": {"baseline": "ease"}}'
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.cdrib import authors_protocol
from benchmarks.report import train_config
from graphrec.evaluation import evaluate
from graphrec.strategies import run_strategy

#: data set name -> (target, selection k)
DATA = {"cdrib-game": ("game", 20), "cdrib-video": ("video", 20), "xmarket": ("de", 10),
        "ml1m": ("movies", 20)}


def load(name: str, path: str):
    """The tables and selection protocol the data set's own benchmark uses."""
    if name.startswith("cdrib"):
        from loaders import load_dataset

        return load_dataset("cdrib", path, {"pair": None}).tables, None
    if name == "xmarket":
        from graphrec.data.splits import leave_one_out
        from loaders import get_loader

        tables = get_loader("xmarket")(path, markets=["de", "uk", "ca"]).tables
        return leave_one_out(tables, "de"), None
    from benchmarks.ml1m import PROTOCOL, cold_item_splits
    from loaders import get_loader

    return cold_item_splits(get_loader("ml1m")(path).tables, seed=0), PROTOCOL


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=sorted(DATA))
    parser.add_argument("path")
    parser.add_argument("train", nargs="+", help="JSON [train] settings, one row each.")
    parser.add_argument("--strategy", default="joint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--options", default="{}",
                        help="JSON [strategy.<name>] settings, e.g. "
                             "'{\"hybrid\": {\"baseline\": \"ease\"}}'.")
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    target, k = DATA[args.data]
    tables, protocol = load(args.data, args.path)
    print(f"| data | strategy | [train] | valid NDCG@{k} | valid MRR (authors' draw) | "
          f"best epoch | epochs run | stopped | seconds |\n|---|---|---|---|---|---|---|---|---|")
    for spec in args.train:
        config = train_config(spec, None, k=k, seed=args.seed)
        start = time.perf_counter()
        result = run_strategy(args.strategy, tables, target, config, progress=False,
                              protocol=protocol, options=options)
        seconds = time.perf_counter() - start
        mrr = "-"
        if args.data.startswith("cdrib"):
            draw = authors_protocol(target, ties="expected")
            res = evaluate(result.scorer, result.index, tables, target, "valid", (10,),
                           ("all",), draw, ("train",))
            mrr = f"{res['all']['mrr']:.4f}"
        print(f"| {args.data} | {args.strategy} {args.options if options else ''} | `{spec}` | "
              f"{result.valid_score:.4f} | {mrr} | "
              f"{result.best_epoch} | {len(result.history)} | {result.stopped} | "
              f"{seconds:.0f} |", flush=True)
        chosen = {k: v for k, v in (result.decision or {}).items()
                  if k in ("blend_weight", "l2", "valid_ndcg_by_l2")}
        if chosen:
            print(f"  chosen on validation: {chosen}", flush=True)


if __name__ == "__main__":
    main()
