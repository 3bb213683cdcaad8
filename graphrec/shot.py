"""Source-free adaptation: the ``shot`` strategy (after SHOT, Liang et al., ICML 2020).

The source side hands over a trained model, never its data. Its item side is the frozen
"hypothesis": the source items', attribute and scenario embeddings (and any relation weights)
stay as the source training left them. On the target, only the user encoder (user id
embeddings, and the user head when the model has one) and the target's own item ids (which the
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
so a target cold-start user is served by their source-side vector. The epoch is chosen on the
target's ``valid`` split, as for every strategy; ``adapt_seconds`` is the target stage alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from graphrec.evaluate import Protocol
from graphrec.graph import TRAIN_SPLITS, build_graph
from graphrec.models import build_model
from graphrec.strategy_base import (
    StrategyResult,
    TrainedModel,
    finish,
    known_users,
    train_scenarios,
    training_pairs,
    valid_score,
)
from graphrec.train import EarlyStopping, FitResult, TrainConfig, bpr_loss
from kg import schema
from kg.errors import TrainingError
from kg.registry import Settings
from kg.tables import KGTables


@dataclass(frozen=True)
class ShotConfig(Settings):
    """Weights of the adaptation terms."""

    what: ClassVar[str] = "shot strategy"

    im_weight: float = 0.1
    pseudo_labels: int = 3
    pseudo_weight: float = 0.3


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * torch.log(p + 1e-8)).sum(-1)


def run_shot(tables: KGTables, target: str, config: TrainConfig, *, progress: bool = True,
             protocol: Protocol | None = None, options: dict | None = None
             ) -> StrategyResult:
    """Train on the sources, then adapt the user side to the target without source data.
    ``options``: :class:`ShotConfig` fields."""
    shot = ShotConfig.from_dict(options)
    started = time.perf_counter()
    scenarios = sorted(tables.scenarios["scenario"])
    sources = [s for s in scenarios if s != target]
    if not sources:
        raise TrainingError("shot needs at least one source scenario besides the target")
    source = train_scenarios(tables, target, sources, sources, config, progress=progress,
                             protocol=protocol)
    adapt_start = time.perf_counter()
    data, index = build_graph(tables, TRAIN_SPLITS, [target])
    model = build_model(config.model, data, config.dim, config.num_layers)
    model.load_state_dict(source.fit.state)
    known = known_users(tables, index, sources)
    model.set_graph(data, known={schema.PYG_USER: known})
    users_np, items_np, pools, _, _ = training_pairs(tables, index, [target])
    users, items = torch.as_tensor(users_np), torch.as_tensor(items_np)
    if len(users) == 0:
        raise TrainingError(f"target {target!r} has no training pairs to adapt on")
    pool = torch.as_tensor(pools[0])
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(("embedding.user", "embedding.item", "user_head")))
    # the source never trained the target's own item ids (no edge, no pair there): they are
    # target parameters, not part of the frozen hypothesis; every other item row stays frozen
    target_rows = torch.zeros(model.num_nodes[schema.PYG_ITEM], 1)
    target_rows[pool] = 1.0
    model.embedding[schema.PYG_ITEM].weight.register_hook(lambda grad: grad * target_rows)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    gen = np.random.default_rng(config.seed)
    taken = torch.zeros(data[schema.PYG_USER].num_nodes, len(pool), dtype=torch.bool)
    col = {int(i): c for c, i in enumerate(pool)}
    taken[users, torch.as_tensor([col[int(i)] for i in items_np])] = True
    history_users = users.unique()
    stopper = EarlyStopping(model, config.patience)
    history = []
    bar = tqdm(range(1, config.epochs + 1), desc="shot", disable=not progress, leave=False)
    for epoch in bar:
        model.eval()
        with torch.no_grad():  # pseudo-labels from prediction-weighted item centroids
            emb = model()
            item_emb = emb["item"][pool]
            probs = torch.softmax(emb["user"][history_users] @ item_emb.T, dim=1)
            centroid = torch.nn.functional.normalize(probs @ item_emb, dim=1)
            cos = centroid @ torch.nn.functional.normalize(item_emb, dim=1).T
            cos[taken[history_users]] = -2.0
            top = cos.topk(min(shot.pseudo_labels, len(pool)), dim=1).indices
        pl_users = history_users.repeat_interleave(top.shape[1])
        pl_items = pool[top.reshape(-1)]
        model.train()
        order = gen.permutation(len(users))
        neg = pool[torch.as_tensor(gen.integers(len(pool), size=len(users)))]
        pl_neg = pool[torch.as_tensor(gen.integers(len(pool), size=len(pl_users)))]
        pl_order = gen.permutation(len(pl_users))
        n_batches = max(1, -(-len(order) // config.batch_size))
        total = 0.0
        for b in range(n_batches):
            batch = torch.as_tensor(order[b * config.batch_size:(b + 1) * config.batch_size])
            u = users[batch]
            emb = model()
            loss, reg = bpr_loss(emb, u, items[batch], neg[batch], config.weight_decay)
            probs = torch.softmax(emb["user"][u.unique()] @ emb["item"][pool].T, dim=1)
            im = _entropy(probs).mean() - _entropy(probs.mean(0))
            pl = pl_order[b::n_batches]
            pl_loss, _ = bpr_loss(emb, pl_users[pl], pl_items[pl], pl_neg[pl], 0.0)
            objective = loss + reg + shot.im_weight * im + shot.pseudo_weight * pl_loss
            opt.zero_grad()
            objective.backward()
            opt.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            score = valid_score(model, index, tables, target, config.k, protocol)
        history.append({"epoch": epoch, "loss": total / len(users), "valid": score})
        bar.set_postfix(valid=f"{score:.4f}")
        if stopper.update(score, epoch, model):
            break
    model.load_state_dict(stopper.state)
    with torch.no_grad():
        final = model()
    adapt = time.perf_counter() - adapt_start
    trained = TrainedModel(FitResult(stopper.state, stopper.best_epoch,
                                     float(stopper.best_score), history,
                                     adapt / max(len(history), 1)), final, index, model)
    return finish("shot", trained, tables, target, config, started, protocol, [target],
                  adapt_seconds=adapt, known_scenarios=sources,
                  decision={"source_valid": source.fit.best_score, "known_users":
                            int(known.sum())})
