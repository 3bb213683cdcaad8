"""Noise and a cross-layer contrastive loss on top of graphrec's defaults (validation only;
not adopted).

XSimGCL (Yu et al., "XSimGCL: Towards Extremely Simple Graph Contrastive Learning for
Recommendation", TKDE 2023) adds, in training only, a small random vector to every node's
embedding after each propagation layer, ``x + eps * sign(x) * u / |u|`` with ``u`` uniform in
``[0, 1)^dim``, and an InfoNCE loss (temperature ``tau``, weight ``weight``) that matches each
batch user's and positive item's final embedding with its first-layer embedding of the same
noisy pass, against the batch's other users or items. Here it is applied to the heterogeneous
LightGCN (every node type, the plain mean over edge types) and added to the default loss. The
patch is applied only inside :func:`patched` and only by this script's ``main``; the rows are
those of ``benchmarks.levers`` (validation only, test splits never scored):

    python -m benchmarks.contrastive_noise --eps 0.1 --weight 0.1 xmarket \\
        ../shared/data/xmarket_electronics '{}'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor

from benchmarks import levers
from graphrec.models.hetero_lightgcn import HeteroLightGCN
from graphrec.training import distributed
from graphrec.training.trainer import PairObjective
from kg import schema


def noisy_propagate(model: HeteroLightGCN, x: dict[str, Tensor], cache: dict, eps: float
                    ) -> dict[str, Tensor]:
    """:meth:`HeteroLightGCN.propagate` with noise of size ``eps`` after each layer; keeps the
    first layer's output in ``model.first_layer``."""
    divisor: dict[str, int] = {}
    for _, _, dst in cache:
        divisor[dst] = divisor.get(dst, 0) + 1
    total = dict(x)
    for layer in range(model.num_layers):
        sums: dict[str, Tensor] = {}
        for et, adj in cache.items():
            msg = adj @ x[et[0]]
            sums[et[2]] = sums[et[2]] + msg if et[2] in sums else msg
        x = {t: sums[t] / divisor[t] if t in sums else x[t] for t in x}
        x = {t: v + eps * torch.sign(v) * F.normalize(torch.rand_like(v), dim=-1)
             for t, v in x.items()}
        if layer == 0:
            model.first_layer = x
        total = {t: total[t] + x[t] for t in total}
    return {t: v / (model.num_layers + 1) for t, v in total.items()}


def info_nce(a: Tensor, b: Tensor, tau: float) -> Tensor:
    """InfoNCE of ``[n, d]`` views: row ``i`` of ``a`` against every row of ``b``, ``i`` the
    positive."""
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / tau
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


@contextmanager
def patched(eps: float, weight: float, tau: float) -> Iterator[None]:
    """Training of :class:`HeteroLightGCN` under :class:`PairObjective` with the noise and the
    contrastive term, inside the ``with`` only (models with learned relation weights keep
    the plain propagation)."""
    propagate, backward = HeteroLightGCN.propagate, PairObjective.backward

    def new_propagate(self, x, cache):
        if not self.training or self.relation_types:
            return propagate(self, x, cache)
        return noisy_propagate(self, x, cache, eps)

    def new_backward(self, model, graph, batch):
        part = distributed.shard(batch)
        emb = model(self.epoch_graph(graph))
        loss, penalty = self.batch_loss(emb, batch, part)
        first = model.first_layer
        users, items = torch.unique(self.users[part]), torch.unique(self.items[part])
        contrast = (info_nce(emb[schema.PYG_USER][users], first[schema.PYG_USER][users], tau)
                    + info_nce(emb[schema.PYG_ITEM][items], first[schema.PYG_ITEM][items], tau))
        (loss + penalty + weight * contrast).backward()
        return loss.item(), len(batch)

    HeteroLightGCN.propagate, PairObjective.backward = new_propagate, new_backward
    try:
        yield
    finally:
        HeteroLightGCN.propagate, PairObjective.backward = propagate, backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eps", type=float, default=0.1, help="noise size (XSimGCL: 0.2)")
    parser.add_argument("--weight", type=float, default=0.1,
                        help="weight of the contrastive loss (XSimGCL: 0.2 on Yelp)")
    parser.add_argument("--tau", type=float, default=0.2, help="its temperature")
    args, rest = parser.parse_known_args()
    print(f"noise {args.eps}, contrast weight {args.weight}, temperature {args.tau}",
          file=sys.stderr)
    with patched(args.eps, args.weight, args.tau):
        levers.main(rest)


if __name__ == "__main__":
    main()
