"""The ``graphrec`` command line (typer). Only the CLI reads the environment."""

import warnings

# torch_geometric calls torch.jit.script at import time, which torch 2.x deprecates; the notice
# is about PyG's internals and would only confuse CLI users.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated",
                        category=FutureWarning)
