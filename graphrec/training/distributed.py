"""Data-parallel training with ``torch.distributed`` (gloo on CPUs, NCCL on GPUs).

Launch any training command with ``torchrun``; every process holds the whole graph and the
whole model, and each mini-batch of BPR pairs is split across the processes::

    torchrun --standalone --nproc_per_node 2 -m graphrec train -c run.toml

Each process computes the loss of its share of the batch divided by the *global* batch size;
summing the gradients over processes (all-reduce) then gives exactly the gradient of the whole
batch, so N processes follow the same trajectory as one (up to floating-point summation
order). Negatives and id-dropout masks come from generators seeded identically in every
process. Validation scores are taken from rank 0 so early stopping agrees everywhere. Only
rank 0 writes run directories and prints tables.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def is_active() -> bool:
    """Whether a process group is initialised with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_active() else 1


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).
    Training on ``cpu``: gloo. On ``cuda``: NCCL for the GPU tensors (gradients) and gloo for
    the CPU ones (the scalars of :func:`agree`), each process on GPU ``LOCAL_RANK``. Returns
    whether training is distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        if device.startswith("cuda"):
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group(backend="cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group(backend="gloo")
    return is_active()


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This process's contiguous share of a batch of pair indices."""
    if not is_active():
        return batch
    return batch.tensor_split(world_size())[rank()]


def sum_gradients(model: nn.Module) -> None:
    """All-reduce (sum) every gradient of ``model`` across processes."""
    if not is_active():
        return
    for param in model.parameters():
        if not param.requires_grad:
            continue
        if param.grad is None:  # this process's share touched nothing: it contributes zeros,
            param.grad = torch.zeros_like(param)  # so every process joins the same reductions
        dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)


def agree(value: float) -> float:
    """Rank 0's ``value`` in every process."""
    if not is_active():
        return value
    box = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(box, src=0)
    return float(box.item())


def agree_int(value: int) -> int:
    """Rank 0's integer ``value`` (below 2**53) in every process, e.g. a seed each process
    drew on its own."""
    return int(agree(float(value)))


def agree_sum(value: float) -> float:
    """The sum of ``value`` over processes (a loss computed in parts)."""
    if not is_active():
        return value
    box = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(box, op=dist.ReduceOp.SUM)
    return float(box.item())
