#!/usr/bin/env bash
# Create (once) the project's virtual environment in .venv and install graphrec into it.
# Re-running is cheap: pip skips what is already there. PyTorch comes from PyPI (the CUDA build,
# which runs on the CPU where there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
# the pinned versions (constraints.txt): the recorded figures repeat only with them
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
