#!/usr/bin/env bash
# README command (1): install, then run the main job on the embedded default (no server):
# generate the synthetic multi-scenario data set, build the knowledge graph in the local
# Parquet store, rank the cross-scenario bridges, train and compare every strategy, transfer to
# the sparse target, print test metrics, save every learned strategy as a servable run
# directory and write the selected model's item embeddings (about 70 s on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export GRAPHREC_HOME="${GRAPHREC_HOME:-$PWD/.graphrec}"
.venv/bin/graphrec demo "$@"
