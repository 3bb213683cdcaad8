#!/usr/bin/env bash
# README command (1): install, then run the main job on the embedded default (no server):
# generate the synthetic multi-scenario data set, build the knowledge graph in the local
# Parquet store, read it back and print its statistics and the cross-scenario bridges.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export GRAPHREC_HOME="${GRAPHREC_HOME:-$PWD/.graphrec}"
.venv/bin/graphrec demo "$@"
