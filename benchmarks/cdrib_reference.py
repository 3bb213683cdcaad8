"""Reference run: PyG's stock ``LightGCN`` trained jointly on CDRIB game + video.

Reproduces the "joint LightGCN" peer as shared/data/PEERS.md describes it, with PyG's own
model rather than graphrec's: one homogeneous user-item graph of both domains (users below C
shared, users >= C kept apart, as the cdrib loader names them), 64 dimensions, 3 layers, BPR
with one negative drawn from the positive's domain, Adam (lr 0.005), batch 4,096, no weight
decay. After every epoch both directions are scored on ``valid.txt`` under the authors'
sampled protocol (MRR); each direction keeps its own best epoch and that epoch's embeddings
are scored on ``test.txt`` (authors' protocol, with a bootstrap interval over test users).
It also times the stock model's epoch, the reference for graphrec's own epoch time. Usage::

    .venv/bin/python -m benchmarks.cdrib_reference ../shared/data/cdrib_amazon [--epochs 12]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from torch_geometric.nn.models import LightGCN

from benchmarks.cdrib import authors_protocol
from graphrec.data.graph import build_graph
from graphrec.evaluation import EmbeddingScorer, Protocol, evaluate
from kg import schema
from loaders import get_loader

DOMAINS = ("game", "video")
# the authors' validation draw excludes nothing, in both domains
VALID_PROTOCOL = Protocol("sampled", negatives=999, seed=2022, exclude_own=False,
                          average="rows", ties="optimistic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tables = get_loader("cdrib")(args.path).tables
    data, index = build_graph(tables, ("train",))
    n_users = data["user"].num_nodes
    users, items = data[schema.USER_ITEM].edge_index
    items_global = items + n_users
    edge_index = torch.cat([torch.stack([users, items_global]),
                            torch.stack([items_global, users])], 1)
    item_domain = np.asarray(index.item_scenario)[items.numpy()]
    pools = {d: np.unique(items_global.numpy()[item_domain == d]) for d in DOMAINS}
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = LightGCN(n_users + data["item"].num_nodes, 64, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; {args}\n")

    def split(emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return emb[:n_users], emb[n_users:]

    best = {d: (-1.0, 0, None) for d in DOMAINS}
    waited, seconds = 0, []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(users))
        neg = np.empty(len(users), dtype=np.int64)
        for d, pool in pools.items():
            mask = item_domain == d
            neg[mask] = pool[rng.integers(len(pool), size=int(mask.sum()))]
        for s in range(0, len(order), 4096):
            batch = torch.as_tensor(order[s:s + 4096])
            emb = model.get_embedding(edge_index)
            u, pos, ng = emb[users[batch]], emb[items_global[batch]], emb[neg[batch]]
            loss = -torch.nn.functional.logsigmoid((u * pos).sum(-1) - (u * ng).sum(-1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
        with torch.no_grad():
            user_emb, item_emb = split(model.get_embedding(edge_index))
        improved = False
        line = [f"epoch {epoch}: {seconds[-1]:.1f} s"]
        for d in DOMAINS:
            valid = evaluate(EmbeddingScorer(user_emb, item_emb), index, tables, d, "valid",
                             (10,), ("all",), VALID_PROTOCOL, ("train",))
            mrr = valid["all"]["mrr"]
            line.append(f"valid {d} MRR {mrr:.4f}")
            if mrr > best[d][0]:
                best[d] = (mrr, epoch, (user_emb.clone(), item_emb.clone()))
                improved = True
        print(", ".join(line), flush=True)
        waited = 0 if improved else waited + 1
        if waited >= args.patience:
            break
    print(f"\nstock LightGCN: {np.mean(seconds):.1f} s per epoch ({len(seconds)} epochs)\n")
    print("| domain | method | MRR [95% CI] | N@5 | N@10 | H@1 | H@5 | H@10 | valid MRR | epoch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in DOMAINS:
        valid_mrr, epoch, (user_emb, item_emb) = best[d]
        m = evaluate(EmbeddingScorer(user_emb, item_emb), index, tables, d, "test", (1, 5, 10),
                     ("all",), authors_protocol(d), ("train",), bootstrap=1000)["all"]
        lo, hi = m["ci95"]["mrr"]
        print(f"| {d} | PyG LightGCN (joint, {args.layers} layers) | {m['mrr']:.4f} "
              f"[{lo:.4f}, {hi:.4f}] | {m['ndcg@5']:.4f} | {m['ndcg@10']:.4f} | "
              f"{m['hr@1']:.4f} | {m['hr@5']:.4f} | {m['hr@10']:.4f} | "
              f"{valid_mrr:.4f} | {epoch} |")


if __name__ == "__main__":
    main()
