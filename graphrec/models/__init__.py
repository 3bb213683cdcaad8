"""Models, registered by name so config and the CLI can say ``model = "lightgcn"``."""

from __future__ import annotations

from graphrec.models.hetero_lightgcn import HeteroLightGCN
from kg.registry import resolve

MODELS = {"lightgcn": HeteroLightGCN}


def get_model(name: str) -> type:
    """The model class registered as ``name``."""
    return resolve(name, MODELS, "model")


__all__ = ["MODELS", "HeteroLightGCN", "get_model"]
