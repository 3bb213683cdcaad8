"""How cost grows with the data: each stage timed at 10^5, 10^6 and 10^7 interactions.

Data: the synthetic generator (``sampling = "vectorised"``, linear in the interactions) with
three source scenarios and one target, about 50 interactions per user, one item per 20 users in
each scenario (power-law popularity, tastes planted across scenarios, brand and category
attributes). Each size runs in a child process of its own, so that peak RSS (``ru_maxrss``,
cumulative over the stages of that size) is its own. Stages:

1. generate the data set;
2. load it into the local store (validate, merge, write Parquet);
3. load it into a fresh Neo4j (bulk path), sizes up to ``--neo4j-max`` only;
4. read the graph back and build ``HeteroData`` (with graphrec's default co-interaction edges);
5. one training epoch of ``joint`` with graphrec's defaults (batch = 1% of the pairs, so about
   100 steps per epoch at any size), validation switched off;
6. full-ranking evaluation of the target's test split (NDCG@20 over all target items);
7. ``recommend`` for 1,000 users (top 10 of the target).

Growth exponents are least-squares slopes of log(seconds) on log(interactions). Usage::

    .venv/bin/python -m benchmarks.scaling [--sizes 100000,1000000,10000000] [--neo4j-max 1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import command_line, peak_rss_gib, save_figure, write_results

STAGES = ("generate", "local_load", "neo4j_load", "build_graph", "epoch", "evaluate",
          "recommend_1000")
PER_USER = 50  # interactions per user, about: 3 sources x 0.8 x 20 + target 0.6 x 5
IMG = Path(__file__).parent.parent / "docs" / "img" / "scaling.png"


def measure(size: int, neo4j: bool, progress_file: Path | None = None) -> dict:
    """Every stage at ``size`` interactions (run in a child process); the stages done so far
    are written to ``progress_file`` after each one, so a child killed mid-way (out of
    memory) still reports what it measured."""
    import torch

    from graphrec.data.graph import build_graph
    from graphrec.data.pairs import training_pairs
    from graphrec.evaluation import evaluate
    from graphrec.evaluation.harness import EmbeddingScorer
    from graphrec.models import build_model
    from graphrec.serving import Recommender
    from graphrec.training import PairObjective, TrainConfig, Trainer
    from kg import server
    from kg.schema import TRAIN_SPLITS
    from kg.store import LocalStore, Neo4jConfig, Neo4jStore
    from loaders import SyntheticConfig, generate_synthetic

    out: dict = {"size": size}

    def stage(name: str, fn):
        start = time.perf_counter()
        value = fn()
        out[f"{name}_s"] = round(time.perf_counter() - start, 2)
        out[f"{name}_rss_gib"] = round(peak_rss_gib(), 2)
        print(f"  {size:>10,} {name}: {out[f'{name}_s']:.1f} s, peak RSS "
              f"{out[f'{name}_rss_gib']:.2f} GiB", file=sys.stderr, flush=True)
        if progress_file is not None:
            progress_file.write_text(json.dumps(out))
        return value

    users = max(200, size // PER_USER)
    config = SyntheticConfig(n_users=users, items_per_scenario=max(250, users // 20),
                             source_scenarios=("clothing", "shoes", "books"),
                             target_interactions=5, sampling="vectorised", seed=0)
    tables = stage("generate", lambda: generate_synthetic(config).tables)
    out["interactions"] = len(tables.interactions)
    out["users"], out["items"] = len(tables.users), len(tables.items)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "store")
        stage("local_load", lambda: store.load(tables, progress=False))
        if neo4j:
            home = Path(tmp) / "neo4j"
            state = server.start(home, server.free_port(), heap="2g")
            try:
                with Neo4jStore(Neo4jConfig(uri=state.uri)) as neo:
                    report = stage("neo4j_load", lambda: neo.load(tables, progress=False))
                out["neo4j_relationships_per_s"] = round(
                    sum(report.relationships.values())
                    / sum(report.seconds[k] for k in report.relationships))
            finally:
                server.stop(home)
        train = TrainConfig(seed=0)
        target = config.target_scenario

        def build():
            read = store.read()
            return read, *build_graph(read, TRAIN_SPLITS, None, train.co_interactions,
                                      train.co_support, train.co_weighted)

        tables, data, index = stage("build_graph", build)
    out["edges"] = int(sum(data[et].edge_index.shape[1] for et in data.edge_types))
    model = build_model(train.model, data, train.dim, train.num_layers, seed=0)
    graph = model.prepare_graph(data)
    pairs = training_pairs(tables, index, list(index.ids["scenario"]))
    objective = PairObjective.from_config(pairs, train)
    one_epoch = TrainConfig(seed=0, epochs=1)
    out["pairs"], out["batch_size"] = len(pairs), one_epoch.batch_for(len(pairs))
    stage("epoch", lambda: Trainer(model, graph, objective, lambda m: 0.0, one_epoch,
                                   name="scaling", progress=False).fit())
    with torch.no_grad():
        emb = model(graph)
    result = stage("evaluate", lambda: evaluate(EmbeddingScorer(emb["user"], emb["item"]),
                                                index, tables, target, "test", (20,),
                                                ("all",), bootstrap=0))
    out["test_users"] = result["all"]["users"]
    rec = Recommender(model, graph, index, tables, target=target)
    served = list(index.ids["user"][:1000])
    stage("recommend_1000", lambda: rec.recommend(served, k=10))
    out["peak_rss_gib"] = round(peak_rss_gib(), 2)
    return out


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log y on log x (None with fewer than two points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in STAGES:
        pts = [(r["interactions"], r[f"{name}_s"]) for r in rows if r.get(f"{name}_s")]
        if pts:
            ax.loglog(*zip(*pts, strict=True), "o-", label=name)
    ax.set_xlabel("interactions")
    ax.set_ylabel("seconds (2-core CPU)")
    ax.set_title("graphrec: cost per stage vs data size")
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, IMG)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--neo4j-max", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-neo4j", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-progress", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.child_neo4j, args.child_progress)))
        return
    rows = []
    for size in [int(x) for x in args.sizes.split(",") if x]:
        with tempfile.TemporaryDirectory() as tmp:
            progress = Path(tmp) / "progress.json"
            cmd = [sys.executable, "-m", "benchmarks.scaling", "--child", str(size),
                   "--child-progress", str(progress)]
            if size <= args.neo4j_max:
                cmd.append("--child-neo4j")
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if done.returncode == 0:
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                continue
            partial = json.loads(progress.read_text()) if progress.is_file() else {"size": size}
            failed_at = next((s for s in STAGES if f"{s}_s" not in partial
                              and not (s == "neo4j_load" and size > args.neo4j_max)), None)
            print(f"size {size:,}: the child failed (exit {done.returncode}) in {failed_at}",
                  file=sys.stderr)
            rows.append({**partial, "failed_at": failed_at, "exit": done.returncode})
    rows = [r for r in rows if "interactions" in r]
    exponents = {name: slope([r["interactions"] for r in rows if r.get(f"{name}_s")],
                             [r[f"{name}_s"] for r in rows if r.get(f"{name}_s")])
                 for name in STAGES}
    biggest = max(rows, key=lambda r: r["interactions"])
    at_1e7 = biggest["interactions"] >= 9_000_000 and "failed_at" not in biggest
    bars = {"every_stage_finishes_at_1e7": at_1e7,
            "epoch_s_at_1e7_le_900": at_1e7 and biggest["epoch_s"] <= 900,
            "peak_rss_gib_at_1e7_le_12": at_1e7 and biggest["peak_rss_gib"] <= 12}
    columns = ["interactions", "users", "items", "edges", *[f"{s}_s" for s in STAGES],
               "neo4j_relationships_per_s", "peak_rss_gib", "failed_at"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "-")) for c in columns) + " |")
    print("\ngrowth exponents (seconds ~ interactions^e): " + ", ".join(
        f"{k} {v:.2f}" for k, v in exponents.items() if v is not None))
    write_results("scaling", rows, columns,
                  command_line("benchmarks.scaling"),
                  protocol=__doc__.split("Usage::")[0].strip(), exponents=exponents,
                  bars=bars)
    plot(rows)


if __name__ == "__main__":
    main()
