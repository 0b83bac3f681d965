#!/usr/bin/env bash
# Corpus throughput of dockfix against hadolint and tally, measured in the
# same run on one core (taskset -c 0). Figures go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOCKFIX_PEERS="$(bench/peers.sh)"
export DOCKFIX_CORPUS="${DOCKFIX_CORPUS:-$PWD/../shared/corpus}"
cargo bench --bench throughput --no-run
taskset -c 0 cargo bench --bench throughput
