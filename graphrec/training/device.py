"""Where training runs: ``[train] device`` (``cpu``, ``cuda`` or ``cuda:N``).

Training moves the model and its prepared graph to the device, and the trainer's index tensors
follow the model. What leaves training (embeddings, the selected state, the model a run
directory saves) comes back to the CPU, so evaluation, serving and run directories are the same
whichever device trained them. Under ``torchrun``, ``cuda`` means each process's own GPU
(``LOCAL_RANK``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import torch

from graphrec.errors import ConfigError

#: accepted ``[train] device`` values
DEVICE_PATTERN = re.compile(r"cpu|cuda(:\d+)?")


def check_device_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is ``cpu``, ``cuda`` or ``cuda:N``."""
    if not DEVICE_PATTERN.fullmatch(name):
        raise ConfigError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'cuda:N'")


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` asks for, checked against this machine.

    Raises:
        ConfigError: CUDA asked for where torch sees no GPU, or a GPU index that is not there.
    """
    check_device_name(name)
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but torch sees no CUDA GPU on this "
                          f"machine (torch {torch.__version__}, torch.cuda.is_available() is "
                          f"False); use --device cpu")
    count = torch.cuda.device_count()
    index = (int(name.split(":")[1]) if ":" in name
             else int(os.environ.get("LOCAL_RANK", "0")))
    if index >= count:
        raise ConfigError(f"device {name!r}: GPU {index} asked for, this machine has {count}")
    return torch.device("cuda", index)


def to_device(value: Any, device: torch.device | str) -> Any:
    """``value`` with every tensor in it (also inside dicts, lists, tuples and dataclasses such
    as :class:`~graphrec.models.base.ModelGraph`) moved to ``device``; other leaves kept."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: to_device(getattr(value, f.name), device)
                                             for f in dataclasses.fields(value)})
    return value
