"""A learned item-kNN channel inside the graph model's scores (validation only; not adopted).

The ``hybrid`` strategy blends a trained graph model with item-kNN after training, the weight
chosen on validation. This experiment trains the blend instead: every logit of the sampled
softmax becomes

    cos(u, i) / temperature + beta * log(1 + knn(u, i))

with ``beta`` a learned scalar (1 at start) and ``knn(u, i)`` item-kNN's score (the sum of
cosines between ``i`` and the user's training items, :class:`graphrec.evaluation.baselines.
ItemKNN`). The embeddings are then trained to correct item-kNN rather than to replace it. A
training pair's own interaction is in the user's history, so its channel is taken *leave user
out* (:class:`KnnChannel`): the user's own co-occurrences and the item's match with itself are
removed, as if the pair were held out, which is how item-kNN sees a validation pair. Early
stopping and the reported scores use the same blended score, on the target's ``valid`` split
only (test splits are never scored here).

    python -m benchmarks.residual_channel cdrib-game ../shared/data/cdrib_amazon
    python -m benchmarks.residual_channel xmarket ../shared/data/xmarket_electronics
    python -m benchmarks.residual_channel cdrib-game ../shared/data/cdrib_amazon --beta 5

Data sets and their selection protocol are those of ``benchmarks.levers``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from benchmarks.cdrib import authors_protocol
from benchmarks.levers import DATA, load
from benchmarks.report import command_line, train_config, write_results
from graphrec.data.pairs import training_pairs
from graphrec.evaluation.baselines import ItemKNN
from graphrec.evaluation.harness import EmbeddingScorer, evaluate
from graphrec.strategies.base import StrategyRun
from graphrec.training import PairObjective
from graphrec.training.device import to_device
from graphrec.training.losses import SoftmaxLoss


class KnnChannel:
    """Item-kNN scores of (user, item) pairs, plain or leave user out.

    Args:
        history: ``[U, I]`` binary training matrix (rows: users).

    The plain score is ``sum_{j in H(u)} cos(j, i)`` with ``cos`` the cosine of item columns.
    Leave user out drops, when ``i`` is in ``H(u)``, the user's own share of every co-occurrence
    with ``i`` and the term ``j = i``: ``sum_{j in H(u), j != i} c'(j, i) / sqrt(n_j n_i)``,
    ``c'`` counting the users other than ``u`` who took both (the norms ``n`` are kept).
    """

    def __init__(self, history: sp.csr_matrix):
        self.history = history.tocsr().astype(np.float64)
        self.count = np.asarray(self.history.sum(0)).ravel()  # n_i
        inv = np.divide(1.0, np.sqrt(self.count), out=np.zeros_like(self.count),
                        where=self.count > 0)
        unit = self.history @ sp.diags(inv)  # unit item columns
        self.similarity = (unit.T @ unit).tocsr()  # [I, I] cosines
        self.user_mass = self.history @ inv  # a_u = sum_{j in H(u)} 1 / sqrt(n_j)

    def _leave_out(self, scores: np.ndarray, users: np.ndarray, items: np.ndarray,
                   member: np.ndarray) -> np.ndarray:
        n = np.maximum(self.count[items], 1.0)
        own = self.user_mass[users][:, None] / np.sqrt(n) + (n - 1.0) / n
        return np.maximum(scores - member * own, 0.0)

    def block(self, users: Tensor, items: Tensor, leave_out: bool) -> Tensor:
        """``[len(users), len(items)]`` scores of every user for every item."""
        u, i = users.cpu().numpy().copy(), items.cpu().numpy().copy()
        mine = self.history[u]
        scores = np.asarray((mine @ self.similarity[:, i]).todense())
        if leave_out:
            member = np.asarray(mine[:, i].todense()) > 0
            scores = self._leave_out(scores, u, i[None, :], member)
        return torch.from_numpy(scores.astype(np.float32))

    def diagonal(self, users: Tensor, items: Tensor, leave_out: bool) -> Tensor:
        """``[B]`` scores of ``users[b]`` for ``items[b]``."""
        u, i = users.cpu().numpy().copy(), items.cpu().numpy().copy()
        mine = self.history[u].tocoo()
        values = np.asarray(self.similarity[mine.col, i[mine.row]]).ravel()
        scores = np.bincount(mine.row, weights=values, minlength=len(u))[:, None]
        if leave_out:
            member = np.asarray(self.history[u, i]).ravel()[:, None] > 0
            scores = self._leave_out(scores, u, i[:, None], member)
        return torch.from_numpy(scores[:, 0].astype(np.float32))

    def pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """``[R, N]`` plain scores of ``users[r]`` for ``items[r, n]``."""
        uniq, inv = np.unique(items.cpu().numpy(), return_inverse=True)
        block = self.block(users, torch.from_numpy(uniq), False)
        return torch.gather(block, 1, torch.from_numpy(inv.reshape(items.shape)))


class ChannelSoftmax(SoftmaxLoss):
    """The default shared-negative softmax with ``beta * log(1 + knn)`` added to its logits
    (``beta``: the model's ``knn_beta`` parameter; the pair's own user left out)."""

    def __init__(self, channel: KnnChannel, model: nn.Module, **kwargs):
        super().__init__(**kwargs)
        self.channel, self.model = channel, model

    def shared_logits(self, emb, users, pos, cand, allowed):
        logits = super().shared_logits(emb, users, pos, cand, allowed)
        knn = torch.cat([self.channel.diagonal(users, pos, True)[:, None],
                         self.channel.block(users, cand, True)], 1)
        return logits + self.model.knn_beta * torch.log1p(knn).to(logits.device)


class ChannelScorer:
    """Served score: ``cos(u, i) / temperature + beta * log(1 + knn(u, i))``, the cosines
    from the model's (unit) embeddings."""

    def __init__(self, emb: dict[str, Tensor], beta: float, temperature: float,
                 channel: KnnChannel):
        self.cosines = EmbeddingScorer(emb["user"], emb["item"])
        self.beta, self.temperature, self.channel = beta, temperature, channel

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.cosines.score(users, items) / self.temperature + self.beta * torch.log1p(
            self.channel.block(users, items, False))

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return (self.cosines.score_pairs(users, items) / self.temperature
                + self.beta * torch.log1p(self.channel.pairs(users, items)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=sorted(DATA))
    parser.add_argument("path")
    parser.add_argument("--train", default="{}", help="JSON [train] overrides")
    parser.add_argument("--beta", type=float, default=1.0, help="channel weight at start")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    target, k = DATA[args.data]
    tables, protocol = load(args.data, args.path)
    config = train_config(args.train, None, k=k, seed=args.seed)
    if config.loss != "softmax" or config.negative_sampling != "shared":
        parser.error("the channel is built into the shared-negative softmax (the default)")
    run = StrategyRun(tables, target, config, protocol, progress=False)
    data, index = run.graph(None)
    model, graph = run.new_model(data)
    model.knn_beta = nn.Parameter(torch.tensor(args.beta))
    knn = ItemKNN(tables, index)
    channel = KnnChannel(knn.history)

    def scorer(m: nn.Module, emb: dict[str, Tensor]) -> ChannelScorer:
        return ChannelScorer(emb, float(m.knn_beta.detach()), config.temperature, channel)

    def validate(m: nn.Module) -> float:
        res = evaluate(scorer(m, to_device(m(graph), "cpu")), index, tables, target, "valid",
                       (k,), ("all",), protocol)
        return res["all"][f"ndcg@{k}"] if res else 0.0

    run.validator = lambda *_: validate  # select on the blended score
    objective = PairObjective.from_config(
        training_pairs(tables, index, run.scenarios), config, run.simulations(graph, index))
    objective.loss = ChannelSoftmax(channel, model, temperature=config.temperature,
                                    normalize_items=config.normalize_items,
                                    pairwise_weight=config.pairwise_weight)
    started = time.perf_counter()
    trained = run.fit(model, graph, index, objective, name="residual")
    seconds = time.perf_counter() - started
    served = scorer(model, trained.embeddings)
    valid = evaluate(served, index, tables, target, "valid", (k,), ("all",), protocol)
    row = {"data": args.data, "target": target, "beta_start": args.beta, "train": args.train,
           f"valid_ndcg@{k}": round(valid["all"][f"ndcg@{k}"], 4),
           "beta_learned": round(float(model.knn_beta.detach()), 3),
           "best_epoch": trained.fit.best_epoch, "epochs_run": len(trained.fit.history),
           "stopped": trained.fit.stopped, "seconds": round(seconds)}
    if args.data.startswith("cdrib"):
        draw = authors_protocol(target, ties="expected")
        for name, what in (("valid_mrr_authors_draw", served), ("item_knn_valid_mrr", knn)):
            res = evaluate(what, index, tables, target, "valid", (10,), ("all",), draw,
                           ("train",))
            row[name] = round(res["all"]["mrr"], 4)
    columns = list(row)
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    print("| " + " | ".join(str(v) for v in row.values()) + " |")
    beta = f"{args.beta:g}".replace(".", "_")
    write_results(f"residual_channel_{args.data}_beta{beta}", [row], columns,
                  command_line("benchmarks.residual_channel"),
                  seed=args.seed, dataset=args.path,
                  protocol=f"validation only: NDCG@{k} of the target's valid split (the "
                           "data set's benchmark protocol); on CDRIB also MRR of the authors' "
                           "999-negative draw on valid, expected-rank ties; test never scored")

if __name__ == "__main__":
    main()
