"""Source-free adaptation: the ``shot`` strategy (after SHOT, Liang et al., ICML 2020).

The source side hands over a trained model, never its data. Its item side is the frozen
"hypothesis": the source items', attribute and scenario embeddings (and any relation weights)
stay as the source training left them. On the target, only the user encoder (user id
embeddings) and the target's own item ids (which the
source never trained: they had neither edges nor pairs there) are trained, on a graph that holds
the target's interactions alone, with three terms:

- BPR on the target's training pairs;
- information maximisation over the target's items, for the users of the batch: the mean
  entropy of each user's softmax over items is minimised (confident rankings) and the entropy
  of the batch's mean distribution maximised (diverse rankings, no collapse onto a few items);
- self-supervised pseudo-labels: at every epoch each user with target history gets a centroid,
  the average of the item embeddings weighted by their current softmax, and the
  ``pseudo_labels`` items nearest to it (cosine, excluding items already taken) become extra
  BPR positives with weight ``pseudo_weight``.

Users learned on the sources keep their id embeddings in the target graph (``known`` nodes),
so a target cold-start user is served by their source-side vector. Both stages run in the one
:class:`~graphrec.training.Trainer` (the target stage with :class:`ShotObjective`, which adds
the two terms to the pair objective); the epoch is chosen on the target's ``valid`` split, as
for every strategy; ``adapt_seconds`` is the target stage alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from graphrec.data.pairs import known_users, training_pairs
from graphrec.errors import TrainingError
from graphrec.models import ModelGraph
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from graphrec.training import PairObjective, TrainingPairs, distributed
from kg import schema
from kg.registry import Settings


@dataclass(frozen=True)
class ShotConfig(Settings):
    """Weights of the adaptation terms."""

    what: ClassVar[str] = "shot strategy"

    im_weight: float = 0.1
    pseudo_labels: int = 3
    pseudo_weight: float = 0.3


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p + 1e-8)).sum(-1)


class ShotObjective(PairObjective):
    """Pair loss on the target's pairs + information maximisation + pseudo-label pairs.

    Args:
        pairs: the target's training pairs (one pool: the target's items).
        settings: the terms' weights.
        batch_size, weight_decay: as for :class:`PairObjective`.
        num_users: users of the graph.
    """

    def __init__(self, pairs: TrainingPairs, settings: ShotConfig, batch_size: int,
                 weight_decay: float, num_users: int):
        super().__init__(pairs, batch_size, weight_decay=weight_decay)
        self.settings = settings
        self.pool = torch.as_tensor(pairs.pools[0])
        col = {int(i): c for c, i in enumerate(self.pool)}
        self.taken = torch.zeros(num_users, len(self.pool), dtype=torch.bool)
        self.taken[self.users, torch.as_tensor([col[int(i)] for i in pairs.items])] = True
        self.history_users = self.users.unique()

    def epoch_batches(self, model: nn.Module, graph: ModelGraph,
                      gen: np.random.Generator) -> list[torch.Tensor]:
        model.eval()
        with torch.no_grad():  # pseudo-labels from prediction-weighted item centroids
            emb = model(graph)
            item_emb = emb["item"][self.pool]
            probs = torch.softmax(emb["user"][self.history_users] @ item_emb.T, dim=1)
            centroid = nn.functional.normalize(probs @ item_emb, dim=1)
            cos = centroid @ nn.functional.normalize(item_emb, dim=1).T
            cos[self.taken[self.history_users]] = -2.0
            top = cos.topk(min(self.settings.pseudo_labels, len(self.pool)), dim=1).indices
        model.train()
        self.pl_users = self.history_users.repeat_interleave(top.shape[1])
        self.pl_items = self.pool[top.reshape(-1)]
        batches = super().epoch_batches(model, graph, gen)
        self.pl_neg = self.pool[torch.as_tensor(gen.integers(len(self.pool),
                                                             size=len(self.pl_users)))]
        self.pl_order = gen.permutation(len(self.pl_users))
        self.step, self.n_batches = 0, len(batches)
        return batches

    def backward(self, model: nn.Module, graph: ModelGraph, batch: torch.Tensor
                 ) -> tuple[float, int]:
        part = distributed.shard(batch)
        share = len(part) / len(batch)
        emb = model(graph)
        loss, reg = self.batch_loss(emb, batch, part)
        probs = torch.softmax(emb["user"][self.users[part].unique()] @ emb["item"][self.pool].T,
                              dim=1)
        im = _entropy(probs).mean() - _entropy(probs.mean(0))
        pl_full = torch.as_tensor(self.pl_order[self.step::self.n_batches])
        pl = distributed.shard(pl_full)
        pl_loss, _ = self.loss(emb, self.pl_users[pl], self.pl_items[pl], self.pl_neg[pl],
                               max(len(pl_full), 1))
        self.step += 1
        s = self.settings
        (loss + reg + share * s.im_weight * im + s.pseudo_weight * pl_loss).backward()
        return loss.item(), len(batch)


class Shot(Strategy):
    """Train on the sources, then adapt the user side to the target without source data."""

    name = "shot"
    settings_type = ShotConfig

    def run(self, run: StrategyRun) -> StrategyResult:
        sources, target = run.sources, run.target
        if not sources:
            raise TrainingError("shot needs at least one source scenario besides the target")
        source = run.train(sources, sources, name=f"{self.name} (sources)")
        adapt_start = time.perf_counter()
        data, index = run.graph([target])
        known = known_users(run.tables, index, sources)
        model, graph = run.new_model(data, source.fit.state, known={schema.PYG_USER: known})
        pairs = training_pairs(run.tables, index, [target],
                               negative_pool=run.config.negative_pool)
        if len(pairs) == 0:
            raise TrainingError(f"target {target!r} has no training pairs to adapt on")
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith(("embedding.user", "embedding.item")))
        # the source never trained the target's own item ids (no edge, no pair there): they
        # are target parameters, not part of the frozen hypothesis; every other item row stays
        target_rows = torch.zeros(model.num_nodes[schema.PYG_ITEM], 1)
        target_rows[torch.as_tensor(pairs.pools[0])] = 1.0
        model.embedding[schema.PYG_ITEM].weight.register_hook(lambda grad: grad * target_rows)
        objective = ShotObjective(pairs, self.settings, run.config.batch_for(len(pairs)),
                                  run.config.weight_decay, data[schema.PYG_USER].num_nodes)
        trained = run.fit(model, graph, index, objective, name=f"{self.name} (target)")
        return run.finish(self.name, trained, [target],
                          adapt_seconds=time.perf_counter() - adapt_start,
                          known_scenarios=sources,
                          decision={"source_valid": source.fit.best_score,
                                    "known_users": int(known.sum())})
