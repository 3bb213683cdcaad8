"""PyTorch Geometric, imported in one place.

PyG calls ``torch.jit.script`` while it imports, which torch 2.x deprecates with a
``FutureWarning`` about PyG's internals. The notice is silenced for that import only (a scoped
filter), so a program importing graphrec keeps its own warning settings.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated",
                            category=FutureWarning)
    import torch_geometric  # noqa: F401
    from torch_geometric.data import HeteroData
    from torch_geometric.nn import HeteroConv, SAGEConv

__all__ = ["HeteroConv", "HeteroData", "SAGEConv"]
